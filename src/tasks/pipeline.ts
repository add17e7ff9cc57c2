/**
 * PipelineScheduler: a list of steps per file (argv commands with a
 * timeout, or functions), run in order. The first failure stops that file's
 * pipeline and moves the file to the failed area with a log of what ran; a
 * gate's failure only means "not ready": the file waits for its next change.
 */
import { existsSync, lstatSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { parseDuration, type Duration } from './duration.js';
import { moveToDone, moveToFailed, type StepRecord } from './failed-area.js';
import { describeResult, runCommand } from './run-command.js';
import { TaskScheduler, validateSchedulerOptions, type JobContext, type SchedulerOptions, type TaskEvent } from './scheduler.js';
import { taskEnv } from './shell.js';

/** What a function step sees. */
export interface PipelineFile {
  /** The event that started the pipeline. */
  readonly event: TaskEvent;
  /** Where the pipeline found the file (the event's pathname). */
  readonly source: string;
  /** Where the file is now (a step that moves it returns `{ pathname }`). */
  readonly pathname: string;
  /** Every value so far: the built-in ones and those earlier steps returned. */
  readonly values: Readonly<Record<string, string>>;
}

/** What a function step gets besides the file. */
export interface StepContext extends JobContext {
  /** The task id. */
  readonly taskId: string;
}

/** A function step: returns values for later steps (`{ pathname }` when it moved the file), or nothing. */
export type StepFunction = (file: PipelineFile, context: StepContext) => unknown;

/** One step of a pipeline: `cmd` or `run`, not both. */
export interface PipelineStep {
  /** Names the step in logs and in the failure log. */
  name: string;
  /**
   * An argv array. `{name}` inside an argument is replaced by the value
   * `name` (built-in: pathname, source, dir, name, stem, ext, maskname,
   * src_pathname, task_id; or returned by an earlier step); a value never
   * splits or joins arguments. `{{` and `}}` are literal braces.
   */
  cmd?: readonly string[];
  /** A function run in the daemon: may be async; a throw or a rejection fails the step. */
  run?: StepFunction;
  /** Kill the command (its process group) or give up on the function after this long. Default '10m'. */
  timeout?: Duration;
  /** Extra environment variables (values may use placeholders too). */
  env?: Record<string, string>;
  /** Working directory of the command. */
  cwd?: string;
  /** Text written to the command's stdin (placeholders filled), e.g. a mail for `sendmail -t`. */
  stdin?: string;
  /** Write the command's stdout to this file (a path; placeholders filled). */
  stdout?: string;
  /**
   * The file the command writes (a path; placeholders filled). In `cmd`,
   * `{output}` is a hidden temporary name in the same directory, with the
   * same extension; it is renamed to this path when the command succeeds and
   * removed when it fails: a failed step never leaves a partial output.
   */
  output?: string;
  /**
   * A gate: its failure means "not ready yet", not "failed". The file stays
   * where it is, nothing else runs, and the next event for it runs the
   * pipeline again from the start (an event while the file is unchanged is
   * skipped). Gates come before every other step and must not move the file.
   */
  gate?: boolean;
}

/** A file a gate found not ready, waiting for it to change. */
export interface WaitingFile {
  /** The gate that said not ready. */
  readonly step: string;
  /** Why (the gate's error, or its command's result). */
  readonly reason: string;
  /** ISO time of that verdict. */
  readonly since: string;
  /** The file as it was then: a run while it is still so is skipped. */
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/** Options of {@link PipelineScheduler}. */
export interface PipelineSchedulerOptions extends SchedulerOptions {
  /** The steps, in order. */
  steps: readonly PipelineStep[];
  /** Where a file whose pipeline failed goes, with `NAME.failure.json`. Keep it outside the watched tree. */
  failedDir: string;
  /** Where a file whose pipeline succeeded goes (default: it stays where the last step left it). */
  doneDir?: string;
}

const STEP_KEYS = ['name', 'cmd', 'run', 'timeout', 'env', 'cwd', 'stdin', 'stdout', 'output', 'gate'];
const PLACEHOLDER = /\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const DEFAULT_STEP_TIMEOUT = 600_000;

function optionError(message: string): TypeError {
  const error = new TypeError(message) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_VALUE';
  return error;
}

/** A step's failure, with what the failure log records about it. */
class StepFailure extends Error {
  constructor(readonly record: StepRecord) {
    super(`step ${record.step} failed: ${record.error ?? 'failed'}`);
  }
}

/** Fills `{name}` placeholders from `values`; an unknown name is an error naming it. */
export function fillPlaceholders(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(PLACEHOLDER, (token, name?: string) => {
    if (token === '{{') return '{';
    if (token === '}}') return '}';
    const value = values[name as string];
    if (value === undefined) throw new Error(`unknown value {${name as string}} (known: ${Object.keys(values).join(', ')})`);
    return value;
  });
}

/** The values every step has: the file's names and the event's. */
function builtinValues(event: TaskEvent, pathname: string, taskId: string): Record<string, string> {
  const name = basename(pathname);
  const ext = extname(name);
  return {
    pathname, source: event.pathname, dir: dirname(pathname), name, stem: ext === '' ? name : name.slice(0, -ext.length), ext,
    maskname: event.maskname, src_pathname: event.srcPathname ?? '', task_id: taskId,
  };
}

function validateStep(step: unknown, index: number): PipelineStep {
  const at = `steps[${index}]`;
  if (step === null || typeof step !== 'object') throw optionError(`The "${at}" option must be an object { name, cmd | run }`);
  const s = step as Record<string, unknown>;
  for (const key of Object.keys(s)) {
    if (!STEP_KEYS.includes(key)) throw optionError(`The "${at}.${key}" option is not an option of a pipeline step. Known options: ${STEP_KEYS.join(', ')}`);
  }
  if (typeof s.name !== 'string' || s.name === '') throw optionError(`The "${at}.name" option must be a non-empty string`);
  const hasCmd = s.cmd !== undefined;
  if (hasCmd === (s.run !== undefined)) throw optionError(`The "${at}" step (${s.name}) must have exactly one of "cmd" (an argv array) and "run" (a function)`);
  if (hasCmd && !(Array.isArray(s.cmd) && s.cmd.length > 0 && s.cmd.every((arg) => typeof arg === 'string') && s.cmd[0] !== '')) {
    throw optionError(`The "${at}.cmd" option must be a non-empty argv array of strings (no shell: one array element is one argument). Received ${JSON.stringify(s.cmd)}`);
  }
  if (!hasCmd && typeof s.run !== 'function') throw optionError(`The "${at}.run" option must be a function`);
  if (!hasCmd) {
    for (const key of ['env', 'cwd', 'stdin', 'stdout', 'output']) if (s[key] !== undefined) throw optionError(`The "${at}.${key}" option applies to "cmd" steps only`);
  }
  if (s.gate !== undefined && typeof s.gate !== 'boolean') throw optionError(`The "${at}.gate" option must be a boolean`);
  if (s.output !== undefined && !(s.cmd as string[]).some((arg) => arg.includes('{output}'))) {
    throw optionError(`The "${at}.cmd" option must use {output} (the temporary name the command writes) when the step has "output"`);
  }
  if (s.output !== undefined && s.stdout !== undefined) throw optionError(`The "${at}" step (${s.name}) cannot have both "output" and "stdout"`);
  if (s.timeout !== undefined) parseDuration(s.timeout, `${at}.timeout`);
  if (s.env !== undefined && (s.env === null || typeof s.env !== 'object' || !Object.values(s.env).every((v) => typeof v === 'string'))) {
    throw optionError(`The "${at}.env" option must be an object of strings`);
  }
  for (const key of ['cwd', 'stdin', 'stdout', 'output']) if (s[key] !== undefined && typeof s[key] !== 'string') throw optionError(`The "${at}.${key}" option must be a string`);
  return s as unknown as PipelineStep;
}

/** Rejects after `ms` (and aborts `controller`) unless `promise` settles first. */
async function withTimeout<T>(promise: Promise<T>, ms: number, controller: AbortController): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`timed out after ${ms} ms`);
        controller.abort(error);
        reject(error);
      }, ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a pipeline of steps per file. Runs of one file never overlap (an
 * event during a run queues one re-run after it); at most `concurrency`
 * files are in flight (default: the number of CPUs). A file gone when its
 * run starts is skipped. A failed step stops that file's pipeline only: the
 * file moves to `failedDir` with `NAME.failure.json` (every step that ran:
 * argv, exit status, stderr tail), and is retried only on request
 * ({@link retryFailed}, `inotifyd --retry`). A failed command's partial
 * `output` (or `stdout`) file is removed. Gate steps (`gate: true`, first)
 * decide whether the file is ready: a failing gate leaves the file where it
 * is, listed in {@link waiting}, and its next change runs the pipeline again.
 *
 * @example
 * ```ts
 * new PipelineScheduler({
 *   failedDir: '/srv/ingest/failed',
 *   steps: [
 *     { name: 'whole', gate: true, cmd: ['ffprobe', '-v', 'error', '{pathname}'], timeout: '30s' },
 *     { name: 'convert', cmd: ['ffmpeg', '-y', '-i', '{pathname}', '{output}'], output: '/srv/out/{stem}.webm', timeout: '10m' },
 *   ],
 * });
 * ```
 */
