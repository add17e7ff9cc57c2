/**
 * The kernel's per-user inotify limits, hit for real. The limits are set in a
 * child user namespace (`unshare --user --map-root-user`): inotify's watch and
 * instance counts are per user namespace (/proc/sys/user/max_inotify_*), and
 * a child namespace's limit applies to it alone, so nothing here lowers the
 * limits of the machine's other processes.
 *
 * Checked: a recursive addWatch of a tree bigger than the watch limit throws
 * ENOSPC as a WatchError (armed + failed, message naming
 * fs.inotify.max_user_watches); the manager stays consistent with the kernel
 * (compared with /proc/self/fdinfo) and usable; after raising the limit the
 * same addWatch completes the tree. Then EMFILE for the instance limit.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureLib } from './helpers/child.js';

const userNamespaces = spawnSync('unshare', ['--user', '--map-root-user', 'sh', '-c', 'echo 7 > /proc/sys/user/max_inotify_watches && cat /proc/sys/user/max_inotify_watches'], { encoding: 'utf8' });
const canUseUserNamespace = userNamespaces.status === 0 && userNamespaces.stdout.trim() === '7';
if (!canUseUserNamespace) console.warn(`reliability-limits: no user namespaces here (${userNamespaces.stderr.trim()}): the limit test is skipped`);

// Runs inside the namespace: `node -e SCRIPT lib root` prints one JSON line.
const SCRIPT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const [lib, root] = process.argv.slice(1);
const { WatchManager, Notifier, Inotify, WatchError, IN_CREATE } = require(lib);
const setLimit = (name, value) => fs.writeFileSync('/proc/sys/user/max_inotify_' + name, String(value));
// What the kernel holds for an inotify fd: one "inotify wd:N ..." line per watch.
const kernelWds = (fd) => fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8').split('\n')
  .filter((l) => l.startsWith('inotify wd:')).map((l) => parseInt(/wd:([0-9a-f]+)/.exec(l)[1], 16)).sort((a, b) => a - b);
// Every watch the manager knows resolves both ways, and the kernel holds exactly those wds.
function consistency(wm) {
  const problems = [];
  for (const [wd, w] of wm.watches) {
    if (wm.getWd(w.path) !== wd) problems.push('getWd(' + w.path + ') = ' + wm.getWd(w.path) + ', not ' + wd);
    if (wm.getPath(wd) !== w.path) problems.push('getPath(' + wd + ') = ' + wm.getPath(wd));
  }
  const ours = [...wm.watches.keys()].sort((a, b) => a - b);
  const kernel = kernelWds(wm.inotify.fd);
  if (JSON.stringify(ours) !== JSON.stringify(kernel)) problems.push('manager wds ' + ours + ' but kernel wds ' + kernel);
  return problems;
}
function errorShape(e) {
  return { name: e.name, isWatchError: e instanceof WatchError, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path,
    message: e.message, armed: e.armed ? e.armed.size : undefined, failed: e.failed ? e.failed.length : undefined,
    failedCodes: e.failed ? [...new Set(e.failed.map((f) => f.error.code))] : undefined,
    failedMessage: e.failed && e.failed[0] ? e.failed[0].error.message : undefined };
}
(async () => {
  const out = {};
  const LIMIT = 20;
  setLimit('watches', LIMIT);
  const wm = new WatchManager();
  try {
    wm.addWatch(root, IN_CREATE, { rec: true });
    out.first = { thrown: false };
  } catch (e) {
    out.first = errorShape(e);
    out.armedAfterFirst = [...e.armed.entries()];
  }
  out.watchesAfterFirst = wm.watches.size;
  out.consistencyAfterFirst = consistency(wm);

  // Still usable: events arrive for an armed directory.
  const notifier = new Notifier(wm);
  const seen = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no event for the probe')), 5000);
    notifier.on('event', (ev) => { if (ev.name === 'probe') { clearTimeout(timer); resolve(ev.maskname + ' ' + ev.pathname); } });
  });
  fs.writeFileSync(path.join(root, 'probe'), '');
  out.eventAfterFirst = await seen;

  // rmWatch of armed paths works, and frees kernel watches.
  const armedPaths = out.armedAfterFirst.map(([p]) => p).filter((p) => p !== root).slice(0, 3);
  out.removed = wm.rmWatch(armedPaths.map((p) => wm.getWd(p)));
  out.getWdAfterRm = armedPaths.map((p) => wm.getWd(p) ?? null);
  out.kernelAfterRm = kernelWds(wm.inotify.fd).length;
  out.consistencyAfterRm = consistency(wm);

  // A single path when no watch is left: a plain fs-style error (armed/failed attached), not a WatchError.
  const other = new WatchManager();
  setLimit('watches', wm.watches.size + 1); // room for exactly one more
  other.addWatch(path.join(root, 'd0'), IN_CREATE);
  try {
    other.addWatch(path.join(root, 'd1'), IN_CREATE);
    out.single = { thrown: false };
  } catch (e) {
    out.single = errorShape(e);
  }
  other.close();

  // Raise the limit: the same recursive addWatch completes the tree.
  setLimit('watches', 10000);
  out.second = wm.addWatch(root, IN_CREATE, { rec: true }).size;
  out.watchesAfterSecond = wm.watches.size;
  out.consistencyAfterSecond = consistency(wm);

  // The instance limit: EMFILE with a hint naming fs.inotify.max_user_instances.
  setLimit('instances', 1); // the manager above holds the only one allowed
  try {
    new Inotify().close();
    out.instance = { thrown: false };
  } catch (e) {
    out.instance = errorShape(e);
  }
  setLimit('instances', 128);
  const again = new Inotify();
  out.instanceAfterRaise = again.fd > 0;
  again.close();

  await notifier.close();
  console.log(JSON.stringify(out));
})().catch((e) => { console.log(JSON.stringify({ crashed: String(e && e.stack) })); process.exit(1); });
`;

describe('inotify limits (in a child user namespace)', () => {
  it.skipIf(!canUseUserNamespace)('ENOSPC mid-walk: WatchError with armed/failed, manager consistent and usable, completes after the limit is raised; EMFILE for instances', () => {
    const lib = ensureLib();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'inotify-limits-'));
    try {
      // 60 directories (3 levels), far more than the limit of 20.
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 3; j++) {
          for (let k = 0; k < 2; k++) fs.mkdirSync(path.join(root, `d${i}`, `e${j}`, `f${k}`), { recursive: true });
        }
      }
      const total = 1 + 6 + 6 * 3 + 6 * 3 * 2;
      const run = spawnSync('unshare', ['--user', '--map-root-user', process.execPath, '-e', SCRIPT, lib, root], { encoding: 'utf8', timeout: 60_000 });
      const context = `status ${run.status} signal ${run.signal}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
      expect(run.status, context).toBe(0);
      // The child's JSON: three error shapes, and values compared as they are.
      type ErrorShape = { message: string; failed: number; failedMessage: string };
      const out = JSON.parse(run.stdout) as { first: ErrorShape; single: ErrorShape; instance: ErrorShape } & Record<string, unknown>;

      // The walk stopped at the limit: a WatchError naming the sysctl, with what was armed and what failed.
      expect(out.first).toMatchObject({ name: 'WatchError', isWatchError: true, code: 'ENOSPC', errno: -28, syscall: 'inotify_add_watch', armed: 20, failedCodes: ['ENOSPC'] });
      expect(out.first.failed).toBeGreaterThan(0);
      expect(out.first.message).toMatch(/^ENOSPC: no space left on device, inotify_add_watch '.+' \(the inotify watch limit is reached: raise fs\.inotify\.max_user_watches, e\.g\. sysctl fs\.inotify\.max_user_watches=\d+\); \d+ path\(s\) could not be watched, 20 watched$/);
      expect(out.first.failedMessage).toContain('fs.inotify.max_user_watches');
      expect((out.armedAfterFirst as Array<[string, number]>)[0]).toEqual([root, expect.any(Number)]);
      expect(out.watchesAfterFirst).toBe(20);
      expect(out.consistencyAfterFirst).toEqual([]);
      expect(out.eventAfterFirst).toBe(`IN_CREATE ${path.join(root, 'probe')}`);

      expect(out.removed).toHaveLength(3);
      expect(out.getWdAfterRm).toEqual([null, null, null]);
      expect(out.kernelAfterRm).toBe(17);
      expect(out.consistencyAfterRm).toEqual([]);

      // Nothing armed: the fs-style error itself, message with the hint.
      expect(out.single).toMatchObject({ name: 'Error', isWatchError: false, code: 'ENOSPC', syscall: 'inotify_add_watch', path: path.join(root, 'd1'), armed: 0, failed: 1 });
      expect(out.single.message).toBe(`ENOSPC: no space left on device, inotify_add_watch '${path.join(root, 'd1')}' (the inotify watch limit is reached: raise fs.inotify.max_user_watches, e.g. sysctl fs.inotify.max_user_watches=524288)`);

      expect(out.second).toBe(total);
      expect(out.watchesAfterSecond).toBe(total);
      expect(out.consistencyAfterSecond).toEqual([]);

      expect(out.instance).toMatchObject({ code: 'EMFILE', errno: -24, syscall: 'inotify_init1' });
      expect(out.instance.message).toMatch(/^EMFILE: too many open files, inotify_init1 \(too many inotify instances: raise fs\.inotify\.max_user_instances/);
      expect(out.instanceAfterRaise).toBe(true);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
