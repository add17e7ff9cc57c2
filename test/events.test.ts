/**
 * Every event kind on the real kernel through the raw Inotify class, with
 * the exact mask, cookie and name; batching; names that are not UTF-8.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import {
  IN_ACCESS,
  IN_ALL_EVENTS,
  IN_ATTRIB,
  IN_CLOSE_NOWRITE,
  IN_CLOSE_WRITE,
  IN_CREATE,
  IN_DELETE,
  IN_DELETE_SELF,
  IN_IGNORED,
  IN_ISDIR,
  IN_MASK_CREATE,
  IN_MODIFY,
  IN_MOVE,
  IN_MOVE_SELF,
  IN_MOVED_FROM,
  IN_MOVED_TO,
  IN_ONESHOT,
  IN_OPEN,
  IN_Q_OVERFLOW,
  type RawRecord,
} from '../src/index.js';
import { atLeast, collect, exactly, openInotify, some, tempDir } from './helpers/index.js';

/** A file with some content, created before any watch exists. */
function existingFile(dir: string, name = 'file.txt'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, 'some content\n');
  return file;
}

function record(wd: number, mask: number, name = '', cookie = 0): RawRecord {
  return { wd, mask, cookie, name };
}

describe('each event kind, exact mask', () => {
  test('IN_CREATE for a new file', async () => {
    const dir = tempDir();
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_CREATE);
    const done = collect(ino, some((r) => r.name === 'new.txt'));
    fs.writeFileSync(path.join(dir, 'new.txt'), 'x');
    expect((await done).records).toStrictEqual([record(wd, IN_CREATE, 'new.txt')]);
  });

  test('IN_CREATE|IN_ISDIR for mkdir', async () => {
    const dir = tempDir();
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_CREATE);
    const done = collect(ino, some((r) => r.name === 'sub'));
    fs.mkdirSync(path.join(dir, 'sub'));
    expect((await done).records).toStrictEqual([record(wd, (IN_CREATE | IN_ISDIR) >>> 0, 'sub')]);
  });

  test('IN_MODIFY on append, named in the directory watch and unnamed on the file watch', async () => {
    const dir = tempDir();
    const file = existingFile(dir);
    const ino = openInotify();
    const dirWd = ino.addWatch(dir, IN_MODIFY);
    const fileWd = ino.addWatch(file, IN_MODIFY);
    expect(fileWd).not.toBe(dirWd);
    const done = collect(ino, atLeast(2));
    fs.appendFileSync(file, 'more');
    const { records } = await done;
    expect(records).toHaveLength(2);
    expect(records).toContainEqual(record(dirWd, IN_MODIFY, 'file.txt'));
    expect(records).toContainEqual(record(fileWd, IN_MODIFY));
  });

  test('IN_ATTRIB on chmod', async () => {
    const dir = tempDir();
    const file = existingFile(dir);
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_ATTRIB);
    const done = collect(ino, atLeast(1));
    fs.chmodSync(file, 0o600);
    expect((await done).records).toStrictEqual([record(wd, IN_ATTRIB, 'file.txt')]);
  });

  test('IN_OPEN on open', async () => {
    const dir = tempDir();
    const file = existingFile(dir);
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_OPEN);
    const done = collect(ino, atLeast(1));
    fs.closeSync(fs.openSync(file, 'r'));
    expect((await done).records).toStrictEqual([record(wd, IN_OPEN, 'file.txt')]);
  });

  test('IN_ACCESS on read', async () => {
    const dir = tempDir();
    const file = existingFile(dir);
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_ACCESS);
    const done = collect(ino, atLeast(1));
    expect(fs.readFileSync(file, 'utf8')).toBe('some content\n');
    expect((await done).records).toStrictEqual([record(wd, IN_ACCESS, 'file.txt')]);
  });

  test('IN_CLOSE_WRITE when a file opened for writing is closed', async () => {
    const dir = tempDir();
    const file = existingFile(dir);
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
    const done = collect(ino, atLeast(1));
    fs.writeFileSync(file, 'rewritten');
    expect((await done).records).toStrictEqual([record(wd, IN_CLOSE_WRITE, 'file.txt')]);
  });

  test('IN_CLOSE_NOWRITE when a file opened read-only is closed', async () => {
    const dir = tempDir();
    const file = existingFile(dir);
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
    const done = collect(ino, atLeast(1));
    fs.readFileSync(file);
    expect((await done).records).toStrictEqual([record(wd, IN_CLOSE_NOWRITE, 'file.txt')]);
  });

  test('IN_MOVED_FROM and IN_MOVED_TO share one non-zero cookie (rename within the dir)', async () => {
    const dir = tempDir();
    const file = existingFile(dir, 'before');
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_MOVE);
    const done = collect(ino, atLeast(2));
    fs.renameSync(file, path.join(dir, 'after'));
    const { records } = await done;
    const cookie = records[0]?.cookie ?? 0;
    expect(cookie).not.toBe(0);
    expect(records).toStrictEqual([record(wd, IN_MOVED_FROM, 'before', cookie), record(wd, IN_MOVED_TO, 'after', cookie)]);
  });

  test('a move between two watched directories pairs by cookie across watches', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'a'));
    fs.mkdirSync(path.join(dir, 'b'));
    existingFile(path.join(dir, 'a'), 'moving');
    const ino = openInotify();
    const wdA = ino.addWatch(path.join(dir, 'a'), IN_MOVE);
    const wdB = ino.addWatch(path.join(dir, 'b'), IN_MOVE);
    const done = collect(ino, atLeast(4));
    fs.renameSync(path.join(dir, 'a', 'moving'), path.join(dir, 'b', 'moved'));
    fs.renameSync(path.join(dir, 'b', 'moved'), path.join(dir, 'a', 'back'));
    const { records } = await done;
    const [first, second, third] = records;
    expect(first?.cookie).not.toBe(0);
    expect(third?.cookie).not.toBe(0);
    expect(third?.cookie).not.toBe(first?.cookie);
    expect(records).toStrictEqual([
      record(wdA, IN_MOVED_FROM, 'moving', first?.cookie),
      record(wdB, IN_MOVED_TO, 'moved', first?.cookie),
      record(wdB, IN_MOVED_FROM, 'moved', third?.cookie),
      record(wdA, IN_MOVED_TO, 'back', third?.cookie),
    ]);
    expect(second?.cookie).toBe(first?.cookie);
  });

  test('IN_DELETE for a file and IN_DELETE|IN_ISDIR for a directory', async () => {
    const dir = tempDir();
    const file = existingFile(dir);
    fs.mkdirSync(path.join(dir, 'sub'));
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_DELETE);
    const done = collect(ino, atLeast(2));
    fs.unlinkSync(file);
    fs.rmdirSync(path.join(dir, 'sub'));
    expect((await done).records).toStrictEqual([record(wd, IN_DELETE, 'file.txt'), record(wd, (IN_DELETE | IN_ISDIR) >>> 0, 'sub')]);
  });

  test('IN_DELETE_SELF then IN_IGNORED when a watched file is removed', async () => {
    const dir = tempDir();
    const file = existingFile(dir);
    const ino = openInotify();
    const wd = ino.addWatch(file, IN_DELETE_SELF);
    const done = collect(ino, some(exactly(wd, IN_IGNORED)));
    fs.unlinkSync(file);
    expect((await done).records).toStrictEqual([record(wd, IN_DELETE_SELF), record(wd, IN_IGNORED)]);
  });

  test('IN_DELETE_SELF then IN_IGNORED when a watched directory is removed', async () => {
    const dir = tempDir();
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub);
    const ino = openInotify();
    const wd = ino.addWatch(sub, IN_DELETE_SELF);
    const done = collect(ino, some(exactly(wd, IN_IGNORED)));
    fs.rmdirSync(sub);
    expect((await done).records).toStrictEqual([record(wd, IN_DELETE_SELF), record(wd, IN_IGNORED)]);
    // The watch is gone: the kernel no longer knows the wd.
    expect(() => ino.rmWatch(wd)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  test('IN_MOVE_SELF when a watched directory is renamed', async () => {
    const dir = tempDir();
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub);
    const ino = openInotify();
    const wd = ino.addWatch(sub, IN_MOVE_SELF);
    const done = collect(ino, atLeast(1));
    fs.renameSync(sub, path.join(dir, 'renamed'));
    expect((await done).records).toStrictEqual([record(wd, IN_MOVE_SELF)]);
  });

  test('rmWatch queues IN_IGNORED for that wd', async () => {
    const dir = tempDir();
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_CREATE);
    const done = collect(ino, atLeast(1));
    ino.rmWatch(wd);
    expect((await done).records).toStrictEqual([record(wd, IN_IGNORED)]);
  });

  test('a file written then read with IN_ALL_EVENTS: the exact kernel sequence', async () => {
    const dir = tempDir();
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_ALL_EVENTS);
    const file = path.join(dir, 'life');
    const done = collect(ino, some((r) => r.mask === IN_DELETE));
    fs.writeFileSync(file, 'data');
    fs.readFileSync(file);
    fs.chmodSync(file, 0o640);
    fs.renameSync(file, `${file}2`);
    fs.unlinkSync(`${file}2`);
    const { records } = await done;
    const cookie = records.find((r) => r.mask === IN_MOVED_FROM)?.cookie ?? 0;
    expect(cookie).not.toBe(0);
    expect(records).toStrictEqual([
      record(wd, IN_CREATE, 'life'),
      record(wd, IN_OPEN, 'life'),
      record(wd, IN_MODIFY, 'life'),
      record(wd, IN_CLOSE_WRITE, 'life'),
      record(wd, IN_OPEN, 'life'),
      record(wd, IN_ACCESS, 'life'),
      record(wd, IN_CLOSE_NOWRITE, 'life'),
      record(wd, IN_ATTRIB, 'life'),
      record(wd, IN_MOVED_FROM, 'life', cookie),
      record(wd, IN_MOVED_TO, 'life2', cookie),
      record(wd, IN_DELETE, 'life2'),
    ]);
  });
});

