/**
 * inotifyd as a user runs it: `node lib/cli/inotifyd.js -c config.mjs` in a
 * temp dir, driven with real files; every wait is for output, with a timeout.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onTestFinished } from 'vitest';
import { ensureLib } from './helpers/child.js';
import { completeLines } from './helpers/lines.js';

export const repoRoot = path.resolve(__dirname, '..');
export const CLI = path.join(repoRoot, 'lib', 'cli', 'inotifyd.js');
const WAIT = 30_000;

/** A fresh temp dir (removed when the test ends). */
export function tempDir(prefix = 'inotifyd-'): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The JS that config modules in tests start with: an append-only JSON-lines log and a gate. */
export function prelude(dir: string): string {
  return `import { appendFileSync, existsSync } from 'node:fs';
const LOG = ${JSON.stringify(path.join(dir, 'log.jsonl'))};
export const record = (entry) => appendFileSync(LOG, JSON.stringify({ ...entry, t: Date.now() }) + '\\n');
export const gate = async (name) => { while (!existsSync(${JSON.stringify(dir)} + '/' + name)) await new Promise((r) => setTimeout(r, 20)); };
`;
}

/** The entries the config's `record()` wrote. */
export function readLog(dir: string): Array<Record<string, unknown> & { ev: string; p: string; t: number }> {
  return completeLines(path.join(dir, 'log.jsonl')).map((l) => JSON.parse(l) as never);
}

/**
 * Waits until `check()` is true, re-checking every 25 ms; fails after
 * `timeout` ms with `what` (a function is called then, so the message shows
 * the state at the failure). The budget counts the time this loop ran: a
 * gap between two checks longer than a second (the whole process
 * descheduled, or the loop blocked) costs one second of it, so a stall of the
 * machine is not taken for a wait that never ended. The longest gap is in
 * the message.
 */
export async function until(check: () => boolean, what: string | (() => string), timeout = WAIT): Promise<void> {
  let left = timeout;
  let last = Date.now();
  let longestGap = 0;
  while (!check()) {
    const now = Date.now();
    const gap = now - last;
    last = now;
    longestGap = Math.max(longestGap, gap);
    left -= Math.min(gap, 1000);
    if (left < 0) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what} (longest gap between checks: ${longestGap} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A running inotifyd. */
export class DaemonProcess {
  readonly child: ChildProcess;
  stderr = '';
  stdout = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...env, JOURNAL_STREAM: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    this.exited = new Promise((resolve) => this.child.once('close', (code, signal) => resolve({ code, signal })));
    onTestFinished(() => {
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    });
  }

  /** Waits for stderr to match (a count of matches, for a RegExp with the g flag). */
  async waitFor(pattern: RegExp | string, count = 1, timeout = WAIT): Promise<void> {
    const matches = (): number => (typeof pattern === 'string'
      ? this.stderr.split(pattern).length - 1
      : (this.stderr.match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`)) ?? []).length);
    await until(() => matches() >= count || this.child.exitCode !== null, () => `${String(pattern)} x${count} in inotifyd's stderr:\n${this.stderr}`, timeout);
    if (matches() < count) throw new Error(`inotifyd exited (${String(this.child.exitCode)}) before ${String(pattern)}:\n${this.stderr}`);
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill(signal);
    return this.exited;
  }
}

/** Writes `config.mjs` in `dir` and starts `inotifyd -d -c config.mjs`; resolves once it says it started. */
export async function startDaemon(dir: string, config: string, extra: string[] = []): Promise<DaemonProcess> {
  ensureLib();
  fs.writeFileSync(path.join(dir, 'config.mjs'), config);
  const daemon = new DaemonProcess(['-d', '-c', path.join(dir, 'config.mjs'), ...extra], dir);
  await daemon.waitFor('inotifyd started');
  return daemon;
}

/** Runs inotifyd to completion (for --configtest, --install ...). */
export function runCli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  ensureLib();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The highest number of jobs running at once, from start/end entries in log order. */
export function maxOverlap(entries: ReadonlyArray<{ ev: string }>): number {
  let now = 0;
  let max = 0;
  for (const e of entries) {
    if (e.ev === 'start') max = Math.max(max, ++now);
    else if (e.ev === 'end') now--;
  }
  return max;
}
