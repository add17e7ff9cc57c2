/**
 * SerialRunner: the scheduling core of `runOnChange()` and `inotify-run`,
 * with no file system and no processes in it. Changes come in with
 * `change()`; a run starts after a quiet time; never two runs at once; what
 * changes during a run is handed to exactly one run after it (or restarts
 * or signals the run, as the busy policy says); a failure the user
 * classifies (credentials expired) runs a recovery step, then the run again.
 *
 * The pending set is swapped for an empty one in the same synchronous step
 * that starts a run, so no change can fall between "run finished" and
 * "flag cleared", the gap of the hand-written polling loop.
 */
import { EventEmitter } from 'node:events';
import { invalidArgType, invalidArgValue, outOfRange } from '../errors.js';

/** What a runner does with changes that arrive while a run is going (watchexec's `--on-busy-update`). */
export type BusyPolicy = 'queue' | 'restart' | 'signal' | 'do-nothing';

/** The busy policies, for validation and help texts. */
export const BUSY_POLICIES: readonly BusyPolicy[] = ['queue', 'restart', 'signal', 'do-nothing'];

/** Why a run started. */
export type RunReason = 'initial' | 'change' | 'overflow' | 'manual';

/** What one run is given. */
export interface RunBatch {
  /** 1 for the first run, counting every run started (a retry keeps its run's number). */
  readonly run: number;
  /** 1, then 2, 3... for each retry after a recovery. */
  readonly attempt: number;
  readonly reason: RunReason;
  /** Changed paths since the last run started (and those of a failed or stopped run), in order of first change. */
  readonly paths: readonly string[];
  /** The exact bytes of each path in `paths` (names that are not valid UTF-8). */
  readonly pathBytes: readonly Buffer[];
  /** True when the kernel queue overflowed: something changed that `paths` may not name. */
  readonly overflow: boolean;
}

/** How a run ended. */
export interface RunOutcome {
  /** True for success (exit status 0). */
  readonly ok: boolean;
  /** The exit status, when the command exited. */
  readonly code: number | null;
  /** The signal that ended it, when one did. */
  readonly signal: NodeJS.Signals | null;
  /** Why it could not start or failed (ENOENT for a missing program, or the job's exception). */
  readonly error?: Error | undefined;
  /** The end of its stderr, when it was captured (for {@link RecoveryOptions.match}). */
  readonly stderr?: string | undefined;
  /** True when the runner stopped it (restart, close). */
  readonly stopped?: boolean | undefined;
  /** For a stopped command: how many processes of its group were still alive after it exited (they were stopped too). */
  readonly outlived?: number | undefined;
}

/** Starts one run; `signal` aborts when the runner wants it stopped (restart, close). */
export type Execute = (batch: RunBatch, signal: AbortSignal) => Promise<RunOutcome>;

/** The recovery step: `--on-fail` (re-authenticate, then retry). */
export interface RecoveryOptions {
  /** Runs the recovery (e.g. `kinit` on the terminal); resolves true when it succeeded. `signal` aborts at close. */
  readonly recover: (signal: AbortSignal) => Promise<boolean>;
  /** Which failures call for it; default: every failure the runner did not cause. */
  readonly when?: (outcome: RunOutcome) => boolean;
  /** At most this many recoveries (and retries) per run. Default 3. */
  readonly maxRetries?: number;
}

/** Options of {@link SerialRunner}; times in ms. */
export interface SerialRunnerOptions {
  /** Quiet time after the last change before a run starts. Default 50 (watchexec's). */
  readonly debounce?: number;
  /** A run starts at the latest this long after the first change waiting, however busy the tree. Default max(2000, debounce). */
  readonly maxDelay?: number;
  /** At least this long between the starts of two runs. Default 0. */
  readonly minInterval?: number;
  /** Default 'queue'. */
  readonly onBusy?: BusyPolicy;
  /** For onBusy 'signal': sends the signal to the running job (once per burst of changes, after `debounce`). */
  readonly sendSignal?: () => void;
  readonly recovery?: RecoveryOptions;
}

/** Events of a {@link SerialRunner}. */
export interface SerialRunnerEvents {
  start: [batch: RunBatch];
  end: [batch: RunBatch, outcome: RunOutcome];
  /** A classified failure: the recovery starts (`retry` of `maxRetries`). */
  recover: [batch: RunBatch, outcome: RunOutcome, retry: number];
  /** The recovery ended; `ok` false stops the retries. */
  recovered: [batch: RunBatch, ok: boolean];
  /** A run gave up: it failed, and no (more) recovery applies. */
  failed: [batch: RunBatch, outcome: RunOutcome];
  /** Changes during a run were dropped (onBusy 'do-nothing', one event each) or sent as one signal ('signal', `changes` of them). */
  busy: [policy: BusyPolicy, changes: number];
  idle: [];
}

interface Pending {
  paths: Map<string, Buffer | undefined>;
  overflow: boolean;
  reason: RunReason | undefined;
  firstAt: number;
  lastAt: number;
}

