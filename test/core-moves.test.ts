/**
 * Directory moves on the real kernel: a watched directory renamed inside the
 * tree keeps its watches under the new path (re-pathed when the IN_MOVED_TO
 * pairs, whatever the user's mask); one moved out of the tree loses its
 * watches and reports nothing more.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { IN_ALL_EVENTS, IN_CLOSE_WRITE, IN_CREATE, IN_MOVED_FROM, IN_MOVED_TO } from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { EventLog, describeEvents, openNotifier, openWatchManager } from './helpers/notifier.js';

/** root/a/sub/deep: three watched directories below the root. */
function prepare(root: string): void {
  fs.mkdirSync(path.join(root, 'a', 'sub', 'deep'), { recursive: true });
  fs.mkdirSync(path.join(root, 'other'));
}

describe('a watched directory renamed inside the tree', () => {
  for (const [label, mask] of [
    ['IN_ALL_EVENTS', IN_ALL_EVENTS],
    ['a mask without IN_MOVE_SELF or IN_MOVED_*', IN_CREATE | IN_CLOSE_WRITE],
  ] as const) {
    test(`events inside it are reported at the new path, never the old one (${label})`, async () => {
      const root = tempDir();
      prepare(root);
      const wm = openWatchManager();
      wm.addWatch(root, mask, { rec: true, autoAdd: true });
      const log = new EventLog(openNotifier(wm));
      const oldDir = path.join(root, 'a');
      const newDir = path.join(root, 'other', 'b');
      const deepWd = wm.getWd(path.join(oldDir, 'sub', 'deep'));
      expect(deepWd).toBeTypeOf('number');

      fs.renameSync(oldDir, newDir);
      fs.writeFileSync(path.join(newDir, 'f1'), 'x');
      fs.writeFileSync(path.join(newDir, 'sub', 'deep', 'f2'), 'x');
      await log.sentinel(root);

      const events = log.without();
      expect(events.filter((e) => e.pathname.startsWith(`${oldDir}/`)), describeEvents(events)).toStrictEqual([]);
      for (const file of [path.join(newDir, 'f1'), path.join(newDir, 'sub', 'deep', 'f2')]) {
        expect(events.filter((e) => e.pathname === file && e.mask & (IN_CREATE | IN_CLOSE_WRITE)).map((e) => e.maskname))
          .toStrictEqual(['IN_CREATE', 'IN_CLOSE_WRITE']);
      }
      if (mask & IN_MOVED_TO) {
        const to = events.find((e) => e.mask & IN_MOVED_TO);
        expect(to?.pathname).toBe(newDir);
        expect(to?.srcPathname).toBe(oldDir);
        expect(events.find((e) => e.mask & IN_MOVED_FROM)?.cookie).toBe(to?.cookie);
        // The moved directory's own IN_MOVE_SELF already carries its new path (as in pyinotify).
        expect(events.filter((e) => e.maskname === 'IN_MOVE_SELF').map((e) => e.pathname)).toStrictEqual([newDir]);
      } else {
        expect(events.filter((e) => e.mask & ~(IN_CREATE | IN_CLOSE_WRITE)), 'no internal bits leak').toStrictEqual([]);
      }
      expect(wm.getWd(newDir)).toBeTypeOf('number');
      expect(wm.getWd(path.join(newDir, 'sub', 'deep'))).toBe(deepWd);
      expect(wm.getPath(deepWd as number)).toBe(path.join(newDir, 'sub', 'deep'));
      expect(wm.getWd(oldDir)).toBeUndefined();
      expect(wm.getWd(path.join(oldDir, 'sub'))).toBeUndefined();
      expect(wm.watches.size).toBe(5);
    });
  }

  test('renamed twice in a row, then written to: the final path', async () => {
    const root = tempDir();
    prepare(root);
    const wm = openWatchManager();
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const log = new EventLog(openNotifier(wm));
    fs.renameSync(path.join(root, 'a'), path.join(root, 'b'));
    fs.renameSync(path.join(root, 'b'), path.join(root, 'c'));
    fs.writeFileSync(path.join(root, 'c', 'sub', 'f'), 'x');
    await log.sentinel(root);
    const creates = log.without().filter((e) => e.maskname === 'IN_CREATE');
    expect(creates.map((e) => e.pathname)).toStrictEqual([path.join(root, 'c', 'sub', 'f')]);
    expect(wm.getWd(path.join(root, 'c', 'sub'))).toBeTypeOf('number');
    expect(wm.getWd(path.join(root, 'b'))).toBeUndefined();
  });
});

