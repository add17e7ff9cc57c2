/**
 * runOnChange(): watch trees and run one job, serialized, whenever they
 * change (the library behind `inotify-run`). Watching is `watch()`;
 * scheduling is {@link SerialRunner}; a command is run by command-run.ts.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { IN_IGNORED, IN_Q_OVERFLOW } from '../constants.js';
import { invalidArgType, invalidArgValue } from '../errors.js';
import type { InotifyEvent } from '../event.js';
import type { PathPattern } from '../pattern.js';
import { watch, type EventStream } from '../watch.js';
import { runInteractive, startCommand, type CommandSpec, type RunningCommand } from './command-run.js';
import { parseDuration, type Duration } from './duration.js';
import { compileIgnoreFile } from './ignore-file.js';
import {
  BUSY_POLICIES, SerialRunner, type BusyPolicy, type RunBatch, type RunOutcome, type SerialRunnerEvents,
} from './serial-runner.js';

/**
 * Ignored unless `defaultIgnores: false`: version-control metadata and
 * editors' swap, backup and probe files (vim writes `4913` to test a directory).
 */
export const DEFAULT_IGNORES: readonly string[] = ['.git', '.hg', '.svn', '*.swp', '*.swx', '*~', '.#*', '4913'];

/** A function job: gets the batch and an AbortSignal (restart, close); a throw or rejection is a failure. */
export type RunFunction = (batch: RunBatch, signal: AbortSignal) => unknown;

/** Options of {@link runOnChange}. Durations are ms or strings such as '200ms', '2s'. */
export interface RunOnChangeOptions {
  /** Paths that trigger nothing and are not watched: the pattern language of docs/patterns.md (a list or one). */
  exclude?: PathPattern | readonly PathPattern[];
  /** .gitignore-style files (last matching line wins, `!` re-includes), relative to their own directory. */
  ignoreFile?: string | readonly string[];
  /** Also ignore {@link DEFAULT_IGNORES} (default true). */
  defaultIgnores?: boolean;
  /** Quiet time after the last change before a run (default 50 ms, as watchexec). */
  debounce?: Duration;
  /** A run starts at the latest this long after the first waiting change, even if changes keep coming (default 2 s, at least `debounce`). */
  maxDelay?: Duration;
  /** At least this long between the starts of two runs (default 0). */
  minInterval?: Duration;
  /** Changes during a run: 'queue' one more run after it (default), 'restart' it, 'signal' it, or 'do-nothing'. */
  onBusy?: BusyPolicy;
  /** The signal `onBusy: 'signal'` sends (default SIGHUP). */
  busySignal?: NodeJS.Signals;
  /** Stops a run (restart, close): this signal to its process group (default SIGTERM)... */
  stopSignal?: NodeJS.Signals;
  /** ...then SIGKILL after this long (default 10 s; 0: SIGKILL at once). */
  stopTimeout?: Duration;
  /** Run once at start, before any change (default false). */
  initial?: boolean;
  /** The command is `[script]`, run by `/bin/sh -c`; the paths are in the environment, never in the script. */
  shell?: boolean;
  /** Working directory of the command and of `onFail`. */
  cwd?: string;
  /** Extra environment variables for the command. */
  env?: Record<string, string>;
  /** Write the paths file NUL-terminated instead of one per line (default false). */
  nul?: boolean;
  /**
   * On a classified failure: an argv run with our terminal (stdin, stdout,
   * stderr) so it can prompt, e.g. `['kinit', 'me@EXAMPLE.ORG']`, or a
   * function resolving true on success. Then the run is retried.
   */
  onFail?: readonly string[] | ((signal: AbortSignal) => Promise<boolean>);
  /** Only these exit statuses call `onFail` (with `onFailMatch`: either one). Default: any failure. */
  onFailExit?: readonly number[];
  /** Only a failure whose stderr matches calls `onFail` (stderr is then piped through us and kept). */
  onFailMatch?: RegExp;
  /** At most this many `onFail` + retry rounds per run (default 3). */
  maxRetries?: number;
  /** Follow symbolic links to directories while walking (default false). */
  followSymlinks?: boolean;
  /** Closes the runner. */
  signal?: AbortSignal;
}

/** Events of a {@link ChangeRunner}: the {@link SerialRunner}'s, plus watching's own. */
export interface ChangeRunnerEvents extends SerialRunnerEvents {
  /** A problem that leaves watching intact (a new directory that could not be watched). */
  warning: [error: Error];
  /**
   * Every directory given as a root was deleted (or its filesystem
   * unmounted): no change can be seen any more. The runs the deletions called
   * for still happen; closing is the listener's choice (inotify-run exits 1).
   */
  gone: [];
  close: [];
}

const SIGNALS = new Set(Object.keys(os.constants.signals));

