/**
 * What happens to watches when the watched root itself goes away: deleted,
 * moved, or its filesystem unmounted; and watch descriptors handed out again
 * after rm/add never carry old events to a new path. The Notifier must stay
 * usable in every case. See docs/RELIABILITY.md.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  IN_ALL_EVENTS, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_ISDIR, IN_MOVE_SELF, IN_UNMOUNT,
  type WatchManager,
} from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { EventLog, openNotifier, openWatchManager } from './helpers/notifier.js';

function kernelWds(fd: number): number[] {
  return fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n')
    .filter((line) => line.startsWith('inotify wd:'))
    .map((line) => Number.parseInt(/wd:([0-9a-f]+)/.exec(line)?.[1] ?? 'NaN', 16))
    .sort((a, b) => a - b);
}

/** The notifier still works: a new watch on a fresh directory reports a new file. */
async function expectStillUsable(wm: WatchManager, log: EventLog): Promise<void> {
  const fresh = tempDir('inotify-usable-');
  wm.addWatch(fresh, IN_CLOSE_WRITE);
  fs.writeFileSync(path.join(fresh, 'still-works'), 'x');
  await log.waitFor((e) => e.pathname === path.join(fresh, 'still-works') && e.mask === IN_CLOSE_WRITE);
}

describe('the watched root goes away', () => {
  it('deleted: IN_DELETE_SELF then IN_IGNORED for every watch in the tree, the manager ends empty, the notifier goes on', async () => {
    const parent = tempDir();
    const root = path.join(parent, 'root');
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    const wm = openWatchManager();
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const wds = new Map([...wm.watches.values()].map((w) => [w.path, w.wd]));
    expect(wds.size).toBe(3);
    const log = new EventLog(openNotifier(wm));

    fs.rmSync(root, { recursive: true });
    await log.waitFor((e) => e.wd === wds.get(root) && e.mask === IN_IGNORED);
    for (const [dir, wd] of wds) {
      const own = log.events.filter((e) => e.wd === wd && (e.mask & (IN_DELETE_SELF | IN_IGNORED)) !== 0).map((e) => e.maskname);
      expect(own, dir).toEqual(['IN_DELETE_SELF', 'IN_IGNORED']);
      // Reported at the path the watch had.
      expect(log.events.filter((e) => e.wd === wd && e.mask === IN_DELETE_SELF).map((e) => e.pathname)).toEqual([dir]);
    }
    expect(wm.watches.size).toBe(0);
    expect(wm.getWd(root)).toBeUndefined();
    expect(kernelWds(wm.inotify.fd)).toEqual([]);
    expect(log.errors).toEqual([]);
    await expectStillUsable(wm, log);
  });

  it('moved away: IN_MOVE_SELF at the old path, then its watches are dropped (the new path is unknown), nothing more reported for it', async () => {
    const parent = tempDir();
    const root = path.join(parent, 'root');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    const wm = openWatchManager();
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const rootWd = wm.getWd(root);
    const log = new EventLog(openNotifier(wm));

    const moved = path.join(parent, 'moved');
    fs.renameSync(root, moved);
    const moveSelf = await log.waitFor((e) => e.mask === IN_MOVE_SELF);
    expect(moveSelf).toMatchObject({ wd: rootWd, pathname: root, dir: true });
    expect(wm.watches.size).toBe(0);
    // Changes in the moved tree are no longer watched (the kernel's watches are removed too).
    fs.writeFileSync(path.join(moved, 'later'), 'x');
    fs.writeFileSync(path.join(moved, 'sub', 'later'), 'x');
    await expectStillUsable(wm, log);
    expect(log.events.filter((e) => e.name === 'later')).toEqual([]);
    expect(log.events.filter((e) => e.mask & IN_IGNORED)).toEqual([]); // removed by the library: no IN_IGNORED reported
    expect(kernelWds(wm.inotify.fd)).toEqual([...wm.watches.keys()]);
    expect(log.errors).toEqual([]);
  });

  const canMount = (): boolean => {
    if (process.getuid?.() !== 0) return false;
    const probe = tempDir('inotify-mount-probe-');
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]).status === 0;
    if (mounted) spawnSync('umount', [probe]);
    return mounted;
  };

  it('unmounted: IN_UNMOUNT then IN_IGNORED for every watch on that filesystem, the rest keeps working', async (context) => {
    if (!canMount()) context.skip('mounting a tmpfs needs root (CAP_SYS_ADMIN)');
    const parent = tempDir();
    const mnt = path.join(parent, 'mnt');
    fs.mkdirSync(mnt);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    expect(mounted.status, mounted.stderr.toString()).toBe(0);
    try {
      fs.mkdirSync(path.join(mnt, 'inner'));
      fs.mkdirSync(path.join(parent, 'beside'));
      const wm = openWatchManager();
      wm.addWatch(parent, IN_ALL_EVENTS, { rec: true, autoAdd: true });
      const onMount = [mnt, path.join(mnt, 'inner')].map((p) => wm.getWd(p) as number);
      expect(onMount.every((wd) => wd > 0)).toBe(true);
      const log = new EventLog(openNotifier(wm));

      const unmounted = spawnSync('umount', [mnt]);
      expect(unmounted.status, unmounted.stderr.toString()).toBe(0);
      for (const wd of onMount) await log.waitFor((e) => e.wd === wd && e.mask === IN_IGNORED);
      for (const wd of onMount) {
        // (the kernel sets IN_ISDIR on a directory's IN_UNMOUNT)
        expect(log.events.filter((e) => e.wd === wd).map((e) => e.maskname)).toEqual(['IN_UNMOUNT|IN_ISDIR', 'IN_IGNORED']);
      }
      // Each at the path of its watch (in no particular order across watches).
      expect(log.events.filter((e) => (e.mask & IN_UNMOUNT) !== 0).map((e) => e.pathname).sort()).toEqual([mnt, path.join(mnt, 'inner')]);
      // Watches on the filesystem that stays are untouched; the mount point (now the
      // bare directory underneath) is not watched until added again.
      expect([...wm.watches.values()].map((w) => w.path).sort()).toEqual([parent, path.join(parent, 'beside')].sort());
      expect(kernelWds(wm.inotify.fd)).toEqual([...wm.watches.keys()].sort((a, b) => a - b));
      fs.writeFileSync(path.join(parent, 'beside', 'f'), 'x');
      await log.waitFor((e) => e.pathname === path.join(parent, 'beside', 'f') && e.mask === IN_CLOSE_WRITE);
      expect(log.errors).toEqual([]);
    } finally {
      spawnSync('umount', ['-l', mnt]); // no-op when already unmounted
    }
  });
});

