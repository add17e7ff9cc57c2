/**
 * Byte-fixture decoding of struct inotify_event batches, maskname/parseMask,
 * and the IN_* values checked against <sys/inotify.h> itself.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import * as api from '../src/index.js';
import {
  decodeRecords,
  encodeRecords,
  maskname,
  parseMask,
  MalformedBatchError,
  IN_ACCESS,
  IN_ALL_EVENTS,
  IN_CLOSE,
  IN_CLOSE_NOWRITE,
  IN_CLOSE_WRITE,
  IN_CREATE,
  IN_DELETE,
  IN_IGNORED,
  IN_ISDIR,
  IN_MODIFY,
  IN_MOVED_FROM,
  IN_MOVED_TO,
  IN_ONESHOT,
  IN_Q_OVERFLOW,
  type RawRecord,
} from '../src/index.js';
import { binding } from '../src/binding.js';
import { EVENT_FLAGS } from '../src/constants.js';

const LE = os.endianness() === 'LE';

/** One record built by hand: header fields as given, then exactly `name` (already padded by the caller). */
function record(wd: number, mask: number, cookie: number, len: number, name: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(16);
  if (LE) {
    header.writeInt32LE(wd, 0);
    header.writeUInt32LE(mask >>> 0, 4);
    header.writeUInt32LE(cookie >>> 0, 8);
    header.writeUInt32LE(len, 12);
  } else {
    header.writeInt32BE(wd, 0);
    header.writeUInt32BE(mask >>> 0, 4);
    header.writeUInt32BE(cookie >>> 0, 8);
    header.writeUInt32BE(len, 12);
  }
  return Buffer.concat([header, name]);
}

/** `name` NUL-padded to `len` bytes. */
function padded(name: string | Buffer, len: number): Buffer {
  const bytes = typeof name === 'string' ? Buffer.from(name) : name;
  const out = Buffer.alloc(len);
  bytes.copy(out);
  return out;
}

function expectMalformed(run: () => unknown, offset: number): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(MalformedBatchError);
  expect(thrown).toBeInstanceOf(RangeError);
  expect((thrown as MalformedBatchError).code).toBe('ERR_INOTIFY_MALFORMED_BATCH');
  expect((thrown as MalformedBatchError).offset).toBe(offset);
}

