/**
 * TaskScheduler: pyinotifyd's scheduler, keyed by pathname, with a
 * trailing-edge debounce, one queued re-run per key and a bounded pool.
 */
import { randomUUID } from 'node:crypto';
import { parseDuration, type Duration } from './duration.js';
import { Logger, type LogSink } from './log.js';

/**
 * What a scheduler is given: an {@link InotifyEvent} (it has these fields), or
 * the daemon's `TRANSFER_COMPLETE` pseudo-event.
 */
export interface TaskEvent {
  /** pyinotify's mask name, e.g. `IN_CLOSE_WRITE` or `IN_CREATE|IN_ISDIR`; `TRANSFER_COMPLETE` for arrivals. */
  readonly maskname: string;
  readonly pathname: string;
  /** Where a renamed entry came from (a paired IN_MOVED_TO; a transfer's temporary name). */
  readonly srcPathname?: string | undefined;
  readonly dir: boolean;
  /** The exact bytes of `pathname` (names that are not valid UTF-8). */
  pathnameBytes?(): Buffer;
}

/** What a job gets besides its event. */
export interface JobContext {
  /** Aborted when the daemon gives up on the job (shutdown timeout). */
  readonly signal: AbortSignal;
  /** The scheduler's logger. */
  readonly log: Logger;
  /** True under `--dry-run`: log what would be done, do nothing. */
  readonly dryRun: boolean;
}

/** A job: `job(event, taskId, context)`; may be async. */
export type Job = (event: TaskEvent, taskId: string, context: JobContext) => unknown;

/** Options shared by every scheduler. */
export interface SchedulerOptions {
  /** Handle events on files (default true). */
  files?: boolean;
  /** Handle events on directories (default false). */
  dirs?: boolean;
  /** Wait this long after the last event for a path before running its task (ms or '5s'); default 0. */
  delay?: Duration;
  /** One job at a time for this scheduler; the others wait in a queue (none is discarded). Same as `concurrency: 1`. */
  singleJob?: boolean;
  /** At most this many jobs at once (default: no limit). */
  concurrency?: number;
  /** The log name (default 'sched'). */
  logname?: string;
}

/** Options of {@link TaskScheduler}. */
export interface TaskSchedulerOptions extends SchedulerOptions {
  /** The job, run once per task. */
  job: Job;
}

/** Brands for checks that hold across copies of this module (a config may load another copy). */
export const SCHEDULER_BRAND = Symbol.for('inotify-native.scheduler');
/** The brand of {@link Cancel} actions. */
export const CANCEL_BRAND = Symbol.for('inotify-native.cancel');

type State = 'delayed' | 'queued' | 'running';

interface Task {
  readonly key: string;
  id: string;
  event: TaskEvent;
  state: State;
  timer: NodeJS.Timeout | undefined;
  /** An event that arrived while running: exactly one re-run after it. */
  rerun: TaskEvent | undefined;
  controller: AbortController | undefined;
}

function invalid(name: string, expected: string, value: unknown): TypeError {
  const error = new TypeError(`The "${name}" option must be ${expected}. Received ${typeof value === 'function' ? 'a function' : JSON.stringify(value) ?? String(value)}`) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_TYPE';
  return error;
}

function checkBool(options: Record<string, unknown>, name: string): void {
  const value = options[name];
  if (value !== undefined && typeof value !== 'boolean') throw invalid(name, 'a boolean', value);
}

/** The option keys every scheduler takes. */
export const SCHEDULER_OPTION_KEYS: readonly string[] = ['files', 'dirs', 'delay', 'singleJob', 'concurrency', 'logname'];

/**
 * Validates the options every scheduler takes (throws TypeError/RangeError
 * with `code`). A key that is neither one of {@link SCHEDULER_OPTION_KEYS}
 * nor one of `ownKeys` (those of the scheduler `kind`) is a typo: rejected.
 */
export function validateSchedulerOptions(options: unknown, kind = 'TaskScheduler', ownKeys: readonly string[] = ['job']): SchedulerOptions {
  if (options === null || typeof options !== 'object') throw invalid('options', 'an object', options);
  const opts = options as Record<string, unknown>;
  for (const key of Object.keys(opts)) {
    if (SCHEDULER_OPTION_KEYS.includes(key) || ownKeys.includes(key)) continue;
    const error = new TypeError(`The "${key}" option is not an option of ${kind}. Known options: ${[...SCHEDULER_OPTION_KEYS, ...ownKeys].join(', ')}`) as TypeError & { code: string };
    error.code = 'ERR_INVALID_ARG_VALUE';
    throw error;
  }
  for (const name of ['files', 'dirs', 'singleJob']) checkBool(opts, name);
  if (opts.delay !== undefined) parseDuration(opts.delay, 'delay');
  const c = opts.concurrency;
  if (c !== undefined && !(typeof c === 'number' && Number.isInteger(c) && c >= 1)) throw invalid('concurrency', 'an integer >= 1', c);
  if (opts.logname !== undefined && typeof opts.logname !== 'string') throw invalid('logname', 'a string', opts.logname);
  return opts as SchedulerOptions;
}