function checkSignal(value: unknown, name: string): NodeJS.Signals {
  if (typeof value !== 'string' || !SIGNALS.has(value)) throw invalidArgValue(name, value, 'must be a signal name such as SIGTERM');
  return value as NodeJS.Signals;
}

function checkArgv(value: unknown, name: string): readonly string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((a) => typeof a === 'string') || value[0] === '') {
    throw invalidArgType(name, 'a non-empty argv array of strings', value);
  }
  return value as readonly string[];
}

/** The watching and the running; made by {@link runOnChange}. */
export class ChangeRunner extends EventEmitter<ChangeRunnerEvents> {
  /** The scheduler: runs, pending, idle(). */
  readonly runner: SerialRunner;
  /** The directories (or files) watched, absolute. */
  readonly roots: readonly string[];
  readonly #streams: EventStream[] = [];
  readonly #scratch: string;
  /** The roots that are directories and still watched (file roots are left out: an editor's save replaces them). */
  readonly #rootDirs = new Set<string>();
  #current: RunningCommand | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link runOnChange}. */
  constructor(roots: readonly string[], job: readonly string[] | RunFunction, options: RunOnChangeOptions) {
    super();
    this.roots = roots;
    const shell = options.shell === true;
    const command = typeof job === 'function' ? undefined : checkArgv(job, 'command');
    if (shell && (command === undefined || command.length !== 1)) throw invalidArgValue('command', job, "must be [script] with 'shell: true'");
    const debounce = parseDuration(options.debounce ?? 50, 'debounce');
    const onBusy = options.onBusy ?? 'queue';
    if (!BUSY_POLICIES.includes(onBusy)) throw invalidArgValue('onBusy', onBusy, `must be one of ${BUSY_POLICIES.join(', ')}`);
    const busySignal = checkSignal(options.busySignal ?? 'SIGHUP', 'busySignal');
    const maxRetries = options.maxRetries ?? 3;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) throw invalidArgValue('maxRetries', maxRetries, 'must be an integer >= 0');
    const onFailExit = options.onFailExit;
    if (onFailExit !== undefined && !(Array.isArray(onFailExit) && onFailExit.every((c) => Number.isInteger(c) && c >= 0 && c <= 255))) {
      throw invalidArgValue('onFailExit', onFailExit, 'must be a list of exit statuses 0-255');
    }
    if (options.onFailMatch !== undefined && !(options.onFailMatch instanceof RegExp)) throw invalidArgType('onFailMatch', 'a RegExp', options.onFailMatch);
    const onFail = options.onFail === undefined || typeof options.onFail === 'function' ? options.onFail : checkArgv(options.onFail, 'onFail');
    const stopSignal = checkSignal(options.stopSignal ?? 'SIGTERM', 'stopSignal');
    const stopTimeout = parseDuration(options.stopTimeout ?? 10_000, 'stopTimeout');
    const maxDelay = Math.max(debounce, parseDuration(options.maxDelay ?? 2000, 'maxDelay'));
    const minInterval = parseDuration(options.minInterval ?? 0, 'minInterval');