/** A time option in ms: a finite number from 0 to setTimeout's limit. */
function milliseconds(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isFinite(value) || value < 0 || value > 0x7fffffff) throw outOfRange(name, '>= 0 and <= 2147483647', value);
  return value;
}

const REASON_RANK: Record<RunReason, number> = { initial: 0, manual: 0, change: 1, overflow: 2 };

function emptyPending(): Pending {
  return { paths: new Map(), overflow: false, reason: undefined, firstAt: 0, lastAt: 0 };
}

/** Serializes runs of one job over a stream of changes; see the module comment. */
export class SerialRunner extends EventEmitter<SerialRunnerEvents> {
  /** Quiet time (ms) after the last change before a run. */
  readonly debounce: number;
  /** The latest (ms after the first waiting change) a run starts, however busy the tree. */
  readonly maxDelay: number;
  /** Least time (ms) between the starts of two runs. */
  readonly minInterval: number;
  /** What changes during a run do. */
  readonly onBusy: BusyPolicy;
  readonly #execute: Execute;
  readonly #sendSignal: (() => void) | undefined;
  readonly #recovery: RecoveryOptions | undefined;
  #pending = emptyPending();
  #timer: NodeJS.Timeout | undefined;
  #running: { batch: RunBatch; controller: AbortController; done: Promise<void> } | undefined;
  #runs = 0;
  #lastStart = Number.NEGATIVE_INFINITY;
  #closed = false;
  #signalTimer: NodeJS.Timeout | undefined;
  #signalled = 0;
  #idleWaiters: Array<() => void> = [];

  /** Throws TypeError/RangeError with Node's codes for a bad `execute` or option. */
  constructor(execute: Execute, options: SerialRunnerOptions = {}) {
    super();
    if (typeof execute !== 'function') throw invalidArgType('execute', 'of type function', execute);
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    this.#execute = execute;
    this.debounce = milliseconds(options.debounce, 'options.debounce', 50);
    this.maxDelay = milliseconds(options.maxDelay, 'options.maxDelay', Math.max(2000, this.debounce));
    this.minInterval = milliseconds(options.minInterval, 'options.minInterval', 0);
    this.onBusy = options.onBusy ?? 'queue';
    if (!BUSY_POLICIES.includes(this.onBusy)) throw invalidArgValue('options.onBusy', this.onBusy, `must be one of ${BUSY_POLICIES.join(', ')}`);
    const max = options.recovery?.maxRetries;
    if (max !== undefined && !(Number.isInteger(max) && max >= 0)) throw outOfRange('options.recovery.maxRetries', 'an integer >= 0', max);
    this.#sendSignal = options.sendSignal;
    this.#recovery = options.recovery;
  }

  /** Runs started so far (retries not counted). */
  get runs(): number {
    return this.#runs;
  }

  /** True while a run (or its recovery) is going. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /** True when changes wait for a run. */
  get pending(): boolean {
    return this.#pending.reason !== undefined;
  }