describe('decodeRecords', () => {
  test('several records in one batch, in order, with exact fields', () => {
    const bytes = encodeRecords([
      { wd: 1, mask: IN_CREATE, name: 'alpha' },
      { wd: 2, mask: IN_MOVED_FROM, cookie: 7777, name: 'beta.txt' },
      { wd: 2, mask: IN_MOVED_TO, cookie: 7777, name: 'gamma.txt' },
      { wd: 1, mask: IN_MODIFY },
    ]);
    expect(bytes.length).toBe(16 + 16 + 16 + 16 + 16 + 16 + 16);
    expect(decodeRecords(bytes)).toStrictEqual([
      { wd: 1, mask: IN_CREATE, cookie: 0, name: 'alpha' },
      { wd: 2, mask: IN_MOVED_FROM, cookie: 7777, name: 'beta.txt' },
      { wd: 2, mask: IN_MOVED_TO, cookie: 7777, name: 'gamma.txt' },
      { wd: 1, mask: IN_MODIFY, cookie: 0, name: '' },
    ]);
  });

  test('hand-built bytes decode the same as encodeRecords output', () => {
    const hand = Buffer.concat([
      record(5, IN_CREATE, 0, 16, padded('x', 16)),
      record(6, IN_DELETE, 0, 0),
      record(5, IN_CLOSE_WRITE, 0, 32, padded('a-longer-name.bin', 32)),
    ]);
    const encoded = encodeRecords([
      { wd: 5, mask: IN_CREATE, name: 'x' },
      { wd: 6, mask: IN_DELETE },
      { wd: 5, mask: IN_CLOSE_WRITE, name: 'a-longer-name.bin' },
    ]);
    expect(hand.equals(encoded)).toBe(true);
    expect(decodeRecords(hand).map((r) => [r.wd, r.mask, r.name])).toStrictEqual([
      [5, IN_CREATE, 'x'],
      [6, IN_DELETE, ''],
      [5, IN_CLOSE_WRITE, 'a-longer-name.bin'],
    ]);
  });

  test('an empty name (len 0) and an all-NUL name both decode to "" without nameBytes', () => {
    const [zero, nul] = decodeRecords(Buffer.concat([record(3, IN_MODIFY, 0, 0), record(3, IN_MODIFY, 0, 16, Buffer.alloc(16))]));
    expect(zero).toStrictEqual({ wd: 3, mask: IN_MODIFY, cookie: 0, name: '' });
    expect(nul).toStrictEqual({ wd: 3, mask: IN_MODIFY, cookie: 0, name: '' });
  });

  test.each([
    [1, 16],
    [15, 16],
    [16, 32],
    [17, 32],
  ])('a %i-byte name is NUL-padded to %i bytes and decodes exactly', (length, paddedLength) => {
    const name = 'abcdefghijklmnopqrstuvwxyz'.slice(0, length);
    const bytes = encodeRecords([{ wd: 9, mask: IN_CREATE, name }, { wd: 9, mask: IN_DELETE, name: 'next' }]);
    expect(bytes.length).toBe(16 + paddedLength + 16 + 16);
    expect(bytes.readUInt32LE(12) === paddedLength || bytes.readUInt32BE(12) === paddedLength).toBe(true);
    // The record after a padded name starts where the padding ends.
    expect(decodeRecords(bytes)).toStrictEqual([
      { wd: 9, mask: IN_CREATE, cookie: 0, name },
      { wd: 9, mask: IN_DELETE, cookie: 0, name: 'next' },
    ]);
  });

  test('names of 1, 15, 16 and 17 bytes back to back in one batch', () => {
    const names = ['a', 'b'.repeat(15), 'c'.repeat(16), 'd'.repeat(17)];
    const bytes = encodeRecords(names.map((name, i) => ({ wd: i + 1, mask: IN_CREATE, name })));
    expect(bytes.length).toBe(4 * 16 + 16 + 16 + 32 + 32);
    expect(decodeRecords(bytes).map((r) => r.name)).toStrictEqual(names);
  });

  test('ASCII names of every length from 1 to 40 (the short-name fast path and beyond) decode exactly', () => {
    // Every printable ASCII byte appears, and a control byte (0x01) and DEL (0x7f): all below 0x80.
    const alphabet = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)).join('').replace('/', '') + '\x01\x7f';
    const names = Array.from({ length: 40 }, (_, i) => Array.from({ length: i + 1 }, (_, j) => alphabet[(i * 7 + j) % alphabet.length]).join(''));
    const records = decodeRecords(encodeRecords(names.map((name, i) => ({ wd: i + 1, mask: IN_CREATE, name }))));
    expect(records.map((r) => r.name)).toStrictEqual(names);
    expect(records.every((r) => !('nameBytes' in r))).toBe(true);
  });

  test('a name whose only non-ASCII byte is its last, at every short length, decodes as UTF-8 (not latin1)', () => {
    for (let length = 1; length <= 14; length++) {
      const name = 'x'.repeat(length - 1) + 'é'; // é is 2 bytes in UTF-8; latin1 would give 'Ã©'
      const [valid] = decodeRecords(encodeRecords([{ wd: 1, mask: IN_CREATE, name }]));
      expect(valid?.name).toBe(name);
      expect(valid !== undefined && 'nameBytes' in valid).toBe(false);
      const bytes = Buffer.concat([Buffer.from('x'.repeat(length - 1)), Buffer.from([0x80])]);
      const [invalid] = decodeRecords(encodeRecords([{ wd: 1, mask: IN_CREATE, name: bytes }]));
      expect(invalid?.name).toBe('x'.repeat(length - 1) + '\uFFFD');
      expect(invalid?.nameBytes?.equals(bytes)).toBe(true);
    }
  });

  test('IN_ISDIR is kept in the mask', () => {
    const [rec] = decodeRecords(encodeRecords([{ wd: 1, mask: IN_CREATE | IN_ISDIR, name: 'sub' }]));
    expect(rec?.mask).toBe((IN_CREATE | IN_ISDIR) >>> 0);
    expect(rec?.mask).toBe(0x40000100);
  });

  test('IN_Q_OVERFLOW: wd -1, mask 0x4000, no name', () => {
    const bytes = Buffer.from([0xff, 0xff, 0xff, 0xff, ...(LE ? [0x00, 0x40, 0, 0] : [0, 0, 0x40, 0x00]), 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(decodeRecords(bytes)).toStrictEqual([{ wd: -1, mask: IN_Q_OVERFLOW, cookie: 0, name: '' }]);
    expect(IN_Q_OVERFLOW).toBe(0x4000);
  });

  test('IN_IGNORED after the last event of a watch', () => {
    const bytes = Buffer.concat([record(4, IN_MODIFY, 0, 0), record(4, IN_IGNORED, 0, 0)]);
    expect(decodeRecords(bytes)).toStrictEqual([
      { wd: 4, mask: IN_MODIFY, cookie: 0, name: '' },
      { wd: 4, mask: IN_IGNORED, cookie: 0, name: '' },
    ]);
  });

  test('masks and cookies are unsigned 32-bit', () => {
    const [rec] = decodeRecords(record(1, 0xffffffff, 0xfffffffe, 0));
    expect(rec).toStrictEqual({ wd: 1, mask: 0xffffffff, cookie: 0xfffffffe, name: '' });
  });

  test('a name that is not UTF-8 never throws, keeps its exact bytes and shows U+FFFD', () => {
    const bad = Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]);
    const [rec] = decodeRecords(encodeRecords([{ wd: 2, mask: IN_CREATE, name: bad }]));
    expect(rec?.nameBytes).toBeInstanceOf(Buffer);
    expect(rec?.nameBytes?.equals(bad)).toBe(true);
    expect(rec?.nameBytes?.length).toBe(5);
    expect(rec?.name.startsWith('bad')).toBe(true);
    expect(rec?.name).toContain('\uFFFD');
  });

  test('nameBytes is a copy, not a view of the (reused) batch buffer', () => {
    const bytes = encodeRecords([{ wd: 2, mask: IN_CREATE, name: Buffer.from([0x62, 0xff]) }]);
    const [rec] = decodeRecords(bytes);
    bytes.fill(0);
    expect(rec?.nameBytes?.equals(Buffer.from([0x62, 0xff]))).toBe(true);
  });

  test('a valid name that contains a real U+FFFD has no nameBytes', () => {
    const [rec] = decodeRecords(encodeRecords([{ wd: 2, mask: IN_CREATE, name: 'a\uFFFDb' }]));
    expect(rec).toStrictEqual({ wd: 2, mask: IN_CREATE, cookie: 0, name: 'a\uFFFDb' });
    expect(rec !== undefined && 'nameBytes' in rec).toBe(false);
  });

  test('multi-byte UTF-8 names decode as text', () => {
    const [rec] = decodeRecords(encodeRecords([{ wd: 1, mask: IN_CREATE, name: 'héllo-日本-🙂' }]));
    expect(rec?.name).toBe('héllo-日本-🙂');
    expect(rec !== undefined && 'nameBytes' in rec).toBe(false);
  });

  test('a Uint8Array view with a non-zero (and unaligned) byteOffset', () => {
    const encoded = encodeRecords([
      { wd: 11, mask: IN_CREATE, name: 'first' },
      { wd: 12, mask: IN_DELETE, cookie: 3, name: 'second-name-17by' },
    ]);
    for (const offset of [16, 7]) {
      const storage = new ArrayBuffer(offset + encoded.length + 40);
      new Uint8Array(storage).fill(0xaa); // garbage around the view
      const view = new Uint8Array(storage, offset, encoded.length);
      view.set(encoded);
      expect(view).not.toBeInstanceOf(Buffer);
      expect(decodeRecords(view)).toStrictEqual([
        { wd: 11, mask: IN_CREATE, cookie: 0, name: 'first' },
        { wd: 12, mask: IN_DELETE, cookie: 3, name: 'second-name-17by' },
      ]);
    }
  });

  test('a length smaller than the buffer decodes only that prefix', () => {
    const first = encodeRecords([{ wd: 1, mask: IN_CREATE, name: 'kept' }]);
    // Stale bytes after `length`, as in the addon's reused buffer, even a broken record.
    const bytes = Buffer.concat([first, encodeRecords([{ wd: 2, mask: IN_DELETE, name: 'stale' }]), Buffer.from([1, 2, 3])]);
    expect(decodeRecords(bytes, first.length)).toStrictEqual([{ wd: 1, mask: IN_CREATE, cookie: 0, name: 'kept' }]);
    expect(decodeRecords(bytes, 0)).toStrictEqual([]);
  });

  test('appends to the given output array', () => {
    const out: RawRecord[] = [{ wd: 100, mask: IN_ACCESS, cookie: 0, name: 'already' }];
    const result = decodeRecords(encodeRecords([{ wd: 1, mask: IN_CREATE, name: 'new' }]), undefined, out);
    expect(result).toBe(out);
    expect(out.map((r) => r.name)).toStrictEqual(['already', 'new']);
  });

  test('a truncated header throws MalformedBatchError at its offset', () => {
    const whole = encodeRecords([{ wd: 1, mask: IN_CREATE, name: 'a' }]);
    expectMalformed(() => decodeRecords(whole.subarray(0, 10)), 0);
    expectMalformed(() => decodeRecords(Buffer.concat([whole, Buffer.alloc(8)])), whole.length);
  });

  test('a name past the end of the batch throws MalformedBatchError', () => {
    const bytes = Buffer.concat([record(1, IN_MODIFY, 0, 0), record(1, IN_CREATE, 0, 32, padded('short', 16))]);
    expectMalformed(() => decodeRecords(bytes), 16);
    // The same record is fine once the bytes it declares are there...
    expect(decodeRecords(Buffer.concat([bytes, Buffer.alloc(16)]))[1]?.name).toBe('short');
    // ...but not when `length` cuts them off.
    expectMalformed(() => decodeRecords(Buffer.concat([bytes, Buffer.alloc(16)]), bytes.length), 16);
  });

  test('a length beyond the buffer throws instead of reading past it', () => {
    const bytes = encodeRecords([{ wd: 1, mask: IN_CREATE, name: 'a' }]);
    expectMalformed(() => decodeRecords(bytes, bytes.length + 16), 0);
  });
});

