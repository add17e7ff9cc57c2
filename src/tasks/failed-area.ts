/**
 * The failed area of a pipeline: a file whose pipeline failed is moved
 * there with a log of what ran (`NAME.failure.json`), and goes back only on
 * request ({@link retryFailed}, `inotifyd --retry FILE`).
 */
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** One step as it ran, in a failure log. */
export interface StepRecord {
  /** The step's name. */
  readonly step: string;
  /** The command, as run (absent for a function step). */
  readonly argv?: readonly string[];
  /** Exit status (null: killed, or not started; absent for a function step). */
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  readonly timedOut?: boolean;
  readonly durationMs: number;
  /** The end of the command's stderr. */
  readonly stderrTail?: string;
  /** Why it failed, when it did. */
  readonly error?: string;
  /** A failed command's partial output (`output`/`stdout`), removed: 'PATH (N bytes)'. */
  readonly removedOutput?: string;
  readonly ok: boolean;
}

/** What `NAME.failure.json` holds. */
export interface FailureLog {
  /** Where the pipeline found the file: {@link retryFailed} moves it back there. */
  readonly source: string;
  /** Where the file was when its pipeline failed. */
  readonly pathname: string;
  /** The step that failed. */
  readonly failedStep: string;
  /** ISO time of the failure. */
  readonly at: string;
  readonly taskId: string;
  /** Every step that ran, in order, the failed one last. */
  readonly steps: readonly StepRecord[];
  /** The values the steps had set. */
  readonly values: Readonly<Record<string, string>>;
}

/** The log file next to a failed file. */
export function failureLogPath(failedFile: string): string {
  return `${failedFile}.failure.json`;
}

/** rename(2), or copy + unlink across filesystems (EXDEV). */
export function moveFile(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    fs.copyFileSync(from, to, fs.constants.COPYFILE_EXCL);
    fs.unlinkSync(from);
  }
}

/** `dir/name`, or `dir/name.1`, `dir/name.2`... when taken: an earlier failure is never overwritten. */
function freeName(dir: string, name: string): string {
  for (let n = 0; ; n++) {
    const candidate = join(dir, n === 0 ? name : `${name}.${n}`);
    if (!fs.existsSync(candidate) && !fs.existsSync(failureLogPath(candidate))) return candidate;
  }
}

/** Moves `pathname` into `dir` (created if missing) under a free name and writes its log; returns the new path. */
export function moveToFailed(dir: string, pathname: string, log: FailureLog): string {
  fs.mkdirSync(dir, { recursive: true });
  const target = freeName(dir, basename(pathname));
  moveFile(pathname, target);
  fs.writeFileSync(failureLogPath(target), `${JSON.stringify({ ...log, failedFile: target }, null, 2)}\n`);
  return target;
}

/** Moves a file that succeeded into `dir` (created if missing), under a free name; returns the new path. */
export function moveToDone(dir: string, pathname: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const target = freeName(dir, basename(pathname));
  moveFile(pathname, target);
  return target;
}

/** Reads a failed file's log (fs errors as they are; a log that is not one: ERR_INOTIFYD_FAILURE_LOG). */
export function readFailureLog(failedFile: string): FailureLog {
  const file = failureLogPath(failedFile);
  const text = fs.readFileSync(file, 'utf8');
  let log: Partial<FailureLog> | undefined;
  try {
    log = JSON.parse(text) as Partial<FailureLog>;
  } catch { /* reported below */ }
  if (typeof log?.source !== 'string' || !Array.isArray(log.steps)) {
    const error = new Error(`${file} is not a pipeline failure log (no "source" and "steps")`) as NodeJS.ErrnoException;
    error.code = 'ERR_INOTIFYD_FAILURE_LOG';
    error.path = file;
    throw error;
  }
  return log as FailureLog;
}

/**
 * Retries a failed file: moves it back to where its pipeline found it (its
 * log's `source`), so the watch sees it arrive and runs the pipeline again
 * from the first step, and removes its log. Returns the path it went back to.
 * Never overwrites: a file at `source` is an EEXIST error.
 */
export function retryFailed(failedFile: string): string {
  const log = readFailureLog(failedFile);
  fs.statSync(failedFile);
  if (fs.existsSync(log.source)) {
    const error = new Error(`EEXIST: file already exists, cannot move ${failedFile} back to '${log.source}'`) as NodeJS.ErrnoException;
    error.code = 'EEXIST';
    error.syscall = 'rename';
    error.path = log.source;
    throw error;
  }
  fs.mkdirSync(dirname(log.source), { recursive: true });
  moveFile(failedFile, log.source);
  fs.rmSync(failureLogPath(failedFile), { force: true });
  return log.source;
}