export class PipelineScheduler extends TaskScheduler {
  static override readonly optionKeys: readonly string[] = ['job', 'steps', 'failedDir', 'doneDir'];
  /** The steps, in order. */
  readonly steps: readonly PipelineStep[];
  /** Where failed files go. */
  readonly failedDir: string;
  /** Where finished files go, if anywhere. */
  readonly doneDir: string | undefined;
  readonly #waiting = new Map<string, WaitingFile>();

  constructor(options: PipelineSchedulerOptions) {
    validateSchedulerOptions(options, 'PipelineScheduler', ['steps', 'failedDir', 'doneDir']);
    super({
      ...options, concurrency: options.concurrency ?? (options.singleJob === true ? 1 : availableParallelism()), logname: options.logname ?? 'pipeline',
      job: (event, id, context) => this.#runPipeline(event, id, context),
    });
    if (!Array.isArray(options.steps) || options.steps.length === 0) throw optionError('The "steps" option must be a non-empty array of steps { name, cmd | run }');
    this.steps = options.steps.map((step, i) => validateStep(step, i));
    const names = this.steps.map((step) => step.name);
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice !== undefined) throw optionError(`The "steps" option names two steps ${JSON.stringify(twice)}: each name must be unique`);
    const lateGate = this.steps.findIndex((step, i) => step.gate === true && i > 0 && this.steps[i - 1]?.gate !== true);
    if (lateGate !== -1) throw optionError(`The "steps[${lateGate}]" step (${this.steps[lateGate]?.name ?? ''}) is a gate after other steps: gates come first, before anything moves the file`);
    if (typeof options.failedDir !== 'string' || options.failedDir === '') throw optionError('The "failedDir" option must be a directory path (a non-empty string)');
    this.failedDir = options.failedDir;
    if (options.doneDir !== undefined && (typeof options.doneDir !== 'string' || options.doneDir === '')) throw optionError('The "doneDir" option must be a directory path (a non-empty string)');
    this.doneDir = options.doneDir;
  }

  /** Files a gate found not ready (by the path where they arrived), until they change or go. */
  get waiting(): ReadonlyMap<string, WaitingFile> {
    return this.#waiting;
  }

  protected override _handlesDryRun(): boolean {
    return true;
  }

  async #runPipeline(event: TaskEvent, id: string, context: JobContext): Promise<void> {
    const log = context.log;
    const source = event.pathname;
    let arrived;
    try {
      arrived = lstatSync(source);
    } catch {
      this.#waiting.delete(source);
      log.info(`${source}: gone before its pipeline started; nothing to do`);
      return;
    }
    const waiting = this.#waiting.get(source);
    if (waiting !== undefined && waiting.ino === arrived.ino && waiting.size === arrived.size && waiting.mtimeMs === arrived.mtimeMs) {
      log.info(`${source}: unchanged since step ${waiting.step} found it not ready; still waiting`);
      return;
    }
    this.#waiting.delete(source);
    let pathname = source;
    const values: Record<string, string> = builtinValues(event, pathname, id);
    const records: StepRecord[] = [];
    for (const step of this.steps) {
      if (context.signal.aborted) throw new Error(`task ${id} cancelled before step ${step.name}`);
      let record: StepRecord;
      try {
        const result = step.cmd !== undefined
          ? await this.#runCommandStep(step, step.cmd, values, id, event, context)
          : await this.#runFunctionStep(step, step.run as StepFunction, { event, source, pathname, values: { ...values } }, id, context);
        record = result.record;
        for (const [key, value] of Object.entries(result.values)) values[key] = value;
        if (result.values.pathname !== undefined) {
          pathname = result.values.pathname;
          Object.assign(values, builtinValues(event, pathname, id), result.values);
        }
      } catch (error) {
        record = error instanceof StepFailure ? error.record : { step: step.name, ok: false, durationMs: 0, error: (error as Error).message };
      }
      records.push(record);
      if (step.gate === true && record.ok && pathname !== source) {
        record = { ...record, ok: false, error: 'a gate must not move the file' };
        records[records.length - 1] = record;
      } else if (step.gate === true && !record.ok && gateDecided(step, record)) {
        this.#wait(source, record, log);
        return;
      }
      if (!record.ok) {
        this.#fail(records, { source, pathname, values, id, log });
        // Logged in full above: the task's failure line needs no stack trace.
        const error = new Error(`the pipeline stopped at step ${step.name}`);
        error.stack = error.message;
        throw error;
      }
    }
    if (this.doneDir !== undefined && !context.dryRun) {
      const done = moveToDone(this.doneDir, pathname);
      log.info(`${source}: all ${this.steps.length} steps done; moved to ${done}`);
    } else {
      log.info(`${source}: all ${this.steps.length} steps done`);
    }
  }

  /** A gate said not ready: the file stays, remembered as it is now. */
  #wait(source: string, record: StepRecord, log: JobContext['log']): void {
    const reason = record.error ?? 'not ready';
    // A waiting file deleted (never resumed) gets no run to forget it: prune those now and then.
    if (this.#waiting.size >= 1024) for (const path of this.#waiting.keys()) if (!existsSync(path)) this.#waiting.delete(path);
    try {
      const st = lstatSync(source);
      this.#waiting.set(source, { step: record.step, reason, since: new Date().toISOString(), ino: st.ino, size: st.size, mtimeMs: st.mtimeMs });
    } catch { /* gone meanwhile: nothing to wait for */ }
    log.info(`${source}: not ready (step ${record.step}: ${reason}); it stays, and its pipeline runs again when it changes`);
  }

  #fail(records: readonly StepRecord[], at: { source: string; pathname: string; values: Record<string, string>; id: string; log: JobContext['log'] }): void {
    const failed = records[records.length - 1] as StepRecord;
    try {
      const target = moveToFailed(this.failedDir, at.pathname, {
        source: at.source, pathname: at.pathname, failedStep: failed.step, at: new Date().toISOString(), taskId: at.id, steps: records, values: at.values,
      });
      at.log.error(`${at.source}: step ${failed.step} failed (${failed.error ?? ''}); moved to ${target} (log: ${target}.failure.json)`);
    } catch (error) {
      at.log.error(`${at.source}: step ${failed.step} failed, and the file could not be moved to ${this.failedDir}: ${(error as Error).message}`);
    }
  }

  async #runCommandStep(step: PipelineStep, cmd: readonly string[], values: Record<string, string>, id: string, event: TaskEvent, context: JobContext): Promise<{ record: StepRecord; values: Record<string, string> }> {
    let argv: string[];
    let env: Record<string, string>;
    let stdin: string | undefined;
    let stdout: string | undefined;
    let output: string | undefined;
    let outputPart: string | undefined;
    try {
      output = step.output === undefined ? undefined : fillPlaceholders(step.output, values);
      outputPart = output === undefined ? undefined : partName(output, id, true);
      const argValues = outputPart === undefined ? values : { ...values, output: outputPart };
      argv = cmd.map((arg) => fillPlaceholders(arg, argValues));
      env = Object.fromEntries(Object.entries(step.env ?? {}).map(([key, value]) => [key, fillPlaceholders(value, values)]));
      stdin = step.stdin === undefined ? undefined : fillPlaceholders(step.stdin, values);
      stdout = step.stdout === undefined ? undefined : fillPlaceholders(step.stdout, values);
    } catch (error) {
      throw new StepFailure({ step: step.name, ok: false, durationMs: 0, error: (error as Error).message });
    }
    if (context.dryRun) {
      context.log.info(`dry run: task ${id} step ${step.name} would run ${JSON.stringify(argv)}`);
      return { record: { step: step.name, argv, ok: true, durationMs: 0 }, values: {} };
    }
    // Every value as INOTIFYD_VALUE_<NAME> too, for scripts that prefer the environment.
    for (const [key, value] of Object.entries(values)) env[`INOTIFYD_VALUE_${key.toUpperCase()}`] = value;
    // stdout goes to a temporary name, renamed into place only when the command succeeds: never a half file.
    const stdoutPart = stdout === undefined ? undefined : partName(stdout, id, false);
    const result = await runCommand(argv, {
      cwd: step.cwd, env: taskEnv(event, id, env), timeout: parseDuration(step.timeout ?? DEFAULT_STEP_TIMEOUT, 'timeout'),
      signal: context.signal, stdin, stdoutFile: stdoutPart, log: context.log, prefix: `task ${id} step ${step.name}`,
    });
    let ok = result.error === undefined && result.code === 0;
    let fileError: string | undefined;
    let removedOutput: string | undefined;
    for (const [part, final, what] of [[stdoutPart, stdout, 'stdout'], [outputPart, output, 'output']] as const) {
      if (part === undefined || final === undefined) continue;
      try {
        if (ok) renameSync(part, final);
        else removedOutput = removePartial(part) ?? removedOutput;
      } catch (error) {
        ok = false;
        fileError = (error as NodeJS.ErrnoException).code === 'ENOENT' && what === 'output'
          ? `exited 0 but did not write its output {output} (${part})`
          : `cannot write its ${what} to ${final}: ${(error as Error).message}`;
      }
    }
    context.log.info(`task ${id} step ${step.name}: ${argv[0] ?? ''} ${ok ? 'done' : `failed: ${fileError ?? describeResult(result)}`} after ${result.durationMs} ms`);
    if (!ok && result.stderrTail !== '') context.log.info(`task ${id} step ${step.name} stderr:\n${result.stderrTail.replace(/\n$/, '')}`);
    if (removedOutput !== undefined) context.log.info(`task ${id} step ${step.name}: removed its partial output ${removedOutput}`);
    const record: StepRecord = {
      step: step.name, argv, exitCode: result.code, signal: result.signal, timedOut: result.timedOut, durationMs: result.durationMs,
      stderrTail: result.stderrTail, ok, ...(ok ? {} : { error: fileError ?? describeResult(result) }),
      ...(removedOutput === undefined ? {} : { removedOutput }),
    };
    return { record, values: {} };
  }

  async #runFunctionStep(step: PipelineStep, run: StepFunction, file: PipelineFile, id: string, context: JobContext): Promise<{ record: StepRecord; values: Record<string, string> }> {
    if (context.dryRun) {
      context.log.info(`dry run: task ${id} step ${step.name} would call ${run.name === '' ? 'its function' : run.name}`);
      return { record: { step: step.name, ok: true, durationMs: 0 }, values: {} };
    }
    const started = performance.now();
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(context.signal.reason);
    context.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const timeout = parseDuration(step.timeout ?? DEFAULT_STEP_TIMEOUT, 'timeout');
      const returned = await withTimeout(Promise.resolve().then(() => run(file, { ...context, signal: controller.signal, taskId: id })), timeout, controller);
      const values = returnedValues(returned, step.name);
      context.log.info(`task ${id} step ${step.name}: done after ${Math.round(performance.now() - started)} ms`);
      return { record: { step: step.name, ok: true, durationMs: Math.round(performance.now() - started) }, values };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      context.log.info(`task ${id} step ${step.name}: failed: ${message}`);
      throw new StepFailure({ step: step.name, ok: false, durationMs: Math.round(performance.now() - started), error: message });
    } finally {
      context.signal.removeEventListener('abort', onAbort);
    }
  }
}

