/** The error of an addWatch that armed some paths and failed on others. */
import type { CodedError } from './errors.js';

/** One failure inside a (recursive) addWatch. */
export interface WatchFailure {
  readonly path: string;
  readonly error: CodedError;
}

/**
 * Thrown by {@link WatchManager.addWatch} when some paths could not be
 * watched. It carries the first failure's `code`, `errno`, `syscall` and
 * `path`, plus what was armed (still watched: remove it with `rmWatch` to
 * roll back) and every failure.
 */
export class WatchError extends Error {
  readonly code: string;
  readonly errno: number | undefined;
  readonly syscall: string | undefined;
  readonly path: string | undefined;

  constructor(
    readonly armed: Map<string, number>,
    readonly failed: readonly WatchFailure[],
  ) {
    const first = failed[0]?.error;
    super(`${first?.message ?? 'addWatch failed'}; ${failed.length} path(s) could not be watched, ${armed.size} watched`);
    this.name = 'WatchError';
    this.code = first?.code ?? 'ERR_INOTIFY_WATCH';
    this.errno = first?.errno;
    this.syscall = first?.syscall;
    this.path = first?.path;
  }
}