  /** A path changed (`bytes`: its exact name, when it is not valid UTF-8). */
  change(pathname: string, bytes?: Buffer): void {
    if (this.#closed) return;
    if (this.#running !== undefined && this.#busy()) return;
    if (!this.#pending.paths.has(pathname)) this.#pending.paths.set(pathname, bytes);
    this.#note('change');
  }

  /** The kernel queue overflowed: something changed, we cannot say what. */
  overflow(): void {
    if (this.#closed) return;
    if (this.#running !== undefined && this.#busy()) return;
    this.#pending.overflow = true;
    this.#note('overflow');
  }

  /** Asks for a run without a change (`reason` 'initial' at start, or 'manual'): after the debounce, as a change. */
  trigger(reason: 'initial' | 'manual' = 'manual'): void {
    if (this.#closed) return;
    this.#note(reason);
  }

  /** Resolves when no run is going and nothing waits. */
  idle(): Promise<void> {
    if (this.#running === undefined && !this.pending) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops: nothing more starts; a running job is asked to stop (its signal
   * aborts) unless `drain` is true, in which case waiting changes still get
   * their run first. Resolves when the last run has ended.
   */
  async close({ drain = false }: { drain?: boolean } = {}): Promise<void> {
    if (drain && !this.#closed) await this.idle();
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = emptyPending();
    const running = this.#running;
    if (running !== undefined) {
      running.controller.abort();
      await running.done;
    }
    this.#settleIdle();
  }

  /** During a run, per the busy policy: true when the change is consumed here (not queued). */
  #busy(): boolean {
    const running = this.#running as { controller: AbortController };
    switch (this.onBusy) {
      case 'queue':
        return false;
      case 'restart':
        // Queued, and the run is stopped: its end starts the next one.
        running.controller.abort();
        return false;
      case 'signal':
        // One signal per burst: sent when the debounce window that this change opened ends.
        this.#signalled++;
        this.#signalTimer ??= setTimeout(() => {
          this.#signalTimer = undefined;
          const count = this.#signalled;
          this.#signalled = 0;
          if (this.#running === undefined || this.#closed) return;
          this.#sendSignal?.();
          this.emit('busy', 'signal', count);
        }, this.debounce);
        return true;
      case 'do-nothing':
        this.emit('busy', 'do-nothing', 1);
        return true;
    }
  }

  #note(reason: RunReason): void {
    const now = performance.now();
    const p = this.#pending;
    if (p.reason === undefined) p.firstAt = now;
    // What a run is said to be for: an overflow outranks changes, which outrank a bare trigger.
    if (p.reason === undefined || REASON_RANK[reason] > REASON_RANK[p.reason]) p.reason = reason;
    p.lastAt = now;
    if (this.#running === undefined) this.#arm();
  }

  /** (Re)sets the timer for the next run: after the quiet time, capped by maxDelay, not before minInterval. */
  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const p = this.#pending;
    if (p.reason === undefined || this.#closed) return;
    const due = Math.max(Math.min(p.lastAt + this.debounce, p.firstAt + this.maxDelay), this.#lastStart + this.minInterval);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#start();
    }, Math.max(0, due - performance.now()));
  }

  #take(run: number, attempt: number, carried?: RunBatch): RunBatch {
    const p = this.#pending;
    this.#pending = emptyPending();
    const paths = new Map<string, Buffer | undefined>();
    if (carried !== undefined) carried.paths.forEach((path, i) => paths.set(path, carried.pathBytes[i]));
    for (const [path, bytes] of p.paths) if (!paths.has(path)) paths.set(path, bytes);
    const list = [...paths.keys()];
    return {
      run, attempt, reason: p.reason ?? carried?.reason ?? 'manual', paths: list,
      pathBytes: list.map((path) => paths.get(path) ?? Buffer.from(path)),
      overflow: p.overflow || carried?.overflow === true,
    };
  }

  #start(carried?: RunBatch): void {
    if (this.#closed) return;
    this.#lastStart = performance.now();
    const batch = this.#take(++this.#runs, 1, carried);
    const controller = new AbortController();
    const running = { batch, controller, done: Promise.resolve() };
    this.#running = running;
    running.done = this.#cycle(batch, controller).finally(() => {
      this.#running = undefined;
      clearTimeout(this.#signalTimer);
      this.#signalTimer = undefined;
      this.#signalled = 0;
      if (this.pending) this.#arm();
      else this.#settleIdle();
    });
  }

  /** One run and its recoveries and retries. */
  async #cycle(first: RunBatch, controller: AbortController): Promise<void> {
    let batch = first;
    for (let retry = 1; ; retry++) {
      this.emit('start', batch);
      const outcome = await this.#safeExecute(batch, controller.signal);
      const stopped = controller.signal.aborted || outcome.stopped === true;
      const final = stopped && outcome.stopped !== true ? { ...outcome, stopped: true } : outcome;
      this.emit('end', batch, final);
      if (final.ok) return;
      if (stopped) {
        // Stopped for a restart: its paths go to the next run; at close they are dropped with the rest.
        if (!this.#closed) this.#carry(batch);
        return;
      }
      const recovery = this.#recovery;
      const max = recovery?.maxRetries ?? 3;
      if (recovery === undefined || retry > max || !(recovery.when?.(final) ?? true)) {
        this.emit('failed', batch, final);
        this.#carry(batch); // a failed run's changes are still unsynced: the next run gets them
        return;
      }
      this.emit('recover', batch, final, retry);
      let ok: boolean;
      try {
        ok = await recovery.recover(controller.signal);
      } catch {
        ok = false;
      }
      this.emit('recovered', batch, ok);
      if (controller.signal.aborted) {
        // A restart (or close) was asked for meanwhile: the next run takes over these paths.
        if (!this.#closed) this.#carry(batch);
        return;
      }
      if (!ok) {
        this.emit('failed', batch, final);
        this.#carry(batch);
        return;
      }
      // The retry also takes what changed meanwhile: one run instead of two.
      const merged = this.#take(batch.run, batch.attempt + 1, batch);
      batch = merged;
    }
  }

  async #safeExecute(batch: RunBatch, signal: AbortSignal): Promise<RunOutcome> {
    try {
      return await this.#execute(batch, signal);
    } catch (error) {
      return { ok: false, code: null, signal: null, error: error instanceof Error ? error : new Error(String(error)) };
    }
  }

  /** Puts a batch's paths back in front of what is pending, without asking for a run by itself. */
  #carry(batch: RunBatch): void {
    const p = this.#pending;
    const paths = new Map<string, Buffer | undefined>();
    batch.paths.forEach((path, i) => paths.set(path, batch.pathBytes[i]));
    for (const [path, bytes] of p.paths) if (!paths.has(path)) paths.set(path, bytes);
    p.paths = paths;
    p.overflow ||= batch.overflow;
  }

  #settleIdle(): void {
    if (this.#running !== undefined || this.pending) return;
    this.emit('idle');
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}
