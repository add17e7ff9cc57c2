/**
 * Child processes for tests that must observe a whole process: exit on its
 * own, survive a throwing listener, run with --expose-gc, host workers.
 * Every wait has a timeout; a child still running when its test ends is killed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onTestFinished } from 'vitest';
import { repoRoot } from './index.js';
import { waitUntil } from './wait.js';

/** How a child ended, with everything it printed. */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running `node` child process with its output accumulated. */
export class Child {
  readonly process: ChildProcess;
  stdout = '';
  stderr = '';
  result: ChildResult | undefined;
  readonly #exited: Promise<ChildResult>;
  readonly #onOutput = new Set<() => void>();

  constructor(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.process = spawn(process.execPath, args, {
      cwd: options.cwd ?? repoRoot,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      for (const listener of this.#onOutput) listener();
    });
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.#exited = new Promise((resolve, reject) => {
      this.process.once('error', reject);
      this.process.once('close', (code, signal) => {
        this.result = { code, signal, stdout: this.stdout, stderr: this.stderr };
        resolve(this.result);
        for (const listener of this.#onOutput) listener();
      });
    });
    // Avoid an unhandled rejection when nobody awaits the exit.
    this.#exited.catch(() => undefined);
  }

  /** True until the process has exited and its output is closed. */
  get running(): boolean {
    return this.result === undefined;
  }

  #describe(): string {
    return `stdout:\n${this.stdout}\nstderr:\n${this.stderr}`;
  }

  /** Resolves with the first stdout line matching `pattern`; rejects if the child exits first or on timeout. */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return waitUntil(this.#onOutput, () => {
      const line = this.stdout.split('\n').find((text) => pattern.test(text));
      if (line === undefined && this.result !== undefined) {
        throw new Error(`child exited (code ${this.result.code}, signal ${this.result.signal}) before printing ${pattern}\n${this.#describe()}`);
      }
      return line;
    }, timeoutMs, () => `no line matching ${pattern} within ${timeoutMs} ms\n${this.#describe()}`);
  }

  /** Resolves when the child exits; rejects (without killing it) after `timeoutMs`. */
  waitForExit(timeoutMs = 30_000): Promise<ChildResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`child still running after ${timeoutMs} ms\n${this.#describe()}`)), timeoutMs);
    });
    return Promise.race([this.#exited, timeout]).finally(() => clearTimeout(timer));
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.process.kill(signal);
  }
}

/** Spawns `node ...args`; the child is killed when the current test finishes, if still running. */
export function spawnNode(args: readonly string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): Child {
  const child = new Child(args, options);
  onTestFinished(() => child.kill());
  return child;
}

/** The test fixtures directory (plain CommonJS scripts run as children). */
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * The path of the compiled package entry (lib/index.js), rebuilding lib/
 * with tsc when it is missing or older than any file in src/. Children load
 * the library from there, as a user would.
 */
export function ensureLib(): string {
  const entry = path.join(repoRoot, 'lib', 'index.js');
  const fresh = fs.existsSync(entry) && fs.statSync(entry).mtimeMs >= newestMtime(path.join(repoRoot, 'src'));
  if (!fresh) {
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: repoRoot, encoding: 'utf8' });
    // tsc emits even when it reports type errors; only a missing entry is fatal here.
    if (!fs.existsSync(entry)) throw new Error(`building lib/ failed:\n${run.stdout}\n${run.stderr}`);
  }
  return entry;
}
