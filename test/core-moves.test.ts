/**
 * Directory moves on the real kernel: a watched directory renamed inside the
 * tree keeps its watches under the new path (re-pathed when the IN_MOVED_TO
 * pairs, whatever the user's mask); one moved out of the tree loses its
 * watches and reports nothing more.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { IN_ALL_EVENTS, IN_CLOSE_WRITE, IN_CREATE, IN_MOVED_FROM, IN_MOVED_TO } from '../src/index.js';
import { MoveTracker } from '../src/move-tracker.js';
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

describe('a directory name reused before its events are processed', () => {
  test('mkdir d; write d/f; mv d eNN (x50), then mkdir d: each eNN watched with its file, d watched as d', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const log = new EventLog(openNotifier(wm));
    // Synchronously: every IN_CREATE d is processed when the path d already names the last directory.
    execFileSync('bash', ['-c', 'for i in $(seq 10 59); do mkdir d && echo x > d/f$i && mv d e$i; done; mkdir d'], { cwd: root });
    await log.sentinel(root);
    const problems: string[] = [];
    for (let i = 10; i < 60; i++) {
      const dir = path.join(root, `e${i}`);
      if (wm.getWd(dir) === undefined) problems.push(`${dir} not watched`);
      const file = path.join(dir, `f${i}`);
      for (const mask of [IN_CREATE, IN_CLOSE_WRITE]) {
        const n = log.at(file).filter((e) => e.mask === mask).length;
        if (n !== 1) problems.push(`${file}: ${n} x mask ${mask}`);
      }
      fs.writeFileSync(path.join(dir, 'late'), '');
    }
    fs.writeFileSync(path.join(root, 'd', 'late'), '');
    await log.sentinel(root);
    for (const dir of [...Array.from({ length: 50 }, (_, i) => `e${i + 10}`), 'd']) {
      const late = path.join(root, dir, 'late');
      if (log.at(late).filter((e) => e.mask === IN_CREATE).length !== 1) problems.push(`${late} not reported`);
    }
    expect(problems, describeEvents(log.events, 40)).toStrictEqual([]);
    expect(wm.getPath(wm.getWd(path.join(root, 'd')) as number)).toBe(path.join(root, 'd'));
    expect(wm.watches.size).toBe(1 + 50 + 1);
    expect(log.errors).toStrictEqual([]);
  });

  test('mkdir d; mv d out; mkdir d: the new d stays watched, no wait for the moved one', async () => {
    const base = tempDir();
    const root = path.join(base, 'root');
    fs.mkdirSync(root);
    const wm = openWatchManager();
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const log = new EventLog(openNotifier(wm, undefined, { moveTimeout: 60_000 }));
    execFileSync('bash', ['-c', 'mkdir d && mv d ../out && mkdir d && echo x > d/f'], { cwd: root });
    await log.sentinel(root);
    fs.writeFileSync(path.join(root, 'd', 'late'), '');
    await log.waitFor((e) => e.pathname === path.join(root, 'd', 'late'));
    expect(log.without().filter((e) => e.mask === IN_CREATE).map((e) => path.relative(root, e.pathname))).toStrictEqual(['d/f', 'd/late']);
    expect(wm.watches.size).toBe(2);
  });
});

describe('a watched directory moved out of the tree', () => {
  test('its IN_MOVE_SELF is delivered (as inotifywait prints it), then nothing inside it is reported any more, and its watches are gone', async () => {
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
      `IN_MOVE_SELF ${path.join(root, 'a')}`,
    ]);
    expect(events[1]?.dir).toBe(true);
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
    // readdir order decides deep vs old; a directory always comes before its contents.
    expect([...synthetic].sort()).toStrictEqual([
      `IN_CLOSE_WRITE ${path.join(root, 'back', 'sub', 'old')}`,
      `IN_CREATE ${path.join(root, 'back', 'sub', 'old')}`,
      `IN_CREATE|IN_ISDIR ${path.join(root, 'back', 'sub')}`,
      `IN_CREATE|IN_ISDIR ${path.join(root, 'back', 'sub', 'deep')}`,
    ]);
    expect(synthetic[0]).toBe(`IN_CREATE|IN_ISDIR ${path.join(root, 'back', 'sub')}`);
    expect(synthetic.indexOf(`IN_CREATE ${path.join(root, 'back', 'sub', 'old')}`))
      .toBeLessThan(synthetic.indexOf(`IN_CLOSE_WRITE ${path.join(root, 'back', 'sub', 'old')}`));
    expect(events.filter((e) => e.pathname === path.join(root, 'back', 'sub', 'deep', 'f') && e.mask & (IN_CREATE | IN_CLOSE_WRITE))
      .map((e) => e.maskname))
      .toStrictEqual(['IN_CREATE', 'IN_CLOSE_WRITE']);
    expect(wm.watches.size).toBe(5);
  });
});

describe('MoveTracker (the pending IN_MOVED_FROM halves)', () => {
  test('beyond its bound it forgets only the oldest halves, never the one just remembered', () => {
    const tracker = new MoveTracker(5_000, 3);
    for (let cookie = 1; cookie <= 4; cookie++) tracker.remember(cookie, `/w/f${cookie}`, false, 1_000 + cookie);
    expect(tracker.size).toBe(3);
    expect(tracker.take(1)).toBeUndefined();
    expect(tracker.take(4)?.pathname).toBe('/w/f4');
    expect(tracker.take(2)?.pathname).toBe('/w/f2');
  });

  test('halves older than the time limit are forgotten when the queue empties', () => {
    const tracker = new MoveTracker(5_000);
    tracker.remember(1, '/w/old', false, 0);
    tracker.remember(2, '/w/new', false, 4_000);
    tracker.expire(6_000);
    expect(tracker.take(1)).toBeUndefined();
    expect(tracker.take(2)?.pathname).toBe('/w/new');
  });
});
