/**
 * Fuzzing the two places where outside bytes enter: decodeRecords (a read(2)
 * batch) and the addon's addWatch/rmWatch (paths and masks). Every input is
 * generated from a seeded PRNG, so a failure names its seed and replays.
 *
 * Properties:
 * - decodeRecords never throws anything but MalformedBatchError
 *   (code ERR_INOTIFY_MALFORMED_BATCH, offset inside the batch);
 * - it never reads past `length`: the bytes after it (and before the view)
 *   never change the result;
 * - decode(encode(x)) == x for records the kernel could produce;
 * - the addon answers random paths and masks with a wd or an fs-shaped error.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeRecords, encodeRecords, EVENT_HEADER_SIZE, MalformedBatchError, type RawRecord,
} from '../src/decode.js';
import { Inotify } from '../src/inotify.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x1e7c0de);
const RANDOM_BATCHES = Number(process.env.FUZZ_BATCHES ?? 20_000);

/** mulberry32: small, fast, good enough to spread inputs; seeded for replay. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  uint32(): number {
    return (this.int(0x10000) * 0x10000 + this.int(0x10000)) >>> 0;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
  /** Bytes a kernel name can hold: anything but NUL (and '/', which a name never contains). */
  nameBytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) {
      let b = 1 + this.int(255);
      if (b === 0x2f) b = 0x2e;
      out[i] = b;
    }
    return out;
  }
  /** A string of valid code points (no lone surrogates, no NUL, no '/'): ASCII, Latin, CJK, astral. */
  nameString(length: number): string {
    let s = '';
    for (let i = 0; i < length; i++) {
      const kind = this.int(4);
      let cp = kind === 0 ? 0x20 + this.int(0x5f) : kind === 1 ? 0xa0 + this.int(0x700) : kind === 2 ? 0x4e00 + this.int(0x5000) : 0x1f300 + this.int(0x300);
      if (cp === 0x2f) cp = 0x2e;
      s += String.fromCodePoint(cp);
    }
    return s;
  }
}

/** Decodes and classifies: the records, or the MalformedBatchError. Anything else fails the test. */
function decodeChecked(bytes: Uint8Array, length: number, context: string): RawRecord[] | MalformedBatchError {
  try {
    const records = decodeRecords(bytes, length);
    for (const r of records) {
      if (!Number.isInteger(r.wd) || r.wd < -0x80000000 || r.wd > 0x7fffffff) throw new Error(`${context}: wd ${r.wd} is not an int32`);
      if (!Number.isInteger(r.mask) || r.mask < 0 || r.mask > 0xffffffff) throw new Error(`${context}: mask ${r.mask} is not a uint32`);
      if (!Number.isInteger(r.cookie) || r.cookie < 0 || r.cookie > 0xffffffff) throw new Error(`${context}: cookie ${r.cookie} is not a uint32`);
      if (typeof r.name !== 'string' || r.name.includes('\0')) throw new Error(`${context}: bad name ${JSON.stringify(r.name)}`);
      if (r.nameBytes !== undefined && (isUtf8(r.nameBytes) || r.nameBytes.includes(0))) throw new Error(`${context}: nameBytes present for a valid name`);
    }
    return records;
  } catch (error) {
    if (!(error instanceof MalformedBatchError)) {
      throw new Error(`${context}: decodeRecords threw something other than MalformedBatchError: ${String((error as Error)?.stack ?? error)}`);
    }
    if (error.code !== 'ERR_INOTIFY_MALFORMED_BATCH') throw new Error(`${context}: code ${error.code}`);
    if (!(error instanceof RangeError)) throw new Error(`${context}: not a RangeError`);
    if (!Number.isInteger(error.offset) || error.offset < 0 || error.offset > length) {
      throw new Error(`${context}: offset ${error.offset} outside the ${length}-byte batch`);
    }
    return error;
  }
}

/** The outcome as plain data, so two outcomes compare with toEqual. */
function outcome(result: RawRecord[] | MalformedBatchError): unknown {
  return result instanceof MalformedBatchError ? { error: result.message, offset: result.offset } : result;
}

function sameRecord(a: RawRecord | undefined, b: RawRecord | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.wd !== b.wd || a.mask !== b.mask || a.cookie !== b.cookie || a.name !== b.name) return false;
  if (a.nameBytes === undefined || b.nameBytes === undefined) return a.nameBytes === b.nameBytes;
  return a.nameBytes.equals(b.nameBytes);
}

function sameRecords(a: readonly RawRecord[], b: readonly RawRecord[]): boolean {
  return a.length === b.length && a.every((record, i) => sameRecord(record, b[i]) && Object.keys(record).length === Object.keys(b[i] ?? {}).length);
}

