/**
 * One run of a user's command for the runner: argv (never a shell string
 * built from names), its own process group (so a stop reaches everything it
 * started, rsync's ssh included), the changed paths in its environment and
 * in a file, and a stop that escalates from the stop signal to SIGKILL.
 * Also the recovery command, which instead shares our terminal.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { endGroup } from './process-group.js';
import type { RunBatch, RunOutcome } from './serial-runner.js';

/** The environment variable holding the changed paths, one per line (when they fit, see {@link PATHS_ENV_LIMIT}). */
export const PATHS_ENV = 'INOTIFY_RUN_PATHS';
/** Above this many bytes, {@link PATHS_ENV} is left unset (Linux caps one variable at 128 KiB): read the file. */
export const PATHS_ENV_LIMIT = 64 * 1024;
/** How much of a command's stderr is kept for `--on-fail-match`. */
const STDERR_TAIL = 64 * 1024;

/** How the command is run. */
export interface CommandSpec {
  /** The argv; for a shell: ['/bin/sh', '-c', script, name]. */
  readonly argv: readonly string[];
  readonly cwd?: string | undefined;
  /** Extra environment (added to this process's). */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** Sent to the process group to stop a run (restart, close). Default SIGTERM. */
  readonly stopSignal: NodeJS.Signals;
  /** Then SIGKILL after this many ms (0: at once). */
  readonly stopTimeout: number;
  /** Keep the end of stderr (it is still passed through to ours) so a failure can be classified by text. */
  readonly captureStderr: boolean;
  /** The file the paths are written to, one per line, or NUL-terminated when `nul` is set. */
  readonly pathsFile: string;
  readonly nul: boolean;
}

/** The variables a run gets, besides {@link PATHS_ENV}: documented in docs/run.md. */
export function runEnvironment(batch: RunBatch, spec: CommandSpec): Record<string, string> {
  const env: Record<string, string> = {
    INOTIFY_RUN_NUMBER: String(batch.run),
    INOTIFY_RUN_ATTEMPT: String(batch.attempt),
    INOTIFY_RUN_REASON: batch.reason,
    INOTIFY_RUN_COUNT: String(batch.paths.length),
    INOTIFY_RUN_OVERFLOW: batch.overflow ? '1' : '0',
    INOTIFY_RUN_PATHS_FILE: spec.pathsFile,
  };
  const joined = batch.paths.join('\n');
  // A name with a newline cannot be told apart in a line list: such a list only goes to the file (with --null).
  if (Buffer.byteLength(joined) <= PATHS_ENV_LIMIT && !batch.paths.some((p) => p.includes('\n'))) env[PATHS_ENV] = joined;
  return env;
}

/** The paths file's bytes: the exact names, each ended by '\n' (or NUL). */
export function pathsFileContent(batch: RunBatch, nul: boolean): Buffer {
  const end = Buffer.from(nul ? '\0' : '\n');
  return Buffer.concat(batch.pathBytes.flatMap((bytes) => [bytes, end]));
}

/** A running command. */
export interface RunningCommand {
  readonly pid: number | undefined;
  /** Sends a signal to its process group. */
  signal(signal: NodeJS.Signals): void;
  readonly done: Promise<RunOutcome>;
}

/** Starts the command for a batch; `abort` stops it (stop signal, then SIGKILL). */
export function startCommand(spec: CommandSpec, batch: RunBatch, abort: AbortSignal): RunningCommand {
  fs.writeFileSync(spec.pathsFile, pathsFileContent(batch, spec.nul));
  const own = runEnvironment(batch, spec);
  const env: NodeJS.ProcessEnv = { ...process.env, ...spec.env, ...own };
  // An inherited value (inotify-run inside inotify-run) must not pose as this run's list.
  if (own[PATHS_ENV] === undefined) delete env[PATHS_ENV];
  const [file, ...args] = spec.argv as [string, ...string[]];
  // detached: its own process group; stdin is not the command's to read (a prompt would stop the
  // background group): interactive steps belong in --on-fail, which gets the terminal.
  const child = spawn(file, args, {
    cwd: spec.cwd, env, detached: true, stdio: ['ignore', 'inherit', spec.captureStderr ? 'pipe' : 'inherit'],
  });
  let tail = Buffer.alloc(0);
  child.stderr?.on('data', (chunk: Buffer) => {
    try {
      process.stderr.write(chunk);
    } catch {
      // our stderr is gone; the tail is still kept
    }
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > STDERR_TAIL) tail = tail.subarray(tail.length - STDERR_TAIL);
  });
  const pid = child.pid;
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  let killTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let killAt = 0;
  const onAbort = (): void => {
    if (stopped) return;
    stopped = true;
    killAt = performance.now() + spec.stopTimeout;
    if (spec.stopTimeout === 0) {
      signalGroup('SIGKILL');
      return;
    }
    signalGroup(spec.stopSignal);
    killTimer = setTimeout(() => signalGroup('SIGKILL'), spec.stopTimeout);
  };
  const done = new Promise<RunOutcome>((resolve) => {
    let spawnError: NodeJS.ErrnoException | undefined;
    child.once('error', (error: NodeJS.ErrnoException) => {
      spawnError = error;
    });
    child.once('close', (code, signal) => {
      clearTimeout(killTimer);
      abort.removeEventListener('abort', onAbort);
      if (spawnError !== undefined) {
        resolve({ ok: false, code: spawnError.code === 'ENOENT' ? 127 : 126, signal: null, error: spawnError });
        return;
      }
      const outcome = { ok: code === 0, code, signal, stopped, stderr: spec.captureStderr ? tail.toString('utf8') : undefined };
      // A stop ends with the whole group: what outlived the leader is stopped too, on the same deadline.
      if (!stopped || pid === undefined) resolve(outcome);
      else void endGroup(pid, spec.stopTimeout === 0 ? 'SIGKILL' : spec.stopSignal, killAt).then((outlived) => resolve({ ...outcome, outlived }));
    });
  });
  if (abort.aborted) onAbort();
  else abort.addEventListener('abort', onAbort, { once: true });
  return { pid, signal: signalGroup, done };
}

/**
 * Runs the recovery command (`kinit`, a hardware-key prompt) in our process
 * group with our stdin, stdout and stderr: on a terminal it can prompt and
 * read a password. Resolves with its outcome.
 */
export function runInteractive(argv: readonly string[], cwd: string | undefined, abort: AbortSignal): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const [file, ...args] = argv as [string, ...string[]];
    // `signal`: SIGTERM at close (on a terminal, Ctrl-C reaches it directly: it is in our process group).
    const child = spawn(file, args, { cwd, stdio: 'inherit', signal: abort, killSignal: 'SIGTERM' });
    let spawnError: NodeJS.ErrnoException | undefined;
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.name !== 'AbortError') spawnError = error;
    });
    child.once('close', (code, signal) => {
      if (spawnError !== undefined) resolve({ ok: false, code: spawnError.code === 'ENOENT' ? 127 : 126, signal: null, error: spawnError });
      else resolve({ ok: code === 0, code, signal });
    });
  });
}
