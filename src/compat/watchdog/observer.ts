/**
 * watchdog's `Observer`: schedule handlers on paths, start, stop, join.
 * No threads: each scheduled watch is a Notifier on Node's event loop, and
 * `start()`, `stop()` and `join()` return promises.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { Buffer } from 'node:buffer';
import { invalidArgType, invalidArgValue, type CodedError } from '../../errors.js';
import { FanOut, isPromiseLike, reportUncaught } from '../../fan-out.js';
import { validateOptions, validatePath, type PathLike } from '../../validate.js';
import { Emitter } from './emitter.js';
import { FileSystemEvent, type FileSystemEventClass } from './events.js';
import { FileSystemEventHandler, type EventHandlerLike } from './handlers.js';
import { ObservedWatch } from './observed-watch.js';

/** Options of {@link Observer}. */
export interface ObserverOptions {
  /**
   * After a kernel queue overflow, re-read each affected tree and report
   * what was created or deleted meanwhile as synthetic events (default
   * true). Costs a listing of every watched directory kept in memory.
   */
  rescan?: boolean;
  /** Keep the process alive while started (default true); see {@link Observer.unref}. */
  ref?: boolean;
}

/** Options of {@link Observer.schedule}, with watchdog's keyword names. */
export interface ScheduleOptions {
  /** Watch every directory below `path`, and those created or moved in later (default false). */
  recursive?: boolean;
  /** Report only events of these classes (or their subclasses); default all. Fewer kinds also mean a smaller kernel mask. */
  event_filter?: readonly FileSystemEventClass[];
  /** Descend into symbolic links to directories when walking a recursive watch (default false). */
  follow_symlink?: boolean;
}

/** Events of the {@link Observer}. */
export interface ObserverEvents {
  /**
   * Something could not be watched or read (a directory that cannot be
   * watched: EACCES; the watch limit: ENOSPC naming
   * fs.inotify.max_user_watches), or a handler threw or rejected. Watching
   * goes on. `watch` is the watch concerned. Without a listener, see
   * {@link Observer.join}.
   */
  error: [error: Error, watch: ObservedWatch | undefined];
  /** The kernel's queue overflowed for `watch`: events were lost (see {@link FileSystemEventHandler.on_overflow}). */
  overflow: [watch: ObservedWatch];
}

interface Scheduled {
  readonly watch: ObservedWatch;
  readonly given: string | Buffer;
  readonly handlers: Set<EventHandlerLike>;
  emitter: Emitter | undefined;
  last: FileSystemEvent | undefined;
}

type State = 'new' | 'running' | 'stopped';

/**
 * watchdog's Observer. Port of a watchdog script:
 *
 * ```ts
 * const observer = new Observer();
 * observer.schedule(new MyEventHandler(), '.', { recursive: true });
 * await observer.start();
 * process.once('SIGINT', () => void observer.stop());
 * await observer.join();
 * ```
 * or `await using observer = new Observer()` (stopped on scope exit).
 *
 * Handlers run on the main thread, in event order. Errors are never
 * dropped: they go to 'error' listeners; without one, the observer stops
 * and the error rejects {@link Observer.join} (or, when nothing awaits
 * `join()`, is thrown as an uncaught exception, as an EventEmitter's
 * unhandled 'error' is).
 */
export class Observer extends EventEmitter<ObserverEvents> {
  readonly #options: Required<ObserverOptions>;
  readonly #scheduled = new Map<string, Scheduled>();
  readonly #hooks: FanOut<never>;
  readonly #joiners: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  #state: State = 'new';
  #stopping: Promise<void> | undefined;
  #failure: Error | undefined;
  #ref: boolean;

  constructor(options?: ObserverOptions) {
    super();
    const opts = validateOptions<ObserverOptions>(options);
    this.#options = { rescan: opts.rescan !== false, ref: opts.ref !== false };
    this.#ref = this.#options.ref;
    this.#hooks = new FanOut((error) => this.#error(error, undefined));
  }