describe('maskname', () => {
  test.each([
    [IN_CREATE | IN_ISDIR, 'IN_CREATE|IN_ISDIR'],
    [IN_CLOSE_WRITE, 'IN_CLOSE_WRITE'],
    [IN_CLOSE_NOWRITE | IN_ISDIR, 'IN_CLOSE_NOWRITE|IN_ISDIR'],
    [IN_Q_OVERFLOW, 'IN_Q_OVERFLOW'],
    [IN_IGNORED, 'IN_IGNORED'],
    [IN_ACCESS | IN_MODIFY, 'IN_ACCESS|IN_MODIFY'],
    [IN_CLOSE, 'IN_CLOSE_WRITE|IN_CLOSE_NOWRITE'],
    [IN_MOVED_FROM | IN_MOVED_TO | IN_ISDIR, 'IN_MOVED_FROM|IN_MOVED_TO|IN_ISDIR'],
    [0, ''],
  ])('maskname(%i) is %s', (mask, name) => {
    expect(maskname(mask)).toBe(name);
    expect(maskname(mask)).toBe(name); // cached the second time, same answer
  });

  test('names every event flag of IN_ALL_EVENTS, lowest bit first', () => {
    expect(maskname(IN_ALL_EVENTS)).toBe(
      'IN_ACCESS|IN_MODIFY|IN_ATTRIB|IN_CLOSE_WRITE|IN_CLOSE_NOWRITE|IN_OPEN|IN_MOVED_FROM|IN_MOVED_TO|IN_CREATE|IN_DELETE|IN_DELETE_SELF|IN_MOVE_SELF',
    );
  });

  test('EVENT_FLAGS are single bits in increasing order', () => {
    let previous = 0;
    for (const [, value] of EVENT_FLAGS) {
      expect(value & (value - 1)).toBe(0);
      expect(value).toBeGreaterThan(previous);
      previous = value;
    }
  });
});

