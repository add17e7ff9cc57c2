/**
 * Bad and awkward input through the public API (WatchManager, Notifier,
 * watch()): each gets a Node-style error or a documented behaviour, never a
 * crash, a hang, or a leaked fd. See docs/RELIABILITY.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer, isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  IN_ALL_EVENTS, IN_CLOSE_WRITE, IN_CREATE, IN_ISDIR, WatchError, watch,
  type InotifyEvent, type WatchManager,
} from '../src/index.js';
import { ensureLib } from './helpers/child.js';
import { inotifyFdCount, removeTree, tempDir } from './helpers/index.js';
import { EventLog, openNotifier, openWatchManager } from './helpers/notifier.js';


function thrownBy(fn: () => unknown): NodeJS.ErrnoException & { armed?: Map<string, number>; failed?: unknown[] } {
  try {
    fn();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('expected a throw');
}

/** The kernel's wds for an inotify fd, from /proc/self/fdinfo. */
function kernelWds(fd: number): number[] {
  return fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n')
    .filter((line) => line.startsWith('inotify wd:'))
    .map((line) => Number.parseInt(/wd:([0-9a-f]+)/.exec(line)?.[1] ?? 'NaN', 16))
    .sort((a, b) => a - b);
}

function expectConsistent(wm: WatchManager): void {
  for (const [wd, watch] of wm.watches) {
    expect(wm.getWd(watch.pathBytes ?? watch.path), watch.path).toBe(wd);
    expect(wm.getPath(wd)).toBe(watch.path);
  }
  expect(kernelWds(wm.inotify.fd)).toEqual([...wm.watches.keys()].sort((a, b) => a - b));
}

describe('paths that cannot be watched', () => {
  it('a missing path: ENOENT in fs shape, from WatchManager.addWatch and watch(), and watch() leaks no fd', () => {
    const dir = tempDir();
    const missing = path.join(dir, 'missing');
    const wm = openWatchManager();
    const error = thrownBy(() => wm.addWatch(missing, IN_CREATE, { rec: true, autoAdd: true }));
    expect(error.message).toBe(`ENOENT: no such file or directory, inotify_add_watch '${missing}'`);
    expect(error).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'inotify_add_watch', path: missing });
    expect(wm.watches.size).toBe(0);

    const before = inotifyFdCount();
    const fromWatch = thrownBy(() => watch(missing));
    expect(fromWatch).toMatchObject({ code: 'ENOENT', syscall: 'inotify_add_watch', path: missing });
    expect(inotifyFdCount()).toBe(before); // watch() closed the instance it opened
  });

  it('a file where a directory is needed: ENOTDIR in fs shape (a path through a file)', () => {
    // (IN_ONLYDIR on a file given to WatchManager.addWatch should give ENOTDIR
    // too, but the manager does not pass the user's IN_ONLYDIR to the kernel
    // for root paths: reported to the core owner, see docs/RELIABILITY.md.)
    const dir = tempDir();
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, '');
    const wm = openWatchManager();
    const through = path.join(file, 'x');
    expect(thrownBy(() => wm.addWatch(through, IN_CREATE, { rec: true, autoAdd: true }))).toMatchObject({
      code: 'ENOTDIR', errno: -20, syscall: 'inotify_add_watch', path: through, message: `ENOTDIR: not a directory, inotify_add_watch '${through}'`,
    });
    expect(wm.watches.size).toBe(0);
    expectConsistent(wm);
  });

  it('permission denied as an unprivileged user: EACCES in fs shape; a new subdirectory it cannot read becomes an error event and watching goes on', async () => {
    expect(spawnSync('setpriv', ['--version']).status, 'setpriv (util-linux) is needed').toBe(0);
    const lib = ensureLib();
    const root = tempDir();
    fs.chmodSync(root, 0o755);
    const open = path.join(root, 'open');
    const secret = path.join(root, 'secret');
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    fs.mkdirSync(secret, { mode: 0o700 }); // owned by root
    const script = `
      const fs = require('node:fs');
      const { WatchManager, Notifier, IN_CREATE, IN_CLOSE_WRITE } = require(${JSON.stringify(lib)});
      const shape = (e) => ({ name: e.name, message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path });
      const wm = new WatchManager();
      const out = {};
      try { wm.addWatch(${JSON.stringify(secret)}, IN_CREATE); } catch (e) { out.secret = shape(e); }
      wm.addWatch(${JSON.stringify(open)}, IN_CREATE | IN_CLOSE_WRITE, { rec: true, autoAdd: true });
      const notifier = new Notifier(wm);
      out.errors = []; out.events = [];
      notifier.on('error', (e) => out.errors.push(shape(e)));
      notifier.on('event', (e) => {
        out.events.push(e.maskname + ' ' + e.name);
        if (e.name === 'after' && e.maskname === 'IN_CLOSE_WRITE') { out.watches = [...wm.watches.values()].map((w) => w.path); console.log(JSON.stringify(out)); notifier.stop(); }
      });
      console.log('READY');`;
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('READY\n')) resolve();
      });
      void exited.then(() => resolve());
    });
    // Made by root while nobody watches: mode 0700, so nobody cannot watch or read it.
    const locked = path.join(open, 'locked');
    fs.mkdirSync(locked, { mode: 0o700 });
    fs.writeFileSync(path.join(open, 'after'), 'x');
    const code = await exited;
    clearTimeout(timer);
    expect(code, stderr).toBe(0);
    const out = JSON.parse(stdout.split('\n').find((line) => line.startsWith('{')) ?? '{}') as Record<string, unknown>;
    expect(out.secret).toEqual({
      name: 'Error', message: `EACCES: permission denied, inotify_add_watch '${secret}'`, code: 'EACCES', errno: -13, syscall: 'inotify_add_watch', path: secret,
    });
    // The asynchronous fault (auto-add of 'locked') is an 'error' event of the same shape...
    expect(out.errors).toEqual([{
      name: 'Error', message: `EACCES: permission denied, inotify_add_watch '${locked}'`, code: 'EACCES', errno: -13, syscall: 'inotify_add_watch', path: locked,
    }]);
    // ...the directory's own creation is still reported, and later events keep coming.
    expect(out.events).toEqual(['IN_CREATE|IN_ISDIR locked', 'IN_CREATE after', 'IN_CLOSE_WRITE after']);
    expect(out.watches).toEqual([open]);
  });
});

