/**
 * Overflow recovery: with `rescan`, an IN_Q_OVERFLOW is followed by a re-read
 * of the watched tree that reports what changed unseen (synthetic events),
 * re-arms new directories and drops watches of directories that are gone.
 * The overflow is forced with a tiny fs.inotify.max_queued_events (see
 * helpers/queue-limit.ts).
 */
import { execSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_ISDIR, IN_MOVED_FROM, IN_MOVED_TO, IN_Q_OVERFLOW,
  Notifier, WatchManager, watch, type InotifyEvent,
} from '../src/index.js';
import { fakeInotify } from './helpers/fake-native.js';
import { tempDir } from './helpers/index.js';
import { canLimitQueue, withQueueLimit } from './helpers/queue-limit.js';
import { EventLog, describeEvents, openNotifier, openWatchManager } from './helpers/notifier.js';

const MASK = (IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF) >>> 0;

/** A tree with files and directories that the blind-spot script removes, renames and replaces. */
function prepare(root: string): void {
  for (const name of ['old1', 'old2', 'kept']) fs.writeFileSync(path.join(root, name), 'x');
  for (const dir of ['sub/inner', 'gone', 'rep']) fs.mkdirSync(path.join(root, dir), { recursive: true });
  fs.writeFileSync(path.join(root, 'sub', 'inner', 'deep'), 'x');
  fs.writeFileSync(path.join(root, 'rep', 'before'), 'x');
}

// Runs synchronously, so nothing is read while it runs and the 64-event queue overflows.
const BLIND_SPOT = [
  'for i in $(seq 1 500); do echo x > f$i; done',
  'for d in d1 d2 d3; do mkdir $d; for j in 1 2 3; do echo y > $d/g$j; done; done',
  'mkdir -p d3/nested/more && echo z > d3/nested/more/n',
  'rm old1 old2',
  'mv sub sub2',
  'rm -r gone',
  'rm -r rep && mkdir rep && echo r > rep/after',
].join(' && ');

function count(events: readonly InotifyEvent[], mask: number, pathname: string): number {
  return events.filter((e) => e.mask === mask && e.pathname === pathname).length;
}

