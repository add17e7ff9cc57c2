/** The short path for the common case: `for await (const event of watch(dir))`. */
import { resolve } from 'node:path';
import { IN_ACCESS, IN_ALL_EVENTS, IN_CLOSE_NOWRITE, IN_ISDIR, IN_OPEN, IN_Q_OVERFLOW, parseMask } from './constants.js';
import { AsyncQueue, type QueueBound } from './async-queue.js';
import { Coalescer, validateCoalesce, type CoalesceOptions, type EventBatch } from './coalesce.js';
import { invalidArgType, invalidArgValue, outOfRange, type CodedError } from './errors.js';
import { InotifyEvent } from './event.js';
import type { ExcludeOption } from './pattern.js';
import { Notifier } from './notifier.js';
import { compileExclude } from './pattern.js';
import { choosePolling, Poller, validatePollOption, type PollOption, type PollOptions } from './poll/index.js';
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
  /** Polling: see {@link PolledWatchOptions} (a polled stream may have no `notifier`). */
  poll?: false;
}

/** {@link WatchOptions} with `coalesce` set: the stream yields batches. */
export interface CoalescedWatchOptions extends WatchOptions {
  coalesce: CoalesceOptions;
}

/** {@link WatchOptions} with `poll`: the stream may come from a {@link Poller} instead of inotify. */
export interface PolledWatchOptions extends Omit<WatchOptions, 'poll'> {
  /**
   * Poll instead of inotify, with the same events from directory snapshots
   * (creates, modifies, deletes, moves paired by inode, IN_CLOSE_WRITE once
   * a changed file is unchanged for one poll): `'auto'` (or an object
   * `{ interval, maxEntries }`) polls `path` only when it is on a network or
   * FUSE filesystem, where inotify misses other machines' writes; `true` (or
   * `{ force: true }`) always. Not with `followSymlinks` while polling;
   * `rescan` does not apply (every poll is a whole snapshot). Cost and
   * limits: docs/RELIABILITY.md.
   */
  poll: PollOption;
}

/** {@link PolledWatchOptions} with `coalesce`. */
export interface PolledCoalescedWatchOptions extends PolledWatchOptions {
  coalesce: CoalesceOptions;
}