describe('names are bytes', () => {
  const nonUtf8Dir = Buffer.from([0x64, 0x69, 0x72, 0xff, 0xfe]); // "dir\xff\xfe"
  const nonUtf8File = Buffer.from([0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74]); // "f\xe9.txt" (Latin-1 é)

  /** The exact bytes of an event's subject: the watch's path bytes + '/' + the name bytes. */
  function eventPathBytes(wm: WatchManager, event: InotifyEvent): Buffer {
    const watch = wm.getWatch(event.wd);
    const dirBytes = watch?.pathBytes ?? Buffer.from(event.path);
    return Buffer.concat([dirBytes, Buffer.from('/'), event.nameBytes ?? Buffer.from(event.name)]);
  }

  it('spaces, newlines and non-UTF-8 bytes: walked into, reported with nameBytes, and round-tripped to the file', async () => {
    const root = tempDir();
    const rootBytes = Buffer.from(root);
    const bad = Buffer.concat([rootBytes, Buffer.from('/'), nonUtf8Dir]);
    fs.mkdirSync(bad);
    fs.mkdirSync(path.join(root, 'with space'));
    fs.mkdirSync(path.join(root, 'new\nline'));
    const wm = openWatchManager();
    const armed = wm.addWatch(root, (IN_CREATE | IN_CLOSE_WRITE) >>> 0, { rec: true, autoAdd: true });
    expect(armed.size).toBe(4); // the walk went into the non-UTF-8 directory too
    const badWatch = [...wm.watches.values()].find((w) => w.pathBytes !== undefined);
    expect(badWatch?.pathBytes?.equals(bad)).toBe(true);
    expect(wm.getWd(bad)).toBe(badWatch?.wd);
    const log = new EventLog(openNotifier(wm));

    const files: Array<{ bytes: Buffer; content: string }> = [
      { bytes: Buffer.concat([rootBytes, Buffer.from('/'), nonUtf8File]), content: 'non-utf8 file in root' },
      { bytes: Buffer.concat([bad, Buffer.from('/inner file')]), content: 'file in non-utf8 dir' },
      { bytes: Buffer.concat([bad, Buffer.from('/'), nonUtf8File]), content: 'non-utf8 in non-utf8' },
      { bytes: Buffer.from(path.join(root, 'with space', 'a b.txt')), content: 'spaces' },
      { bytes: Buffer.from(path.join(root, 'new\nline', 'x\ny')), content: 'newlines' },
    ];
    for (const file of files) fs.writeFileSync(file.bytes, file.content);
    // A non-UTF-8 directory created after the watch: auto-added, its contents reported.
    const later = Buffer.concat([rootBytes, Buffer.from('/late'), Buffer.from([0xc3, 0x28])]); // invalid 2-byte sequence
    fs.mkdirSync(later);
    fs.writeFileSync(Buffer.concat([later, Buffer.from('/inside')]), 'late');
    files.push({ bytes: Buffer.concat([later, Buffer.from('/inside')]), content: 'late' });
    await log.sentinel(root);

    const writes = log.without().filter((e) => e.mask === IN_CLOSE_WRITE);
    for (const file of files) {
      const event = writes.find((e) => eventPathBytes(wm, e).equals(file.bytes));
      expect(event, `no IN_CLOSE_WRITE whose bytes are ${file.bytes.toString('hex')}`).toBeDefined();
      // The bytes lead back to the very file.
      expect(fs.readFileSync(eventPathBytes(wm, event as InotifyEvent), 'utf8')).toBe(file.content);
      const name = file.bytes.subarray(file.bytes.lastIndexOf(0x2f) + 1);
      if (!isUtf8(name)) {
        expect(event?.nameBytes?.equals(name)).toBe(true);
        expect(event?.name).toContain('\uFFFD');
      } else {
        expect(event?.nameBytes).toBeUndefined();
      }
    }
    // Names with spaces and newlines are plain strings, exact.
    expect(writes.map((e) => e.pathname)).toEqual(expect.arrayContaining([path.join(root, 'with space', 'a b.txt'), path.join(root, 'new\nline', 'x\ny')]));
    const lateDir = log.without().find((e) => e.mask === (IN_CREATE | IN_ISDIR) && e.nameBytes?.equals(later.subarray(rootBytes.length + 1)));
    expect(lateDir).toBeDefined();
    expect(log.errors).toEqual([]);
    expectConsistent(wm);
  });
});

