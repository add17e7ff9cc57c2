/**
 * Runs one argv command for a task: no shell, its own process group (a
 * timeout or a cancel kills everything it started), output kept bounded.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { Logger } from './log.js';

/** How to run a command. */
export interface RunCommandOptions {
  readonly cwd?: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  /** Kill the process group (SIGTERM, then SIGKILL 2 s later) after this many ms. */
  readonly timeout?: number | undefined;
  /** Kills the process group when aborted. */
  readonly signal: AbortSignal;
  /** Written to the command's stdin (which is otherwise empty). */
  readonly stdin?: string | undefined;
  /** Send stdout to this file instead of collecting it. */
  readonly stdoutFile?: string | undefined;
  /** Where the kills are logged; also `prefix` of those lines. */
  readonly log: Logger;
  readonly prefix: string;
}

/** What one run did. */
export interface CommandResult {
  /** Exit status (null when killed by a signal or not started). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the command could not start (ENOENT, EACCES...) or its stdout file could not be written. */
  readonly error: Error | undefined;
  /** True when the timeout killed it. */
  readonly timedOut: boolean;
  /** stdout (unless redirected) and stderr as they came, the first {@link OUTPUT_LIMIT} bytes. */
  readonly output: string;
  /** How many bytes of output there were in all. */
  readonly outputBytes: number;
  /** The last {@link STDERR_TAIL} bytes of stderr. */
  readonly stderrTail: string;
  readonly durationMs: number;
}

/** Output kept per run. */
export const OUTPUT_LIMIT = 65_536;
/** stderr kept for failure logs. */
export const STDERR_TAIL = 4096;

/** Runs `argv` to its end; never rejects (a failure to start is in `error`). */
export function runCommand(argv: readonly string[], options: RunCommandOptions): Promise<CommandResult> {
  const { log, prefix } = options;
  const started = performance.now();
  return new Promise((resolve) => {
    const output: Buffer[] = [];
    let outputBytes = 0;
    let stderrTail = Buffer.alloc(0);
    let timedOut = false;
    let error: Error | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => resolve({
      code, signal, error, timedOut,
      output: Buffer.concat(output).toString('utf8').replace(/\n$/, ''),
      outputBytes,
      stderrTail: stderrTail.toString('utf8'),
      durationMs: Math.round(performance.now() - started),
    });
    let child;
    try {
      child = spawn(argv[0] as string, argv.slice(1), {
        cwd: options.cwd, env: options.env, detached: true,
        stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (spawnError) {
      error = spawnError as Error;
      finish(null, null);
      return;
    }
    const pid = child.pid;
    log.debug(`${prefix}: run ${JSON.stringify(argv)} (pid ${pid ?? '-'})`);
    const collect = (chunk: Buffer): void => {
      if (outputBytes < OUTPUT_LIMIT) output.push(chunk);
      outputBytes += chunk.length;
    };
    if (options.stdoutFile !== undefined) {
      const file = createWriteStream(options.stdoutFile);
      file.on('error', (fileError) => {
        error ??= fileError;
      });
      child.stdout?.pipe(file);
    } else {
      child.stdout?.on('data', collect);
    }
    child.stderr?.on('data', (chunk: Buffer) => {
      collect(chunk);
      stderrTail = Buffer.concat([stderrTail, chunk]).subarray(-STDERR_TAIL);
    });
    if (options.stdin !== undefined) {
      // A command that does not read its stdin closes the pipe: EPIPE is not a failure of ours.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.stdin);
    }
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (why: string): void => {
      if (pid === undefined) return;
      log.warning(`${prefix}: ${why}: kill process group ${pid}`);
      try {
        process.kill(-pid, 'SIGTERM');
      } catch { /* already gone */ }
      killTimer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch { /* already gone */ }
      }, 2000);
    };
    const timeoutTimer = options.timeout === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      killGroup(`timeout after ${options.timeout ?? 0} ms`);
    }, options.timeout);
    const onAbort = (): void => killGroup('cancelled');
    options.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (spawnError) => {
      error = spawnError;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timeoutTimer);
      clearTimeout(killTimer);
      options.signal.removeEventListener('abort', onAbort);
      finish(code, signal);
    });
  });
}

/** 'status 3', 'signal SIGTERM (timeout)', 'cannot start: ENOENT ...'. */
export function describeResult(result: CommandResult): string {
  if (result.error !== undefined && result.code === null && result.signal === null) return `cannot start: ${result.error.message}`;
  if (result.signal !== null) return `signal ${result.signal}${result.timedOut ? ' (timeout)' : ''}`;
  return `status ${String(result.code)}${result.error === undefined ? '' : ` (${result.error.message})`}`;
}