/**
 * A failed gate said "not ready" when it decided: its function threw, or its
 * command exited non-zero. A command that could not start, was killed or
 * timed out decided nothing: that is a failure like any other step's.
 */
function gateDecided(step: PipelineStep, record: StepRecord): boolean {
  return step.cmd === undefined || typeof record.exitCode === 'number';
}

/**
 * The hidden temporary name of a step's file: `.NAME.inotifyd-ID` in the
 * same directory (one rename puts it in place); `keepExt` adds NAME's
 * extension again, for tools that pick a format by it (ffmpeg).
 */
function partName(final: string, id: string, keepExt: boolean): string {
  return join(dirname(final), `.${basename(final)}.inotifyd-${id}${keepExt ? extname(final) : ''}`);
}

/** Removes a failed command's partial file; returns 'PATH (N bytes)' when there was one. */
function removePartial(part: string): string | undefined {
  let size: number;
  try {
    size = lstatSync(part).size;
  } catch {
    return undefined;
  }
  rmSync(part, { force: true });
  return `${part} (${size} bytes)`;
}

/** A function step's return: nothing, or an object of string values. */
function returnedValues(returned: unknown, step: string): Record<string, string> {
  if (returned === undefined || returned === null) return {};
  if (typeof returned === 'object' && !Array.isArray(returned) && Object.values(returned).every((v) => typeof v === 'string')) {
    return returned as Record<string, string>;
  }
  throw new Error(`step ${step} returned ${JSON.stringify(returned)}: a step returns nothing or an object of string values`);
}
