/**
 * The Notifier reads a WatchManager's inotify instance, does the internal
 * bookkeeping before any user code sees an event (auto-add, move pairing and
 * re-pathing, watches dropped on IN_IGNORED, overflow surfaced), then hands
 * each event to the processor, the 'event' listeners and async iterators.
 */
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import {
  IN_ALL_EVENTS, IN_CREATE, IN_DELETE_SELF, IN_IGNORED, IN_ISDIR, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO,
  IN_Q_OVERFLOW, IN_UNMOUNT,
} from './constants.js';
import type { RawRecord } from './decode.js';
import type { CodedError } from './errors.js';
import { InotifyEvent, joinPath, PathJoiner } from './event.js';
import { AsyncQueue } from './async-queue.js';
import { EchoFilter } from './echo-filter.js';
import { MoveTracker } from './move-tracker.js';
import { ProcessEvent } from './process-event.js';
import { RecordQueue } from './record-queue.js';
import { validateOptions } from './validate.js';
import type { SyntheticEntry, WatchManager, WatchRecord } from './watch-manager.js';

const debug = debuglog('inotify');

/** Events the kernel sends whatever the mask: always reported. */
const ALWAYS = (IN_IGNORED | IN_UNMOUNT | IN_Q_OVERFLOW) >>> 0;

/** A processor: a {@link ProcessEvent} or any function of an event. */
export type Processor = ProcessEvent | ((event: InotifyEvent) => unknown);

/** Options of the {@link Notifier}. */
export interface NotifierOptions {
  /** Drop an event identical (wd, mask, cookie, name) to an earlier one in the same read batch (pyinotify's coalesce_events). Default false. */
  coalesce?: boolean;
  /**
   * How long (ms) a directory's IN_MOVED_FROM that ends a read batch waits
   * for the rest of its rename before the directory is taken as moved out of
   * the tree. Events after it wait too, so nothing is reported at a stale
   * path. Default 100. Pairs within a batch never wait.
   */
  moveTimeout?: number;
  /** Keep the process alive while open (default true). */
  ref?: boolean;
  /**
   * After an overflow (IN_Q_OVERFLOW: the kernel dropped events), re-read
   * every watched directory and report what changed unseen as synthetic
   * events right after the overflow event: IN_CREATE (and IN_CLOSE_WRITE for
   * regular files) for new entries, IN_DELETE for vanished ones (with
   * IN_ISDIR for directories); new directories under autoAdd watches are
   * watched and scanned, watches of directories that are gone are removed.
   * Modifications of files that already existed are not detected. Costs a
   * listing of every watched directory kept in memory (one Map entry per
   * name, ~100 bytes each plus the name) and IN_CREATE, IN_DELETE and
   * IN_MOVED_* from the kernel on every directory watch (filtered out unless
   * asked for). Default false; {@link watch} turns it on.
   */
  rescan?: boolean;
}

/** Events of the {@link Notifier}. */
export interface NotifierEvents {
  /** Every event delivered to users, in kernel order (synthetic ones right after the event that caused them). */
  event: [event: InotifyEvent];
  /** The kernel dropped events (IN_Q_OVERFLOW): whatever happened since is unknown. */
  overflow: [event: InotifyEvent];
  /** A processor failed (thrown or rejected), a watch could not be armed, or a read failed. */
  error: [error: Error];
  /** The notifier was stopped. */
  close: [];
}

interface Hold {
  readonly cookie: number;
  readonly path: string;
  readonly wd: number;
  readonly timer: NodeJS.Timeout;
}

/**
 * pyinotify's Notifier, event-driven on Node's loop (no thread, no polling).
 *
 * Dispatch is synchronous and in kernel order. A processor or hook may
 * return a promise: the Notifier does not wait for it (reading never stalls
 * behind user code, so the kernel queue does not overflow), a rejection is
 * emitted as 'error', and {@link Notifier.close} waits for every pending one.
 *
 * @example
 * ```ts
 * const notifier = new Notifier(wm);
 * for await (const event of notifier) console.log(event.maskname, event.pathname);
 * ```
 */
