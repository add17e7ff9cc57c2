/**
 * ShellScheduler: runs a command per task, without a shell. Each placeholder
 * fills exactly one argument, so no file name can run anything.
 */
import { parseDuration, type Duration } from './duration.js';
import { OUTPUT_LIMIT, runCommand } from './run-command.js';
import { TaskScheduler, validateSchedulerOptions, type JobContext, type SchedulerOptions, type TaskEvent } from './scheduler.js';

/** Options of {@link ShellScheduler}. */
export interface ShellSchedulerOptions extends SchedulerOptions {
  /**
   * The command: an argv array, or a string split into argv once, here
   * (single and double quotes and backslashes group words as in sh; nothing
   * else of sh's syntax exists). `{maskname}` (IN_ISDIR left out),
   * `{pathname}` and `{src_pathname}` ('' when absent) are substituted
   * inside each argument; a value never splits or joins arguments.
   */
  cmd: string | readonly string[];
  /**
   * Run `cmd` (a string) with `sh -c` instead. Values are never pasted into
   * the script: `{pathname}`, `{maskname}`, `{src_pathname}` become `"$1"`,
   * `"$2"`, `"$3"`, passed as positional parameters. Default false.
   */
  shell?: boolean;
  /** Kill the command's process group (SIGTERM, then SIGKILL 2 s later) after this long. Default: no limit. */
  timeout?: Duration;
  /** Run again this many times when it fails (exit status not 0, killed, or could not start). Default 0. */
  retries?: number;
  /** Wait before the first retry; doubled for each next one. Default 1000 ms. */
  retryDelay?: Duration;
  /** Working directory of the command. */
  cwd?: string;
  /** Extra environment variables (added to the daemon's). */
  env?: Record<string, string>;
}

const PLACEHOLDER = /\{(maskname|pathname|src_pathname)\}/g;

function configError(message: string): TypeError {
  const error = new TypeError(message) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_VALUE';
  return error;
}

/**
 * Splits a command line into argv once: words separated by blanks; '…'
 * keeps everything literally, "…" keeps everything but `\"` and `\\`, and a
 * backslash outside quotes escapes the next character. Throws on an
 * unterminated quote.
 */
export function splitArgv(command: string): string[] {
  const argv: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < command.length; i++) {
    const c = command[i] as string;
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw configError(`The "cmd" option has an unterminated ' quote: ${command}`);
      word += command.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      inWord = true;
      let j = i + 1;
      for (; j < command.length && command[j] !== '"'; j++) {
        if (command[j] === '\\' && (command[j + 1] === '"' || command[j + 1] === '\\')) j++;
        word += command[j];
      }
      if (j >= command.length) throw configError(`The "cmd" option has an unterminated " quote: ${command}`);
      i = j;
    } else if (c === '\\') {
      if (i + 1 < command.length) word += command[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) argv.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) argv.push(word);
  return argv;
}

/** The values of the placeholders for an event. */
export function placeholderValues(event: TaskEvent): { maskname: string; pathname: string; src_pathname: string } {
  const maskname = event.maskname.split('|').filter((name) => name !== 'IN_ISDIR').join('|');
  return { maskname, pathname: event.pathname, src_pathname: event.srcPathname ?? '' };
}

/** Fills the placeholders of each argument in one pass (a value containing `{pathname}` stays as it is). */
export function substituteArgv(argv: readonly string[], event: TaskEvent): string[] {
  const values = placeholderValues(event);
  return argv.map((arg) => arg.replace(PLACEHOLDER, (_m, name: keyof typeof values) => values[name]));
}

/**
 * The environment of a task's command: the daemon's, then `extra`, then the
 * event's values as INOTIFYD_* variables.
 */
export function taskEnv(event: TaskEvent, id: string, extra?: Record<string, string>): NodeJS.ProcessEnv {
  const values = placeholderValues(event);
  const bytes = event.pathnameBytes?.();
  return {
    ...process.env,
    ...extra,
    INOTIFYD_TASK_ID: id,
    INOTIFYD_MASKNAME: values.maskname,
    INOTIFYD_PATHNAME: values.pathname,
    INOTIFYD_SRC_PATHNAME: values.src_pathname,
    // argv and the environment are UTF-8 strings in Node: the exact bytes of a name that is not valid UTF-8 go here.
    INOTIFYD_PATHNAME_HEX: (bytes ?? Buffer.from(values.pathname)).toString('hex'),
  };
}

/** The outcome of one run of the command. */
interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  error: Error | undefined;
}

/**
 * pyinotifyd's ShellScheduler, without its shell: the command is argv.
 *
 * @example
 * ```ts
 * new ShellScheduler({ cmd: ['/usr/local/bin/ingest', '--event', '{maskname}', '{pathname}'], delay: '5s' });
 * ```
 */
