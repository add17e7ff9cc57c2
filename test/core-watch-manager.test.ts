/**
 * The WatchManager API on the real kernel: what addWatch returns, re-adding,
 * IN_MASK_ADD, rmWatch (and the late events of removed watches),
 * updateWatch, lookups, limits, and errors in Node's fs shape.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import {
  IN_ALL_EVENTS, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_ISDIR, IN_MASK_ADD, WatchError, type WatchFailure,
} from '../src/index.js';
import { ensureLib } from './helpers/child.js';
import { tempDir } from './helpers/index.js';
import { EventLog, describeEvents, openNotifier, openWatchManager } from './helpers/notifier.js';

function readLimit(name: string): number {
  return Number(fs.readFileSync(`/proc/sys/fs/inotify/${name}`, 'utf8'));
}

describe('addWatch', () => {
  test('returns a Map of path -> wd; accepts an array of paths; every wd resolves both ways', () => {
    const root = tempDir();
    for (const dir of ['x', 'y', 'y/z']) fs.mkdirSync(path.join(root, dir));
    const wm = openWatchManager();
    const one = wm.addWatch(path.join(root, 'x'), IN_CREATE);
    expect(one).toBeInstanceOf(Map);
    expect([...one.keys()]).toStrictEqual([path.join(root, 'x')]);
    const many = wm.addWatch([path.join(root, 'x'), path.join(root, 'y')], IN_CREATE, { rec: true });
    expect([...many.keys()].sort()).toStrictEqual([path.join(root, 'x'), path.join(root, 'y'), path.join(root, 'y', 'z')]);
    expect(many.get(path.join(root, 'x'))).toBe(one.get(path.join(root, 'x')));
    for (const [p, wd] of many) {
      expect(wm.getWd(p)).toBe(wd);
      expect(wm.getPath(wd)).toBe(p);
      expect(wm.getWatch(wd)?.path).toBe(p);
    }
    // Relative paths, trailing slashes, Buffers and file: URLs name the same watch.
    const rel = path.relative(process.cwd(), path.join(root, 'y', 'z'));
    expect(wm.getWd(`${rel}/`)).toBe(many.get(path.join(root, 'y', 'z')));
    expect(wm.getWd(Buffer.from(path.join(root, 'y')))).toBe(many.get(path.join(root, 'y')));
    expect(wm.getWd(new URL(`file://${root}/x`))).toBe(one.get(path.join(root, 'x')));
    expect(wm.getWd(path.join(root, 'nope'))).toBeUndefined();
    expect(wm.getPath(99_999)).toBeUndefined();
    expect(wm.watches.size).toBe(3);
  });

  test('a recursive walk with IN_ALL_EVENTS over more directories than the queue holds: no overflow, no scan noise', async () => {
    const root = tempDir();
    // Each readdir of an armed directory queues >= 4 events (OPEN, ACCESS, CLOSE_NOWRITE on two watches).
    const side = Math.ceil(Math.sqrt(readLimit('max_queued_events') / 4 + 100));
    for (let i = 0; i < side; i++) for (let j = 0; j < side; j++) fs.mkdirSync(path.join(root, `a${i}`, `b${j}`), { recursive: true });
    const wm = openWatchManager();
    expect(wm.addWatch(root, IN_ALL_EVENTS, { rec: true }).size).toBe(1 + side + side * side);
    const log = new EventLog(openNotifier(wm));
    await log.sentinel(root);
    expect(log.overflows).toStrictEqual([]);
    expect(log.without(), describeEvents(log.without())).toStrictEqual([]);
  });

  test('doGlob expands * ? [..] per segment, hidden names only for a pattern starting with a dot', () => {
    const root = tempDir();
    for (const dir of ['d1', 'd2', 'dx', 'e1', '.d3', 'd1/in']) fs.mkdirSync(path.join(root, dir));
    fs.writeFileSync(path.join(root, 'd9'), '');
    const wm = openWatchManager();
    const armed = wm.addWatch(path.join(root, 'd[0-9]'), IN_CREATE, { doGlob: true });
    expect([...armed.keys()]).toStrictEqual(['d1', 'd2', 'd9'].map((n) => path.join(root, n)));
    expect([...wm.addWatch(path.join(root, '?1', '*'), IN_CREATE, { doGlob: true }).keys()]).toStrictEqual([path.join(root, 'd1', 'in')]);
    expect([...wm.addWatch(path.join(root, '.d*'), IN_CREATE, { doGlob: true }).keys()]).toStrictEqual([path.join(root, '.d3')]);
    // Without doGlob the pattern is a literal name.
    expect(() => wm.addWatch(path.join(root, 'd*'), IN_CREATE)).toThrow(expect.objectContaining({ code: 'ENOENT' }) as Error);
  });

  test("doGlob brackets read as fnmatch's: ']' first is a member, '!' negates, '^' is literal", () => {
    const root = tempDir();
    for (const name of ['^x', ']y', '!z', 'a']) fs.mkdirSync(path.join(root, name));
    const wm = openWatchManager();
    const names = (pattern: string): string[] => [...wm.addWatch(path.join(root, pattern), IN_CREATE, { doGlob: true }).keys()].map((p) => path.basename(p));
    expect(names('[]!]*')).toStrictEqual(['!z', ']y']);
    expect(names('[^]*')).toStrictEqual(['^x']);
    expect(names('[!]^!]*')).toStrictEqual(['a']);
    expect(names('[!a]')).toStrictEqual([]);
  });

  test('re-adding a watched path keeps its wd and replaces the mask; IN_MASK_ADD adds to it', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    const wd = wm.addWatch(root, IN_CREATE).get(root) as number;
    expect(wm.addWatch(root, IN_DELETE).get(root)).toBe(wd);
    expect(wm.getWatch(wd)?.mask).toBe(IN_DELETE);
    const log = new EventLog(openNotifier(wm));
    fs.writeFileSync(path.join(root, 'f'), '');
    fs.unlinkSync(path.join(root, 'f'));
    await log.sentinel(root, undefined, true); // seen through its IN_DELETE
    expect(log.without().map((e) => e.maskname)).toStrictEqual(['IN_DELETE']);

    expect(wm.addWatch(root, IN_CREATE | IN_MASK_ADD).get(root)).toBe(wd);
    expect(wm.getWatch(wd)?.mask).toBe(IN_DELETE | IN_CREATE);
    expect(wm.watches.size).toBe(1);
    fs.writeFileSync(path.join(root, 'g'), '');
    fs.unlinkSync(path.join(root, 'g'));
    await log.sentinel(root, undefined, true);
    expect(log.without().map((e) => `${e.maskname} ${e.name}`)).toStrictEqual(['IN_DELETE f', 'IN_CREATE g', 'IN_DELETE g']);
  });

  test('IN_MASK_ADD keeps autoAdd (it only adds); a plain re-add replaces the options too', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    const wd = wm.addWatch(root, IN_CREATE, { autoAdd: true }).get(root) as number;
    wm.addWatch(root, IN_DELETE | IN_MASK_ADD);
    expect(wm.getWatch(wd)).toMatchObject({ mask: IN_CREATE | IN_DELETE, autoAdd: true });
    const log = new EventLog(openNotifier(wm));
    fs.mkdirSync(path.join(root, 'x'));
    await log.waitFor((e) => e.name === 'x');
    expect(wm.getWd(path.join(root, 'x'))).toBeTypeOf('number');
    wm.addWatch(root, IN_CREATE);
    expect(wm.getWatch(wd)).toMatchObject({ mask: IN_CREATE, autoAdd: false });
  });
});

describe('rmWatch', () => {
  test('with rec removes the subtree; late events of removed watches are dropped, even with the path re-added', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'sub', 'deep'), { recursive: true });
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE, { rec: true, autoAdd: true });
    const log = new EventLog(openNotifier(wm));
    const sub = path.join(root, 'sub');
    const oldWd = wm.getWd(sub) as number;
    const oldDeep = wm.getWd(path.join(sub, 'deep')) as number;

    // All synchronously: the kernel queues these events before the watches go away.
    fs.writeFileSync(path.join(sub, 'before'), '');
    fs.writeFileSync(path.join(sub, 'deep', 'before'), '');
    expect(wm.rmWatch(oldWd, { rec: true }).sort()).toStrictEqual([oldWd, oldDeep].sort());
    expect(wm.getWd(sub)).toBeUndefined();
    expect(wm.getPath(oldDeep)).toBeUndefined();
    const newWd = wm.addWatch(sub, IN_CREATE).get(sub) as number;
    expect(newWd).not.toBe(oldWd);
    fs.writeFileSync(path.join(sub, 'after'), '');
    fs.writeFileSync(path.join(sub, 'deep', 'unwatched'), '');
    await log.sentinel(root);

    const events = log.without();
    expect(events.map((e) => `${e.maskname} ${path.relative(root, e.pathname)} wd=${e.wd === newWd ? 'new' : e.wd}`), describeEvents(events))
      .toStrictEqual(['IN_CREATE sub/after wd=new']);
    expect(wm.watches.size).toBe(2);
    expect(() => wm.rmWatch(oldWd)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'inotify_rm_watch' }) as Error);
  });
});

describe('updateWatch', () => {
  test('updates by wd: when the path now names another directory, no untracked watch is armed there', () => {
    const root = tempDir();
    const wm = openWatchManager();
    const dir = path.join(root, 'd');
    fs.mkdirSync(dir);
    const wd = wm.addWatch(dir, IN_CREATE).get(dir) as number;
    // Renamed and replaced before any event was processed: the path names another directory now.
    fs.renameSync(dir, path.join(root, 'moved'));
    fs.mkdirSync(dir);
    wm.updateWatch(wd, { mask: IN_CREATE | IN_DELETE });
    wm.inotify.readSync();
    fs.writeFileSync(path.join(dir, 'in-the-new-d'), '');
    fs.writeFileSync(path.join(root, 'moved', 'in-the-old-d'), '');
    const records = wm.inotify.readSync();
    // Only the watched directory (now at 'moved') reports, on its own wd.
    expect(records.map((r) => [r.wd, r.name])).toStrictEqual([[wd, 'in-the-old-d']]);
    expect(wm.watches.get(wd)?.mask).toBe(IN_CREATE | IN_DELETE);
  });

  test('a new mask replaces the old; autoAdd false stops watching new subdirectories', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    const wd = wm.addWatch(root, IN_CREATE, { autoAdd: true }).get(root) as number;
    const log = new EventLog(openNotifier(wm));
    fs.mkdirSync(path.join(root, 'auto'));
    await log.waitFor((e) => e.name === 'auto');
    expect(wm.getWd(path.join(root, 'auto'))).toBeTypeOf('number');

    wm.updateWatch(wd, { autoAdd: false, mask: IN_CREATE | IN_DELETE });
    expect(wm.getWatch(wd)?.autoAdd).toBe(false);
    expect(wm.getWatch(wd)?.mask).toBe(IN_CREATE | IN_DELETE);
    fs.mkdirSync(path.join(root, 'manual'));
    fs.rmdirSync(path.join(root, 'manual'));
    await log.sentinel(root);
    expect(wm.getWd(path.join(root, 'manual'))).toBeUndefined();

    wm.updateWatch(wd, { mask: IN_DELETE });
    fs.writeFileSync(path.join(root, 'x'), '');
    fs.unlinkSync(path.join(root, 'x'));
    await log.waitFor((e) => e.name === 'x');
    expect(log.without().map((e) => `${e.maskname} ${e.name}`)).toStrictEqual([
      'IN_CREATE|IN_ISDIR auto', 'IN_CREATE|IN_ISDIR manual', 'IN_DELETE|IN_ISDIR manual', 'IN_DELETE x',
    ]);
    expect(() => wm.updateWatch(12_345, { mask: IN_CREATE })).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
  });

  test('with rec, every watch below is updated', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE, { rec: true });
    wm.updateWatch(wm.getWd(root) as number, { mask: IN_CLOSE_WRITE, rec: true });
    for (const wd of wm.watches.keys()) expect(wm.getWatch(wd)?.mask).toBe(IN_CLOSE_WRITE);
    const log = new EventLog(openNotifier(wm));
    fs.writeFileSync(path.join(root, 'a', 'b', 'f'), 'x');
    await log.sentinel(root);
    expect(log.without().map((e) => `${e.maskname} ${path.relative(root, e.pathname)}`)).toStrictEqual(['IN_CLOSE_WRITE a/b/f']);
  });
  test('an update of one watch leaves alone the watches armed with it (their shared settings are copied, not changed)', async () => {
    const root = tempDir();
    for (const name of ['a', 'b', 'c']) fs.mkdirSync(path.join(root, name));
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE, { rec: true, autoAdd: true });
    const wdOf = (name: string): number => wm.getWd(path.join(root, name)) as number;
    wm.updateWatch(wdOf('a'), { mask: IN_DELETE, autoAdd: false });
    wm.addWatch(path.join(root, 'c'), IN_DELETE | IN_MASK_ADD); // a re-add of one directory, too
    expect(wm.getWatch(wdOf('a'))).toMatchObject({ mask: IN_DELETE, autoAdd: false });
    expect(wm.getWatch(wdOf('b'))).toMatchObject({ mask: IN_CREATE, autoAdd: true });
    expect(wm.getWatch(wdOf('c'))).toMatchObject({ mask: IN_CREATE | IN_DELETE, autoAdd: true });
    expect(wm.getWatch(wdOf(''))).toMatchObject({ mask: IN_CREATE, autoAdd: true });

    // And the kernel was told the same: b still reports creations and auto-adds, a does neither.
    const log = new EventLog(openNotifier(wm));
    for (const name of ['a', 'b']) {
      fs.mkdirSync(path.join(root, name, 'sub'));
      fs.writeFileSync(path.join(root, name, 'f'), '');
      fs.unlinkSync(path.join(root, name, 'f'));
    }
    await log.waitFor((e) => e.name === 'f' && e.pathname.startsWith(path.join(root, 'b'))); // b/sub is armed by then
    fs.writeFileSync(path.join(root, 'b', 'sub', 'g'), '');
    await log.waitFor((e) => e.name === 'g');
    await log.sentinel(root);
    expect(wm.getWd(path.join(root, 'a', 'sub'))).toBeUndefined();
    expect(wm.getWd(path.join(root, 'b', 'sub'))).toBeTypeOf('number');
    expect(log.without().map((e) => `${e.maskname} ${path.relative(root, e.pathname)}`)).toStrictEqual([
      'IN_DELETE a/f', 'IN_CREATE|IN_ISDIR b/sub', 'IN_CREATE b/f', 'IN_CREATE b/sub/g',
    ]);
  });

  test('the public Watch keeps its fields: readonly getters, and JSON.stringify shows them', () => {
    const root = tempDir();
    const wm = openWatchManager();
    const wd = wm.addWatch(root, IN_CREATE, { autoAdd: true }).get(root) as number;
    const watch = wm.getWatch(wd) as unknown as Record<string, unknown>;
    expect(() => { watch.mask = 0; }).toThrow(TypeError); // a getter without a setter
    expect(JSON.parse(JSON.stringify(watch))).toMatchObject({ wd, path: root, mask: IN_CREATE, autoAdd: true, dir: true, root: true });
    expect(inspect(watch)).toContain(`path: '${root}'`); // console.log shows the fields, not the internals
    expect(inspect(wm.watches)).toMatch(/^Map\(1\) \{\s+\d+ => Watch \{/);
  });
});

describe('limits and errors', () => {
  test('limits() reads the fs.inotify sysctls', () => {
    const wm = openWatchManager();
    expect(wm.limits()).toStrictEqual({
      maxUserWatches: readLimit('max_user_watches'),
      maxUserInstances: readLimit('max_user_instances'),
      maxQueuedEvents: readLimit('max_queued_events'),
    });
  });

  test('a missing root throws ENOENT in fs shape; a file below a file ENOTDIR; nothing is left watched', () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, 'file'), '');
    const wm = openWatchManager();
    const missing = path.join(root, 'missing');
    let error: NodeJS.ErrnoException | undefined;
    try {
      wm.addWatch(missing, IN_CREATE, { rec: true });
    } catch (e) {
      error = e as NodeJS.ErrnoException;
    }
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'inotify_add_watch', path: missing });
    expect(error?.errno).toBeLessThan(0);
    expect(error?.message).toBe(`ENOENT: no such file or directory, inotify_add_watch '${missing}'`);
    expect(() => wm.addWatch(path.join(root, 'file', 'x'), IN_CREATE)).toThrow(expect.objectContaining({ code: 'ENOTDIR' }) as Error);
    expect(wm.watches.size).toBe(0);
    // A plain file can be watched (dir=false).
    const wd = wm.addWatch(path.join(root, 'file'), IN_CLOSE_WRITE).get(path.join(root, 'file')) as number;
    expect(wm.getWatch(wd)?.dir).toBe(false);
  });

  test('a recursive walk that fails part-way throws a WatchError listing what was and was not armed (run as nobody)', () => {
    if (spawnSync('setpriv', ['--version']).status !== 0) {
      expect.fail('setpriv is needed to run the walk as an unprivileged user');
    }
    const root = tempDir();
    fs.chmodSync(root, 0o755);
    for (const dir of ['ok/inner', 'locked/hidden', 'z']) fs.mkdirSync(path.join(root, dir), { recursive: true });
    fs.chmodSync(path.join(root, 'locked'), 0o000);
    const lib = ensureLib();
    const script = `
      const { WatchManager, WatchError, IN_CREATE } = require(${JSON.stringify(lib)});
      const wm = new WatchManager();
      try { wm.addWatch(${JSON.stringify(root)}, IN_CREATE, { rec: true }); console.log(JSON.stringify({ thrown: false })); }
      catch (e) {
        console.log(JSON.stringify({ thrown: true, isWatchError: e instanceof WatchError, name: e.name, code: e.code, syscall: e.syscall,
          path: e.path, message: e.message, armed: [...e.armed.keys()].sort(), failed: e.failed.map((f) => [f.path, f.error.code]),
          watched: [...wm.watches.values()].map((w) => w.path).sort() }));
      }
      wm.close();`;
    const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    const locked = path.join(root, 'locked');
    const expectedArmed = [root, path.join(root, 'ok'), path.join(root, 'ok', 'inner'), path.join(root, 'z')].sort();
    expect(result).toStrictEqual({
      thrown: true, isWatchError: true, name: 'WatchError', code: 'EACCES', syscall: 'inotify_add_watch', path: locked,
      message: `EACCES: permission denied, inotify_add_watch '${locked}'; 1 path(s) could not be watched, 4 watched`,
      armed: expectedArmed, failed: [[locked, 'EACCES']], watched: expectedArmed,
    });
    // The class is what the child saw through the package entry.
    const error = new WatchError(new Map([[root, 1]]), [{ path: locked, error: Object.assign(new Error('x'), { code: 'EACCES' }) } as WatchFailure]);
    expect(error.code).toBe('EACCES');
    expect(IN_ISDIR).toBeGreaterThan(0);
  });
});