/**
 * Runs a job per pathname. Unlike pyinotifyd: an event that arrives while
 * the path's job runs queues exactly one re-run after it (updates are never
 * lost, runs never overlap for one path), and `singleJob` queues tasks of
 * other paths instead of discarding them.
 *
 * @example
 * ```ts
 * const sched = new TaskScheduler({ delay: '2s', job: async (event) => console.log(event.pathname) });
 * ```
 */
export class TaskScheduler {
  /** Marks schedulers for {@link isScheduler}. */
  readonly [SCHEDULER_BRAND] = true;
  /** Handles events on files. */
  readonly files: boolean;
  /** Handles events on directories. */
  readonly dirs: boolean;
  /** The delay in ms. */
  readonly delay: number;
  /** At most this many jobs at once (Infinity: no limit). */
  readonly concurrency: number;
  /** The log name. */
  readonly logname: string;
  /** Its logger (the daemon gives it the daemon's sink). */
  log: Logger;
  readonly #job: Job;
  readonly #tasks = new Map<string, Task>();
  readonly #ready: Task[] = [];
  readonly #idleWaiters = new Set<() => void>();
  #running = 0;
  #dryRun = false;
  #closing = false;

  /**
   * The keys a subclass's options may hold besides {@link SCHEDULER_OPTION_KEYS}
   * (a subclass with options of its own overrides this).
   */
  static readonly optionKeys: readonly string[] = ['job'];

  constructor(options: TaskSchedulerOptions) {
    // A subclass passes its own options on (plus the job): checked against its keys.
    const opts = validateSchedulerOptions(options, new.target.name, new.target.optionKeys);
    const job = (options as { job?: unknown }).job;
    if (typeof job !== 'function') throw invalid('job', 'a function', job);
    this.#job = job as Job;
    this.files = opts.files ?? true;
    this.dirs = opts.dirs ?? false;
    this.delay = parseDuration(opts.delay ?? 0, 'delay');
    this.concurrency = opts.singleJob === true ? 1 : opts.concurrency ?? Number.POSITIVE_INFINITY;
    this.logname = opts.logname ?? 'sched';
    this.log = new Logger(this.logname);
  }

  /** @internal Used by the daemon: the log sink and dry-run mode. */
  _configure(sink: LogSink, dryRun: boolean): void {
    this.log = new Logger(this.logname, sink);
    this.#dryRun = dryRun;
  }

  /** Tasks not finished (delayed, queued or running). */
  get pending(): number {
    return this.#tasks.size;
  }

  /** Schedules (or re-schedules) the task for the event's pathname. */
  schedule(event: TaskEvent): void {
    if (this.#closing) return;
    if (event.dir ? !this.dirs : !this.files) return;
    const key = event.pathname;
    const task = this.#tasks.get(key);
    if (task === undefined) {
      const fresh: Task = { key, id: randomUUID(), event, state: 'delayed', timer: undefined, rerun: undefined, controller: undefined };
      this.#tasks.set(key, fresh);
      this.log.debug(`${event.maskname} ${key}: schedule task ${fresh.id}, delay=${this.delay}ms`);
      this.#delay(fresh);
    } else if (task.state === 'delayed') {
      task.event = event;
      clearTimeout(task.timer);
      this.log.debug(`${event.maskname} ${key}: re-schedule task ${task.id}, delay=${this.delay}ms`);
      this.#delay(task);
    } else if (task.state === 'queued') {
      task.event = event;
      this.log.debug(`${event.maskname} ${key}: task ${task.id} is queued, it will run with this event`);
    } else {
      task.rerun = event;
      this.log.debug(`${event.maskname} ${key}: task ${task.id} is running, one re-run queued after it`);
    }
  }

  /** Cancels the pending task for the event's pathname (a running job is left to finish; its queued re-run is dropped). */
  cancel(event: TaskEvent): void {
    const key = event.pathname;
    const task = this.#tasks.get(key);
    if (task === undefined) return;
    if (task.state === 'running') {
      if (task.rerun !== undefined) this.log.debug(`${event.maskname} ${key}: cancel the re-run of task ${task.id}`);
      task.rerun = undefined;
      return;
    }
    this.#drop(task);
    this.log.debug(`${event.maskname} ${key}: cancel task ${task.id}`);
    this.#checkIdle();
  }

  #delay(task: Task): void {
    task.state = 'delayed';
    if (this.delay <= 0) {
      this.#enqueue(task);
      return;
    }
    task.timer = setTimeout(() => {
      task.timer = undefined;
      this.#enqueue(task);
    }, this.delay);
  }