  /**
   * Watches `path` for `handler` and returns the watch. Scheduling an equal
   * watch again (same path, recursive, event_filter) adds the handler to it.
   * Throws the fs error of a path that cannot be watched (ENOENT, EACCES,
   * ENOTDIR...) at once; on a started observer the watch is active on return.
   */
  schedule(handler: EventHandlerLike, path: PathLike, options?: ScheduleOptions): ObservedWatch {
    if (typeof (handler as Partial<EventHandlerLike> | null)?.dispatch !== 'function') {
      throw invalidArgType('handler', 'an object with a dispatch(event) method (a FileSystemEventHandler)', handler);
    }
    const opts = validateOptions<ScheduleOptions>(options);
    const filter = opts.event_filter;
    if (filter !== undefined && (!Array.isArray(filter) || !filter.every((c: unknown) => typeof c === 'function' && (c === FileSystemEvent || c.prototype instanceof FileSystemEvent)))) {
      throw invalidArgType('options.event_filter', 'an array of event classes (FileCreatedEvent, DirMovedEvent...)', filter);
    }
    if (this.#state === 'stopped') throw invalidState('schedule() on a stopped Observer: create a new one');
    const given = validatePath(path);
    const display = typeof given === 'string' ? nodePath.resolve(given) : nodePath.resolve(given.toString());
    const watch = new ObservedWatch(display, { recursive: opts.recursive === true, event_filter: filter, follow_symlink: opts.follow_symlink === true });
    const existing = this.#scheduled.get(watch.key);
    if (existing !== undefined) {
      existing.handlers.add(handler);
      return existing.watch;
    }
    const entry: Scheduled = { watch, given: typeof given === 'string' ? display : given, handlers: new Set([handler]), emitter: undefined, last: undefined };
    if (this.#state === 'running') entry.emitter = this.#emitterFor(entry);
    else fs.statSync(entry.given); // fail now, not at start(), for a path that is not there
    this.#scheduled.set(watch.key, entry);
    return watch;
  }

  /** Adds `handler` to a scheduled watch. */
  add_handler_for_watch(handler: EventHandlerLike, watch: ObservedWatch): void {
    this.#entry(watch).handlers.add(handler);
  }

  /** Removes `handler` from a scheduled watch (the watch stays). */
  remove_handler_for_watch(handler: EventHandlerLike, watch: ObservedWatch): void {
    this.#entry(watch).handlers.delete(handler);
  }

  /** Stops watching `watch` and forgets its handlers. Throws ERR_INVALID_ARG_VALUE for a watch that is not scheduled. */
  unschedule(watch: ObservedWatch): void {
    const entry = this.#entry(watch);
    entry.emitter?.stop();
    this.#scheduled.delete(watch.key);
  }

  /** Stops every watch and forgets every handler. */
  unschedule_all(): void {
    for (const entry of this.#scheduled.values()) entry.emitter?.stop();
    this.#scheduled.clear();
  }

  /** The scheduled watches. */
  get watches(): ObservedWatch[] {
    return [...this.#scheduled.values()].map((entry) => entry.watch);
  }

  /** True between `start()` and the end of `stop()` (watchdog's thread `is_alive()`). */
  is_alive(): boolean {
    return this.#state === 'running';
  }

  /**
   * Starts every scheduled watch; resolves once they are active. Rejects
   * with the fs error of a watch that cannot be set up (the others are then
   * stopped), or ERR_INVALID_STATE when started before.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw invalidState('an Observer can only be started once');
    const started: Emitter[] = [];
    try {
      for (const entry of this.#scheduled.values()) {
        entry.emitter = this.#emitterFor(entry);
        started.push(entry.emitter);
      }
    } catch (error) {
      for (const emitter of started) emitter.stop();
      for (const entry of this.#scheduled.values()) entry.emitter = undefined;
      throw error;
    }
    this.#state = 'running';
  }

  /**
   * Stops every watch (their inotify fds are closed) and resolves once
   * every handler promise still running has settled. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /**
   * Resolves when the observer has stopped (after {@link Observer.stop}),
   * or rejects with the error that stopped it (an error with no 'error'
   * listener). Rejects with ERR_INVALID_STATE before `start()`, as joining a
   * thread that was never started fails in Python.
   */
  join(): Promise<void> {
    if (this.#state === 'new') return Promise.reject(invalidState('join() before start()'));
    return new Promise((resolve, reject) => {
      this.#joiners.push({ resolve, reject });
      if (this.#state === 'stopped' && this.#stopping !== undefined) void this.#stopping.then(() => this.#settleJoiners());
    });
  }

  /** Lets the process exit while watching (watchdog's daemon threads). */
  unref(): this {
    this.#ref = false;
    for (const entry of this.#scheduled.values()) entry.emitter?.unref();
    return this;
  }

  /** Keeps the process alive while watching (the default). */
  ref(): this {
    this.#ref = true;
    for (const entry of this.#scheduled.values()) entry.emitter?.ref();
    return this;
  }

  /** `await using observer = new Observer()`: stops on scope exit (watchdog's `with observer:`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  // ---- internals -----------------------------------------------------------

  async #stop(): Promise<void> {
    const wasRunning = this.#state === 'running';
    this.#state = 'stopped';
    this.unschedule_all();
    if (wasRunning) await this.#hooks.settled();
    this.#settleJoiners();
  }

  #settleJoiners(): void {
    for (const joiner of this.#joiners.splice(0)) {
      if (this.#failure !== undefined) joiner.reject(this.#failure);
      else joiner.resolve();
    }
  }

  #entry(watch: ObservedWatch): Scheduled {
    const entry = watch instanceof ObservedWatch ? this.#scheduled.get(watch.key) : undefined;
    if (entry === undefined) throw invalidArgValue('watch', watch, 'is not scheduled on this Observer');
    return entry;
  }

  #emitterFor(entry: Scheduled): Emitter {
    const emitter = new Emitter(entry.watch, entry.given, {
      event: (event) => this.#dispatch(entry, event),
      overflow: () => this.#overflow(entry),
      error: (error) => this.#error(error, entry.watch),
    }, { rescan: this.#options.rescan, ref: this.#ref });
    return emitter;
  }

  #dispatch(entry: Scheduled, event: FileSystemEvent): void {
    const filter = entry.watch.event_filter;
    if (filter !== undefined && ![...filter].some((kind) => event instanceof kind)) return;
    // watchdog's event queue skips an event equal to the one just before it.
    if (entry.last?.equals(event) === true) return;
    entry.last = event;
    for (const handler of [...entry.handlers]) {
      // A handler may unschedule another (or itself) while events are dispatched.
      if (entry.handlers.has(handler) && this.#scheduled.get(entry.watch.key) === entry) this.#call(entry.watch, () => handler.dispatch(event));
    }
  }

  #overflow(entry: Scheduled): void {
    entry.last = undefined;
    let heard = this.listenerCount('overflow') > 0;
    if (heard) this.emit('overflow', entry.watch);
    for (const handler of [...entry.handlers]) {
      const hook = handler.on_overflow;
      if (typeof hook !== 'function') continue;
      if (hook !== FileSystemEventHandler.prototype.on_overflow) heard = true;
      this.#call(entry.watch, () => hook.call(handler, entry.watch));
    }
    if (!heard) {
      process.emitWarning(`the inotify event queue overflowed for ${entry.watch}: events were lost`
        + (this.#options.rescan ? ' (what a rescan found follows as synthetic events)' : ''), { code: 'INOTIFY_QUEUE_OVERFLOW' });
    }
  }

  // A handler's throw or rejection is an error of its watch; a promise is waited for by stop().
  #call(watch: ObservedWatch, hook: () => unknown): void {
    this.#hooks.call(() => {
      let result: unknown;
      try {
        result = hook();
      } catch (error) {
        this.#error(toError(error), watch);
        return undefined;
      }
      return isPromiseLike(result) ? Promise.resolve(result).catch((error: unknown) => this.#error(toError(error), watch)) : undefined;
    });
  }

  #error(error: Error, watch: ObservedWatch | undefined): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error, watch);
      return;
    }
    // Nobody listens: the observer stops, and the error goes to join() or, with no join() waiting, is thrown.
    if (this.#failure !== undefined) return;
    this.#failure = error;
    if (this.#joiners.length === 0) reportUncaught(error);
    void this.stop();
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

function invalidState(message: string): CodedError {
  const error: CodedError = new Error(message);
  error.code = 'ERR_INVALID_STATE';
  return error;
}