describe('watch descriptors after rm/add', () => {
  it('the kernel never hands out a removed wd again soon: 300 rm/add cycles give 300 new wds', () => {
    const dir = tempDir();
    const wm = openWatchManager();
    const seen: number[] = [];
    for (let i = 0; i < 300; i++) {
      const wd = wm.addWatch(dir, IN_CREATE).get(dir) as number;
      seen.push(wd);
      wm.rmWatch(wd);
    }
    expect(new Set(seen).size).toBe(300);
    expect(seen.every((wd, i) => i === 0 || wd > (seen[i - 1] as number))).toBe(true);
  });

  it('events queued for a removed watch are never reported at the path of a watch added after it', async () => {
    const parent = tempDir();
    const a = path.join(parent, 'a');
    const b = path.join(parent, 'b');
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    const wm = openWatchManager();
    const log = new EventLog(openNotifier(wm));
    // All in one synchronous stretch: the Notifier reads nothing in between,
    // so the old watch's events are still queued when the new watches exist.
    for (let round = 0; round < 50; round++) {
      const wdA = wm.addWatch(a, IN_CREATE).get(a) as number;
      fs.writeFileSync(path.join(a, `old-${round}`), '');
      wm.rmWatch(wdA);
      wm.addWatch(b, IN_CREATE);
      fs.writeFileSync(path.join(b, `new-${round}`), '');
      // The same path again gets a new wd; the old wd's queued events stay unreported.
      const wdA2 = wm.addWatch(a, IN_CREATE).get(a) as number;
      expect(wdA2).not.toBe(wdA);
      wm.rmWatch(wdA2);
    }
    await log.sentinel(b);
    const reported = log.without();
    expect(reported.filter((e) => e.name.startsWith('old-'))).toEqual([]);
    expect(reported.map((e) => e.pathname)).toEqual(Array.from({ length: 50 }, (_, i) => path.join(b, `new-${i}`)));
    expect(reported.every((e) => e.wd === wm.getWd(b))).toBe(true);
  });

  it('a directory deleted and re-created at the same path gets a new wd; old events stay with the old watch', async () => {
    const parent = tempDir();
    const dir = path.join(parent, 'dir');
    fs.mkdirSync(dir);
    const wm = openWatchManager();
    wm.addWatch(parent, (IN_CREATE | IN_CLOSE_WRITE | IN_DELETE | IN_DELETE_SELF) >>> 0, { rec: true, autoAdd: true });
    const first = wm.getWd(dir) as number;
    const log = new EventLog(openNotifier(wm));
    fs.writeFileSync(path.join(dir, 'before'), '');
    fs.rmSync(dir, { recursive: true });
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'after'), '');
    await log.waitFor((e) => e.name === 'after' && e.mask === IN_CLOSE_WRITE);
    await log.sentinel(parent);
    const second = wm.getWd(dir) as number;
    expect(second).toBeGreaterThan(first);
    expect(log.events.filter((e) => e.name === 'before').every((e) => e.wd === first)).toBe(true);
    expect(log.events.filter((e) => e.name === 'after').every((e) => e.wd === second)).toBe(true);
    expect(log.events.filter((e) => e.wd === first).map((e) => e.maskname)).toEqual([
      'IN_CREATE', 'IN_CLOSE_WRITE', 'IN_DELETE', 'IN_DELETE_SELF', 'IN_IGNORED',
    ]);
    expect(log.events.some((e) => e.mask === (IN_CREATE | IN_ISDIR) && e.pathname === dir)).toBe(true);
    expect(wm.watches.size).toBe(2);
  });
});