  #enqueue(task: Task): void {
    task.state = 'queued';
    this.#ready.push(task);
    this.#pump();
  }

  #drop(task: Task): void {
    clearTimeout(task.timer);
    task.timer = undefined;
    if (task.state === 'queued') {
      const index = this.#ready.indexOf(task);
      if (index >= 0) this.#ready.splice(index, 1);
    }
    this.#tasks.delete(task.key);
  }

  #pump(): void {
    while (this.#running < this.concurrency && this.#ready.length > 0) {
      const task = this.#ready.shift() as Task;
      void this.#run(task);
    }
  }

  async #run(task: Task): Promise<void> {
    task.state = 'running';
    this.#running++;
    const controller = new AbortController();
    task.controller = controller;
    const { event, id } = task;
    const started = performance.now();
    this.log.info(`${event.maskname} ${task.key}: start task ${id}`);
    try {
      if (this.#dryRun && !this.#handlesDryRun()) {
        this.log.info(`dry run: would call the job for ${task.key}`);
      } else {
        await this.#job(event, id, { signal: controller.signal, log: this.log, dryRun: this.#dryRun });
      }
      this.log.info(`task ${id} done in ${Math.round(performance.now() - started)} ms`);
    } catch (error) {
      this.log.error(`task ${id} failed after ${Math.round(performance.now() - started)} ms: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    } finally {
      this.#running--;
      task.controller = undefined;
      const rerun = task.rerun;
      task.rerun = undefined;
      if (rerun !== undefined && !controller.signal.aborted) {
        task.event = rerun;
        task.id = randomUUID();
        this.log.debug(`${rerun.maskname} ${task.key}: re-run as task ${task.id}`);
        this.#delay(task);
      } else {
        this.#tasks.delete(task.key);
      }
      this.#pump();
      this.#checkIdle();
    }
  }

  /** Subclasses that log their own dry run (ShellScheduler, FileManagerScheduler) return true. */
  protected _handlesDryRun(): boolean {
    return false;
  }

  #handlesDryRun(): boolean {
    return this._handlesDryRun();
  }

  #checkIdle(): void {
    if (this.#tasks.size > 0) return;
    for (const resolve of this.#idleWaiters) resolve();
    this.#idleWaiters.clear();
  }

  /** Resolves when no task is delayed, queued or running. */
  idle(): Promise<void> {
    if (this.#tasks.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.add(resolve));
  }

  /**
   * Stops taking events; lets delayed, queued and running tasks finish for up
   * to `timeout` ms, then cancels the rest (aborting running jobs) and logs
   * each one cancelled. Resolves with the number cancelled.
   */
  async shutdown(timeout: number): Promise<number> {
    this.#closing = true;
    let timer: NodeJS.Timeout | undefined;
    const expired = await Promise.race([
      this.idle().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeout);
      }),
    ]);
    clearTimeout(timer);
    if (!expired) return 0;
    let cancelled = 0;
    for (const task of [...this.#tasks.values()]) {
      cancelled++;
      if (task.state === 'running') {
        task.rerun = undefined;
        this.log.warning(`shutdown: cancel running task ${task.id} (${task.event.maskname} ${task.key})`);
        task.controller?.abort(new Error('inotifyd is shutting down'));
      } else {
        this.log.warning(`shutdown: cancel ${task.state} task ${task.id} (${task.event.maskname} ${task.key})`);
        this.#drop(task);
      }
    }
    this.#checkIdle();
    return cancelled;
  }
}

/** `Cancel(sched)` in an event map: cancels the scheduler's pending task for the event's pathname. */
export interface CancelAction {
  readonly [CANCEL_BRAND]: true;
  /** The scheduler whose pending task is cancelled. */
  readonly scheduler: TaskScheduler;
}

/** pyinotifyd's `Cancel(task_sched)`: map an event to this to cancel a pending task for its path. */
export function Cancel(scheduler: TaskScheduler): CancelAction {
  if (!isScheduler(scheduler)) throw invalid('scheduler', 'a TaskScheduler', scheduler);
  return { [CANCEL_BRAND]: true, scheduler };
}

/** True for any scheduler (whatever copy of this module made it). */
export function isScheduler(value: unknown): value is TaskScheduler {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SCHEDULER_BRAND] === true;
}

/** True for a {@link Cancel} action. */
export function isCancel(value: unknown): value is CancelAction {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CANCEL_BRAND] === true;
}
