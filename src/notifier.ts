/**
 * The Notifier reads a WatchManager's inotify instance, does the internal
 * bookkeeping before any user code sees an event (auto-add, move pairing and
 * re-pathing, watches dropped on IN_IGNORED, overflow surfaced), then hands
 * each event to the processor, the 'event' listeners and async iterators.
 */
import { EventEmitter } from 'node:events';
import type { Buffer } from 'node:buffer';
import type { RawRecord } from './decode.js';
import type { CodedError } from './errors.js';
import type { InotifyEvent } from './event.js';
import { FanOut } from './fan-out.js';
import { ProcessEvent, type EventHook } from './process-event.js';
import { EventList, RecordEvents } from './record-events.js';
import { RecordQueue } from './record-queue.js';
import { validateOptions } from './validate.js';
import type { WatchManager } from './watch-manager.js';

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

/**
 * pyinotify's Notifier, event-driven on Node's loop (no thread, no polling).
 *
 * Dispatch is synchronous and in kernel order. A processor or hook may
 * return a promise: the Notifier does not wait for it (reading never stalls
 * behind user code, so the kernel queue does not overflow), a rejection is
 * emitted as 'error', and {@link Notifier.close} waits for every pending one.
 * Every watch-table change of a record is done before any of its events is
 * delivered. A throwing 'event' listener is reported as an uncaught
 * exception (process 'uncaughtException'); the processor, `for await` loops
 * and the other listeners still get the event.
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
  readonly #fan: FanOut<InotifyEvent>;
  readonly #closeWaiters: Array<() => void> = [];
  readonly #queue = new RecordQueue();
  readonly #bookkeeping: RecordEvents;
  // The record being handled, when it comes from a batch kept as bytes: one
  // object rewritten for each (an object per record was a quarter of the
  // bytes allocated per event). Nothing keeps a record past its handling:
  // what outlives it (events, holds, moves) copies the fields it needs.
  readonly #current: RawRecord = { wd: 0, mask: 0, cookie: 0, name: '', nameBytes: undefined };
  // One record's events and errors, reused from record to record.
  readonly #events = new EventList();
  readonly #errors: CodedError[] = [];
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
    this.#fan = new FanOut((error) => this.emit('error', error));
    this.#bookkeeping = new RecordEvents(watchManager, this.#queue, {
      coalesce: opts.coalesce === true,
      moveTimeout: opts.moveTimeout ?? 100,
      rescan: opts.rescan === true,
      onHoldExpired: () => this.#run(),
    });
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
    if (opts.rescan === true) watchManager._trackEntries();
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
    this.#bookkeeping.stop();
    this.watchManager.close();
    this.#fan.end();
    for (const resolve of this.#closeWaiters.splice(0)) resolve();
    this.emit('close');
  }

  /** Stops, then waits for every pending asynchronous hook to settle. */
  async close(): Promise<void> {
    this.stop();
    await this.#fan.settled();
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
    return this.#fan.iterator();
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
      const events = this.#events;
      const errors = this.#errors;
      while (!this.#queue.empty && !this.#closed) {
        if (!this.#bookkeeping.ready()) break;
        // Every watch-table change for the record first, then delivery.
        events.clear(); // left over only when a delivery threw
        this.#bookkeeping.process(this.#queue.shift(this.#current) as RawRecord, events, errors);
        for (let i = 0; i < events.length && !this.#closed; i++) this.#deliver(events.items[i] as InotifyEvent, events.procFun(i));
        events.clear();
        if (errors.length !== 0) for (const error of errors.splice(0)) this.emit('error', error);
      }
      if (this.#queue.empty) this.#bookkeeping.idle();
      finished = true;
    } finally {
      this.#processing = false;
      // An 'error' with no listener threw: it surfaces as usual, and the rest of the queue is still processed.
      if (!finished && !this.#closed) setImmediate(() => this.#run());
    }
  }

  // ---- delivery -----------------------------------------------------------

  // To every consumer, each on its own: a listener's throw is reported as an
  // uncaught exception and takes the event from no one else.
  // `procFun`: the event's watch has its own processor (addWatch's procFun),
  // which takes the place of the Notifier's, as in pyinotify.
  #deliver(event: InotifyEvent, procFun?: EventHook): void {
    if (event.wd === -1) this.#fan.emit(this, 'overflow', event);
    this.#fan.emit(this, 'event', event);
    this.#fan.push(event);
    const processor = procFun ?? this.#processor;
    if (processor !== undefined) this.#fan.call(() => processor(event));
  }
}