describe('paths longer than PATH_MAX', () => {
  it('a tree deeper than 4096 bytes: the walk stops with ENAMETOOLONG in a WatchError, auto-add past the limit is an error event, nothing hangs', async () => {
    const root = tempDir();
    const component = 'd'.repeat(200);
    const depth = 30; // 30 * 201 bytes: well past PATH_MAX (4096)
    // Only relative paths can build it: cd into each level in turn (-P: dash's
    // logical cd would chdir to the whole, too long, path).
    const made = spawnSync('sh', ['-c', `cd "$1" && i=0 && while [ $i -lt ${depth} ]; do mkdir ${component} && cd -P ${component} || exit 1; i=$((i+1)); done`, 'sh', root]);
    expect(made.status, made.stderr.toString()).toBe(0);

    const wm = openWatchManager();
    const error = thrownBy(() => wm.addWatch(root, (IN_CREATE | IN_CLOSE_WRITE) >>> 0, { rec: true, autoAdd: true }));
    expect(error).toBeInstanceOf(WatchError);
    expect(error).toMatchObject({ code: 'ENAMETOOLONG', syscall: 'inotify_add_watch' });
    expect(error.message).toMatch(/^ENAMETOOLONG: name too long, inotify_add_watch '.+'; 1 path\(s\) could not be watched, \d+ watched$/);
    const failedPath = (error.failed as Array<{ path: string }>)[0]?.path ?? '';
    expect(Buffer.byteLength(failedPath)).toBeGreaterThanOrEqual(4096);
    // Everything shorter than PATH_MAX is watched, the rest is not.
    const watched = [...wm.watches.values()].map((w) => w.path);
    expect(watched.every((p) => Buffer.byteLength(p) < 4096)).toBe(true);
    const deepest = watched.reduce((a, b) => (b.length > a.length ? b : a));
    expect(Buffer.byteLength(deepest) + 1 + component.length).toBeGreaterThanOrEqual(4096);
    expect(error.armed?.size).toBe(watched.length);
    expectConsistent(wm);

    // The deepest watched directory still reports; a directory created in it
    // (its path past PATH_MAX) cannot be auto-added: an 'error' event says so.
    const log = new EventLog(openNotifier(wm));
    const fresh = 'e'.repeat(200);
    const made2 = spawnSync('sh', ['-c', `cd "$1" && mkdir ${fresh} && echo hi > file`, 'sh', deepest]);
    expect(made2.status, made2.stderr.toString()).toBe(0);
    await log.waitFor((e) => e.pathname === `${deepest}/file` && e.mask === IN_CLOSE_WRITE);
    expect(log.events.some((e) => e.pathname === `${deepest}/${fresh}` && e.mask === (IN_CREATE | IN_ISDIR))).toBe(true);
    expect(log.errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENAMETOOLONG']);
    expect(log.errors[0]?.message).toBe(`ENAMETOOLONG: name too long, inotify_add_watch '${deepest}/${fresh}'`);
    expectConsistent(wm);
    removeTree(root); // rm -rf copes with the depth; fs.rmSync may not
  });
});

describe('symbolic link loops with followSymlinks', () => {
  it('a -> .., b -> a and a second link to a directory: the walk ends, one watch per directory, events still arrive', async () => {
    const root = tempDir();
    const sub = path.join(root, 'sub');
    fs.mkdirSync(path.join(sub, 'deeper'), { recursive: true });
    fs.symlinkSync('..', path.join(sub, 'a')); // back to root
    fs.symlinkSync('a', path.join(sub, 'b')); // to a, so to root
    fs.symlinkSync('sub', path.join(root, 'again')); // sub a second time
    fs.symlinkSync('../../sub', path.join(sub, 'deeper', 'up')); // a longer cycle
    const wm = openWatchManager();
    // The walk returns (a followed cycle would never end), with three watches
    // for three directories (root, sub, deeper), whatever the links.
    wm.addWatch(root, (IN_CREATE | IN_CLOSE_WRITE) >>> 0, { rec: true, autoAdd: true, followSymlinks: true });
    const inodes = new Set([root, sub, path.join(sub, 'deeper')].map((p) => fs.statSync(p).ino));
    expect(wm.watches.size).toBe(inodes.size);
    expect(new Set([...wm.watches.values()].map((w) => w.path)).size).toBe(wm.watches.size);
    expectConsistent(wm);

    // A new directory holding a loop is auto-added, and that ends too.
    const log = new EventLog(openNotifier(wm));
    const fresh = path.join(root, 'fresh');
    fs.mkdirSync(fresh);
    fs.symlinkSync('..', path.join(fresh, 'loop'));
    fs.writeFileSync(path.join(sub, 'deeper', 'file'), 'x');
    await log.waitFor((e) => e.name === 'file' && e.mask === IN_CLOSE_WRITE);
    await log.sentinel(root);
    expect(wm.watches.size).toBe(inodes.size + 1);
    expect(log.errors).toEqual([]);
    expectConsistent(wm);
  });
});

describe('several paths in one addWatch', () => {
  it('mixed failures (missing, through a file) and successes: a WatchError, and the manager matches the kernel', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'ok', 'x'), { recursive: true });
    fs.writeFileSync(path.join(root, 'file'), '');
    const wm = openWatchManager();
    const error = thrownBy(() => wm.addWatch([path.join(root, 'ok'), path.join(root, 'missing'), path.join(root, 'file', 'y')], IN_ALL_EVENTS, { rec: true }));
    expect(error).toBeInstanceOf(WatchError);
    expect((error.failed as Array<{ path: string; error: NodeJS.ErrnoException }>).map((f) => f.error.code)).toEqual(['ENOENT', 'ENOTDIR']);
    expect([...(error.armed?.keys() ?? [])]).toEqual([path.join(root, 'ok'), path.join(root, 'ok', 'x')]);
    expectConsistent(wm);
  });
});
