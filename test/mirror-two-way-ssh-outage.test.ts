/**
 * Remote two-way sync through outages: a local root A and a root B served
 * over a real loopback sshd (started by the test) by this worktree's
 * `inotify-mirror --serve`. The serving end is killed and sshd stopped while
 * both sides change: changes wait, reconnects are retried with backoff, and
 * once sshd is back one merge converges. A B replaced by another directory
 * (a remount), with the channel up or while away, stays unreachable until
 * the real one is back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureLib } from './helpers/child.js';
import { converged, SERVE_COMMAND, sshdAvailable, startMirror, startSshd, twoWayRoots, type TestSshd } from './mirror-helpers.js';

const read = (file: string): string | undefined => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined);

/** The pids of the `--serve root` processes of this test (matched by their exact argv). */
function servePids(root: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = argv.indexOf('--serve');
    if (at >= 0 && argv[at + 1] === root && argv.includes(SERVE_COMMAND[1] as string)) pids.push(Number(name));
  }
  return pids;
}

/** Stops sshd (no new logins), then kills the session's serving end: the channel closes. */
async function cutOff(sshd: TestSshd, b: string): Promise<void> {
  await sshd.stop();
  const pids = servePids(fs.realpathSync(b));
  expect(pids).toHaveLength(1);
  process.kill(pids[0] as number, 'SIGKILL');
}

describe.skipIf(!sshdAvailable)('two-way over ssh: outages', { timeout: 300_000 }, () => {
  it('an outage (serving end killed, sshd down) with changes on both sides meanwhile converges once sshd is back', async () => {
    ensureLib();
    const sshd = await startSshd();
    const { a, b, state } = twoWayRoots('two-way-ssh-');
    fs.writeFileSync(path.join(a, 'old'), 'old');
    fs.writeFileSync(path.join(b, 'doomed'), 'x');
    fs.mkdirSync(path.join(b, 'sub'));
    fs.writeFileSync(path.join(b, 'sub', 'moving'), 'moving');
    const log = await startMirror(a, `127.0.0.1:${b}`, {
      twoWay: true, state, ssh: sshd.ssh, remoteCommand: SERVE_COMMAND, retryDelay: 100, maxRetryDelay: 400,
    });
    expect(converged(a, b)).toBe(true);

    await cutOff(sshd, b);
    await log.until(() => log.offlines > 0 && log.mirror.offline, 'the mirror to notice the channel closed');

    fs.writeFileSync(path.join(a, 'while-down-a'), 'written on a while down');
    fs.appendFileSync(path.join(a, 'old'), ' edited on a');
    fs.writeFileSync(path.join(b, 'while-down-b'), 'written on b while down');
    fs.rmSync(path.join(b, 'doomed'));
    fs.renameSync(path.join(b, 'sub', 'moving'), path.join(b, 'moved'));
    await log.until(() => log.offlines >= 2 && log.mirror.pending >= 1, 'failed reconnects while the local change waits');
    expect(fs.existsSync(path.join(b, 'while-down-a'))).toBe(false);

    await sshd.start();
    await log.until(() => log.onlines > 0 && !log.mirror.offline && converged(a, b)
      && read(path.join(a, 'while-down-b')) === 'written on b while down' && read(path.join(b, 'while-down-a')) === 'written on a while down'
      && read(path.join(b, 'old')) === 'old edited on a' && !fs.existsSync(path.join(a, 'doomed')) && fs.existsSync(path.join(a, 'moved')),
    'convergence after sshd is back');
    // The rename made while away is found by the merge as a delete and a new file: a copy, not a rename.
    // Said by what the mirror reports (its report of a copy follows the file by a few requests), not by
    // inode numbers: ext4 hands a freed inode number to the next file at once.
    await log.until(() => log.syncs.some((s) => s.type === 'send' && s.target === 'source' && s.paths.includes('moved')), 'the copy of the file renamed while away reported');
    expect(log.syncs.some((s) => s.type === 'rename')).toBe(false);
    expect(log.conflicts).toEqual([]);
    expect(log.errors).toEqual([]);
    expect(servePids(fs.realpathSync(b))).toHaveLength(1); // reconnected once, the old end is gone
  });

  it('a B replaced by another directory (channel up, then while away) stays unreachable, nothing merged into it, until the real one is back', async () => {
    ensureLib();
    const sshd = await startSshd();
    const { a, b, state } = twoWayRoots('two-way-ssh-');
    fs.writeFileSync(path.join(a, 'kept'), 'kept');
    const log = await startMirror(a, `127.0.0.1:${b}`, {
      twoWay: true, state, ssh: sshd.ssh, remoteCommand: SERVE_COMMAND, retryDelay: 100, maxRetryDelay: 400,
    });
    const reasons: string[] = [];
    log.mirror.on('offline', (error) => reasons.push(error.message));
    expect(converged(a, b)).toBe(true);

    // Replaced while the channel is up: the next change finds it is not the directory it was.
    fs.renameSync(b, `${b}-real`);
    fs.mkdirSync(b);
    fs.writeFileSync(path.join(a, 'while-replaced'), 'new on a');
    await log.until(() => reasons.some((reason) => /not the directory the mirror started with/.test(reason)), 'the live replacement noticed');
    expect(fs.readdirSync(b)).toEqual([]);
    expect(fs.readdirSync(a).sort()).toEqual(['kept', 'while-replaced']);
    fs.rmdirSync(b);
    fs.renameSync(`${b}-real`, b);
    await log.until(() => log.onlines === 1 && read(path.join(b, 'while-replaced')) === 'new on a' && converged(a, b), 'back (live) and merged');
    reasons.length = 0;

    await cutOff(sshd, b);
    await log.until(() => log.mirror.offline, 'offline');
    fs.renameSync(b, `${b}-real`);
    fs.mkdirSync(b); // the empty mount point of an unmounted disk, say
    fs.writeFileSync(path.join(a, 'while-away'), 'new on a');
    await sshd.start();
    await log.until(() => reasons.some((reason) => /not the directory the mirror started with/.test(reason)), 'the replaced root noticed');
    const failed = log.offlines;
    await log.until(() => log.offlines >= failed + 2, 'more failed checks with backoff');
    expect(fs.readdirSync(b)).toEqual([]); // nothing merged into the impostor, nothing deleted on A
    expect(fs.readdirSync(a).sort()).toEqual(['kept', 'while-away', 'while-replaced']);
    expect(log.onlines).toBe(1);

    fs.rmdirSync(b);
    fs.renameSync(`${b}-real`, b);
    await log.until(() => log.onlines === 2 && !log.mirror.offline && read(path.join(b, 'while-away')) === 'new on a' && converged(a, b), 'back and merged');
    expect(read(path.join(b, 'kept'))).toBe('kept');
    expect(log.errors).toEqual([]);
  });
});
