/**
 * The raw layer: one inotify instance as an EventEmitter of decoded records.
 * Everything above it (WatchManager, Notifier) builds on this class.
 */
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { binding } from './binding.js';
import { decodeRecords, type RawRecord } from './decode.js';
import type { NativeInotify, NativeInotifyConstructor } from './native.js';
import { validateMask, validatePath, validateWd, type PathLike } from './validate.js';

// sizeof(struct inotify_event) + NAME_MAX + 1: the addon stops filling the
// buffer when less than this is free, so a fuller buffer means "read again".
const MIN_READ_SPACE = 16 + 255 + 1;

/** Events of {@link Inotify}. */
export interface InotifyEvents {
  /** One drained read: every record the kernel had queued, in kernel order. */
  batch: [records: RawRecord[]];
  /** A read failed (rare: the fd went bad). */
  error: [error: Error];
  /** The instance was closed. */
  close: [];
}

/**
 * @internal The one consumer of everything the instance reads (the
 * Notifier). Poll batches come as bytes, valid during the call only;
 * records a scan read synchronously come decoded, in kernel order after
 * everything handed over before.
 */
export interface RecordConsumer {
  bytes(bytes: Buffer, length: number): void;
  records(records: readonly RawRecord[]): void;
}

/** Options of {@link Inotify}. */
export interface InotifyOptions {
  /** Keep the process alive while open (default true); see {@link Inotify.unref}. */
  ref?: boolean;
  /** @internal A replacement for the addon's class, for unit tests. */
  native?: NativeInotifyConstructor;
}

/**
 * One kernel inotify instance. `addWatch()` returns the kernel's watch
 * descriptor; each time the fd is readable the queue is drained and one
 * `'batch'` event delivers the decoded records.
 *
 * @example
 * ```ts
 * const ino = new Inotify();
 * ino.addWatch('/tmp', IN_CREATE);
 * ino.on('batch', (records) => console.log(records));
 * ```
 */
export class Inotify extends EventEmitter<InotifyEvents> {
  readonly #native: NativeInotify;
  #bytes: Buffer | undefined;
  #closed = false;
  #consumer: RecordConsumer | undefined;
  // Records read synchronously before a consumer existed (a WatchManager's
  // addWatch before its Notifier): handed over when one arrives, dropped by
  // the next poll batch that finds none (a gap would follow them anyway).
  #backlog: RawRecord[] = [];
  // Records read synchronously, owed to 'batch' listeners: emitted after the
  // poll batch being delivered, or on the next tick.
  #rawOwed: RawRecord[][] = [];
  #rawFlushScheduled = false;
  #delivering = false;

  constructor(options: InotifyOptions = {}) {
    super();
    const Native = options.native ?? binding.Inotify;
    this.#native = new Native((error, bytes, length) => this.#onBatch(error, bytes, length));
    if (options.ref === false) this.#native.unref();
  }

  // The poll's batch. The addon's buffer is refilled by the next read, and a
  // consumer may read synchronously while it handles this batch: whatever
  // 'batch' listeners get is decoded (their own copy) before anyone else runs.
  #onBatch(error: Error | null, bytes: Uint8Array, length: number): void {
    if (error !== null) {
      this.emit('error', error);
      return;
    }
    this.#flushRaw(); // read earlier than this batch
    const view = this.#view(bytes);
    const raw = this.listenerCount('batch') !== 0 ? decodeRecords(view, length) : undefined;
    this.#delivering = true;
    try {
      if (this.#consumer !== undefined) this.#consumer.bytes(view, length);
      else this.#backlog = [];
    } finally {
      this.#delivering = false;
      if (raw !== undefined) this.emit('batch', raw);
      this.#flushRaw();
    }
  }

  /**
   * @internal Makes `consumer` the one reader of this instance's records
   * (and hands it what was read synchronously before). Throws
   * ERR_INVALID_STATE when there is one already: two consumers of one queue
   * would each see part of it.
   */
  _setConsumer(consumer: RecordConsumer): void {
    if (this.#consumer !== undefined) {
      throw Object.assign(new Error('This inotify instance already has a reader: one Notifier per WatchManager'), {
        code: 'ERR_INVALID_STATE',
      });
    }
    this.#consumer = consumer;
    const backlog = this.#backlog;
    this.#backlog = [];
    if (backlog.length !== 0) consumer.records(backlog);
  }