describe.skipIf(!canLimitQueue)('overflow rescan', () => {
  test('everything created, deleted, renamed or replaced in the blind spot is reported once; new dirs watched; gone ones dropped', async () => {
    const root = tempDir();
    prepare(root);
    const wm = withQueueLimit(64, () => new WatchManager());
    const notifier = openNotifier(wm, undefined, { rescan: true });
    expect(wm.addWatch(root, MASK, { rec: true, autoAdd: true }).size).toBe(5);
    const log = new EventLog(notifier);
    const goneWd = wm.getWd(path.join(root, 'gone')) as number;
    const repWd = wm.getWd(path.join(root, 'rep')) as number;

    execSync(BLIND_SPOT, { cwd: root, shell: '/bin/bash' });
    await log.settle(root, 20_000, 250);

    expect(log.overflows.length).toBeGreaterThan(0);
    const events = log.without();
    const problems: string[] = [];
    const once = (mask: number, rel: string): void => {
      const n = count(events, mask, path.join(root, rel));
      if (n !== 1) problems.push(`${rel}: ${n} x 0x${mask.toString(16)}`);
    };
    for (let i = 1; i <= 500; i++) {
      once(IN_CREATE, `f${i}`);
      if (count(events, IN_CLOSE_WRITE, path.join(root, `f${i}`)) > 1) problems.push(`f${i}: CLOSE_WRITE twice`);
    }
    for (const d of ['d1', 'd2', 'd3']) {
      once((IN_CREATE | IN_ISDIR) >>> 0, d);
      for (const g of ['g1', 'g2', 'g3']) once(IN_CREATE, `${d}/${g}`);
    }
    for (const rel of ['d3/nested', 'd3/nested/more', 'sub2', 'sub2/inner']) once((IN_CREATE | IN_ISDIR) >>> 0, rel);
    for (const rel of ['d3/nested/more/n', 'sub2/inner/deep', 'rep/after']) once(IN_CREATE, rel);
    for (const rel of ['old1', 'old2']) once(IN_DELETE, rel);
    for (const rel of ['sub', 'gone', 'rep']) once((IN_DELETE | IN_ISDIR) >>> 0, rel);
    once((IN_CREATE | IN_ISDIR) >>> 0, 'rep');
    expect(problems, describeEvents(events, 60)).toStrictEqual([]);
    // Nothing reported about what did not change, nothing reported at a stale path.
    expect(events.filter((e) => e.pathname === path.join(root, 'kept') || e.pathname.startsWith(path.join(root, 'sub') + '/'))).toStrictEqual([]);
    // Synthetic events come right after the overflow, and are marked.
    const overflowAt = events.findIndex((e) => e.mask === IN_Q_OVERFLOW);
    expect(overflowAt).toBeGreaterThanOrEqual(0);
    expect(events.slice(0, overflowAt).some((e) => e.synthetic)).toBe(false);
    expect(events.find((e) => e.pathname === path.join(root, 'old1'))?.synthetic).toBe(true);

    // The watches match the tree: new directories armed, gone and replaced ones re-armed or dropped.
    const dirs = ['', 'd1', 'd2', 'd3', 'd3/nested', 'd3/nested/more', 'sub2', 'sub2/inner', 'rep'];
    expect([...wm.watches.values()].map((w) => path.relative(root, w.path)).sort()).toStrictEqual(dirs.sort());
    expect(wm.getPath(goneWd)).toBeUndefined();
    expect(wm.getWd(path.join(root, 'rep'))).not.toBe(repWd);
    expect(log.errors).toStrictEqual([]);

    // And they are live.
    const before = log.events.length;
    for (const rel of ['d2/late', 'd3/nested/more/late', 'sub2/inner/late', 'rep/late']) fs.writeFileSync(path.join(root, rel), '');
    await log.sentinel(root);
    const later = log.events.slice(before).filter((e) => e.mask === IN_CREATE && !e.name.startsWith('.sentinel-'));
    expect(later.map((e) => path.relative(root, e.pathname))).toStrictEqual([
      'd2/late', 'd3/nested/more/late', 'sub2/inner/late', 'rep/late',
    ]);
  });

  test('a watched root deleted in the blind spot gets IN_DELETE_SELF and IN_IGNORED, its watches are dropped', async () => {
    const base = tempDir();
    const root = path.join(base, 'root');
    fs.mkdirSync(path.join(root, 'a'), { recursive: true });
    const wm = withQueueLimit(16, () => new WatchManager());
    const notifier = openNotifier(wm, undefined, { rescan: true });
    wm.addWatch(root, MASK, { rec: true, autoAdd: true });
    wm.addWatch(base, IN_CLOSE_WRITE); // for the sentinel
    const log = new EventLog(notifier);
    execSync('for i in $(seq 1 100); do echo x > root/a/f$i; done; rm -r root', { cwd: base, shell: '/bin/bash' });
    await log.settle(base, 20_000, 250);
    expect(log.overflows.length).toBeGreaterThan(0);
    const after = log.without().slice(log.without().findIndex((e) => e.mask === IN_Q_OVERFLOW) + 1);
    expect(after.filter((e) => e.pathname === root).map((e) => [e.maskname, e.dir, e.synthetic])).toStrictEqual([
      ['IN_DELETE_SELF', true, true], ['IN_IGNORED', false, true],
    ]);
    expect([...wm.watches.values()].map((w) => w.path)).toStrictEqual([base]);
  });

  test('watch() rescans by default; rescan: false only reports the overflow', async () => {
    for (const rescan of [undefined, false]) {
      const root = tempDir();
      prepare(root);
      const ac = new AbortController();
      const stream = withQueueLimit(64, () => watch(root, { signal: ac.signal, rescan }));
      const log = new EventLog(stream.notifier);
      const consumed = (async () => {
        for await (const _event of stream) { /* the log records */ }
      })();
      execSync(BLIND_SPOT, { cwd: root, shell: '/bin/bash' });
      await log.settle(root, 20_000, 250);
      expect(log.overflows.length).toBeGreaterThan(0);
      const synthetic = log.without().filter((e) => e.synthetic);
      if (rescan === undefined) {
        expect(count(synthetic, IN_DELETE, path.join(root, 'old2'))).toBe(1);
        expect(count(synthetic, IN_CREATE, path.join(root, 'd3', 'nested', 'more', 'n'))).toBe(1);
        expect(stream.notifier.watchManager.getWd(path.join(root, 'd3', 'nested'))).toBeTypeOf('number');
      } else {
        expect(synthetic).toStrictEqual([]);
      }
      ac.abort();
      await consumed;
    }
  });

  test('a Notifier with rescan over a manager that already has watches reads them once, and ignores its own scan noise', async () => {
    const root = tempDir();
    prepare(root);
    const wm = withQueueLimit(64, () => new WatchManager());
    wm.addWatch(root, MASK, { rec: true, autoAdd: true });
    const notifier = openNotifier(wm, undefined, { rescan: true });
    const log = new EventLog(notifier);
    await log.sentinel(root);
    expect(log.without()).toStrictEqual([]);
    execSync('for i in $(seq 1 200); do echo x > f$i; done; rm old1', { cwd: root, shell: '/bin/bash' });
    await log.settle(root, 20_000, 250);
    expect(log.overflows.length).toBeGreaterThan(0);
    const events = log.without();
    expect(count(events, IN_DELETE, path.join(root, 'old1'))).toBe(1);
    for (let i = 1; i <= 200; i++) expect(count(events, IN_CREATE, path.join(root, `f${i}`)), `f${i}`).toBe(1);
    expect(events.filter((e) => e.pathname === path.join(root, 'kept'))).toStrictEqual([]);
  });

  test('without rescan (the Notifier default) the overflow is surfaced and nothing is made up', async () => {
    const root = tempDir();
    const wm = withQueueLimit(16, () => new WatchManager());
    wm.addWatch(root, IN_CREATE);
    const notifier = openNotifier(wm);
    expect(notifier).toBeInstanceOf(Notifier);
    const log = new EventLog(notifier);
    execSync('for i in $(seq 1 100); do : > f$i; done', { cwd: root, shell: '/bin/bash' });
    await log.settle(root, 20_000, 250);
    expect(log.overflows).toHaveLength(1);
    expect(log.events.filter((e) => e.synthetic)).toStrictEqual([]);
    expect(log.without().filter((e) => e.wd !== -1).length).toBeLessThan(100);
  });
});

