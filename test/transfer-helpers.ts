/**
 * Helpers for the transfer tests: a tracker closed when the test ends, a log
 * of its notifications that can be awaited with a timeout, a "drain" that
 * proves every earlier event was processed (a sentinel file moved in: the
 * kernel queues events in order), and child processes (rsync, cp) run
 * asynchronously so the tracker processes events while they work.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onTestFinished } from 'vitest';
import {
  trackTransfers, type TrackTransfersOptions, type TransferAbandoned, type TransferComplete, type TransferStart,
  type TransferTracker,
} from '../src/index.js';
import { compileExamples } from './helpers/examples.js';
import { waitUntil } from './helpers/wait.js';

/** A fresh directory under os.tmpdir(), removed when the current test finishes. */
export function tempDir(prefix = 'transfer-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Short timings for tests: quiet period and settle time well above event-loop latency, far below the defaults. */
export const FAST = { quietPeriod: 400, settleTime: 150, abandonAfter: 1500 } as const;

/** Every notification of a tracker, awaitable. */
export class TransferLog {
  readonly starts: TransferStart[] = [];
  readonly completes: TransferComplete[] = [];
  readonly abandoned: TransferAbandoned[] = [];
  readonly errors: Error[] = [];
  readonly #waiters = new Set<() => void>();
  #sentinels = 0;

  constructor(readonly tracker: TransferTracker, readonly root: string) {
    const wake = (): void => {
      for (const waiter of [...this.#waiters]) waiter();
    };
    tracker.on('start', (t) => {
      this.starts.push(t);
      wake();
    });
    tracker.on('complete', (t) => {
      this.completes.push(t);
      wake();
    });
    tracker.on('abandoned', (t) => {
      this.abandoned.push(t);
      wake();
    });
    tracker.on('error', (error) => {
      this.errors.push(error);
      wake();
    });
  }

  /** The completions, sentinels left out. */
  get files(): TransferComplete[] {
    return this.completes.filter((c) => !path.basename(c.pathname).startsWith('zz-sentinel-'));
  }

  /** Completed pathnames relative to the root, sorted. */
  names(): string[] {
    return this.files.map((c) => path.relative(this.root, c.pathname)).sort();
  }

  /** Resolves once `condition()` holds (checked now and after each notification); rejects after `timeoutMs` with the log. */
  waitFor(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    return waitUntil(this.#waiters, () => (condition() ? true : undefined), timeoutMs,
      () => `${what} not met within ${timeoutMs} ms\n${this.describe()}`).then(() => undefined);
  }

  /** Waits for `count` completions (sentinels not counted). */
  completions(count: number, timeoutMs = 10_000): Promise<void> {
    return this.waitFor(() => this.files.length >= count, timeoutMs, `${count} completions`);
  }

  /**
   * Proves that everything caused so far was processed: moves a sentinel
   * file in from outside (its completion is immediate, and its event is
   * queued after every earlier one) and waits for its completion.
   */
  async sentinel(timeoutMs = 10_000): Promise<void> {
    const name = `zz-sentinel-${++this.#sentinels}`;
    const outside = path.join(os.tmpdir(), `${name}-${process.pid}-${Date.now()}`);
    fs.writeFileSync(outside, '');
    fs.renameSync(outside, path.join(this.root, name));
    await this.waitFor(() => this.completes.some((c) => path.basename(c.pathname) === name), timeoutMs, `sentinel ${name}`);
  }

  /**
   * {@link TransferLog.sentinel}, then waits until no transfer is in
   * progress (the rest end by their own timers: quiet periods, abandonAfter).
   */
  async drain(timeoutMs = 10_000): Promise<void> {
    await this.sentinel(timeoutMs);
    await this.waitFor(() => this.tracker.inProgress().length === 0, timeoutMs, 'no transfer in progress');
  }

  describe(): string {
    const rel = (p: string | undefined): string => (p === undefined ? '-' : path.relative(this.root, p));
    const lines = [
      ...this.starts.map((s) => `start #${s.id} ${rel(s.pathname)} -> ${rel(s.finalPathname)}`),
      ...this.completes.map((c) => `complete #${c.id} ${rel(c.pathname)} via ${c.via} from ${rel(c.tempPathname)} size ${c.size}`),
      ...this.abandoned.map((a) => `abandoned #${a.id} ${rel(a.pathname)} (${a.reason})`),
      ...this.errors.map((e) => `error ${e.message}`),
      ...this.tracker.inProgress().map((t) => `in progress #${t.id} ${rel(t.pathname)} ${t.state}`),
    ];
    return `  ${lines.slice(-300).join('\n  ') || '(nothing)'}`;
  }
}

/** trackTransfers(dir) closed when the test ends, with its log. */
export function track(dir: string, options?: TrackTransfersOptions): TransferLog {
  const tracker = trackTransfers(dir, { ...FAST, ...options });
  onTestFinished(() => tracker.close());
  return new TransferLog(tracker, dir);
}

/** What a finished child printed. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running child process; killed (with its process group, when detached) if still running at the end of the test. */
export class Run {
  readonly child;
  readonly done: Promise<RunResult>;
  #stdout = '';
  #stderr = '';
  readonly #onOutput = new Set<() => void>();

  /** With `killAtTestEnd` false it may run outside a test (in beforeAll). */
  constructor(command: string, args: readonly string[], options: SpawnOptions = {}, killAtTestEnd = true) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stdout += chunk;
      for (const listener of [...this.#onOutput]) listener();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
    });
    this.done = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('close', (code, signal) => resolve({ code, signal, stdout: this.#stdout, stderr: this.#stderr }));
    });
    this.done.catch(() => undefined);
    const detached = options.detached === true;
    if (killAtTestEnd) onTestFinished(() => {
      if (this.child.exitCode === null && this.child.signalCode === null) this.kill('SIGKILL', detached);
    });
  }

  /** Everything printed on stdout so far. */
  get stdout(): string {
    return this.#stdout;
  }

  /** Resolves once `condition(stdout lines)` holds; rejects on timeout or if the child exits first. */
  waitForOutput(condition: (lines: string[]) => boolean, timeoutMs = 10_000, what = 'output'): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const lines = (): string[] => this.#stdout.split('\n').filter((line) => line !== '');
      const check = (): void => {
        if (condition(lines())) {
          done();
          resolve(lines());
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what} not seen within ${timeoutMs} ms\nstdout:\n${this.#stdout}\nstderr:\n${this.#stderr}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#onOutput.delete(check);
      };
      this.#onOutput.add(check);
      this.done.then(() => {
        if (!this.#onOutput.has(check)) return;
        done();
        if (condition(lines())) resolve(lines());
        else reject(new Error(`exited before ${what}\nstdout:\n${this.#stdout}\nstderr:\n${this.#stderr}`));
      }, () => undefined);
      check();
    });
  }

  /** Sends `signal` to the child, or to its whole process group. */
  kill(signal: NodeJS.Signals, group = false): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      if (group) process.kill(-pid, signal);
      else this.child.kill(signal);
    } catch {
      // already gone
    }
  }

  /** Resolves when the child exits; rejects after `timeoutMs`. */
  async exit(timeoutMs = 30_000): Promise<RunResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.child.spawnfile} still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Runs a command to completion; rejects unless it exits 0. */