describe('watch flags', () => {
  test('IN_ONESHOT: one event, then IN_IGNORED, then nothing for later changes', async () => {
    const dir = tempDir();
    const file = existingFile(dir);
    const sentinelDir = path.join(dir, 'sentinel');
    fs.mkdirSync(sentinelDir);
    const ino = openInotify();
    // `>>> 0`: IN_ONESHOT is bit 31, so `|` alone gives a negative int32, which addWatch rejects.
    const oneshot = ino.addWatch(file, (IN_MODIFY | IN_ONESHOT) >>> 0);
    const sentinel = ino.addWatch(sentinelDir, IN_CREATE);
    expect(sentinel).not.toBe(oneshot);

    const first = collect(ino, some(exactly(oneshot, IN_IGNORED)));
    fs.appendFileSync(file, 'one');
    expect((await first).records).toStrictEqual([record(oneshot, IN_MODIFY), record(oneshot, IN_IGNORED)]);

    // One queue per instance, in order: had the second append produced an
    // event, it would arrive before the sentinel's.
    const second = collect(ino, some(exactly(sentinel, IN_CREATE, 'after')));
    fs.appendFileSync(file, 'two');
    fs.writeFileSync(path.join(sentinelDir, 'after'), '');
    expect((await second).records).toStrictEqual([record(sentinel, IN_CREATE, 'after')]);
    expect(() => ino.rmWatch(oneshot)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  test('IN_MASK_CREATE: watching an already watched path throws EEXIST', () => {
    const dir = tempDir();
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_CREATE);
    // Without the flag the kernel returns the same wd (and replaces the mask).
    expect(ino.addWatch(dir, IN_DELETE)).toBe(wd);
    let thrown: NodeJS.ErrnoException | undefined;
    try {
      ino.addWatch(dir, IN_CREATE | IN_MASK_CREATE);
    } catch (error) {
      thrown = error as NodeJS.ErrnoException;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown?.message).toBe(`EEXIST: file already exists, inotify_add_watch '${dir}'`);
    expect(thrown?.code).toBe('EEXIST');
    expect(thrown?.errno).toBe(-17);
    expect(thrown?.syscall).toBe('inotify_add_watch');
    expect(thrown?.path).toBe(dir);
    // A path not yet watched is fine with IN_MASK_CREATE.
    fs.mkdirSync(path.join(dir, 'sub'));
    expect(ino.addWatch(path.join(dir, 'sub'), IN_CREATE | IN_MASK_CREATE)).not.toBe(wd);
  });

  test('addWatch accepts a file: URL', async () => {
    const dir = tempDir();
    const ino = openInotify();
    const wd = ino.addWatch(pathToFileURL(dir), IN_CREATE);
    const done = collect(ino, atLeast(1));
    fs.writeFileSync(path.join(dir, 'via-url'), '');
    expect((await done).records).toStrictEqual([record(wd, IN_CREATE, 'via-url')]);
  });
});

describe('names that are not UTF-8', () => {
  test('a created file named b\\xff arrives with its exact bytes in nameBytes', async () => {
    const dir = tempDir();
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_CREATE);
    const done = collect(ino, atLeast(1));
    fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x62, 0xff])]), 'x');
    const { records } = await done;
    expect(records).toHaveLength(1);
    const [rec] = records;
    expect(rec?.wd).toBe(wd);
    expect(rec?.mask).toBe(IN_CREATE);
    expect(rec?.name).toBe('b\uFFFD');
    expect(rec?.nameBytes?.equals(Buffer.from([0x62, 0xff]))).toBe(true);
  });

  test('addWatch accepts a Buffer path to a directory whose name is not UTF-8', async () => {
    const dir = tempDir();
    const badDir = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x64, 0xfe, 0x69, 0x72])]);
    fs.mkdirSync(badDir);
    const ino = openInotify();
    const wd = ino.addWatch(badDir, IN_CREATE);
    const done = collect(ino, atLeast(1));
    fs.writeFileSync(Buffer.concat([badDir, Buffer.from('/inside')]), '');
    expect((await done).records).toStrictEqual([record(wd, IN_CREATE, 'inside')]);
    // The same bytes decoded as UTF-8 name a different (missing) path.
    expect(() => ino.addWatch(badDir.toString('utf8'), IN_CREATE)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('batching', () => {
  test('100 creates made synchronously arrive as ONE batch', async () => {
    const dir = tempDir();
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_CREATE);
    const done = collect(ino, atLeast(100));
    for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(dir, `f${i}`), '');
    const { records, batches } = await done;
    // The kernel queued all 100 before the loop could poll: one drain, one call.
    expect(batches).toBe(1);
    expect(records).toStrictEqual(Array.from({ length: 100 }, (_, i) => record(wd, IN_CREATE, `f${i}`)));
  });

  test('a drain larger than the 256 KiB buffer is split into batches, nothing lost, in order', async () => {
    const dir = tempDir();
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_CREATE);
    const count = 10_000; // 32 bytes each: 320,000 bytes > 262,144, below the default queue limit
    const done = collect(ino, atLeast(count), 20_000);
    for (let i = 0; i < count; i++) fs.closeSync(fs.openSync(path.join(dir, `n${String(i).padStart(5, '0')}`), 'w'));
    const { records, batches } = await done;
    expect(records.some((r) => r.mask === IN_Q_OVERFLOW)).toBe(false);
    expect(batches).toBeGreaterThanOrEqual(2);
    expect(batches).toBeLessThan(10);
    expect(records).toHaveLength(count);
    records.forEach((r, i) => {
      if (r.wd !== wd || r.mask !== IN_CREATE || r.name !== `n${String(i).padStart(5, '0')}`) {
        throw new Error(`record ${i} is ${JSON.stringify(r)}`);
      }
    });
  });

  const queueLimit = '/proc/sys/fs/inotify/max_queued_events';
  const canSetQueueLimit = (() => {
    try {
      fs.accessSync(queueLimit, fs.constants.W_OK);
      return true;
    } catch {
      return false;
    }
  })();

  test.skipIf(!canSetQueueLimit)('IN_Q_OVERFLOW arrives with wd -1 when the kernel queue is full', async () => {
    const dir = tempDir();
    const original = fs.readFileSync(queueLimit, 'utf8').trim();
    let ino: ReturnType<typeof openInotify>;
    // The limit is read when an instance is created: lower it for just that call.
    try {
      fs.writeFileSync(queueLimit, '8');
      ino = openInotify();
    } finally {
      fs.writeFileSync(queueLimit, original);
    }
    expect(fs.readFileSync(queueLimit, 'utf8').trim()).toBe(original);
    const wd = ino.addWatch(dir, IN_CREATE);
    const done = collect(ino, some((r) => r.mask === IN_Q_OVERFLOW));
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `q${i}`), '');
    const { records } = await done;
    expect(records).toStrictEqual([
      ...Array.from({ length: 8 }, (_, i) => record(wd, IN_CREATE, `q${i}`)),
      record(-1, IN_Q_OVERFLOW),
    ]);
  });
});
