/**
 * The disk spool: every message is written here (fsync'd) before it is
 * sent, and removed once the server has acknowledged it. One file per
 * message, named by a sequence number, so the order survives a restart and
 * a crash mid-write leaves only a temporary name (never a half message).
 */
import { Buffer } from 'node:buffer';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { invalidArgType, outOfRange } from '../errors.js';
import { forwardError } from './errors.js';
import { lockSpool } from './spool-lock.js';

/** Bounds and durability of a {@link DiskSpool}. */
export interface SpoolOptions {
  /** At most this many messages waiting (default 100000). */
  maxMessages?: number;
  /** At most this many bytes of spool files (default 256 MiB). */
  maxBytes?: number;
  /** fsync each message file and the directory before it counts as spooled (default true). */
  fsync?: boolean;
}

/** What is spooled: a message for one subject, with its de-duplication id. */
export interface OutgoingMessage {
  readonly subject: string;
  /** The stream's de-duplication id (JetStream `Nats-Msg-Id`). */
  readonly id: string;
  readonly data: Uint8Array;
}

/** A message in the spool. */
export interface SpooledMessage extends OutgoingMessage {
  /** Its place in the spool's order. */
  readonly seq: number;
}

interface Entry {
  readonly seq: number;
  readonly file: string;
  readonly size: number;
}

const SUFFIX = '.msg';
const NAME = /^(\d{16})\.msg$/;
const DEFAULT_MAX_MESSAGES = 100_000;
const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < 1) throw outOfRange(name, 'an integer >= 1', value);
  return value;
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * An ordered, bounded, crash-safe queue of messages on disk, owned by one
 * process at a time (see {@link lockSpool}). Open it with {@link DiskSpool.open}.
 */
