/**
 * Auto-add on the real kernel: directories created or moved into a
 * recursive autoAdd watch are watched, and every entry in them is reported
 * exactly once (by the kernel or, for what existed before the watch, by a
 * synthetic event), never twice.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { IN_ALL_EVENTS, IN_CLOSE_WRITE, IN_CREATE, IN_ISDIR, type InotifyEvent } from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { EventLog, describeEvents, openNotifier, openWatchManager } from './helpers/notifier.js';

const KINDS = /^IN_(CREATE|CLOSE_WRITE|MOVED_FROM|MOVED_TO|DELETE)(\||$)/;

/** (maskname, pathname) pairs of the kinds that must never repeat, reported more than once. */
function duplicates(events: readonly InotifyEvent[]): string[] {
  const counts = new Map<string, number>();
  for (const event of events) {
    if (!KINDS.test(event.maskname)) continue;
    const key = `${event.maskname} ${event.pathname}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].filter(([, count]) => count > 1).map(([key, count]) => `${key} x${count}`);
}

function count(events: readonly InotifyEvent[], mask: number, pathname: string): number {
  return events.filter((e) => e.mask === mask && e.pathname === pathname).length;
}

describe('auto-add', () => {
  // Concurrently, the scans race the writer; synchronously (this process blocked), every directory is
  // already complete when its IN_CREATE is processed, so everything in it comes from scans. In both,
  // exactly once: a file still open for writing at its directory's scan gets no synthetic
  // IN_CLOSE_WRITE (the kernel is asked, see isOpenForWrite), and the kernel's IN_CREATE that lags
  // behind an entry already visible to the scan is recognised as an echo (EchoFilter).
  test.each(['concurrently', 'while blocked'])('mkdir -p a/b/c/d && write a file, 200 times in one process (%s): each file once, nothing twice, every dir watched', async (mode) => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const log = new EventLog(openNotifier(wm));

    const script = 'for i in $(seq -w 0 199); do mkdir -p r$i/b/c/d && echo x > r$i/b/c/d/f; done';
    if (mode === 'while blocked') execFileSync('bash', ['-c', script], { cwd: root });
    else await new Promise<void>((resolve, reject) => execFile('bash', ['-c', script], { cwd: root }, (error) => (error ? reject(error) : resolve())));
    await log.sentinel(root, 20_000);

    const events = log.without();
    const missing: string[] = [];
    for (let i = 0; i < 200; i++) {
      const file = path.join(root, `r${String(i).padStart(3, '0')}`, 'b', 'c', 'd', 'f');
      if (count(events, IN_CREATE, file) !== 1) missing.push(`${file}: IN_CREATE x${count(events, IN_CREATE, file)}`);
      const closes = events.filter((e) => e.mask === IN_CLOSE_WRITE && e.pathname === file).map((e) => (e.synthetic ? 'synthetic' : 'real'));
      if (closes.length !== 1) missing.push(`${file}: IN_CLOSE_WRITE ${closes.join(', ') || 'never'}`);
    }
    expect(missing, describeEvents(events, 50)).toStrictEqual([]);
    expect(duplicates(events)).toStrictEqual([]);
    // Every directory reported as created once too.
    for (const dir of ['r000', 'r000/b', 'r000/b/c', 'r000/b/c/d', 'r199/b/c/d']) {
      expect(count(events, (IN_CREATE | IN_ISDIR) >>> 0, path.join(root, dir))).toBe(1);
    }
    expect(log.errors).toStrictEqual([]);
    expect(wm.watches.size).toBe(1 + 200 * 4);
    expect(wm.getWd(path.join(root, 'r123', 'b', 'c', 'd'))).toBeTypeOf('number');
  });

  test('a directory watched on its own (another root, not recursive) moved into a recursive tree becomes recursive', async () => {
    const base = tempDir();
    const other = path.join(base, 'other');
    const root = path.join(base, 'root');
    fs.mkdirSync(path.join(other, 'x', 'sub', 'deep'), { recursive: true });
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(other, 'x', 'sub', 'deep', 'old'), 'o');
    const wm = openWatchManager();
    wm.addWatch(other, IN_ALL_EVENTS, { rec: false });
    const xWd = wm.addWatch(path.join(other, 'x'), IN_CREATE, { rec: false }).get(path.join(other, 'x'));
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const log = new EventLog(openNotifier(wm));

    fs.renameSync(path.join(other, 'x'), path.join(root, 'x'));
    await log.sentinel(root);
    const x = path.join(root, 'x');
    // The same watch, re-pathed; what was not watched below it is now, reported as found.
    expect(wm.getWd(x)).toBe(xWd);
    expect(wm.getWd(path.join(x, 'sub'))).toBeDefined();
    expect(wm.getWd(path.join(x, 'sub', 'deep'))).toBeDefined();
    const found = log.without().filter((e) => e.synthetic).map((e) => `${e.maskname} ${path.relative(root, e.pathname)}`);
    expect(found).toStrictEqual(['IN_CREATE|IN_ISDIR x/sub', 'IN_CREATE|IN_ISDIR x/sub/deep', 'IN_CREATE x/sub/deep/old', 'IN_CLOSE_WRITE x/sub/deep/old']);

    // Writes below it are reported, and so is a new directory's content (auto-add); x's own watch has the tree's mask too.
    fs.writeFileSync(path.join(x, 'sub', 'deep', 'new'), 'n');
    await log.waitFor((e) => e.pathname === path.join(x, 'sub', 'deep', 'new') && e.mask === IN_CLOSE_WRITE);
    fs.mkdirSync(path.join(x, 'later'));
    fs.writeFileSync(path.join(x, 'later', 'f'), 'f');
    await log.waitFor((e) => e.pathname === path.join(x, 'later', 'f') && e.mask === IN_CLOSE_WRITE);
    fs.writeFileSync(path.join(x, 'direct'), 'd');
    await log.waitFor((e) => e.pathname === path.join(x, 'direct') && e.mask === IN_CLOSE_WRITE);
    expect(duplicates(log.without())).toStrictEqual([]);
    expect(log.errors).toStrictEqual([]);
  });

  test('a prepared tree of 50 dirs x 20 files moved in with one rename: every dir watched, every file reported once, synthetic', async () => {
    const base = tempDir();
    const root = path.join(base, 'root');
    const outside = path.join(base, 'outside');
    fs.mkdirSync(root);
    const tree = path.join(outside, 'tree');
    for (let d = 0; d < 50; d++) {
      const dir = path.join(tree, `d${d}`);
      fs.mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 20; f++) fs.writeFileSync(path.join(dir, `f${f}`), 'x');
    }
    const wm = openWatchManager();
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const log = new EventLog(openNotifier(wm));

    fs.renameSync(tree, path.join(root, 'tree'));
    await log.sentinel(root);

    const events = log.without();
    const movedIn = events.filter((e) => e.pathname === path.join(root, 'tree'));
    expect(movedIn.map((e) => [e.maskname, e.synthetic])).toStrictEqual([['IN_MOVED_TO|IN_ISDIR', false]]);
    const problems: string[] = [];
    for (let d = 0; d < 50; d++) {
      const dir = path.join(root, 'tree', `d${d}`);
      if (wm.getWd(dir) === undefined) problems.push(`${dir} not watched`);
      const dirCreates = events.filter((e) => e.pathname === dir && e.maskname === 'IN_CREATE|IN_ISDIR');
      if (dirCreates.length !== 1 || dirCreates[0]?.synthetic !== true) problems.push(`${dir}: ${dirCreates.length} synthetic creates`);
      for (let f = 0; f < 20; f++) {
        const file = path.join(dir, `f${f}`);
        const creates = events.filter((e) => e.pathname === file && e.mask === IN_CREATE);
        if (creates.length !== 1 || creates[0]?.synthetic !== true) problems.push(`${file}: ${creates.length} creates`);
      }
    }
    expect(problems, describeEvents(events, 30)).toStrictEqual([]);
    expect(duplicates(events)).toStrictEqual([]);
    expect(wm.watches.size).toBe(1 + 1 + 50);
    expect(log.errors).toStrictEqual([]);

    // The new watches are live: a file written in one of them afterwards is reported by the kernel.
    const later = path.join(root, 'tree', 'd7', 'later');
    fs.writeFileSync(later, 'y');
    const event = await log.waitFor((e) => e.pathname === later && e.mask === IN_CLOSE_WRITE);
    expect(event.synthetic).toBe(false);
  });
});