/** Fast comparison; expect().toEqual only runs to explain a difference. */
function sameOutcome(a: RawRecord[] | MalformedBatchError, b: RawRecord[] | MalformedBatchError): boolean {
  if (a instanceof MalformedBatchError || b instanceof MalformedBatchError) {
    return a instanceof MalformedBatchError && b instanceof MalformedBatchError && a.message === b.message && a.offset === b.offset;
  }
  return sameRecords(a, b);
}

/**
 * Decodes `batch` placed inside a larger buffer, with random garbage before
 * the view and after `length`, and checks the result is the same as for an
 * exact copy: bytes outside [0, length) are never looked at.
 */
function decodeIsolated(gen: Gen, batch: Buffer, length: number, context: string): RawRecord[] | MalformedBatchError {
  const exact = Buffer.from(batch.subarray(0, length));
  const expected = decodeChecked(exact, length, `${context} (exact copy)`);
  const before = 1 + gen.int(64);
  const after = 1 + gen.int(512);
  const outer = gen.bytes(before + batch.length + after);
  batch.copy(outer, before);
  // A Uint8Array (not a Buffer) over the middle, as the addon hands it over,
  // longer than `length` so that trailing garbage is inside the view.
  const view = new Uint8Array(outer.buffer, outer.byteOffset + before, batch.length + after);
  const got = decodeChecked(view, length, context);
  if (!sameOutcome(got, expected)) {
    expect(outcome(got), `${context}: bytes outside the batch changed the result`).toEqual(outcome(expected));
  }
  return got;
}

interface Spec {
  wd: number;
  mask: number;
  cookie: number;
  name: string | Buffer;
}

function randomSpec(gen: Gen): Spec {
  const wd = gen.pick([-1, 1, 2, 0x7fffffff, -0x80000000, gen.int(1 << 16), gen.uint32() | 0]);
  const mask = gen.pick([0x100, 0x40000100, 0x4000, 0x8000, gen.uint32()]);
  const cookie = gen.int(3) === 0 ? 0 : gen.uint32();
  const kind = gen.int(4);
  const name = kind === 0 ? '' : kind === 1 ? gen.nameString(1 + gen.int(40)) : kind === 2 ? gen.nameBytes(1 + gen.int(255)) : gen.nameBytes(1 + gen.int(6));
  return { wd, mask, cookie, name };
}

function expectedRecord(spec: Spec): RawRecord {
  const base = { wd: spec.wd, mask: spec.mask >>> 0, cookie: spec.cookie >>> 0 };
  if (typeof spec.name === 'string') return { ...base, name: spec.name };
  const text = spec.name.toString('utf8');
  return isUtf8(spec.name) ? { ...base, name: text } : { ...base, name: text, nameBytes: spec.name };
}

/** Byte offsets of each record's header in an encoded batch. */
function headerOffsets(batch: Buffer): number[] {
  const offsets: number[] = [];
  for (let offset = 0; offset < batch.length;) {
    offsets.push(offset);
    offset += EVENT_HEADER_SIZE + batch.readUInt32LE(offset + 12);
  }
  return offsets;
}