/** A stream made with `poll`: from a {@link Poller}, or from inotify where it decided not to poll. */
export interface PolledStream<T = InotifyEvent> extends AsyncIterableIterator<T> {
  /** The Notifier behind the stream, when it is not polled. */
  readonly notifier: Notifier | undefined;
  /** The Poller behind the stream, when it is polled. */
  readonly poller: Poller | undefined;
  /** True once watching has stopped (closed, aborted, or ended by an error). */
  readonly closed: boolean;
  /** Stops watching; the iteration ends. Resolves once everything is released. */
  close(): Promise<void>;
  /** `await using stream = watch(dir)`: closes on scope exit. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** An async iterable of events (or, with `coalesce`, of batches) that can also be closed directly. */
export interface EventStream<T = InotifyEvent> extends PolledStream<T> {
  /** The Notifier behind the stream (for 'overflow' and 'error' listeners). */
  readonly notifier: Notifier;
  /** Undefined: without `poll`, a stream never polls. */
  readonly poller: undefined;
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
export function watch(path: PathLike, options: PolledCoalescedWatchOptions, listener?: (batch: EventBatch) => void): PolledStream<EventBatch>;
export function watch(path: PathLike, options: PolledWatchOptions, listener?: (event: InotifyEvent) => void): PolledStream;
export function watch(path: PathLike, options: CoalescedWatchOptions, listener?: (batch: EventBatch) => void): BatchStream;
export function watch(path: PathLike, options?: WatchOptions, listener?: (event: InotifyEvent) => void): EventStream;
export function watch(path: PathLike, listener: (event: InotifyEvent) => void): EventStream;
export function watch(
  path: PathLike, optionsOrListener?: WatchOptions | PolledWatchOptions | ((event: InotifyEvent) => void),
  maybeListener?: ((event: InotifyEvent) => void) | ((batch: EventBatch) => void),
): PolledStream<InotifyEvent> | PolledStream<EventBatch> {
  const target = validatePath(path);
  const listener = typeof optionsOrListener === 'function' ? optionsOrListener : maybeListener;
  if (listener !== undefined) validateFunction(listener, 'listener');
  const opts = validateOptions<Omit<WatchOptions, 'poll'> & { poll?: PollOption }>(typeof optionsOrListener === 'function' ? undefined : optionsOrListener);
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
  const pollOption = validatePollOption(opts.poll);
  const root = typeof target === 'string' ? resolve(target) : undefined;
  const poll = pollOption === undefined || root === undefined ? undefined : choosePolling(root, pollOption).poll;
  let source: StreamSource;
  if (poll !== undefined && root !== undefined) {
    source = pollSource(root, mask, poll, opts);
  } else {
    // Listings are kept from the first walk on, so the rescan costs no second walk.
    const wm = watchTree(target, mask, { recursive, exclude: opts.exclude, followSymlinks: opts.followSymlinks, trackEntries: rescan });
    source = notifierSource(new Notifier(wm, undefined, { rescan, ref: opts.ref }));
  }
  const maxQueued = opts.maxQueued ?? DEFAULT_MAX_QUEUED;
  if (window === undefined) {
    return openStream<InotifyEvent>(source, opts, listener as ((event: InotifyEvent) => void) | undefined, {
      max: maxQueued,
      overflow: overflowEvent,
      feed: (emit) => {
        source.onEvent(emit);
        return () => undefined;
      },
    });
  }
  return openStream<EventBatch>(source, opts, listener as ((batch: EventBatch) => void) | undefined, {
    max: maxQueued,
    overflow: () => OVERFLOW_BATCH,
    size: (batch) => batch.reduce((n, change) => n + change.events.length, 0),
    feed: (emit) => {
      const coalescer = new Coalescer(window, maxQueued, emit);
      if (opts.ref === false) coalescer.setRef(false);
      source.onEvent((event) => coalescer.push(event));
      return () => coalescer.flush(); // the last window is delivered, not lost
    },
  });
}

/** What a stream reads from: a Notifier, or a Poller. */
interface StreamSource {
  readonly notifier: Notifier | undefined;
  readonly poller: Poller | undefined;
  readonly closed: boolean;
  onEvent(listener: (event: InotifyEvent) => void): void;
  onError(listener: (error: Error) => void): void;
  onClose(listener: () => void): void;
  /** Stops watching now (the 'close' listeners run). */
  stop(): void;
  /** Stops watching; resolves once everything is released. */
  close(): Promise<void>;
}

function notifierSource(notifier: Notifier): StreamSource {
  return {
    notifier,
    poller: undefined,
    get closed() {
      return notifier.closed;
    },
    onEvent: (listener) => notifier.on('event', listener),
    onError: (listener) => notifier.on('error', listener),
    onClose: (listener) => notifier.once('close', listener),
    stop: () => notifier.stop(),
    close: () => notifier.close(),
  };
}

/** Polls `root` for a stream: events filtered by `mask`; the baseline's failure and a failed poll are the stream's errors. */
function pollSource(root: string, mask: number, poll: Required<PollOptions>, opts: Partial<Omit<WatchOptions, 'poll'>>): StreamSource {
  if (opts.followSymlinks === true) throw invalidArgValue('options.followSymlinks', true, `cannot be used while polling ${root} (polling does not follow links)`);
  const exclude = compileExclude(opts.exclude, { roots: [root], name: 'options.exclude' });
  // The baseline is taken here: ENOENT, EACCES, ENOTDIR are thrown at setup, as with inotify.
  const poller = new Poller(root, { ...poll, recursive: opts.recursive !== false, exclude, ref: opts.ref });
  const errorListeners: Array<(error: Error) => void> = [];
  const fail = (error: Error): void => {
    for (const listener of errorListeners) listener(error);
  };
  poller.on('error', fail);
  poller.on('warning', fail); // more than maxEntries: onError, or the end of the stream; never silent
  return {
    notifier: undefined,
    poller,
    get closed() {
      return poller.closed;
    },
    onEvent: (listener) => poller.on('event', (event) => {
      if ((event.mask & ~IN_ISDIR & mask) !== 0) listener(event);
    }),
    onError: (listener) => errorListeners.push(listener),
    onClose: (listener) => poller.once('close', listener),
    stop: () => poller.close(),
    close: async () => {
      poller.close();
    },
  };
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
  source: StreamSource, opts: Partial<Omit<WatchOptions, 'poll'>>, listener: ((item: T) => void) | undefined, delivery: Delivery<T>,
): PolledStream<T> {
  // Made when the iteration starts: a stream nobody iterates holds nothing.
  let queue: AsyncQueue<T> | undefined;
  let failure: Error | undefined;
  const stopFeeding = delivery.feed((item) => {
    queue?.push(item);
    listener?.(item);
  });
  const onError = opts.onError;
  source.onError((error) => {
    if (onError !== undefined && (error as CodedError).syscall !== 'read') {
      onError(error);
      return;
    }
    failure ??= error;
    if (queue !== undefined) queue.fail(error);
    else if (listener !== undefined) process.nextTick(() => { throw error; });
    source.stop();
  });
  const signal = opts.signal;
  const onAbort = (): void => source.stop();
  if (signal?.aborted) source.stop();
  else signal?.addEventListener('abort', onAbort, { once: true });
  source.onClose(() => {
    signal?.removeEventListener('abort', onAbort);
    stopFeeding();
    queue?.end();
  });

  const started = (): AsyncQueue<T> => {
    if (queue !== undefined) return queue;
    queue = new AsyncQueue<T>(() => undefined, delivery);
    if (failure !== undefined) queue.fail(failure);
    else if (source.closed) queue.end();
    return queue;
  };
  // close() also frees whatever waits for the loop.
  const close = async (): Promise<void> => {
    await source.close();
    queue?.clear();
  };
  const stream: PolledStream<T> = {
    notifier: source.notifier,
    poller: source.poller,
    get closed() {
      return source.closed;
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
