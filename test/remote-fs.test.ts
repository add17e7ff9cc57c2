/**
 * Network and FUSE filesystems: inotify sees only changes made through this
 * machine's kernel. The filesystem of a watched path is named from its
 * statfs magic, and a watch on such a path gets an INOTIFY_REMOTE_FS warning
 * (trackTransfers' 'warning' event, inotifyd's log). The real case: an sshfs
 * mount of a loopback sshd directory, where a write made directly in the
 * backing directory is invisible to inotify on the mount.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { fsKind, fsTypeName, IN_CLOSE_WRITE, REMOTE_FS_TYPES, remoteFsWarning, trackTransfers, watch, WatchManager, Notifier, type InotifyEvent } from '../src/index.js';
import { DaemonProcess, tempDir, until } from './daemon-helpers.js';
import { sshdUnavailable, startLoopbackSshd } from './helpers/sshd.js';

/** Why an sshfs mount cannot be made here, or undefined. */
function sshfsUnavailable(): string | undefined {
  const sshd = sshdUnavailable(['sshfs', 'fusermount3']);
  if (sshd !== undefined) return sshd;
  try {
    fs.closeSync(fs.openSync('/dev/fuse', 'r+'));
  } catch (error) {
    return `/dev/fuse cannot be opened (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  return undefined;
}

describe('filesystem kinds', () => {
  it('names the statfs magics of network and FUSE filesystems as remote, local ones not', () => {
    expect([0x6969, 0xff534d42, 0xfe534d42, 0x65735546, 0x01021997, 0x00c36400].map((type) => [fsTypeName(type), REMOTE_FS_TYPES.has(type)]))
      .toEqual([['nfs', true], ['cifs', true], ['smb2', true], ['fuse', true], ['v9fs (9p)', true], ['ceph', true]]);
    expect([0xef53, 0x01021994, 0x794c7630].map((type) => [fsTypeName(type), REMOTE_FS_TYPES.has(type)]))
      .toEqual([['ext4', false], ['tmpfs', false], ['overlayfs', false]]);
    expect(fsTypeName(0x12345678)).toBe('0x12345678');
  });

  it('a local temp dir is not remote: no warning', () => {
    const dir = tempDir();
    const kind = fsKind(dir);
    expect(kind.remote).toBe(false);
    expect(kind.type).toBe(Number(fs.statfsSync(dir).type) >>> 0);
    expect(remoteFsWarning(dir)).toBeUndefined();
    // A path that cannot be examined: no warning (watching it reports its own error).
    expect(remoteFsWarning(path.join(dir, 'missing'))).toBeUndefined();
    expect(() => fsKind(path.join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'statfs' }));
  });
});

const unavailable = sshfsUnavailable();

describe.skipIf(unavailable !== undefined)(`an sshfs mount (FUSE)${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  it('is named fuse.sshfs and warned about (trackTransfers, inotifyd); a server-side write is invisible to inotify, and polling (watch and trackTransfers with poll: \'auto\', inotifyd poll) reports it', async () => {
    const sshd = await startLoopbackSshd({ sftpUsers: 0, shellUsers: 1 });
    const user = sshd.users[0] as (typeof sshd.users)[0];
    // The backing directory (the "server" side) and the mount point.
    const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sshfs-')));
    fs.chmodSync(base, 0o755);
    const backing = path.join(base, 'backing');
    const mnt = path.join(base, 'mnt');
    fs.mkdirSync(backing);
    fs.mkdirSync(mnt);
    fs.chownSync(backing, user.uid, user.uid);
    // -f: our own child (a daemonized sshfs can end up a zombie); dir_cache=no: no stale listings.
    const sshfs = spawn('sshfs', ['-f', '-p', String(sshd.port), '-o',
      `IdentityFile=${sshd.keyFile},StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes,dir_cache=no`,
      `${user.name}@127.0.0.1:${backing}`, mnt], { stdio: ['ignore', 'ignore', 'pipe'] });
    let sshfsLog = '';
    sshfs.stderr.setEncoding('utf8').on('data', (c: string) => { sshfsLog += c; });
    onTestFinished(async () => {
      spawnSync('fusermount3', ['-u', '-z', mnt]);
      if (sshfs.exitCode === null) {
        const closed = new Promise((resolve) => sshfs.once('close', resolve));
        sshfs.kill('SIGTERM');
        await closed;
      }
      fs.rmSync(base, { recursive: true, force: true });
    });
    await until(() => Number(fs.statfsSync(mnt).type) >>> 0 === 0x65735546 || sshfs.exitCode !== null, () => `the sshfs mount:\n${sshfsLog}`);
    expect(sshfs.exitCode, sshfsLog).toBeNull();

    expect(fsKind(mnt)).toEqual({ type: 0x65735546, name: 'fuse.sshfs', remote: true });
    const warning = remoteFsWarning(mnt);
    expect(warning).toMatchObject({ code: 'INOTIFY_REMOTE_FS', path: mnt, fs: 'fuse.sshfs', name: 'RemoteFsWarning' });
    expect(warning?.message).toContain(`${mnt} is on a fuse.sshfs filesystem: inotify only sees changes made through this machine's kernel`);

    // trackTransfers: a 'warning' event naming the mount.
    const tracker = trackTransfers(mnt, { settleTime: 50 });
    const warned = await new Promise<Error>((resolve) => tracker.once('warning', resolve));
    expect(warned).toMatchObject({ code: 'INOTIFY_REMOTE_FS', path: mnt, fs: 'fuse.sshfs' });
    await tracker.close();

    // The blind spot: a file written in the backing directory (as the server or another client would) makes
    // no event on the mount; one written through the mount does. The second is the barrier for the first.
    const wm = new WatchManager();
    const events: InotifyEvent[] = [];
    const notifier = new Notifier(wm, (event) => { events.push(event); });
    onTestFinished(() => notifier.close());
    wm.addWatch(mnt, IN_CLOSE_WRITE);
    fs.writeFileSync(path.join(backing, 'server-side.txt'), 'written on the server');
    fs.writeFileSync(path.join(mnt, 'through-mount.txt'), 'written through the mount');
    await until(() => events.some((e) => e.name === 'through-mount.txt'), 'the close-write through the mount');
    expect(events.map((e) => e.name)).toEqual(['through-mount.txt']);
    expect(fs.readFileSync(path.join(mnt, 'server-side.txt'), 'utf8')).toBe('written on the server');

    // Polling covers it: with poll: 'auto', watch() and trackTransfers() poll the mount (it is FUSE) and
    // report server-side writes; the baseline is taken when they return.
    const polled = trackTransfers(mnt, { poll: 'auto', settleTime: 50 });
    onTestFinished(() => polled.close());
    const arrived: string[] = [];
    polled.on('complete', (t) => arrived.push(t.pathname));
    const trackerWarnings: Error[] = [];
    polled.on('warning', (w) => trackerWarnings.push(w));
    const seen: string[] = [];
    const stream = watch(mnt, { poll: { interval: 100 } }, (event) => seen.push(`${event.maskname} ${event.name}`));
    onTestFinished(() => stream.close());
    expect(stream.poller).toBeDefined();
    fs.writeFileSync(path.join(backing, 'server-side-2.txt'), 'written on the server, polled');
    await until(() => arrived.length > 0 && seen.includes('IN_CLOSE_WRITE server-side-2.txt'), () => `the server-side write, polled: ${JSON.stringify([arrived, seen])}`);
    expect(arrived).toEqual([path.join(mnt, 'server-side-2.txt')]);
    expect(seen).toEqual(['IN_CREATE server-side-2.txt', 'IN_MODIFY server-side-2.txt', 'IN_CLOSE_WRITE server-side-2.txt']);
    expect(trackerWarnings).toEqual([expect.objectContaining({ code: 'INOTIFY_REMOTE_FS', fs: 'fuse.sshfs' })]);
    await polled.close();
    await stream.close();

    // inotifyd: the warning as a log line naming the path, the filesystem and the code.
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'config.mjs'), `import { defineConfig } from 'inotify-native';
import { appendFileSync } from 'node:fs';
const record = (event) => appendFileSync(${JSON.stringify(path.join(dir, 'arrived.log'))}, event.pathname + '\\n');
export default defineConfig({ watches: [{ path: ${JSON.stringify(mnt)}, eventMap: { TRANSFER_COMPLETE: record }, transfers: { settleTime: 50 }, poll: { interval: 100 } }] });
`);
    const daemon = new DaemonProcess(['-c', path.join(dir, 'config.mjs')], dir);
    await daemon.waitFor('inotifyd started');
    // Polled (the mount is FUSE): a server-side write runs the task.
    const arrivedLog = (): string => (fs.existsSync(path.join(dir, 'arrived.log')) ? fs.readFileSync(path.join(dir, 'arrived.log'), 'utf8') : '');
    fs.writeFileSync(path.join(backing, 'server-side-3.txt'), 'x');
    await until(() => arrivedLog().includes('server-side-3.txt'), () => `the polled arrival in inotifyd:\n${daemon.stderr}`);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    const lines = daemon.stderr.split('\n').filter((l) => l.includes('INOTIFY_REMOTE_FS'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`watch WARNING\\] ${mnt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is on a fuse\\.sshfs filesystem: inotify only sees changes made through this machine's kernel.*\\[INOTIFY_REMOTE_FS\\]; polling it every 100 ms$`));
    expect(daemon.stderr).not.toMatch(/Warning:|\(node:\d+\)/);
  }, 60_000);
});