describe('decodeRecords under random and corrupted input', () => {
  it(`random byte batches (${RANDOM_BATCHES}, seed ${SEED}) only ever yield records or MalformedBatchError`, () => {
    const gen = new Gen(SEED);
    let decoded = 0;
    let malformed = 0;
    for (let i = 0; i < RANDOM_BATCHES; i++) {
      const size = gen.pick([0, 1, 15, 16, 17, 31, 32, 33, gen.int(64), gen.int(512), gen.int(4096)]);
      const batch = gen.bytes(size);
      // Random bytes make huge len fields; give half the batches plausible ones so decoding goes deeper.
      if (i % 2 === 0) {
        for (let offset = 0; offset + EVENT_HEADER_SIZE <= size;) {
          const len = gen.int(3) === 0 ? gen.int(size) : gen.int(4) * 16;
          batch.writeUInt32LE(len, offset + 12);
          offset += EVENT_HEADER_SIZE + len;
        }
      }
      const length = gen.int(4) === 0 ? gen.int(size + 1) : size;
      const result = decodeIsolated(gen, batch, length, `seed ${SEED} batch ${i} (size ${size}, length ${length})`);
      if (result instanceof MalformedBatchError) malformed++;
      else decoded++;
    }
    // Both branches were exercised, or the generator is not doing its job.
    expect(decoded).toBeGreaterThan(RANDOM_BATCHES / 20);
    expect(malformed).toBeGreaterThan(RANDOM_BATCHES / 20);
  });

  it('mutated valid batches (corrupted len fields, truncation, flipped bytes) never escape MalformedBatchError', () => {
    const gen = new Gen(SEED ^ 0x5a5a5a5a);
    const rounds = Math.max(1, Math.floor(RANDOM_BATCHES / 4));
    const seen = { lenPastEnd: 0, truncated: 0, decodedAfterMutation: 0 };
    for (let i = 0; i < rounds; i++) {
      const specs = Array.from({ length: 1 + gen.int(12) }, () => randomSpec(gen));
      const batch = encodeRecords(specs);
      const offsets = headerOffsets(batch);
      const target = gen.pick(offsets);
      const mutation = gen.int(6);
      let length = batch.length;
      const context = `seed ${SEED} mutation round ${i} kind ${mutation}`;
      switch (mutation) {
        case 0: // len points past the end of the batch, by a little or by a lot
          batch.writeUInt32LE(gen.pick([batch.length - target, batch.length, 0xffffffff, 0x7fffffff, 0x80000000, gen.uint32()]) >>> 0, target + 12);
          break;
        case 1: // len off by a small amount (misaligns every later record)
          batch.writeUInt32LE(Math.max(0, batch.readUInt32LE(target + 12) + gen.pick([-16, -1, 1, 3, 16])) >>> 0, target + 12);
          break;
        case 2: // truncated anywhere, including mid-header and mid-name
          length = gen.int(batch.length);
          break;
        case 3: // random bytes flipped anywhere
          for (let k = 0; k < 1 + gen.int(8); k++) batch[gen.int(batch.length)] = gen.int(256);
          break;
        case 4: // len is zero: the name bytes are then read as the next header
          batch.writeUInt32LE(0, target + 12);
          break;
        default: // a name that fills its len with no NUL terminator
          batch.fill(0x41, target + EVENT_HEADER_SIZE, target + EVENT_HEADER_SIZE + batch.readUInt32LE(target + 12));
          break;
      }
      const result = decodeIsolated(gen, batch, length, context);
      if (result instanceof MalformedBatchError) {
        if (/past the end/.test(result.message)) seen.lenPastEnd++;
        else seen.truncated++;
      } else {
        seen.decodedAfterMutation++;
      }
    }
    expect(seen.lenPastEnd).toBeGreaterThan(0);
    expect(seen.truncated).toBeGreaterThan(0);
    expect(seen.decodedAfterMutation).toBeGreaterThan(0);
  });

  it('a name without a NUL inside its len is cut at len, never at a NUL found after the record', () => {
    // Kernel names are always NUL-padded; if one were not, the next bytes
    // (here: another record's header, then more) must not leak into it.
    const batch = encodeRecords([{ wd: 1, mask: 0x100, name: 'abc' }, { wd: 2, mask: 0x200, name: 'de' }]);
    batch.fill(0x41, EVENT_HEADER_SIZE, EVENT_HEADER_SIZE + 16);
    const records = decodeRecords(batch);
    expect(records.map((r) => [r.wd, r.name])).toEqual([[1, 'A'.repeat(16)], [2, 'de']]);
  });

  it('odd lengths are rejected or decode nothing, never read outside the view', () => {
    const batch = encodeRecords([{ wd: 1, mask: 0x100, name: 'x' }]);
    for (const length of [-1, batch.length + 1, Number.MAX_SAFE_INTEGER, Infinity]) {
      expect(() => decodeRecords(batch, length), `length ${length}`).toThrow(MalformedBatchError);
    }
    for (const length of [1.5, 16.5, 31.9]) {
      const result = decodeChecked(batch, length, `length ${length}`);
      expect(result).toBeInstanceOf(MalformedBatchError);
    }
    // NaN compares false with everything: an empty result, not a crash or a read.
    expect(decodeRecords(batch, Number.NaN)).toEqual([]);
  });
});

describe('decode(encode(x)) == x', () => {
  it('for random records: int32 wds (-1 included), any uint32 mask and cookie, UTF-8 and non-UTF-8 names', () => {
    const gen = new Gen(SEED ^ 0x0f0f0f0f);
    for (let i = 0; i < 3000; i++) {
      const specs = Array.from({ length: gen.int(20) }, () => randomSpec(gen));
      const batch = encodeRecords(specs);
      // Kernel layout: headers are 16 bytes and names NUL-padded to a multiple of 16.
      expect(batch.length % EVENT_HEADER_SIZE).toBe(0);
      const decoded = decodeIsolated(gen, batch, batch.length, `seed ${SEED} round-trip ${i}`);
      const expected = specs.map(expectedRecord);
      if (decoded instanceof MalformedBatchError || !sameRecords(decoded, expected)) {
        expect(decoded, `seed ${SEED} round-trip ${i}`).toEqual(expected);
      }
    }
  });

  it('for a batch as large as the addon buffer (256 KiB of records)', () => {
    const gen = new Gen(SEED + 7);
    const specs: Spec[] = [];
    let size = 0;
    for (;;) {
      const spec = randomSpec(gen);
      const next = size + encodeRecords([spec]).length;
      if (next > 256 * 1024) break;
      specs.push(spec);
      size = next;
    }
    const batch = encodeRecords(specs);
    expect(batch.length).toBeGreaterThan(256 * 1024 - 300);
    const decoded = decodeRecords(batch);
    expect(sameRecords(decoded, specs.map(expectedRecord))).toBe(true);
  });
});