export async function run(
  command: string, args: readonly string[], options: SpawnOptions = {}, timeoutMs = 30_000, killAtTestEnd = true,
): Promise<RunResult> {
  const result = await new Run(command, args, options, killAtTestEnd).exit(timeoutMs);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code ?? result.signal}\n${result.stderr}`);
  return result;
}

/** rsync with `args`, to completion. */
export function rsync(...args: string[]): Promise<RunResult> {
  return run('rsync', args);
}

/** Writes `count` files of `size` bytes (pseudo-random) under `dir`, spread over `subdirs` nested directories; returns their relative paths. */
export function makeFiles(dir: string, count: number, options: { subdirs?: number; size?: number; prefix?: string; ext?: string } = {}): string[] {
  const { subdirs = 0, size = 2000, prefix = 'file', ext = '.raw' } = options;
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const sub = subdirs === 0 ? '' : path.join(`d${i % subdirs}`, i % 2 === 0 ? 'deep' : '');
    const rel = path.join(sub, `${prefix}${String(i).padStart(3, '0')}${ext}`);
    fs.mkdirSync(path.join(dir, sub), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), fileContent(i, size));
    names.push(rel);
  }
  return names.sort();
}

/** Deterministic content for file number `i`. */
export function fileContent(i: number, size: number): Buffer {
  const buffer = Buffer.alloc(size);
  let x = (i + 1) * 2654435761;
  for (let j = 0; j < size; j++) {
    x = (x * 1103515245 + 12345) >>> 0;
    buffer[j] = x >>> 24;
  }
  return buffer;
}

/** True for names that are temporary (rsync's, holding directories, editors'). */
export function isTempName(pathname: string): boolean {
  const base = path.basename(pathname);
  return /^\.(.+)\.[A-Za-z0-9]{6}$/.test(base) || pathname.includes('/.~tmp~/') || pathname.includes('/.rsync-partial/')
    || /(~|\.tmp|\.swp)$/.test(base) || /^sed[A-Za-z0-9]{6}$/.test(base);
}

/** The repository root. */
export const repoRoot = path.resolve(__dirname, '..');

/**
 * Builds lib/ (when older than src/) and the examples into `outDir` (inside
 * examples/, so that `inotify-native` resolves to this package; examples/dist
 * is test/examples.test.ts's); returns the compiled incoming-processor's path.
 */
export async function buildExamples(outDir: string): Promise<string> {
  await compileExamples(outDir);
  return path.join(outDir, 'incoming-processor.mjs');
}
