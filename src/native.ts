/**
 * The shape of the compiled addon (native/addon.cc). This interface is the
 * only description of the binding; `binding.ts` holds the one cast to it.
 * Internal: not exported from index.ts.
 */

/** Called once per drained read batch: `bytes` is the instance's reusable buffer, valid only during the call. */
export type NativeBatchCallback = (error: NodeJS.ErrnoException | null, bytes: Uint8Array, length: number) => void;

/** One inotify instance (inotify_init1 with IN_NONBLOCK | IN_CLOEXEC) polled on the environment's loop. */
export interface NativeInotify {
  readonly fd: number;
  readonly bufferSize: number;
  /** The reusable buffer that batches and `readSync` fill (contents valid until the next read). */
  readonly buffer: Uint8Array;
  addWatch(path: string | Buffer, mask: number): number;
  rmWatch(wd: number): void;
  /** Drains the queue now into the shared buffer; returns the byte count (a full buffer means call again). */
  readSync(): number;
  close(): void;
  ref(): void;
  unref(): void;
  hasRef(): boolean;
}

export interface NativeInotifyConstructor {
  new (onBatch: NativeBatchCallback): NativeInotify;
}

/** Every IN_* value exported by the addon, read from <sys/inotify.h>. */
export interface NativeConstants {
  readonly IN_ACCESS: number;
  readonly IN_MODIFY: number;
  readonly IN_ATTRIB: number;
  readonly IN_CLOSE_WRITE: number;
  readonly IN_CLOSE_NOWRITE: number;
  readonly IN_OPEN: number;
  readonly IN_MOVED_FROM: number;
  readonly IN_MOVED_TO: number;
  readonly IN_CREATE: number;
  readonly IN_DELETE: number;
  readonly IN_DELETE_SELF: number;
  readonly IN_MOVE_SELF: number;
  readonly IN_UNMOUNT: number;
  readonly IN_Q_OVERFLOW: number;
  readonly IN_IGNORED: number;
  readonly IN_ONLYDIR: number;
  readonly IN_DONT_FOLLOW: number;
  readonly IN_EXCL_UNLINK: number;
  readonly IN_MASK_CREATE: number;
  readonly IN_MASK_ADD: number;
  readonly IN_ISDIR: number;
  readonly IN_ONESHOT: number;
  readonly IN_CLOSE: number;
  readonly IN_MOVE: number;
  readonly IN_ALL_EVENTS: number;
  readonly IN_NONBLOCK: number;
  readonly IN_CLOEXEC: number;
}

export interface NativeBinding {
  readonly Inotify: NativeInotifyConstructor;
  readonly constants: NativeConstants;
  /** 1 when a process has the regular file open for writing, 0 when none has, -errno when it cannot be told. */
  isOpenForWrite(path: string | Buffer): number;
  /**
   * Lists a directory (open/getdents64, without `.` and `..`; in the kernel's
   * order, or by name bytes with `sorted`; with `directoriesOnly`, only
   * directories, symbolic links and entries of unknown type): every
   * name followed by '\0', then one type code per name (see
   * native/readdir.h), as one string, or as a Buffer of the same bytes when a
   * name is not valid UTF-8. Throws an fs-shaped error (syscall 'scandir').
   */
  readdir(path: string | Buffer, sorted: boolean, directoriesOnly: boolean): string | Buffer;
}
