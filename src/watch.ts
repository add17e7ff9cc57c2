/** The short path for the common case: `for await (const event of watch(dir))`. */
import { IN_ACCESS, IN_ALL_EVENTS, IN_CLOSE_NOWRITE, IN_OPEN, parseMask } from './constants.js';
import { invalidArgType, outOfRange, type CodedError } from './errors.js';
import type { InotifyEvent } from './event.js';
import type { ExcludeFilterLike } from './exclude-filter.js';
import { Notifier, type NotifierOptions } from './notifier.js';
import { validateOptions, validatePath, type PathLike } from './validate.js';
import { watchTree } from './watch-tree.js';

/** How many events a {@link watch} stream holds for its loop by default (the kernel's default queue size). */
const DEFAULT_MAX_QUEUED = 16_384;

/** Everything but IN_ACCESS, IN_OPEN and IN_CLOSE_NOWRITE: what changes a tree. */
export const CHANGE_EVENTS = (IN_ALL_EVENTS & ~(IN_ACCESS | IN_OPEN | IN_CLOSE_NOWRITE)) >>> 0;

/** Options of {@link watch}. */
export interface WatchOptions {
  /** Watch the whole tree, including directories created later (default true). */
  recursive?: boolean;
  /** A mask, or flag names (`['IN_CLOSE_WRITE', 'IN_MOVED_TO']`). Default {@link CHANGE_EVENTS}. */
  events?: number | readonly string[];
  /** Paths neither watched nor reported. */
  exclude?: ExcludeFilterLike;
  /** Stops watching and ends the iteration. */
  signal?: AbortSignal;
  /** Follow symbolic links to directories while walking (default false). */
  followSymlinks?: boolean;
  /**
   * After a kernel queue overflow, re-read the tree and report what changed
   * unseen (default true; see {@link NotifierOptions.rescan} for what it
   * reports and costs). The 'overflow' event is in the stream either way.
   */
  rescan?: boolean;
  /**
   * Receives errors that leave watching intact: a new directory that could
   * not be watched (EACCES, ENOSPC naming fs.inotify.max_user_watches,
   * ENAMETOOLONG). Without it, such an error ends the iteration by rejecting
   * it, so nothing is ever missed silently. A failed read of the inotify fd
   * always ends it.
   */
  onError?: (error: Error) => void;
  /**
   * How many events may wait for the loop body (default 16384, the kernel's
   * default queue size). Nothing is queued before the iteration starts (the
   * first `next()`, e.g. when `for await` begins). When the loop falls
   * further behind, newer events are dropped until it has taken the waiting
   * ones; it then gets one IN_Q_OVERFLOW event (wd -1, as when the kernel's
   * queue overflows) in their place: never a silent loss. `close()` frees
   * whatever is waiting.
   */
  maxQueued?: number;
}

/** An async iterable of events that can also be closed directly. */
export interface EventStream extends AsyncIterableIterator<InotifyEvent> {
  /** The Notifier behind the stream (for 'overflow' and 'error' listeners). */
  readonly notifier: Notifier;
  /** Stops watching; the iteration ends. */
  close(): Promise<void>;
}

/**
 * Watches `path` and yields its events in kernel order. Setup errors are
 * thrown synchronously; errors while watching go to `onError` or end the
 * iteration by rejecting it (see {@link WatchOptions.onError}).
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * for await (const event of watch('/srv/incoming', { events: ['IN_CLOSE_WRITE', 'IN_MOVED_TO'], signal: ac.signal })) {
 *   console.log(event.maskname, event.pathname);
 * }
 * ```
 */
export function watch(path: PathLike, options?: WatchOptions): EventStream {
  const target = validatePath(path);
  const opts = validateOptions<WatchOptions>(options);
  if (opts.maxQueued !== undefined) {
    if (typeof opts.maxQueued !== 'number') throw invalidArgType('options.maxQueued', 'of type number', opts.maxQueued);
    if (!Number.isInteger(opts.maxQueued) || opts.maxQueued < 1) throw outOfRange('options.maxQueued', 'an integer >= 1', opts.maxQueued);
  }
  const recursive = opts.recursive !== false;
  const mask = opts.events === undefined ? CHANGE_EVENTS
    : typeof opts.events === 'number' ? opts.events : parseMask(opts.events.join(','));
  const rescan = opts.rescan !== false;
  // Listings are kept from the first walk on, so the rescan costs no second walk.
  const wm = watchTree(target, mask, { recursive, exclude: opts.exclude, followSymlinks: opts.followSymlinks, trackEntries: rescan });
  const maxQueued = opts.maxQueued ?? DEFAULT_MAX_QUEUED;
  const notifier = new Notifier(wm, undefined, { rescan });
  // Made when the iteration starts: a stream nobody iterates holds no events.
  let iterator: (AsyncIterableIterator<InotifyEvent> & { clear(): void }) | undefined;
  const started = (): AsyncIterableIterator<InotifyEvent> & { clear(): void } => (iterator ??= notifier._boundedIterator(maxQueued));
  const close = async (): Promise<void> => {
    await notifier.close();
    iterator?.clear();
  };
  let failure: Error | undefined;
  const onError = opts.onError;
  notifier.on('error', (error) => {
    if (onError !== undefined && (error as CodedError).syscall !== 'read') {
      onError(error);
      return;
    }
    failure ??= error;
    notifier.stop();
  });
  const signal = opts.signal;
  const onAbort = (): void => notifier.stop();
  if (signal?.aborted) notifier.stop();
  else signal?.addEventListener('abort', onAbort, { once: true });
  notifier.once('close', () => signal?.removeEventListener('abort', onAbort));

  const stream: EventStream = {
    notifier,
    async next() {
      const result = await started().next();
      if (result.done === true && failure !== undefined) throw failure;
      return result;
    },
    async return() {
      await close();
      return iterator?.return?.() ?? { value: undefined, done: true };
    },
    close,
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