describe('the addon under random paths and masks', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inotify-fuzz-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'file'), 'x');
  fs.symlinkSync('sub', path.join(dir, 'link'));
  fs.symlinkSync('nowhere', path.join(dir, 'dangling'));

  const allowed = new Set(['ENOENT', 'ENOTDIR', 'EINVAL', 'ENAMETOOLONG', 'EEXIST', 'ELOOP', 'EACCES']);

  function checkSystemError(error: unknown, context: string, syscall: string): string {
    if (!(error instanceof Error)) throw new Error(`${context}: threw a non-Error ${String(error)}`);
    const e = error as NodeJS.ErrnoException;
    if (typeof e.code !== 'string' || typeof e.errno !== 'number' || e.errno >= 0 || e.syscall !== syscall) {
      throw new Error(`${context}: not an fs-shaped error: ${e.stack} ${JSON.stringify({ code: e.code, errno: e.errno, syscall: e.syscall })}`);
    }
    if (!e.message.startsWith(`${e.code}: `)) throw new Error(`${context}: message ${e.message}`);
    return e.code;
  }

  it('answers 3000 random (path, mask) pairs with a wd or an fs-shaped error, and random wds with EINVAL', () => {
    const gen = new Gen(SEED ^ 0x12345678);
    const ino = new Inotify();
    const codes = new Map<string, number>();
    let added = 0;
    try {
      const names = ['sub', 'file', 'link', 'dangling', 'missing', 'sub/', 'file/', 'sub/..', '.', ''];
      for (let i = 0; i < 3000; i++) {
        const kind = gen.int(5);
        let target: string | Buffer;
        if (kind === 0) target = path.join(dir, gen.pick(names));
        else if (kind === 1) target = Buffer.concat([Buffer.from(`${dir}/`), gen.nameBytes(1 + gen.int(300))]);
        else if (kind === 2) target = Buffer.concat([Buffer.from(`${dir}/`), gen.nameBytes(4097 + gen.int(2000))]); // PATH_MAX exceeded
        else if (kind === 3) target = `${dir}/${'x'.repeat(256)}`; // NAME_MAX exceeded
        else target = path.join(dir, gen.pick(names), gen.nameString(1 + gen.int(8)));
        const mask = gen.pick([gen.uint32(), gen.uint32() & 0xfff, 0, 0x80000000, 0x30000000, 0x01000000 | 0x100, 0x10000000 | 0x20000000 | 0x100]) >>> 0;
        const context = `seed ${SEED} addWatch ${i} mask 0x${mask.toString(16)}`;
        try {
          const wd = ino.addWatch(target, mask);
          expect(Number.isInteger(wd) && wd > 0, context).toBe(true);
          added++;
        } catch (error) {
          const code = checkSystemError(error, context, 'inotify_add_watch');
          if (!allowed.has(code)) throw new Error(`${context}: unexpected code ${code}: ${(error as Error).message}`);
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }
      for (let i = 0; i < 500; i++) {
        const wd = 1000 + gen.int(0x7ffffff0);
        try {
          ino.rmWatch(wd);
          throw new Error(`rmWatch(${wd}) of a wd never handed out succeeded`);
        } catch (error) {
          expect(checkSystemError(error, `rmWatch(${wd})`, 'inotify_rm_watch')).toBe('EINVAL');
        }
      }
      // Whatever the masks were, reading the queue afterwards is well-formed.
      ino.readSync();
    } finally {
      ino.close();
    }
    expect(added).toBeGreaterThan(0);
    for (const code of ['ENOENT', 'EINVAL', 'ENAMETOOLONG']) expect(codes.get(code) ?? 0, code).toBeGreaterThan(0);
    // After close every call is EBADF, with the same shape.
    expect(checkSystemError(catchError(() => ino.addWatch(dir, 0x100)), 'after close', 'inotify_add_watch')).toBe('EBADF');
    expect(checkSystemError(catchError(() => ino.rmWatch(1)), 'after close', 'inotify_rm_watch')).toBe('EBADF');
    expect(checkSystemError(catchError(() => ino.readSync()), 'after close', 'read')).toBe('EBADF');
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