describe('overflow rescan, exact batches (fake native layer)', () => {
  test('changes that records queued after the overflow report themselves are not made up as well', async () => {
    const root = tempDir();
    for (const name of ['a', 'b', 'keep']) fs.writeFileSync(path.join(root, name), 'x');
    const { inotify, fake } = fakeInotify();
    const wm = openWatchManager({ inotify });
    wm.addWatch(root, MASK, { autoAdd: true });
    const wd = wm.getWd(root) as number;
    const log = new EventLog(openNotifier(wm, undefined, { rescan: true }));
    // Unseen (their events were dropped): x and y created, a and b deleted. After the overflow the
    // kernel still queued x's creation and a's deletion, which are reported by those records.
    for (const name of ['x', 'y']) fs.writeFileSync(path.join(root, name), 'x');
    for (const name of ['a', 'b']) fs.unlinkSync(path.join(root, name));
    fake().deliver([
      { wd: -1, mask: IN_Q_OVERFLOW },
      { wd, mask: IN_DELETE, name: 'a' },
      { wd, mask: IN_CREATE, name: 'x' },
      { wd, mask: IN_CLOSE_WRITE, name: 'x' },
    ]);
    await log.waitFor((e) => e.name === 'x' && e.mask === IN_CLOSE_WRITE);
    expect(log.events.map((e) => `${e.maskname} ${e.name}${e.synthetic ? ' (synthetic)' : ''}`)).toStrictEqual([
      'IN_Q_OVERFLOW ',
      'IN_DELETE b (synthetic)',
      'IN_CREATE y (synthetic)',
      'IN_CLOSE_WRITE y (synthetic)',
      'IN_DELETE a',
      'IN_CREATE x',
      'IN_CLOSE_WRITE x',
    ]);
    // The listing is exact again: a second overflow finds nothing new.
    fake().deliver([{ wd: -1, mask: IN_Q_OVERFLOW }, { wd, mask: IN_CREATE, name: 'end' }]);
    await log.waitFor((e) => e.name === 'end');
    expect(log.events.slice(7).map((e) => e.maskname)).toStrictEqual(['IN_Q_OVERFLOW', 'IN_CREATE']);
  });

  test('a run of overflows rescans once, after the last', async () => {
    const root = tempDir();
    const { inotify, fake } = fakeInotify();
    const wm = openWatchManager({ inotify });
    wm.addWatch(root, MASK);
    const log = new EventLog(openNotifier(wm, undefined, { rescan: true }));
    fs.writeFileSync(path.join(root, 'new'), '');
    fake().deliver([{ wd: -1, mask: IN_Q_OVERFLOW }, { wd: -1, mask: IN_Q_OVERFLOW }]);
    await log.waitFor((e) => e.name === 'new');
    expect(log.events.map((e) => `${e.maskname} ${e.name}`)).toStrictEqual([
      'IN_Q_OVERFLOW ', 'IN_Q_OVERFLOW ', 'IN_CREATE new', 'IN_CLOSE_WRITE new',
    ]);
  });
});
