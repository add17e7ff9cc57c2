/**
 * Helpers for the mirror tests: a Mirror closed when its test ends, with a
 * log of its events that conditions are re-checked against (each event, and
 * the file system on a short interval), a recursive tree comparison by
 * diff(1), and a real sshd on 127.0.0.1 (random port, key auth) stopped when
 * the test ends.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { onTestFinished } from 'vitest';
import { Mirror, type MirrorConflict, type MirrorOptions, type MirrorProgress, type MirrorReconcile, type MirrorSync } from '../src/index.js';
import { REPLACED_DIR } from '../src/mirror/walk.js';
import { repoRoot, tempDir } from './helpers/index.js';
import { waitUntil } from './helpers/wait.js';

/** A mirror and everything it reported. */
export class MirrorLog {
  readonly syncs: MirrorSync[] = [];
  readonly reconciles: MirrorReconcile[] = [];
  readonly progress: MirrorProgress[] = [];
  readonly warnings: Error[] = [];
  readonly errors: Error[] = [];
  readonly conflicts: MirrorConflict[] = [];
  offlines = 0;
  onlines = 0;
  readonly #waiters = new Set<() => void>();

  constructor(readonly mirror: Mirror) {
    const wake = (): void => {
      for (const waiter of [...this.#waiters]) waiter();
    };
    mirror.on('sync', (change) => this.syncs.push(change));
    mirror.on('reconcile', (result) => this.reconciles.push(result));
    mirror.on('progress', (progress) => this.progress.push(progress));
    mirror.on('warning', (error) => this.warnings.push(error));
    mirror.on('error', (error) => this.errors.push(error));
    mirror.on('conflict', (conflict) => this.conflicts.push(conflict));
    mirror.on('offline', () => (this.offlines += 1));
    mirror.on('online', () => (this.onlines += 1));
    for (const name of ['sync', 'conflict', 'reconcile', 'warning', 'error', 'offline', 'online'] as const) mirror.on(name, wake);
    // File-system conditions change without a mirror event (a writer in the test): re-check them too.
    const timer = setInterval(wake, 50);
    onTestFinished(() => clearInterval(timer));
  }

  /** Resolves when `condition()` holds; rejects after `timeoutMs` (a hang guard, generous for a loaded machine) naming `what` and what the mirror did. */
  async until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    await waitUntil(this.#waiters, () => (condition() ? true : undefined), timeoutMs, () =>
      `timed out waiting for ${what}; syncs: ${JSON.stringify(this.syncs.slice(-20))}; warnings: ${this.warnings.map((e) => e.message).join(' | ')}`);
  }
}

/** A started Mirror, closed when the current test ends. */
export async function startMirror(source: string, destination: string, options?: MirrorOptions): Promise<MirrorLog> {
  const mirror = new Mirror(source, destination, { settleTime: 150, quietPeriod: 400, ...options });
  onTestFinished(() => mirror.close());
  const log = new MirrorLog(mirror);
  await mirror.start();
  return log;
}

/** `diff -r` of two trees (symlinks compared as links): '' when equal, diff's output otherwise. */
export function treeDiff(a: string, b: string): string {
  const result = spawnSync('diff', ['-r', '--no-dereference', a, b], { encoding: 'latin1' });
  return result.status === 0 ? '' : `${result.stdout}${result.stderr}` || `diff exited ${result.status}`;
}

/** An rsync wrapper that appends one line to `log` per run, then runs rsync: runs are counted, not timed. */
export function countingRsync(dir: string): { program: string; runs: () => number } {
  const log = path.join(dir, 'rsync-runs.log');
  const program = path.join(dir, 'rsync-counting');
  fs.writeFileSync(program, `#!/bin/sh\necho run >> '${log}'\nexec rsync "$@"\n`, { mode: 0o755 });
  return { program, runs: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').length - 1 : 0) };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/** A running sshd for root on 127.0.0.1 with a generated host key and a temporary authorized key. */
export interface TestSshd {
  readonly port: number;
  /** The ssh argv that logs in with the test key, ignoring the user's config and known hosts. */
  readonly ssh: readonly string[];
  /** Stops sshd (the port is free until {@link start}). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

/** True when this machine can run the sshd test (openssh-server installed, running as root). */
export const sshdAvailable = fs.existsSync('/usr/sbin/sshd') && process.getuid?.() === 0;

/** Starts sshd per docs (automation-layer §5, as root with StrictModes off so keys may live under /tmp). */
export async function startSshd(): Promise<TestSshd> {
  const dir = tempDir('mirror-sshd-');
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation dir, compiled into sshd
  for (const key of ['hostkey', 'userkey']) {
    const made = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, key)]);
    if (made.status !== 0) throw new Error(`ssh-keygen failed: ${made.stderr}`);
  }
  fs.copyFileSync(path.join(dir, 'userkey.pub'), path.join(dir, 'authorized_keys'));
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(config, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${dir}/hostkey`, `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`, 'StrictModes no', 'UsePAM no', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', 'AllowUsers root', 'X11Forwarding no',
    'AllowTcpForwarding no', 'PermitTTY no', 'MaxStartups 100', 'LogLevel ERROR', '',
  ].join('\n'));
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = sshd;
    let stderr = '';
    sshd.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // Ready once the port accepts connections.
    for (let attempt = 0; ; attempt++) {
      if (sshd.exitCode !== null) throw new Error(`sshd exited ${sshd.exitCode}: ${stderr}`);
      const open = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (open) return;
      if (attempt > 300) throw new Error(`sshd did not listen on ${port}: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async (): Promise<void> => {
    const sshd = child;
    child = undefined;
    if (sshd === undefined || sshd.exitCode !== null) return;
    const exited = new Promise((resolve) => sshd.once('exit', resolve));
    sshd.kill('SIGTERM');
    await exited;
  };
  onTestFinished(stop);
  await start();
  const ssh = [
    'ssh', '-F', '/dev/null', '-p', String(port), '-i', path.join(dir, 'userkey'), '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10',
  ];
  return { port, ssh, stop, start };
}

/** The serving end as this worktree's compiled CLI: the `remoteCommand` of remote two-way tests. */
export const SERVE_COMMAND: readonly string[] = [process.execPath, path.join(repoRoot, 'lib', 'cli', 'inotify-mirror.js')];

/** Two empty roots `a` and `b` and a state path, under one fresh temp dir. */
export function twoWayRoots(prefix: string): { a: string; b: string; state: string } {
  const dir = tempDir(prefix);
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  return { a, b, state: path.join(dir, 'state') };
}

/** Two-way converged: equal trees, and no parking directory left on either side. */
export function converged(a: string, b: string): boolean {
  return treeDiff(a, b) === '' && !fs.existsSync(path.join(a, REPLACED_DIR)) && !fs.existsSync(path.join(b, REPLACED_DIR));
}