  /**
   * @internal Reads whatever the kernel has queued right now (the library's
   * scans bracket their directory reads with this). Records `skip` accepts
   * (the scan's own noise) are dropped; the rest go to the consumer, in
   * order, and are returned. 'batch' listeners get every record read, after
   * the current delivery.
   */
  _drain(skip?: (record: RawRecord) => boolean): RawRecord[] {
    if (this.#closed) return [];
    const records = this.#read();
    if (records.length === 0) return records;
    if (this.listenerCount('batch') !== 0) this.#oweRaw(records);
    const kept = skip === undefined ? records : records.filter((record) => !skip(record));
    if (kept.length === 0) return kept;
    if (this.#consumer !== undefined) this.#consumer.records(kept);
    else for (const record of kept) this.#backlog.push(record);
    return kept;
  }

  #oweRaw(records: RawRecord[]): void {
    this.#rawOwed.push(records);
    if (this.#delivering || this.#rawFlushScheduled) return;
    this.#rawFlushScheduled = true;
    process.nextTick(() => this.#flushRaw());
  }

  #flushRaw(): void {
    this.#rawFlushScheduled = false;
    while (this.#rawOwed.length !== 0) {
      const records = this.#rawOwed.shift() as RawRecord[];
      this.emit('batch', records);
    }
  }

  #read(): RawRecord[] {
    const records: RawRecord[] = [];
    for (;;) {
      const length = this.#native.readSync();
      if (length === 0) return records;
      decodeRecords(this.#view(this.#native.buffer), length, records);
      if (this.#native.bufferSize - length >= MIN_READ_SPACE) return records;
    }
  }

  // One Buffer view over the addon's reusable memory, made once (again when
  // the addon replaced a buffer JS detached).
  #view(bytes: Uint8Array): Buffer {
    if (this.#bytes === undefined || this.#bytes.buffer !== bytes.buffer || this.#bytes.byteLength !== bytes.byteLength) {
      this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    return this.#bytes;
  }

  /**
   * Reads whatever the kernel has queued right now, without waiting and
   * without emitting 'batch': the records are returned instead. A Notifier
   * reading this instance gets them too (it is the one reader of the queue).
   */
  readSync(): RawRecord[] {
    const records = this.#read();
    if (records.length !== 0) this.#consumer?.records(records);
    return records;
  }

  /** The inotify file descriptor (-1 once closed). */
  get fd(): number {
    return this.#native.fd;
  }

  /** True once {@link Inotify.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * inotify_add_watch(2). Returns the watch descriptor; adding a path that is
   * already watched returns its existing wd (the mask is replaced unless
   * IN_MASK_ADD is set). Throws fs-style errors (ENOENT, ENOTDIR, EACCES,
   * EINVAL, ENOSPC with a hint naming fs.inotify.max_user_watches, EBADF
   * after close).
   */
  addWatch(path: PathLike, mask: number): number {
    return this.#native.addWatch(validatePath(path), validateMask(mask));
  }

  /**
   * @internal {@link Inotify.addWatch} for a path and mask the caller has
   * validated already (the WatchManager's walk: once per directory).
   */
  _addWatchChecked(path: string | Buffer, mask: number): number {
    return this.#native.addWatch(path, mask >>> 0);
  }

  /** inotify_rm_watch(2). The kernel then queues IN_IGNORED for `wd`. Throws EINVAL for an unknown wd. */
  rmWatch(wd: number): void {
    this.#native.rmWatch(validateWd(wd));
  }

  /**
   * Stops polling and closes the fd, synchronously: the fd is released when
   * this returns. Idempotent; later add/rm calls throw EBADF.
   *
   * With watches still set this takes 1-10 ms, in C as here: the kernel waits
   * for an SRCU grace period before it frees the instance's watches, longer
   * on a busy machine.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
    this.emit('close');
  }

  /** Keep the event loop alive while this instance is open (the default). */
  ref(): this {
    this.#native.ref();
    return this;
  }

  /** Let the process exit even though this instance is open. */
  unref(): this {
    this.#native.unref();
    return this;
  }

  /** Whether this instance keeps the event loop alive. */
  hasRef(): boolean {
    return this.#native.hasRef();
  }

  /** Same as {@link Inotify.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
