/**
 * The Notifier's queue (batches kept as bytes, decoded one record at a time)
 * and the pathname joiner it uses, as units; then the Notifier on a fake
 * native layer whose one buffer is refilled while a batch waits, as the
 * addon's is; and the InotifyEvent shape those throughput changes chose.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  IN_CLOSE_WRITE, IN_CREATE, IN_ISDIR, IN_MODIFY, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO, Notifier, WatchManager,
  encodeRecords, type RawRecord,
} from '../src/index.js';
import { MalformedBatchError } from '../src/decode.js';
import { InotifyEvent, PathJoiner } from '../src/event.js';
import { RecordQueue } from '../src/record-queue.js';
import { fakeInotify } from './helpers/fake-native.js';
import { tempDir } from './helpers/index.js';

const rec = (wd: number, mask: number, name = '', cookie = 0): RawRecord => ({ wd, mask, cookie, name });

function drain(queue: RecordQueue): RawRecord[] {
  const out: RawRecord[] = [];
  for (let r = queue.shift(); r !== undefined; r = queue.shift()) out.push(r);
  return out;
}

describe('RecordQueue', () => {
  test('batches of bytes and decoded records come out in the order they were queued', () => {
    const queue = new RecordQueue();
    expect(queue.empty).toBe(true);
    const first = encodeRecords([rec(1, IN_CREATE, 'a'), rec(1, IN_MODIFY, 'a')]);
    queue.pushBytes(first, first.length);
    queue.pushRecords([rec(2, IN_CREATE, 'drained')]);
    const second = encodeRecords([rec(3, IN_CLOSE_WRITE, 'b')]);
    queue.pushBytes(second, second.length);
    expect(queue.empty).toBe(false);
    expect(drain(queue)).toStrictEqual([
      rec(1, IN_CREATE, 'a'), rec(1, IN_MODIFY, 'a'), rec(2, IN_CREATE, 'drained'), rec(3, IN_CLOSE_WRITE, 'b'),
    ]);
    expect(queue.empty).toBe(true);
    expect(queue.shift()).toBeUndefined();
  });

  test('a queued batch is a copy: the source buffer refilled by the next read does not change it', () => {
    const queue = new RecordQueue();
    const source = Buffer.alloc(4096);
    const fill = (names: string[]): number => {
      source.fill(0xee);
      const bytes = encodeRecords(names.map((name) => rec(1, IN_CREATE, name)));
      bytes.copy(source);
      return bytes.length;
    };
    queue.pushBytes(source, fill(['one', 'two', 'three']));
    expect(queue.shift()?.name).toBe('one');
    // The first batch is still being read (its copy is the reused one): the second needs its own.
    queue.pushBytes(source, fill(['four', 'five']));
    source.fill(0);
    expect(drain(queue).map((r) => r.name)).toStrictEqual(['two', 'three', 'four', 'five']);
    // Both consumed: the reused copy serves again, and is fully rewritten.
    queue.pushBytes(source, fill(['six-with-a-longer-name']));
    queue.pushBytes(source, fill(['seven']));
    expect(drain(queue).map((r) => r.name)).toStrictEqual(['six-with-a-longer-name', 'seven']);
  });

  test('scan reads headers from the cursor on without consuming, and stops at the first answer', () => {
    const queue = new RecordQueue();
    const bytes = encodeRecords([rec(1, IN_MOVED_FROM, 'd', 7), rec(1, IN_CREATE, 'x'), rec(4, IN_MOVED_TO, 'e', 7)]);
    queue.pushBytes(bytes, bytes.length);
    queue.pushRecords([rec(5, IN_MOVE_SELF)]);
    expect(queue.shift()?.name).toBe('d');
    const seen: number[][] = [];
    expect(queue.scan((wd, mask, cookie) => void seen.push([wd, mask, cookie]))).toBeUndefined();
    expect(seen).toStrictEqual([[1, IN_CREATE, 0], [4, IN_MOVED_TO, 7], [5, IN_MOVE_SELF, 0]]);
    expect(queue.scan((wd, mask, cookie) => (cookie === 7 ? `wd ${wd}` : undefined))).toBe('wd 4');
    expect(queue.toArray()).toStrictEqual([rec(1, IN_CREATE, 'x'), rec(4, IN_MOVED_TO, 'e', 7), rec(5, IN_MOVE_SELF)]);
    expect(drain(queue)).toHaveLength(3); // scan and toArray consumed nothing
  });

  test('a malformed batch throws MalformedBatchError and queues nothing', () => {
    const queue = new RecordQueue();
    const bytes = encodeRecords([rec(1, IN_CREATE, 'a'), rec(1, IN_CREATE, 'b')]);
    expect(() => queue.pushBytes(bytes, bytes.length - 1)).toThrow(MalformedBatchError);
    expect(queue.empty).toBe(true);
    queue.pushBytes(bytes, 0);
    expect(queue.empty).toBe(true);
  });
});

describe('PathJoiner', () => {
  test('joins like joinPath, and follows a watch whose path changes between events', () => {
    const joiner = new PathJoiner();
    expect(joiner.join('/w', 'a')).toBe('/w/a');
    expect(joiner.join('/w', '')).toBe('/w');
    expect(joiner.join('/', 'a')).toBe('/a');
    expect(joiner.join('/w', 'b')).toBe('/w/b');
    expect(joiner.join('/w2', 'b')).toBe('/w2/b');
    // Equal text in another string object: the same answer.
    expect(joiner.join(['/', 'w2'].join(''), 'c')).toBe('/w2/c');
  });
});

describe('Notifier over batches kept as bytes', () => {
  test('a batch held behind an unsettled directory move survives the refilled buffer; each pathname is the path at its event', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'd'));
    const { inotify, fake } = fakeInotify();
    const wm = new WatchManager({ inotify });
    wm.addWatch(root, IN_CREATE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO, { rec: true, autoAdd: true });
    const notifier = new Notifier(wm, undefined, { moveTimeout: 10_000 });
    const events: InotifyEvent[] = [];
    notifier.on('event', (event) => events.push(event));
    await new Promise(setImmediate);
    const rootWd = 1;
    const dirWd = 2;
    fs.renameSync(path.join(root, 'd'), path.join(root, 'e'));
    // The MOVED_FROM ends the batch: the Notifier holds what follows until the pair arrives.
    fake().deliver([
      rec(dirWd, IN_MODIFY, 'before'),
      rec(rootWd, IN_MOVED_FROM | IN_ISDIR, 'd', 42),
    ]);
    fake().deliver([rec(rootWd, IN_CREATE, 'held-1'), rec(rootWd, IN_CREATE, 'held-2')]);
    expect(events.map((e) => e.pathname)).toStrictEqual([`${root}/d/before`, `${root}/d`]);
    // This batch overwrites the fake's one buffer, like the addon's next read, while the one before waits.
    fake().deliver([
      rec(rootWd, IN_MOVED_TO | IN_ISDIR, 'e', 42),
      rec(dirWd, IN_MOVE_SELF),
      rec(dirWd, IN_MODIFY, 'after'),
    ]);
    expect(events.map((e) => e.pathname)).toStrictEqual([
      `${root}/d/before`, `${root}/d`, `${root}/held-1`, `${root}/held-2`, `${root}/e`, `${root}/e/after`,
    ]);
    expect(events[0]?.path).toBe(`${root}/d`); // taken when it was handled, not changed by the re-path
    expect(events.find((e) => e.mask & IN_MOVED_TO)?.srcPathname).toBe(`${root}/d`);
    await notifier.close();
  });
});

describe('InotifyEvent shape', () => {
  test('every field reads back as constructed; the rarely set ones are prototype getters, and toJSON has them', () => {
    const bytes = Buffer.from([0x62, 0xff]);
    const pathBytes = Buffer.from([0x2f, 0x77, 0xfe]);
    const moved = new InotifyEvent(3, IN_MOVED_TO, 'b\uFFFD', '/w', '/w/b\uFFFD', false, 42, '/w/a', true, bytes, pathBytes);
    expect([moved.wd, moved.mask, moved.name, moved.path, moved.pathname, moved.dir]).toStrictEqual([3, IN_MOVED_TO, 'b\uFFFD', '/w', '/w/b\uFFFD', false]);
    expect([moved.cookie, moved.srcPathname, moved.synthetic, moved.nameBytes, moved.pathBytes]).toStrictEqual([42, '/w/a', true, bytes, pathBytes]);
    expect(moved.maskname).toBe('IN_MOVED_TO');
    const plain = new InotifyEvent(1, IN_CREATE | IN_ISDIR, 'd', '/w', '/w/d', true);
    expect([plain.cookie, plain.srcPathname, plain.synthetic, plain.nameBytes, plain.pathBytes]).toStrictEqual([0, undefined, false, undefined, undefined]);
    // Documented: only these are own properties; the rest come from the prototype.
    expect(Object.keys(plain)).toStrictEqual(['wd', 'mask', 'name', 'path', 'pathname', 'dir']);
    expect(plain).toMatchObject({ cookie: 0, synthetic: false, srcPathname: undefined, maskname: 'IN_CREATE|IN_ISDIR' });
    expect(moved.toJSON()).toStrictEqual({
      wd: 3, mask: IN_MOVED_TO, maskname: 'IN_MOVED_TO', name: 'b\uFFFD', path: '/w', pathname: '/w/b\uFFFD', dir: false,
      cookie: 42, srcPathname: '/w/a', synthetic: true,
    });
    expect(moved.toString()).toBe('<Event cookie=42 dir=False mask=0x80 maskname=IN_MOVED_TO name=b\uFFFD path=/w pathname=/w/b\uFFFD src_pathname=/w/a wd=3 >');
    expect(moved.pathnameBytes().equals(Buffer.concat([pathBytes, Buffer.from('/'), bytes]))).toBe(true);
  });
});
