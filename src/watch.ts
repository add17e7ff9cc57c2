/** The short path for the common case: `for await (const event of watch(dir))`. */
import { IN_ACCESS, IN_ALL_EVENTS, IN_CLOSE_NOWRITE, IN_OPEN, IN_Q_OVERFLOW, parseMask } from './constants.js';
import { AsyncQueue, type QueueBound } from './async-queue.js';
import { Coalescer, validateCoalesce, type CoalesceOptions, type EventBatch } from './coalesce.js';
import { invalidArgType, outOfRange, type CodedError } from './errors.js';
import { InotifyEvent } from './event.js';
import type { ExcludeOption } from './pattern.js';
import { Notifier } from './notifier.js';
import { rejectPyinotifySpellings, validateFunction, validateOptions, validatePath, type PathLike } from './validate.js';
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
  /**
   * Paths neither watched nor reported (an excluded directory costs no
   * watch): `'node_modules'` or `'*.tmp'` (a name at any depth),
   * `'build/out'` or `'src/**\/*.o'` (relative to `path`), an absolute
   * path, a RegExp or a function of the absolute pathname, or a list of
   * these. The rules: docs/patterns.md. A bad pattern throws a TypeError
   * with code ERR_INVALID_ARG_VALUE.
   */
  exclude?: ExcludeOption;
  /** Stops watching and ends the iteration. */
  signal?: AbortSignal;
  /** Follow symbolic links to directories while walking (default false). */
  followSymlinks?: boolean;
  /**
   * After a kernel queue overflow, re-read the tree and report what changed
   * unseen (default true; see `NotifierOptions.rescan` for what it
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
  /** Keep the process alive while watching (default true); `false` is `unref()`. */
  ref?: boolean;
  /**
   * Opt-in: gather events for a window of `ms` and deliver them as batches,
   * one `PathChange` per path (see {@link CoalesceOptions}). The
   * stream then yields {@link EventBatch}es, and a listener gets batches.
   * Default: none, each event at once, in kernel order.
   */
  coalesce?: CoalesceOptions;
  /**
   * How many events may wait for delivery (default 16384, the kernel's
   * default queue size). Where events wait:
   * - for the loop body of an iteration (every form; nothing is queued
   *   before the iteration starts, i.e. its first `next()`);
   * - with `coalesce`, in the open window (and, iterating, the batches
   *   waiting for the loop count their events).
   * A listener without `coalesce` has no queue: it is called with each event
   * as it comes, in the Notifier's dispatch.
   * At the bound, newer events are dropped until the waiting ones are
   * taken (or the window is delivered), and one IN_Q_OVERFLOW event (wd -1,
   * as when the kernel's queue overflows; in a batch, a change with pathname
   * '') stands where they would have been: never a silent loss. `close()`
   * frees whatever is waiting.
   */
  maxQueued?: number;
}

/** {@link WatchOptions} with `coalesce` set: the stream yields batches. */
export interface CoalescedWatchOptions extends WatchOptions {
  coalesce: CoalesceOptions;
}