export class ShellScheduler extends TaskScheduler {
  static override readonly optionKeys: readonly string[] = ['job', 'cmd', 'shell', 'timeout', 'retries', 'retryDelay', 'cwd', 'env'];
  /** The argv template (for `shell: true`: ['/bin/sh', '-c', script, 'sh']). */
  readonly argv: readonly string[];
  /** True: run with `sh -c`, values as positional parameters. */
  readonly shell: boolean;
  /** The timeout in ms, if any. */
  readonly timeout: number | undefined;
  /** How many times a failed command runs again. */
  readonly retries: number;
  /** The first retry's wait in ms (doubled for each next one). */
  readonly retryDelay: number;
  readonly #cwd: string | undefined;
  readonly #env: Record<string, string> | undefined;

  constructor(options: ShellSchedulerOptions) {
    validateSchedulerOptions(options, 'ShellScheduler', ShellScheduler.optionKeys.filter((key) => key !== 'job'));
    super({ ...options, logname: options.logname ?? 'shell', job: (event, id, context) => this.#runTask(event, id, context) });
    const { cmd } = options;
    this.shell = options.shell === true;
    if (options.shell !== undefined && typeof options.shell !== 'boolean') throw configError(`The "shell" option must be a boolean. Received ${JSON.stringify(options.shell)}`);
    if (this.shell) {
      if (typeof cmd !== 'string' || cmd.trim() === '') throw configError('The "cmd" option must be a non-empty string when "shell" is true');
      const positional = { pathname: '"$1"', maskname: '"$2"', src_pathname: '"$3"' };
      const script = cmd.replace(PLACEHOLDER, (_m, name: keyof typeof positional) => positional[name]);
      this.argv = ['/bin/sh', '-c', script, 'sh'];
    } else if (typeof cmd === 'string') {
      this.argv = splitArgv(cmd);
    } else if (Array.isArray(cmd) && cmd.every((arg) => typeof arg === 'string')) {
      this.argv = [...cmd];
    } else {
      throw configError(`The "cmd" option must be an argv array of strings or a command string. Received ${JSON.stringify(cmd)}`);
    }
    if (this.argv.length === 0 || this.argv[0] === '') throw configError('The "cmd" option names no program');
    this.timeout = options.timeout === undefined ? undefined : parseDuration(options.timeout, 'timeout');
    const retries = options.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0) throw configError(`The "retries" option must be an integer >= 0. Received ${JSON.stringify(retries)}`);
    this.retries = retries;
    this.retryDelay = parseDuration(options.retryDelay ?? 1000, 'retryDelay');
    this.#cwd = options.cwd;
    this.#env = options.env;
  }

  protected override _handlesDryRun(): boolean {
    return true;
  }

  /** The argv for an event. */
  argvFor(event: TaskEvent): string[] {
    if (!this.shell) return substituteArgv(this.argv, event);
    const values = placeholderValues(event);
    return [...this.argv, values.pathname, values.maskname, values.src_pathname];
  }

  async #runTask(event: TaskEvent, id: string, context: JobContext): Promise<void> {
    const argv = this.argvFor(event);
    if (context.dryRun) {
      context.log.info(`dry run: task ${id} would run ${JSON.stringify(argv)}`);
      return;
    }
    let wait = this.retryDelay;
    for (let attempt = 0; ; attempt++) {
      const result = await this.#spawn(argv, event, id, context);
      if (result.error === undefined && result.code === 0) return;
      if (context.signal.aborted) throw new Error(`task ${id} cancelled`);
      if (attempt >= this.retries) {
        throw result.error ?? new Error(`${argv[0] ?? ''} exited with ${result.signal ?? `status ${String(result.code)}`}`);
      }
      context.log.warning(`task ${id}: attempt ${attempt + 1} failed; retry in ${wait} ms`);
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait *= 2;
    }
  }

  async #spawn(argv: string[], event: TaskEvent, id: string, context: JobContext): Promise<RunResult> {
    const log = context.log;
    const result = await runCommand(argv, {
      cwd: this.#cwd, env: taskEnv(event, id, this.#env), timeout: this.timeout, signal: context.signal, log, prefix: `task ${id}`,
    });
    if (result.output !== '') log.info(`task ${id} output:\n${result.output}${result.outputBytes > OUTPUT_LIMIT ? `\n… (${result.outputBytes} bytes in all)` : ''}`);
    if (result.error !== undefined) log.error(`task ${id}: cannot run ${argv[0] ?? ''}: ${result.error.message}`);
    else log.info(`task ${id}: ${argv[0] ?? ''} exited with ${result.signal === null ? `status ${String(result.code)}` : `signal ${result.signal}`} after ${result.durationMs} ms`);
    return result;
  }
}