    // Our scratch dir (the paths file) is never a change, even when a watched tree holds it.
    this.#scratch = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'inotify-run-'));
    const spec: CommandSpec | undefined = command === undefined ? undefined : {
      argv: shell ? ['/bin/sh', '-c', command[0] as string, 'inotify-run'] : command,
      cwd: options.cwd, env: options.env,
      stopSignal, stopTimeout,
      captureStderr: options.onFailMatch !== undefined,
      pathsFile: nodePath.join(this.#scratch, 'paths'), nul: options.nul === true,
    };
    const execute = spec !== undefined
      ? (batch: RunBatch, signal: AbortSignal): Promise<RunOutcome> => {
        const running = startCommand(spec, batch, signal);
        this.#current = running;
        return running.done.finally(() => {
          if (this.#current === running) this.#current = undefined;
        });
      }
      : async (batch: RunBatch, signal: AbortSignal): Promise<RunOutcome> => {
        await (job as RunFunction)(batch, signal);
        return { ok: true, code: 0, signal: null };
      };
    const classify = (outcome: RunOutcome): boolean => {
      if (onFailExit === undefined && options.onFailMatch === undefined) return true;
      if (onFailExit !== undefined && outcome.code !== null && onFailExit.includes(outcome.code)) return true;
      const re = options.onFailMatch;
      if (re !== undefined) {
        re.lastIndex = 0;
        return re.test(outcome.stderr ?? outcome.error?.message ?? '');
      }
      return false;
    };
    this.runner = new SerialRunner(execute, {
      debounce, maxDelay, minInterval, onBusy,
      sendSignal: () => this.#current?.signal(busySignal),
      recovery: onFail === undefined ? undefined : {
        recover: typeof onFail === 'function' ? onFail : async (signal) => (await runInteractive(onFail, options.cwd, signal)).ok,
        when: classify,
        maxRetries,
      },
    });
    for (const name of ['start', 'end', 'recover', 'recovered', 'failed', 'busy', 'idle'] as const) {
      this.runner.on(name, (...args: unknown[]) => (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args));
    }

    try {
      const exclude: PathPattern[] = [this.#scratch];
      if (options.defaultIgnores !== false) exclude.push(...DEFAULT_IGNORES);
      if (options.exclude !== undefined) exclude.push(...(Array.isArray(options.exclude) ? options.exclude as PathPattern[] : [options.exclude as PathPattern]));
      const files = options.ignoreFile === undefined ? [] : typeof options.ignoreFile === 'string' ? [options.ignoreFile] : [...options.ignoreFile];
      for (const file of files) exclude.push(compileIgnoreFile(file));
      for (const root of roots) {
        const rootPath = nodePath.resolve(root);
        if (fs.statSync(rootPath, { throwIfNoEntry: false })?.isDirectory() === true) this.#rootDirs.add(rootPath);
        this.#streams.push(watch(root, {
          exclude, followSymlinks: options.followSymlinks,
          onError: (error) => this.emit('warning', error),
        }, (event) => this.#onEvent(event)));
      }
    } catch (error) {
      // Nothing is left behind: the watches made so far and the scratch dir.
      for (const stream of this.#streams) void stream.close();
      fs.rmSync(this.#scratch, { recursive: true, force: true });
      throw error;
    }
    const signal = options.signal;
    if (signal?.aborted) void this.close();
    else signal?.addEventListener('abort', () => void this.close(), { once: true });
    if (options.initial === true) this.runner.trigger('initial');
  }

  #onEvent(event: InotifyEvent): void {
    if (event.wd === -1 || (event.mask & IN_Q_OVERFLOW) !== 0) {
      this.runner.overflow();
      return;
    }
    if ((event.mask & IN_IGNORED) !== 0) {
      // The end of a watch, after the event that caused it. A root directory's: it is gone.
      if (event.name === '' && this.#rootDirs.delete(event.pathname) && this.#rootDirs.size === 0) this.emit('gone');
      return;
    }
    this.runner.change(event.pathname, event.nameBytes === undefined && event.pathBytes === undefined ? undefined : event.pathnameBytes());
  }

  /** True once closed (or closing). */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Sends a signal to the running command's process group (nothing when idle). */
  kill(signal: NodeJS.Signals): void {
    this.#current?.signal(signal);
  }

  /** Resolves when no run is going and no change waits. */
  idle(): Promise<void> {
    return this.runner.idle();
  }

  /**
   * Stops watching, then stops a running command (stop signal, then SIGKILL
   * after `stopTimeout`) unless `drain` is set, in which case waiting changes
   * get their run first. Idempotent; resolves when everything has ended.
   */
  close(options: { drain?: boolean } = {}): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all(this.#streams.map((stream) => stream.close()));
      await this.runner.close(options);
      fs.rmSync(this.#scratch, { recursive: true, force: true });
      this.emit('close');
    })();
    return this.#closing;
  }

  /** `await using runner = runOnChange(...)`: closes on scope exit. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Watches `paths` (recursively) and runs `job` whenever something changes:
 * never two runs at once, a burst of changes makes one run, changes during a
 * run make exactly one more run after it. `job` is an argv array (run in its
 * own process group, the changed paths in `INOTIFY_RUN_PATHS` and the file
 * `INOTIFY_RUN_PATHS_FILE`; see docs/run.md) or a function of the batch.
 * Setup errors (a missing directory: ENOENT; a bad option) are thrown.
 *
 * @example
 * ```ts
 * const runner = runOnChange('src', ['rsync', '-a', '--delete', 'src/', 'server:/srv/app/'], {
 *   onFail: ['kinit'], onFailExit: [255],
 * });
 * runner.on('end', (batch, outcome) => console.log(`run ${batch.run}: ${outcome.ok ? 'ok' : 'failed'}`));
 * ```
 */
export function runOnChange(paths: string | readonly string[], job: readonly string[] | RunFunction, options: RunOnChangeOptions = {}): ChangeRunner {
  const list = typeof paths === 'string' ? [paths] : paths;
  if (!Array.isArray(list) || list.length === 0 || !list.every((p) => typeof p === 'string' && p !== '')) {
    throw invalidArgType('paths', 'a path or a non-empty array of paths', paths);
  }
  if (typeof job !== 'function') checkArgv(job, 'command');
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
  return new ChangeRunner(list.map((p) => nodePath.resolve(p)), job, options);
}
