/**
 * Remote two-way sync: a local root A and a root B on "another machine",
 * reached through a real loopback sshd (127.0.0.1, random port, generated
 * keys) started by the test, where `inotify-mirror --serve B` runs from this
 * worktree's lib/ (--remote-command). The real rsync moves data over the
 * same ssh. Covered: the first merge of differing trees, edits on both sides
 * while running, a remote rename replayed as a rename (same inode), a
 * same-file conflict keeping both versions on both sides, a write on the
 * remote side racing the mirror's copy there (kept through the parking
 * directory ops), and the CLI (--once, --status, --remote-command). The
 * outages are in mirror-two-way-ssh-outage.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureLib, spawnNode } from './helpers/child.js';
import { converged, SERVE_COMMAND, sshdAvailable, startMirror, startSshd, twoWayRoots } from './mirror-helpers.js';

const CONFLICT = /\.conflict-[ab]-\d{8}-\d{6}/;

const read = (file: string): string | undefined => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined);

describe.skipIf(!sshdAvailable)('two-way over ssh', { timeout: 300_000 }, () => {
  it('merges, follows both sides, replays a remote rename as a rename, keeps both versions of a conflict', async () => {
    ensureLib();
    const sshd = await startSshd();
    const { a, b, state } = twoWayRoots('two-way-ssh-');
    fs.mkdirSync(path.join(a, 'dir'));
    fs.writeFileSync(path.join(a, 'dir', 'only-a'), 'A');
    fs.writeFileSync(path.join(b, 'only-b'), 'B');
    fs.symlinkSync('only-b', path.join(b, 'link'));
    fs.writeFileSync(path.join(a, 'same'), 'same');
    fs.writeFileSync(path.join(b, 'same'), 'same');
    fs.writeFileSync(path.join(a, 'clash.txt'), 'from a');
    fs.writeFileSync(path.join(b, 'clash.txt'), 'from b');
    const past = new Date(Date.now() - 3600_000);
    fs.utimesSync(path.join(a, 'clash.txt'), past, past); // a's is older: it is the one renamed
    fs.mkdirSync(path.join(b, 'cache'));
    fs.writeFileSync(path.join(b, 'cache', 'blob'), 'excluded dir');
    fs.writeFileSync(path.join(b, 'scratch.tmp'), 'excluded name');
    const log = await startMirror(a, `127.0.0.1:${b}`, { twoWay: true, state, ssh: sshd.ssh, remoteCommand: SERVE_COMMAND, exclude: ['cache', '*.tmp'] });
    // Excluded paths stay where they are, on the remote side too.
    expect(fs.existsSync(path.join(a, 'cache'))).toBe(false);
    expect(fs.existsSync(path.join(a, 'scratch.tmp'))).toBe(false);
    fs.rmSync(path.join(b, 'cache'), { recursive: true });
    fs.rmSync(path.join(b, 'scratch.tmp'));
    expect(converged(a, b)).toBe(true);
    expect(read(path.join(b, 'dir', 'only-a'))).toBe('A');
    expect(fs.readlinkSync(path.join(a, 'link'))).toBe('only-b');
    expect(read(path.join(a, 'clash.txt'))).toBe('from b');
    const aside = fs.readdirSync(b).filter((name) => CONFLICT.test(name));
    expect(aside).toHaveLength(1);
    expect(read(path.join(b, aside[0] as string))).toBe('from a');
    expect(log.conflicts).toEqual([{ kind: 'both-changed', path: 'clash.txt', conflictPath: aside[0], side: 'source' }]);

    // Edits on both sides while running (an excluded one stays on its side).
    fs.mkdirSync(path.join(b, 'cache'));
    fs.writeFileSync(path.join(b, 'cache', 'late'), 'excluded');
    fs.writeFileSync(path.join(a, 'new-a.txt'), 'new on a');
    fs.writeFileSync(path.join(b, 'new-b.txt'), 'new on b');
    fs.appendFileSync(path.join(b, 'dir', 'only-a'), ' and b');
    fs.rmSync(path.join(a, 'only-b'));
    await log.until(() => read(path.join(a, 'new-b.txt')) === 'new on b' && read(path.join(b, 'new-a.txt')) === 'new on a'
      && read(path.join(a, 'dir', 'only-a')) === 'A and b' && !fs.existsSync(path.join(b, 'only-b')), 'edits on both sides');
    expect(fs.existsSync(path.join(a, 'cache'))).toBe(false);
    fs.rmSync(path.join(b, 'cache'), { recursive: true });
    await log.until(() => converged(a, b), 'convergence');

    // A rename on the remote side is replayed as a rename here: the same inode, no copy.
    await log.mirror.idle();
    const inode = fs.statSync(path.join(a, 'new-a.txt')).ino;
    const sendsBefore = log.syncs.filter((s) => s.type === 'send').length;
    fs.renameSync(path.join(b, 'new-a.txt'), path.join(b, 'dir', 'renamed-on-b.txt'));
    await log.until(() => fs.existsSync(path.join(a, 'dir', 'renamed-on-b.txt')) && converged(a, b), 'the remote rename');
    expect(fs.statSync(path.join(a, 'dir', 'renamed-on-b.txt')).ino, JSON.stringify(log.syncs)).toBe(inode);
    expect(log.syncs.filter((s) => s.type === 'rename')).toEqual([{ type: 'rename', from: 'new-a.txt', to: 'dir/renamed-on-b.txt', target: 'source' }]);
    expect(log.syncs.filter((s) => s.type === 'send')).toHaveLength(sendsBefore);

    // The same file changed differently on both sides while running: both versions kept, on both sides.
    await log.mirror.idle();
    fs.writeFileSync(path.join(a, 'same'), 'edited on a, first');
    fs.utimesSync(path.join(a, 'same'), past, past);
    fs.writeFileSync(path.join(b, 'same'), 'edited on b, later');
    await log.until(() => log.conflicts.length === 2 && converged(a, b)
      && fs.readdirSync(a).filter((name) => name.startsWith('same.conflict-')).length === 1, 'the conflict on both sides');
    const kept = fs.readdirSync(a).find((name) => name.startsWith('same.conflict-')) as string;
    expect(log.conflicts[1]).toMatchObject({ path: 'same', conflictPath: kept });
    expect(new Set([read(path.join(a, 'same')), read(path.join(b, kept))])).toEqual(new Set(['edited on a, first', 'edited on b, later']));
    expect(log.warnings).toEqual([]);
    expect(log.errors).toEqual([]);
  });

  it("a write on the remote side that races the mirror's own copy there is kept under a conflict name", async () => {
    ensureLib();
    const sshd = await startSshd();
    const { a, b, state } = twoWayRoots('two-way-ssh-');
    fs.writeFileSync(path.join(a, 'f.txt'), 'base');
    // An rsync that, once, lets "a user" on the host write b's copy after the mirror decided to replace it.
    const dir = path.dirname(a);
    const race = path.join(dir, 'RACE');
    const program = path.join(dir, 'rsync-racing');
    fs.writeFileSync(program, `#!/bin/sh\nif [ -e '${race}' ]; then rm '${race}'; printf 'racing write on b' > '${path.join(b, 'f.txt')}'; fi\nexec rsync "$@"\n`, { mode: 0o755 });
    const log = await startMirror(a, `127.0.0.1:${b}`, { twoWay: true, state, ssh: sshd.ssh, remoteCommand: SERVE_COMMAND, rsync: program });
    await log.mirror.idle();
    fs.writeFileSync(race, '');
    fs.writeFileSync(path.join(a, 'f.txt'), 'new from a');
    await log.until(() => log.conflicts.length === 1 && fs.readdirSync(a).length === 2 && converged(a, b), 'the racing write kept on both sides');
    const [conflict] = log.conflicts;
    expect(conflict).toMatchObject({ kind: 'overwritten', path: 'f.txt', side: 'destination', conflictPath: expect.stringMatching(/^f\.conflict-b-\d{8}-\d{6}\.txt$/) as string });
    expect(read(path.join(a, conflict?.conflictPath as string))).toBe('racing write on b');
    expect(read(path.join(b, 'f.txt'))).toBe('new from a');
  });

  it('the CLI: --two-way --once A host:path with --remote-command merges and exits 0 (a B whose name needs quoting)', async () => {
    ensureLib();
    const sshd = await startSshd();
    const roots = twoWayRoots('two-way-ssh-');
    const { a, state } = roots;
    const b = path.join(path.dirname(roots.b), "b 'q' $(x) -n");
    fs.renameSync(roots.b, b);
    fs.writeFileSync(path.join(a, 'from-a'), 'A');
    fs.writeFileSync(path.join(b, 'from-b'), 'B');
    const result = await spawnNode([SERVE_COMMAND[1] as string, '--two-way', '--once', '--json', '--state', state,
      '--rsh', sshd.ssh.join(' '), '--remote-command', JSON.stringify(SERVE_COMMAND), a, `127.0.0.1:${b}`]).waitForExit();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(converged(a, b)).toBe(true);
    expect(read(path.join(a, 'from-b'))).toBe('B');
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; target?: string });
    expect(events.filter((event) => event.event === 'sync').map((event) => event.target).sort()).toEqual(['destination', 'source']);
    expect(events.filter((event) => event.event === 'reconcile')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ event: 'ready' });

    // --status reads the remote side through the serving end too.
    fs.appendFileSync(path.join(b, 'from-b'), ' edited on b');
    const status = await spawnNode([SERVE_COMMAND[1] as string, '--two-way', '--status', '--state', state,
      '--rsh', sshd.ssh.join(' '), '--remote-command', JSON.stringify(SERVE_COMMAND), a, `127.0.0.1:${b}`]).waitForExit();
    expect(status.stderr).toBe('');
    expect(status.stdout).toBe(`copy "from-b" destination -> source\n1 path pending, 2 synced (state ${state})\n`);
    await sshd.stop();
    const down = await spawnNode([SERVE_COMMAND[1] as string, '--two-way', '--status', '--state', state,
      '--rsh', sshd.ssh.join(' '), '--remote-command', JSON.stringify(SERVE_COMMAND), a, `127.0.0.1:${b}`]).waitForExit();
    expect(down.code).toBe(1); // unreachable: not a command-line mistake
    expect(down.stderr).toMatch(/^inotify-mirror: 127\.0\.0\.1:.*the remote side exited/);
  });
});
