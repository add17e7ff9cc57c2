/**
 * A directory's IN_MOVED_FROM that ends a read batch: processing holds until
 * the rest of the rename arrives (paired: re-pathed, nothing reported at a
 * stale path) or until moveTimeout (moved out: its watches are dropped).
 * Batch boundaries cannot be forced on the real kernel, so the native layer
 * is replaced by a fake (test/helpers/fake-native.ts) over real directories.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { IN_ALL_EVENTS, IN_CREATE, IN_ISDIR, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO, IN_Q_OVERFLOW } from '../src/index.js';
import { fakeInotify } from './helpers/fake-native.js';
import { tempDir } from './helpers/index.js';
import { EventLog, openNotifier, openWatchManager } from './helpers/notifier.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('a directory IN_MOVED_FROM at the end of a batch', () => {
  test('holds the events after it until the IN_MOVED_TO arrives, then re-paths', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'a', 'inner'), { recursive: true });
    const { inotify, fake } = fakeInotify();
    const wm = openWatchManager({ inotify });
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const rootWd = wm.getWd(root) as number;
    const aWd = wm.getWd(path.join(root, 'a')) as number;
    const innerWd = wm.getWd(path.join(root, 'a', 'inner')) as number;
    const log = new EventLog(openNotifier(wm, undefined, { moveTimeout: 60_000 }));

    fs.renameSync(path.join(root, 'a'), path.join(root, 'b'));
    fake().deliver([{ wd: rootWd, mask: IN_MOVED_FROM | IN_ISDIR, cookie: 7, name: 'a' }]);
    await tick();
    expect(log.events.map((e) => `${e.maskname} ${e.pathname}`)).toStrictEqual([`IN_MOVED_FROM|IN_ISDIR ${root}/a`]);
    // Still known at the old path while the answer is pending.
    expect(wm.getWd(path.join(root, 'a'))).toBe(aWd);

    fake().deliver([
      { wd: rootWd, mask: IN_MOVED_TO | IN_ISDIR, cookie: 7, name: 'b' },
      { wd: aWd, mask: IN_MOVE_SELF },
      { wd: innerWd, mask: IN_CREATE, name: 'x' },
    ]);
    await tick();
    expect(log.events.map((e) => `${e.maskname} ${e.pathname}${e.srcPathname === undefined ? '' : ` <- ${e.srcPathname}`}`)).toStrictEqual([
      `IN_MOVED_FROM|IN_ISDIR ${root}/a`,
      `IN_MOVED_TO|IN_ISDIR ${root}/b <- ${root}/a`,
      `IN_MOVE_SELF ${root}/b`,
      `IN_CREATE ${root}/b/inner/x`,
    ]);
    expect(wm.getWd(path.join(root, 'b', 'inner'))).toBe(innerWd);
    expect(wm.getWd(path.join(root, 'a'))).toBeUndefined();
  });

  test('with no answer within moveTimeout the directory is taken as moved out; the held events follow', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'a', 'inner'), { recursive: true });
    fs.mkdirSync(path.join(root, '..', `${path.basename(root)}-out`));
    const { inotify, fake } = fakeInotify();
    const wm = openWatchManager({ inotify });
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const rootWd = wm.getWd(root) as number;
    const innerWd = wm.getWd(path.join(root, 'a', 'inner')) as number;
    const log = new EventLog(openNotifier(wm, undefined, { moveTimeout: 50 }));
    const outside = path.join(root, '..', `${path.basename(root)}-out`, 'a');
    try {
      fs.renameSync(path.join(root, 'a'), outside);
      const started = Date.now();
      fake().deliver([{ wd: rootWd, mask: IN_MOVED_FROM | IN_ISDIR, cookie: 9, name: 'a' }]);
      fake().deliver([{ wd: rootWd, mask: IN_CREATE, name: 'after' }]);
      await log.waitFor((e) => e.name === 'after', 2000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
      expect(wm.watches.size).toBe(1);
      // A late event from inside the moved-out tree is dropped, never reported at the stale path.
      fake().deliver([{ wd: innerWd, mask: IN_CREATE, name: 'x' }, { wd: rootWd, mask: IN_CREATE, name: 'end' }]);
      await log.waitFor((e) => e.name === 'end');
      expect(log.events.map((e) => `${e.maskname} ${path.relative(root, e.pathname)}`)).toStrictEqual([
        'IN_MOVED_FROM|IN_ISDIR a', 'IN_CREATE after', 'IN_CREATE end',
      ]);
    } finally {
      fs.rmSync(path.dirname(outside), { recursive: true, force: true });
    }
  });

  test('an overflow after it settles it at once (its answer was dropped): no wait for moveTimeout', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'a'));
    const { inotify, fake } = fakeInotify();
    const wm = openWatchManager({ inotify });
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const rootWd = wm.getWd(root) as number;
    const log = new EventLog(openNotifier(wm, undefined, { moveTimeout: 60_000 }));
    fs.renameSync(path.join(root, 'a'), path.join(root, 'b')); // its IN_MOVED_TO is what the overflow dropped
    fake().deliver([{ wd: rootWd, mask: IN_MOVED_FROM | IN_ISDIR, cookie: 3, name: 'a' }]);
    await tick();
    expect(log.events).toHaveLength(1);
    fake().deliver([{ wd: -1, mask: IN_Q_OVERFLOW }, { wd: rootWd, mask: IN_CREATE, name: 'after' }]);
    await log.waitFor((e) => e.name === 'after', 2000);
    expect(log.events.map((e) => e.maskname)).toStrictEqual(['IN_MOVED_FROM|IN_ISDIR', 'IN_Q_OVERFLOW', 'IN_CREATE']);
    expect(log.overflows).toHaveLength(1);
    expect(wm.getWd(path.join(root, 'a'))).toBeUndefined();
  });
});
