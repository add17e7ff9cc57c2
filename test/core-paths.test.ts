/**
 * Paths as the user gives them: watch flags on roots, symlinked directories
 * known by their real path, and exact bytes for names that are not UTF-8.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { IN_CLOSE_WRITE, IN_CREATE, IN_DONT_FOLLOW, IN_ISDIR, IN_MOVED_TO, IN_ONLYDIR } from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { EventLog, openNotifier, openWatchManager } from './helpers/notifier.js';

/** The inode the kernel watches for `wd`, from /proc/self/fdinfo of the inotify fd. */
function watchedInode(fd: number, wd: number): bigint | undefined {
  const line = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').find((l) => l.startsWith(`inotify wd:${wd} `));
  const hex = line?.match(/ ino:([0-9a-f]+)/)?.[1];
  return hex === undefined ? undefined : BigInt(`0x${hex}`);
}

describe('paths given to addWatch', () => {
  test('IN_ONLYDIR on a file throws ENOTDIR; IN_DONT_FOLLOW watches the link itself', () => {
    const root = tempDir();
    const file = path.join(root, 'file');
    fs.writeFileSync(file, 'x');
    fs.mkdirSync(path.join(root, 'target'));
    const link = path.join(root, 'link');
    fs.symlinkSync('target', link);
    const wm = openWatchManager();
    expect(() => wm.addWatch(file, IN_CREATE | IN_ONLYDIR)).toThrow(expect.objectContaining({ code: 'ENOTDIR', path: file }) as Error);
    const wd = wm.addWatch(link, IN_CREATE | IN_DONT_FOLLOW).get(link);
    expect(wd).toBeTypeOf('number');
    expect(watchedInode(wm.inotify.fd, wd ?? -1)).toBe(fs.lstatSync(link, { bigint: true }).ino);
    const followed = wm.addWatch(path.join(root, 'target'), IN_CREATE).get(path.join(root, 'target'));
    expect(followed).not.toBe(wd);
  });

  test('with followSymlinks, a directory also reachable through a link is known by its real path', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'sub', 'deeper'), { recursive: true });
    fs.symlinkSync('sub', path.join(root, 'again')); // met before 'sub' or after: readdir order is the filesystem's
    fs.symlinkSync('..', path.join(root, 'sub', 'up')); // a loop
    const wm = openWatchManager();
    const armed = wm.addWatch(root, IN_CREATE, { rec: true, followSymlinks: true });
    expect([...armed.keys()].sort()).toStrictEqual([root, path.join(root, 'sub'), path.join(root, 'sub', 'deeper')]);
    expect(wm.getWd(path.join(root, 'again'))).toBeUndefined();
  });

  test('events inside a directory whose name is not UTF-8 carry exact bytes for the whole pathname', async () => {
    const root = tempDir();
    const dirBytes = Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x64, 0xff])]);
    fs.mkdirSync(dirBytes);
    const wm = openWatchManager();
    wm.addWatch(root, IN_CLOSE_WRITE, { rec: true });
    const log = new EventLog(openNotifier(wm));
    const fileBytes = Buffer.concat([dirBytes, Buffer.from('/'), Buffer.from([0x66, 0xfe])]);
    fs.writeFileSync(fileBytes, 'payload');
    const event = await log.waitFor((e) => e.mask === IN_CLOSE_WRITE);
    expect(event.pathBytes).toStrictEqual(dirBytes);
    expect(event.nameBytes).toStrictEqual(Buffer.from([0x66, 0xfe]));
    expect(event.pathnameBytes()).toStrictEqual(fileBytes);
    expect(fs.readFileSync(event.pathnameBytes(), 'utf8')).toBe('payload');
  });
});

describe('moves to names that are not UTF-8', () => {
  test('a watched directory renamed to a non-UTF-8 name keeps exact bytes below it, and auto-add there works', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE | IN_MOVED_TO, { rec: true, autoAdd: true });
    const log = new EventLog(openNotifier(wm));
    const moved = Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x61, 0xff])]);
    fs.renameSync(path.join(root, 'a'), moved);
    await log.waitFor((e) => e.mask === ((IN_MOVED_TO | IN_ISDIR) >>> 0));
    const b = [...wm.watches.values()].find((w) => w.path.endsWith('/b'));
    expect(b?.pathBytes).toStrictEqual(Buffer.concat([moved, Buffer.from('/b')]));
    const c = Buffer.concat([moved, Buffer.from('/b/c')]);
    fs.mkdirSync(c);
    await log.waitFor((e) => e.name === 'c');
    fs.writeFileSync(Buffer.concat([c, Buffer.from('/f')]), '');
    const created = await log.waitFor((e) => e.name === 'f');
    expect(created.pathnameBytes()).toStrictEqual(Buffer.concat([c, Buffer.from('/f')]));
    expect(log.errors).toStrictEqual([]);
  });
});
