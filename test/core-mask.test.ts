/**
 * Mask hygiene (the bits the library adds for itself never reach the user)
 * and exclusion (watch-level pruning and event-level filtering).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  ExcludeFilter, IN_ALL_EVENTS, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_MOVE_SELF,
  WatchManager,
} from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { EventLog, describeEvents, openNotifier, openWatchManager } from './helpers/notifier.js';

describe('mask hygiene', () => {
  test('IN_CLOSE_WRITE with autoAdd: no IN_CREATE delivered, yet new subdirs are watched and their files reported', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CLOSE_WRITE, { rec: true, autoAdd: true });
    const log = new EventLog(openNotifier(wm));

    execFileSync('bash', ['-c', 'mkdir -p a/b/c && echo x > a/b/c/early && mkdir a/d'], { cwd: root });
    await log.sentinel(root);
    fs.writeFileSync(path.join(root, 'a', 'b', 'c', 'late'), 'y');
    fs.writeFileSync(path.join(root, 'a', 'd', 'late'), 'y');
    await log.sentinel(root);

    const events = log.without();
    expect(events.map((e) => `${e.maskname} ${path.relative(root, e.pathname)}`), describeEvents(events)).toStrictEqual([
      'IN_CLOSE_WRITE a/b/c/early',
      'IN_CLOSE_WRITE a/b/c/late',
      'IN_CLOSE_WRITE a/d/late',
    ]);
    expect(log.events.filter((e) => e.mask & IN_CREATE)).toStrictEqual([]);
    for (const dir of ['a', 'a/b', 'a/b/c', 'a/d']) expect(wm.getWd(path.join(root, dir)), dir).toBeTypeOf('number');
    // The watch reports what the user asked, the kernel is given more.
    const watch = wm.getWatch(wm.getWd(root) as number);
    expect(watch?.mask).toBe(IN_CLOSE_WRITE);
    expect((watch?.kernelMask ?? 0) & IN_CREATE).toBe(IN_CREATE);
  });

  test('IN_MOVE_SELF / IN_DELETE_SELF only when asked for', async () => {
    for (const extra of [0, IN_MOVE_SELF | IN_DELETE_SELF]) {
      const root = tempDir();
      fs.mkdirSync(path.join(root, 'moved'));
      fs.mkdirSync(path.join(root, 'gone'));
      const wm = openWatchManager();
      wm.addWatch(root, IN_CREATE | IN_DELETE | extra, { rec: true });
      const log = new EventLog(openNotifier(wm));
      fs.renameSync(path.join(root, 'moved'), path.join(root, 'moved2'));
      fs.rmdirSync(path.join(root, 'gone'));
      await log.sentinel(root);
      const names = log.without().map((e) => `${e.maskname} ${path.relative(root, e.pathname)}`);
      if (extra === 0) {
        expect(names).toStrictEqual(['IN_IGNORED gone', 'IN_DELETE|IN_ISDIR gone']);
      } else {
        expect(names).toStrictEqual(['IN_MOVE_SELF moved2', 'IN_DELETE_SELF gone', 'IN_IGNORED gone', 'IN_DELETE|IN_ISDIR gone']);
        // *_SELF events carry the watch's kind: pyinotify's dir=True for a watched directory.
        expect(log.events.filter((e) => e.mask & (IN_MOVE_SELF | IN_DELETE_SELF)).map((e) => e.dir)).toStrictEqual([true, true]);
      }
      // IN_IGNORED arrives whatever the mask (as from the kernel), with dir=False as in pyinotify.
      expect(log.events.find((e) => e.mask === IN_IGNORED)?.dir).toBe(false);
      // The rename stayed paired internally: the moved watch has its new path.
      expect(wm.getWd(path.join(root, 'moved2'))).toBeTypeOf('number');
      expect(wm.getWd(path.join(root, 'gone'))).toBeUndefined();
    }
  });
});

describe('exclusion', () => {
  function tree(root: string): void {
    for (const dir of ['src/a', 'src/b', 'node_modules/x/y', 'node_modules/z']) fs.mkdirSync(path.join(root, dir), { recursive: true });
  }

  test('an excluded subtree is not watched: fewer watches, none under it', () => {
    const root = tempDir();
    tree(root);
    const all = new WatchManager();
    const pruned = new WatchManager();
    try {
      expect(all.addWatch(root, IN_ALL_EVENTS, { rec: true }).size).toBe(8);
      const armed = pruned.addWatch(root, IN_ALL_EVENTS, { rec: true, excludeFilter: [/\/node_modules(\/|$)/] });
      expect([...armed.keys()].map((p) => path.relative(root, p)).sort()).toStrictEqual(['', 'src', 'src/a', 'src/b']);
      expect(all.watches.size).toBe(8);
      expect(pruned.watches.size).toBe(4);
      expect(pruned.getWd(path.join(root, 'node_modules'))).toBeUndefined();
    } finally {
      all.close();
      pruned.close();
    }
  });

  test('the manager-wide filter applies to addWatch; a per-call filter overrides it', () => {
    const root = tempDir();
    tree(root);
    const wm = openWatchManager({ excludeFilter: new ExcludeFilter([`${root}/node_modules`]) });
    expect(wm.addWatch(root, IN_CREATE, { rec: true }).size).toBe(4);
    expect(wm.addWatch(path.join(root, 'node_modules'), IN_CREATE, { rec: true, excludeFilter: [] }).size).toBe(4);
    expect(wm.watches.size).toBe(8);
  });

  test('events whose pathname matches are not reported; new directories matching are neither watched nor reported', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE | IN_CLOSE_WRITE, { rec: true, autoAdd: true, excludeFilter: [/\.tmp$/, /\/cache(\/|$)/] });
    const log = new EventLog(openNotifier(wm));
    fs.writeFileSync(path.join(root, 'keep.txt'), 'x');
    fs.writeFileSync(path.join(root, 'skip.tmp'), 'x');
    fs.mkdirSync(path.join(root, 'cache'));
    fs.writeFileSync(path.join(root, 'cache', 'inside'), 'x');
    fs.mkdirSync(path.join(root, 'sub'));
    fs.writeFileSync(path.join(root, 'sub', 'also.tmp'), 'x');
    fs.writeFileSync(path.join(root, 'sub', 'ok'), 'x');
    await log.sentinel(root);
    expect(log.without().map((e) => `${e.maskname} ${path.relative(root, e.pathname)}`)).toStrictEqual([
      'IN_CREATE keep.txt', 'IN_CLOSE_WRITE keep.txt',
      'IN_CREATE|IN_ISDIR sub', 'IN_CREATE sub/ok', 'IN_CLOSE_WRITE sub/ok',
    ]);
    expect(wm.getWd(path.join(root, 'cache'))).toBeUndefined();
    expect(wm.watches.size).toBe(2);
  });

  test('ExcludeFilter.fromFile: one pattern per line, # comments and blank lines skipped, anchored at the start like re.match', () => {
    const dir = tempDir();
    const file = path.join(dir, 'exclude.lst');
    fs.writeFileSync(file, '# build output\n^/srv/www/cache\n\n   /tmp/.*\\.swp   \n# end\n');
    const filter = ExcludeFilter.fromFile(file);
    expect(filter.patterns.map(String)).toStrictEqual(['/^(?:^\\/srv\\/www\\/cache)/', '/^(?:\\/tmp\\/.*\\.swp)/']);
    expect(filter.matches('/srv/www/cache/x')).toBe(true);
    expect(filter.matches('/tmp/a.swp')).toBe(true);
    expect(filter.matches('/home/tmp/a.swp')).toBe(false);
    expect(filter.matches('/srv/www/data')).toBe(false);
    expect(() => ExcludeFilter.fromFile(path.join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }) as Error);
    // pyinotify's spelling: ExcludeFilter(filename).
    expect(new ExcludeFilter(file).patterns.map(String)).toStrictEqual(filter.patterns.map(String));

    const root = tempDir();
    fs.mkdirSync(path.join(root, 'keep'));
    fs.mkdirSync(path.join(root, 'drop'));
    fs.writeFileSync(file, `${root}/drop\n`);
    const wm = openWatchManager();
    const armed = wm.addWatch(root, IN_CREATE, { rec: true, excludeFilter: ExcludeFilter.fromFile(file) });
    expect([...armed.keys()].sort()).toStrictEqual([root, path.join(root, 'keep')]);
  });
});
