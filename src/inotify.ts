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
  readonly #bytesListeners: Array<(bytes: Buffer, length: number) => void> = [];

  constructor(options: InotifyOptions = {}) {
    super();
    const Native = options.native ?? binding.Inotify;
    this.#native = new Native((error, bytes, length) => this.#onBatch(error, bytes, length));
    if (options.ref === false) this.#native.unref();
  }

  #onBatch(error: Error | null, bytes: Uint8Array, length: number): void {
    if (error !== null) {
      this.emit('error', error);
      return;
    }
    const view = this.#view(bytes);
    for (const listener of this.#bytesListeners) listener(view, length);
    // Decoded only for someone who listens: the Notifier reads the bytes.
    if (this.listenerCount('batch') !== 0) this.emit('batch', decodeRecords(view, length));
  }

  /**
   * @internal Adds a reader of every batch's bytes (the addon's reusable
   * buffer, valid during the call only), called before the 'batch'
   * listeners. The Notifier uses it to decode records one at a time.
   */
  _addBytesListener(listener: (bytes: Buffer, length: number) => void): void {
    this.#bytesListeners.push(listener);
  }

  // One Buffer view over the addon's reusable memory, made once.
  #view(bytes: Uint8Array): Buffer {
    if (this.#bytes === undefined || this.#bytes.buffer !== bytes.buffer) {
      this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    return this.#bytes;
  }

  /**
   * Reads whatever the kernel has queued right now, without waiting and
   * without emitting 'batch': the records are returned instead. Used to
   * bracket the library's own directory scans.
   */
  readSync(): RawRecord[] {
    const records: RawRecord[] = [];
    for (;;) {
      const length = this.#native.readSync();
      if (length === 0) return records;
      decodeRecords(this.#view(this.#native.buffer), length, records);
      if (this.#native.bufferSize - length >= MIN_READ_SPACE) return records;
    }
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