describe('parseMask', () => {
  test('parses comma-separated names, with spaces, aliases and combinations', () => {
    expect(parseMask('IN_CREATE,IN_CLOSE_WRITE')).toBe((IN_CREATE | IN_CLOSE_WRITE) >>> 0);
    expect(parseMask(' IN_CREATE , IN_CLOSE ,')).toBe((IN_CREATE | IN_CLOSE) >>> 0);
    expect(parseMask('ALL_EVENTS')).toBe(IN_ALL_EVENTS);
    expect(parseMask('IN_ONESHOT')).toBe(0x80000000);
    expect(parseMask('')).toBe(0);
  });

  test('an unknown name throws a TypeError with code ERR_INVALID_ARG_VALUE', () => {
    expect(() => parseMask('IN_CREATE,IN_CREAT')).toThrow(TypeError);
    expect(() => parseMask('IN_CREATE,IN_CREAT')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'IN_CREAT'") }));
    expect(() => parseMask('in_create')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

const NAMES = [
  'IN_ACCESS', 'IN_MODIFY', 'IN_ATTRIB', 'IN_CLOSE_WRITE', 'IN_CLOSE_NOWRITE', 'IN_OPEN', 'IN_MOVED_FROM',
  'IN_MOVED_TO', 'IN_CREATE', 'IN_DELETE', 'IN_DELETE_SELF', 'IN_MOVE_SELF', 'IN_UNMOUNT', 'IN_Q_OVERFLOW',
  'IN_IGNORED', 'IN_ONLYDIR', 'IN_DONT_FOLLOW', 'IN_EXCL_UNLINK', 'IN_MASK_CREATE', 'IN_MASK_ADD', 'IN_ISDIR',
  'IN_ONESHOT', 'IN_CLOSE', 'IN_MOVE', 'IN_ALL_EVENTS', 'IN_NONBLOCK', 'IN_CLOEXEC',
] as const;
const PUBLIC_NAMES = NAMES.filter((name) => name !== 'IN_NONBLOCK' && name !== 'IN_CLOEXEC');

const hasCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;

describe('constants', () => {
  test.skipIf(!hasCc)('every IN_* value equals the one a C program reads from <sys/inotify.h>', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inotify-constants-'));
    try {
      const source = [
        '#include <stdio.h>',
        '#include <sys/inotify.h>',
        'int main(void) {',
        ...NAMES.map((name) => `  printf("%s %u\\n", "${name}", (unsigned)(${name}));`),
        '  return 0;',
        '}',
      ].join('\n');
      fs.writeFileSync(path.join(dir, 'constants.c'), source);
      const compile = spawnSync('cc', ['-o', path.join(dir, 'constants'), path.join(dir, 'constants.c')], { encoding: 'utf8' });
      expect(compile.status, compile.stderr).toBe(0);
      const run = spawnSync(path.join(dir, 'constants'), { encoding: 'utf8' });
      expect(run.status).toBe(0);
      const fromHeader = new Map(run.stdout.trim().split('\n').map((line) => {
        const [name, value] = line.split(' ');
        return [name, Number(value)] as const;
      }));
      expect(fromHeader.size).toBe(NAMES.length);

      const exported = api as unknown as Record<string, unknown>;
      const native = binding.constants as unknown as Record<string, unknown>;
      for (const name of NAMES) {
        expect(native[name], name).toBe(fromHeader.get(name));
      }
      for (const name of PUBLIC_NAMES) {
        expect(exported[name], name).toBe(fromHeader.get(name));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('constants are frozen and unsigned', () => {
    expect(Object.isFrozen(binding.constants)).toBe(true);
    expect(IN_ONESHOT).toBe(0x80000000);
    for (const name of NAMES) expect(binding.constants[name]).toBeGreaterThan(0);
  });
});