export class Notifier extends EventEmitter<NotifierEvents> {
  readonly watchManager: WatchManager;
  readonly #processor: ((event: InotifyEvent) => unknown) | undefined;
  readonly #coalesce: boolean;
  readonly #moveTimeout: number;
  readonly #rescan: boolean;
  readonly #moves = new MoveTracker();
  readonly #echoes = new EchoFilter();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #iterators = new Set<AsyncQueue<InotifyEvent>>();
  readonly #closeWaiters: Array<() => void> = [];
  readonly #queue = new RecordQueue();
  readonly #paths = new PathJoiner();
  // The record being handled, when it comes from a batch kept as bytes: one
  // object rewritten for each (an object per record was a quarter of the
  // bytes allocated per event). Nothing keeps a record past its #handle:
  // what outlives it (events, holds, moves) copies the fields it needs.
  readonly #current: RawRecord = { wd: 0, mask: 0, cookie: 0, name: '', nameBytes: undefined };
  #seen: Set<string> | undefined;
  #hold: Hold | undefined;
  #processing = false;
  #scheduled = false;
  #closed = false;

  constructor(watchManager: WatchManager, processor?: Processor, options?: NotifierOptions) {
    super();
    const opts = validateOptions<NotifierOptions>(options);
    this.watchManager = watchManager;
    if (processor instanceof ProcessEvent) this.#processor = (event) => processor.dispatch(event);
    else if (typeof processor === 'function') this.#processor = processor;
    else if (processor !== undefined) throw new TypeError('The "processor" argument must be a ProcessEvent or a function');
    this.#coalesce = opts.coalesce === true;
    this.#moveTimeout = opts.moveTimeout ?? 100;
    this.#rescan = opts.rescan === true;
    const inotify = watchManager.inotify;
    // The one reader of the instance's queue; throws when another Notifier has it.
    inotify._setConsumer({
      bytes: (bytes, length) => this.#enqueue(bytes, length),
      // Read synchronously by a scan: queued behind everything read before.
      records: (records) => {
        this.#queue.pushRecords(records);
        this.#schedule();
      },
    });
    if (this.#rescan) watchManager._trackEntries();
    inotify.on('error', (error) => this.emit('error', error));
    if (opts.ref === false) inotify.unref();
  }

  // Runs the queue soon, when records arrived outside the processing loop
  // (a scan of the user's addWatch); inside it, the loop takes them.
  #schedule(): void {
    if (this.#processing || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#run();
    });
  }

  /** True once stopped. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Resolves when the notifier stops: on {@link Notifier.stop}, on
   * {@link Notifier.close}, or when `signal` aborts (which stops it).
   */
  loop(options?: { signal?: AbortSignal }): Promise<void> {
    const signal = validateOptions<{ signal?: AbortSignal }>(options).signal;
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      if (signal?.aborted) {
        this.stop();
        resolve();
        return;
      }
      const onAbort = (): void => this.stop();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#closeWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** Stops at once: closes the inotify instance (the WatchManager becomes unusable, as in pyinotify) and ends iterators. */
  stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#hold !== undefined) clearTimeout(this.#hold.timer);
    this.#hold = undefined;
    this.watchManager.close();
    for (const iterator of this.#iterators) iterator.end();
    this.#iterators.clear();
    for (const resolve of this.#closeWaiters.splice(0)) resolve();
    this.emit('close');
  }

  /** Stops, then waits for every pending asynchronous hook to settle. */
  async close(): Promise<void> {
    this.stop();
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Keep the process alive while watching (the default). */
  ref(): this {
    this.watchManager.inotify.ref();
    return this;
  }

  /** Let the process exit while watching. */
  unref(): this {
    this.watchManager.inotify.unref();
    return this;
  }

  /** `await using notifier = new Notifier(wm)`: closes on scope exit. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Iterates over events until the notifier stops; events are buffered while the loop body runs. */
  [Symbol.asyncIterator](): AsyncIterableIterator<InotifyEvent> {
    const queue = new AsyncQueue<InotifyEvent>(() => this.#iterators.delete(queue));
    if (this.#closed) queue.end();
    else this.#iterators.add(queue);
    return queue;
  }

  // ---- the processing loop ------------------------------------------------

  #enqueue(bytes: Buffer, length: number): void {
    this.#queue.pushBytes(bytes, length);
    this.#run();
  }

  #run(): void {
    if (this.#processing || this.#closed) return;
    this.#processing = true;
    let finished = false;
    try {
      while (!this.#queue.empty && !this.#closed) {
        if (this.#hold !== undefined && !this.#releaseHold()) break;
        this.#handle(this.#queue.shift(this.#current) as RawRecord);
      }
      if (this.#queue.empty) {
        this.#seen = undefined;
        this.#moves.expire();
        this.#echoes.expire();
      }
      finished = true;
    } finally {
      this.#processing = false;
      // A listener threw: it surfaces as usual, and the rest of the queue is still processed.
      if (!finished && !this.#closed) setImmediate(() => this.#run());
    }
  }

  #handle(record: RawRecord): void {
    if (this.#coalesce && this.#isRepeat(record)) return;
    if (record.wd === -1) {
      const event = new InotifyEvent(-1, record.mask, '', '', '', false);
      this.emit('overflow', event);
      this.#deliver(event);
      if (this.#rescan) this.#rescanAfterOverflow();
      return;
    }
    const wm = this.watchManager;
    const watch = wm._record(record.wd);
    if (watch === undefined) {
      debug('dropped an event for a removed watch: wd=%d mask=%s name=%s', record.wd, record.mask, record.name);
      return;
    }
    const mask = record.mask;
    if (this.#rescan) wm._noteRecord(record);
    if (this.#echoes.isEcho(record)) return; // already reported by a scan, as synthetic
    if (mask & IN_IGNORED) {
      this.#offer(watch, new InotifyEvent(watch.wd, mask, '', watch.path, watch.path, false, 0, undefined, false, undefined, watch.pathBytes));
      wm._forget(watch.wd);
      return;
    }
    const pathname = this.#paths.join(watch.path, record.name);

    // Allocated only where a watch may be armed: this runs for every event.
    let errors: CodedError[] | undefined;
    let synthetic: SyntheticEntry[] | undefined;
    let source: string | undefined;
    if (mask & IN_MOVED_FROM) {
      this.#moves.remember(record.cookie, pathname, (mask & IN_ISDIR) !== 0);
    } else if (mask & IN_MOVED_TO) {
      source = this.#moves.take(record.cookie)?.pathname;
      if (mask & IN_ISDIR) synthetic = this.#directoryMovedIn(watch, record, pathname, source, errors = []);
    } else if ((mask & IN_CREATE) && (mask & IN_ISDIR) && watch.autoAdd) {
      synthetic = wm._armNew(watch, record.name, record.nameBytes, errors = []);
    }

    const selfEvent = (mask & (IN_DELETE_SELF | IN_MOVE_SELF)) !== 0;
    const dir = (mask & IN_ISDIR) !== 0 || (selfEvent && watch.dir);
    this.#offer(watch, new InotifyEvent(
      watch.wd, mask, record.name, watch.path, pathname, dir, record.cookie, source, false, record.nameBytes, watch.pathBytes,
    ));

    if (mask & IN_MOVED_FROM && mask & IN_ISDIR) this.#settleDirectoryMove(record.cookie, pathname);
    if (mask & IN_MOVE_SELF) this.#selfMoved(watch);
    if (synthetic !== undefined) this.#offerSynthetic(synthetic);
    if (errors !== undefined) for (const error of errors) this.emit('error', error);
  }

  #offerSynthetic(synthetic: readonly SyntheticEntry[]): void {
    for (const entry of synthetic) {
      if (entry.mask & IN_CREATE) this.#echoes.expect(entry.watch.wd, entry.name);
      const entryPath = joinPath(entry.watch.path, entry.name);
      const dir = (entry.mask & IN_ISDIR) !== 0 || ((entry.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) !== 0 && entry.watch.dir);
      this.#offer(entry.watch, new InotifyEvent(
        entry.watch.wd, entry.mask, entry.name, entry.watch.path, entryPath, dir, 0, undefined, true, entry.nameBytes,
        entry.watch.pathBytes,
      ));
    }
  }

  // Events were lost: compare every watched directory with what is known of
  // it. A later overflow already queued will do the same, so only the last
  // one of a run rescans.
  #rescanAfterOverflow(): void {
    if (this.#queue.scan((wd) => (wd === -1 ? true : undefined))) return;
    const errors: CodedError[] = [];
    this.#offerSynthetic(this.watchManager._rescan(this.#queue.toArray(), errors));
    for (const error of errors) this.emit('error', error);
  }

  #isRepeat(record: RawRecord): boolean {
    this.#seen ??= new Set();
    const key = `${record.wd}:${record.mask}:${record.cookie}:${record.name}`;
    if (this.#seen.has(key)) return true;
    this.#seen.add(key);
    return false;
  }

  // A directory arrived by rename: re-path its watches when it came from
  // inside the tree, otherwise watch and scan it like a new directory.
  #directoryMovedIn(
    parent: WatchRecord, record: RawRecord, pathname: string, source: string | undefined, errors: CodedError[],
  ): SyntheticEntry[] | undefined {
    const wm = this.watchManager;
    const moved = source === undefined ? undefined : wm._recordAt(source);
    const bytes = record.nameBytes === undefined ? undefined : bytesOf(parent, record.nameBytes);
    // The watch at the source path may be a newer directory than the one
    // renamed (the path was reused before the rename was processed): then it
    // stays where it is, and the renamed one is new to us.
    if (source !== undefined && moved !== undefined && wm._isAt(moved, pathname, bytes) !== false) {
      wm._repath(source, pathname, bytes);
      if (parent.exclude?.(pathname)) wm._dropSubtree(pathname);
      return undefined;
    }
    return parent.autoAdd ? wm._armNew(parent, record.name, record.nameBytes, errors) : undefined;
  }

  // After a watched directory's IN_MOVED_FROM: find out, without waiting when
  // the batch holds the answer, whether it stayed in the tree.
  #settleDirectoryMove(cookie: number, path: string): void {
    const moved = this.watchManager._recordAt(path);
    if (moved === undefined) return;
    const outcome = this.#lookAhead(cookie, moved.wd);
    if (outcome === 'out') this.watchManager._dropSubtree(path);
    if (outcome !== 'unknown') return;
    // The watched directory is still at this path: the rename was of an
    // earlier directory by that name (see WatchManager._isAt), nothing to wait for.
    if (this.watchManager._isAt(moved, path, moved.pathBytes) === true) return;
    const timer = setTimeout(() => {
      if (this.#hold?.timer !== timer) return;
      this.#hold = undefined;
      this.watchManager._dropSubtree(path);
      this.#run();
    }, this.#moveTimeout);
    if (!this.watchManager.inotify.hasRef()) timer.unref();
    this.#hold = { cookie, path, wd: moved.wd, timer };
  }

  // The kernel queues IN_MOVED_FROM, IN_MOVED_TO, then the directory's own
  // IN_MOVE_SELF: a MOVE_SELF with no TO before it means it left the tree.
  // An overflow before either means the answer was dropped: nothing after it
  // can tell, so waiting is useless (a rescan finds the directory if it
  // stayed in the tree).
  #lookAhead(cookie: number, wd: number): 'paired' | 'out' | 'unknown' {
    return this.#queue.scan<'paired' | 'out'>((nextWd, mask, nextCookie) => {
      if (mask & IN_MOVED_TO && nextCookie === cookie) return 'paired';
      if (nextWd === wd && mask & IN_MOVE_SELF) return 'out';
      if (nextWd === -1) return 'out';
      return undefined;
    }) ?? 'unknown';
  }

  #releaseHold(): boolean {
    const hold = this.#hold;
    if (hold === undefined) return true;
    const outcome = this.#lookAhead(hold.cookie, hold.wd);
    if (outcome === 'unknown') return false;
    clearTimeout(hold.timer);
    this.#hold = undefined;
    if (outcome === 'out') this.watchManager._dropSubtree(hold.path);
    return true;
  }

  #selfMoved(watch: WatchRecord): void {
    if (watch.repathed) {
      watch.repathed = false;
      return;
    }
    // Moved somewhere this manager cannot see (a root, or a directory whose
    // parent's rename was not paired): its path is unknown from now on.
    this.watchManager._dropSubtree(watch.path);
  }

  // ---- delivery -----------------------------------------------------------

  #offer(watch: WatchRecord, event: InotifyEvent): void {
    const mask = event.mask;
    if (!(mask & watch.mask & IN_ALL_EVENTS) && !(mask & ALWAYS)) return; // bits the library added for itself
    if (watch.exclude !== undefined && event.name !== '' && watch.exclude(event.pathname)) return;
    this.#deliver(event);
  }

  #deliver(event: InotifyEvent): void {
    this.emit('event', event);
    if (this.#iterators.size !== 0) for (const iterator of this.#iterators) iterator.push(event);
    if (this.#processor === undefined) return;
    let result: unknown;
    try {
      result = this.#processor(event);
    } catch (error) {
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (isPromiseLike(result)) this.#track(Promise.resolve(result));
  }

  #track(promise: Promise<unknown>): void {
    const settled = promise.then(
      () => undefined,
      (error: unknown) => {
        this.emit('error', error instanceof Error ? error : new Error(String(error)));
      },
    ).finally(() => this.#pending.delete(settled));
    this.#pending.add(settled);
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function bytesOf(parent: WatchRecord, nameBytes: Buffer): Buffer {
  return Buffer.concat([parent.pathBytes ?? Buffer.from(parent.path), Buffer.from('/'), nameBytes]);
}