/** An async iterable of events (or, with `coalesce`, of batches) that can also be closed directly. */
export interface EventStream<T = InotifyEvent> extends AsyncIterableIterator<T> {
  /** The Notifier behind the stream (for 'overflow' and 'error' listeners). */
  readonly notifier: Notifier;
  /** True once watching has stopped (closed, aborted, or ended by an error). */
  readonly closed: boolean;
  /** Stops watching; the iteration ends. Resolves once everything is released. */
  close(): Promise<void>;
  /** `await using stream = watch(dir)`: closes on scope exit. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What {@link watch} returns with `coalesce`: batches instead of events. */
export type BatchStream = EventStream<EventBatch>;

/**
 * Watches `path` and yields its events in kernel order. Setup errors are
 * thrown synchronously; errors while watching go to `onError` or end the
 * iteration by rejecting it (see {@link WatchOptions.onError}).
 *
 * With a `listener` (Node's `fs.watch(path, options, listener)` form) each
 * event (or batch, with `coalesce`) is passed to it as it comes, and nothing
 * is buffered for iteration until the stream is iterated. An error while
 * watching then goes to `onError`, or, without one, stops watching and is
 * thrown as an uncaught exception, as an EventEmitter's unhandled 'error' is.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * for await (const event of watch('/srv/incoming', { events: ['IN_CLOSE_WRITE', 'IN_MOVED_TO'], signal: ac.signal })) {
 *   console.log(event.maskname, event.pathname);
 * }
 * // or
 * const stream = watch('/srv/incoming', { coalesce: { ms: 200 } }, (batch) => console.log(batch.map((c) => c.pathname)));
 * ```
 */
export function watch(path: PathLike, options: CoalescedWatchOptions, listener?: (batch: EventBatch) => void): BatchStream;
export function watch(path: PathLike, options?: WatchOptions, listener?: (event: InotifyEvent) => void): EventStream;
export function watch(path: PathLike, listener: (event: InotifyEvent) => void): EventStream;
export function watch(
  path: PathLike, optionsOrListener?: WatchOptions | ((event: InotifyEvent) => void),
  maybeListener?: ((event: InotifyEvent) => void) | ((batch: EventBatch) => void),
): EventStream<InotifyEvent> | BatchStream {
  const target = validatePath(path);
  const listener = typeof optionsOrListener === 'function' ? optionsOrListener : maybeListener;
  if (listener !== undefined) validateFunction(listener, 'listener');
  const opts = validateOptions<WatchOptions>(typeof optionsOrListener === 'function' ? undefined : optionsOrListener);
  rejectPyinotifySpellings(opts, 'watch()');
  const signal = opts.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  if (opts.ref !== undefined && typeof opts.ref !== 'boolean') throw invalidArgType('options.ref', 'of type boolean', opts.ref);
  if (opts.onError !== undefined) validateFunction(opts.onError, 'options.onError');
  const window = opts.coalesce === undefined ? undefined : validateCoalesce(opts.coalesce);
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
  const notifier = new Notifier(wm, undefined, { rescan, ref: opts.ref });
  const maxQueued = opts.maxQueued ?? DEFAULT_MAX_QUEUED;
  if (window === undefined) {
    return openStream<InotifyEvent>(notifier, opts, listener as ((event: InotifyEvent) => void) | undefined, {
      max: maxQueued,
      overflow: overflowEvent,
      feed: (emit) => {
        notifier.on('event', emit);
        return () => undefined;
      },
    });
  }
  return openStream<EventBatch>(notifier, opts, listener as ((batch: EventBatch) => void) | undefined, {
    max: maxQueued,
    overflow: () => OVERFLOW_BATCH,
    size: (batch) => batch.reduce((n, change) => n + change.events.length, 0),
    feed: (emit) => {
      const coalescer = new Coalescer(window, maxQueued, emit);
      if (opts.ref === false) coalescer.setRef(false);
      notifier.on('event', (event) => coalescer.push(event));
      return () => coalescer.flush(); // the last window is delivered, not lost
    },
  });
}

/** What the loop gets in place of events it was too slow to take (as from the kernel: wd -1). */
function overflowEvent(): InotifyEvent {
  return new InotifyEvent(-1, IN_Q_OVERFLOW, '', '', '', false);
}

/** The same, for a stream of batches: one change, pathname ''. */
const OVERFLOW_BATCH: EventBatch = Object.freeze([Object.freeze({
  pathname: '', mask: IN_Q_OVERFLOW, maskname: 'IN_Q_OVERFLOW', dir: false, srcPathname: undefined, events: Object.freeze([overflowEvent()]),
})]);

/** How a stream's items are made (events, or batches) and bounded. */
interface Delivery<T> extends QueueBound<T> {
  /** Starts handing the stream's items to `emit`; returns what to do once watching stopped. */
  feed(emit: (item: T) => void): () => void;
}

/**
 * Both stream forms (events, or batches with `coalesce`): items go to the
 * listener as they come, and to the iteration, from its first `next()` on,
 * through a queue bounded by `maxQueued`. An error while watching goes to
 * `onError` when there is one (a failed read always ends the stream), else
 * ends the iteration by rejecting it, or, with a listener and no iteration,
 * is thrown as an uncaught exception; `signal` stops watching.
 */
function openStream<T>(
  notifier: Notifier, opts: Partial<WatchOptions>, listener: ((item: T) => void) | undefined, delivery: Delivery<T>,
): EventStream<T> {
  // Made when the iteration starts: a stream nobody iterates holds nothing.
  let queue: AsyncQueue<T> | undefined;
  let failure: Error | undefined;
  const stopFeeding = delivery.feed((item) => {
    queue?.push(item);
    listener?.(item);
  });
  const onError = opts.onError;
  notifier.on('error', (error) => {
    if (onError !== undefined && (error as CodedError).syscall !== 'read') {
      onError(error);
      return;
    }
    failure ??= error;
    if (queue !== undefined) queue.fail(error);
    else if (listener !== undefined) process.nextTick(() => { throw error; });
    notifier.stop();
  });
  const signal = opts.signal;
  const onAbort = (): void => notifier.stop();
  if (signal?.aborted) notifier.stop();
  else signal?.addEventListener('abort', onAbort, { once: true });
  notifier.once('close', () => {
    signal?.removeEventListener('abort', onAbort);
    stopFeeding();
    queue?.end();
  });

  const started = (): AsyncQueue<T> => {
    if (queue !== undefined) return queue;
    queue = new AsyncQueue<T>(() => undefined, delivery);
    if (failure !== undefined) queue.fail(failure);
    else if (notifier.closed) queue.end();
    return queue;
  };
  // close() also frees whatever waits for the loop.
  const close = async (): Promise<void> => {
    await notifier.close();
    queue?.clear();
  };
  const stream: EventStream<T> = {
    notifier,
    get closed() {
      return notifier.closed;
    },
    next() {
      return started().next();
    },
    async return() {
      await close();
      return queue?.return() ?? { value: undefined, done: true };
    },
    close,
    [Symbol.asyncDispose]: close,
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