export class DiskSpool {
  /** The spool directory. */
  readonly dir: string;
  /** The bounds. */
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly #fsync: boolean;
  readonly #entries: Entry[] = [];
  readonly #release: () => void;
  #bytes = 0;
  #nextSeq: number;
  /** Appends run one after another, so the files complete in sequence order. */
  #writing: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(dir: string, options: Required<SpoolOptions>, release: () => void, entries: Entry[]) {
    this.dir = dir;
    this.maxMessages = options.maxMessages;
    this.maxBytes = options.maxBytes;
    this.#fsync = options.fsync;
    this.#release = release;
    this.#entries = entries;
    for (const entry of entries) this.#bytes += entry.size;
    this.#nextSeq = (entries.at(-1)?.seq ?? 0) + 1;
  }

  /**
   * Creates the directory if needed, takes its lock, and loads the messages
   * left by an earlier run (in order). Temporary files of an interrupted
   * write are removed.
   */
  static async open(dir: string, options: SpoolOptions = {}): Promise<DiskSpool> {
    if (typeof dir !== 'string' || dir === '') throw invalidArgType('spoolDir', 'a non-empty string', dir);
    const resolved: Required<SpoolOptions> = {
      maxMessages: positiveInteger(options.maxMessages, 'maxMessages', DEFAULT_MAX_MESSAGES),
      maxBytes: positiveInteger(options.maxBytes, 'maxBytes', DEFAULT_MAX_BYTES),
      fsync: options.fsync ?? true,
    };
    const path = nodePath.resolve(dir);
    mkdirSync(path, { recursive: true, mode: 0o700 });
    const release = await lockSpool(path);
    try {
      const entries: Entry[] = [];
      for (const name of readdirSync(path)) {
        const match = NAME.exec(name);
        if (match !== null) {
          const file = nodePath.join(path, name);
          entries.push({ seq: Number(match[1]), file, size: statSync(file).size });
        } else if (name.startsWith('.tmp-')) {
          await unlink(nodePath.join(path, name)).catch(() => undefined);
        }
      }
      entries.sort((a, b) => a.seq - b.seq);
      return new DiskSpool(path, resolved, release, entries);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Messages waiting. */
  get length(): number {
    return this.#entries.length;
  }

  /** Bytes of the files waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Writes the message after all others; resolves once it is on disk
   * (fsync'd, unless `fsync: false`). Rejects with ERR_FORWARD_SPOOL_FULL when
   * a bound would be exceeded: nothing is dropped silently, the caller decides.
   */
  append(message: OutgoingMessage): Promise<SpooledMessage> {
    const result = this.#writing.then(() => this.#append(message));
    this.#writing = result.catch(() => undefined);
    return result;
  }

  async #append(message: OutgoingMessage): Promise<SpooledMessage> {
    if (this.#closed) throw forwardError('ERR_FORWARD_CLOSED', `the spool ${this.dir} is closed`);
    const body = Buffer.from(JSON.stringify({ subject: message.subject, id: message.id, data: Buffer.from(message.data).toString('base64') }));
    if (this.#entries.length >= this.maxMessages || this.#bytes + body.length > this.maxBytes) {
      throw forwardError('ERR_FORWARD_SPOOL_FULL',
        `the spool ${this.dir} is full (${this.#entries.length} messages, ${this.#bytes} bytes; bounds ${this.maxMessages} messages, ${this.maxBytes} bytes): message ${message.id} not accepted`,
        { path: this.dir });
    }
    const seq = this.#nextSeq++;
    const file = nodePath.join(this.dir, `${String(seq).padStart(16, '0')}${SUFFIX}`);
    const entry: Entry = { seq, file, size: body.length };
    this.#bytes += body.length;
    const temp = nodePath.join(this.dir, `.tmp-${seq}`);
    try {
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writeFile(body);
        if (this.#fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
      if (this.#fsync) await fsyncPath(this.dir);
    } catch (error) {
      this.#bytes -= body.length;
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    this.#entries.push(entry);
    return { ...message, seq };
  }

  /**
   * The oldest message, read back from disk; undefined when empty. A file
   * that cannot be parsed is moved to `rejected/` and reported through
   * `onCorrupt`, and the next one is read.
   */
  async peek(onCorrupt?: (error: Error) => void): Promise<SpooledMessage | undefined> {
    for (;;) {
      const entry = this.#entries[0];
      if (entry === undefined) return undefined;
      try {
        const parsed = JSON.parse(await readFile(entry.file, 'utf8')) as Record<string, unknown>;
        if (typeof parsed.subject !== 'string' || typeof parsed.id !== 'string' || typeof parsed.data !== 'string') throw new Error('missing subject, id or data');
        return { seq: entry.seq, subject: parsed.subject, id: parsed.id, data: Buffer.from(parsed.data, 'base64') };
      } catch (error) {
        await this.reject(entry.seq);
        onCorrupt?.(forwardError('ERR_FORWARD_SPOOL_CORRUPT', `spool file ${entry.file} cannot be read (${(error as Error).message}): moved to ${nodePath.join(this.dir, 'rejected')}`, { path: entry.file, cause: error }));
      }
    }
  }

  /** Removes a message (it was acknowledged). */
  async remove(seq: number): Promise<void> {
    const entry = this.#take(seq);
    if (entry !== undefined) await unlink(entry.file).catch(() => undefined);
  }

  /** Moves a message the server will never take to `rejected/` (kept for a human to look at). */
  async reject(seq: number): Promise<string | undefined> {
    const entry = this.#take(seq);
    if (entry === undefined) return undefined;
    const dir = nodePath.join(this.dir, 'rejected');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const target = nodePath.join(dir, nodePath.basename(entry.file));
    await rename(entry.file, target).catch(() => undefined);
    return target;
  }

  #take(seq: number): Entry | undefined {
    const index = this.#entries.findIndex((e) => e.seq === seq);
    if (index < 0) return undefined;
    const [entry] = this.#entries.splice(index, 1) as [Entry];
    this.#bytes -= entry.size;
    return entry;
  }

  /** Releases the directory; the files stay for the next run. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
  }
}