describe('a watched directory moved out of the tree', () => {
  test('nothing inside it is reported any more, and its watches are gone', async () => {
    const base = tempDir();
    const root = path.join(base, 'root');
    const outside = path.join(base, 'outside');
    fs.mkdirSync(outside);
    prepare(root);
    const wm = openWatchManager();
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const log = new EventLog(openNotifier(wm));
    const before = wm.watches.size;
    const subWd = wm.getWd(path.join(root, 'a', 'sub'));

    fs.renameSync(path.join(root, 'a'), path.join(outside, 'a'));
    fs.writeFileSync(path.join(outside, 'a', 'f1'), 'x');
    fs.writeFileSync(path.join(outside, 'a', 'sub', 'deep', 'f2'), 'x');
    fs.mkdirSync(path.join(outside, 'a', 'sub', 'new'));
    await log.sentinel(root);

    const events = log.without();
    expect(events.map((e) => `${e.maskname} ${e.pathname}`), describeEvents(events)).toStrictEqual([
      `IN_MOVED_FROM|IN_ISDIR ${path.join(root, 'a')}`,
    ]);
    expect(wm.watches.size).toBe(before - 3);
    expect(wm.getWd(path.join(root, 'a'))).toBeUndefined();
    expect(wm.getWd(path.join(root, 'a', 'sub'))).toBeUndefined();
    expect(wm.getWd(path.join(outside, 'a'))).toBeUndefined();
    expect(wm.getPath(subWd as number)).toBeUndefined();
    expect(log.errors).toStrictEqual([]);
  });

  test('moved out and back in: watched again, its contents reported as synthetic creates', async () => {
    const base = tempDir();
    const root = path.join(base, 'root');
    const outside = path.join(base, 'outside');
    fs.mkdirSync(outside);
    prepare(root);
    fs.writeFileSync(path.join(root, 'a', 'sub', 'old'), 'x');
    const wm = openWatchManager();
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const log = new EventLog(openNotifier(wm));
    fs.renameSync(path.join(root, 'a'), path.join(outside, 'a'));
    await log.sentinel(root);
    fs.renameSync(path.join(outside, 'a'), path.join(root, 'back'));
    await log.sentinel(root);
    fs.writeFileSync(path.join(root, 'back', 'sub', 'deep', 'f'), 'x');
    await log.sentinel(root);

    const events = log.without();
    const moveIn = events.find((e) => e.maskname === 'IN_MOVED_TO|IN_ISDIR');
    expect(moveIn?.srcPathname).toBeUndefined();
    const synthetic = events.filter((e) => e.synthetic).map((e) => `${e.maskname} ${e.pathname}`);
    expect(synthetic).toStrictEqual([
      `IN_CREATE|IN_ISDIR ${path.join(root, 'back', 'sub')}`,
      `IN_CREATE|IN_ISDIR ${path.join(root, 'back', 'sub', 'deep')}`,
      `IN_CREATE ${path.join(root, 'back', 'sub', 'old')}`,
      `IN_CLOSE_WRITE ${path.join(root, 'back', 'sub', 'old')}`,
    ].sort((x, y) => synthetic.indexOf(x) - synthetic.indexOf(y)));
    expect(synthetic).toHaveLength(4);
    expect(events.filter((e) => e.pathname === path.join(root, 'back', 'sub', 'deep', 'f') && e.mask & (IN_CREATE | IN_CLOSE_WRITE))
      .map((e) => e.maskname))
      .toStrictEqual(['IN_CREATE', 'IN_CLOSE_WRITE']);
    expect(wm.watches.size).toBe(5);
  });
});
