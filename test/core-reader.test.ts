/**
 * One reader of the fd: the raw 'batch' stream and the Notifier share it, a
 * scan's synchronous drain goes through the same reader, and no later read
 * overwrites bytes a consumer still holds. The addon never writes into a
 * buffer JS has detached.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { binding } from '../src/binding.js';
import {
  decodeRecords, IN_ALL_EVENTS, IN_CREATE, IN_ISDIR, type RawRecord,
} from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { EventLog, openNotifier, openWatchManager } from './helpers/notifier.js';

describe('one reader of the fd', () => {
  test("'batch' listeners on a WatchManager's Inotify get the records read, not bytes a Notifier scan overwrote", async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true, autoAdd: true });
    const notifier = openNotifier(wm);
    const log = new EventLog(notifier);
    const raw: RawRecord[] = [];
    const failures: unknown[] = [];
    wm.inotify.on('batch', (records) => raw.push(...records));
    wm.inotify.on('error', (error) => failures.push(error));
    const rootWd = wm.getWd(root);
    // Each new directory is scanned while its IN_CREATE is handled; the scan
    // reads the directory (IN_OPEN etc. on the watches) and drains the fd.
    for (let i = 0; i < 20; i++) {
      fs.mkdirSync(path.join(root, `d${i}`));
      fs.writeFileSync(path.join(root, `d${i}`, 'f'), 'x');
    }
    await log.sentinel(root);
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toStrictEqual([]);
    const created = raw.filter((r) => r.wd === rootWd && r.mask === ((IN_CREATE | IN_ISDIR) >>> 0)).map((r) => r.name);
    expect(created).toStrictEqual(Array.from({ length: 20 }, (_, i) => `d${i}`));
    // Every record the raw stream saw is one of a known watch.
    const known = new Set([...wm.watches.keys()]);
    expect(raw.filter((r) => !known.has(r.wd))).toStrictEqual([]);
    // Each d<i>/f creation is seen exactly once by the raw layer, whichever read took it.
    for (let i = 0; i < 20; i++) {
      const wd = wm.getWd(path.join(root, `d${i}`));
      expect(raw.filter((r) => r.wd === wd && r.mask === IN_CREATE && r.name === 'f').length).toBeLessThanOrEqual(1);
    }
  });

  test('a second Notifier on one WatchManager is refused with ERR_INVALID_STATE, the first keeps every event', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE);
    const notifier = openNotifier(wm);
    const log = new EventLog(notifier);
    let error: unknown;
    try {
      openNotifier(wm);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as NodeJS.ErrnoException).code).toBe('ERR_INVALID_STATE');
    for (const name of ['a', 'b', 'c']) fs.writeFileSync(path.join(root, name), '');
    await log.sentinel(root);
    expect(log.without().map((e) => e.name)).toStrictEqual(['a', 'b', 'c']);
  });

  test('the addon never writes into a buffer JS detached: the next batch arrives in a fresh buffer', async () => {
    const root = tempDir();
    const batches: RawRecord[][] = [];
    let detach = true;
    let wake: (() => void) | undefined;
    const ino = new binding.Inotify((error, bytes, length) => {
      expect(error).toBeNull();
      expect(bytes.byteLength).toBeGreaterThanOrEqual(length);
      batches.push(decodeRecords(bytes, length));
      if (detach) {
        detach = false;
        structuredClone(bytes.buffer, { transfer: [bytes.buffer as ArrayBuffer] }); // detaches the addon's buffer
        expect(bytes.byteLength).toBe(0);
      }
      wake?.();
    });
    try {
      const wd = ino.addWatch(root, IN_CREATE);
      const next = (): Promise<void> => new Promise((resolve) => {
        wake = resolve;
      });
      let arrived = next();
      fs.writeFileSync(path.join(root, 'one'), '');
      await arrived;
      arrived = next();
      fs.writeFileSync(path.join(root, 'two'), '');
      await arrived;
      expect(batches.flat().map((r) => [r.wd, r.mask, r.name])).toStrictEqual([[wd, IN_CREATE, 'one'], [wd, IN_CREATE, 'two']]);
      // A synchronous read after a detach goes to a live buffer too.
      const buffer = ino.buffer;
      structuredClone(buffer.buffer, { transfer: [buffer.buffer as ArrayBuffer] });
      fs.writeFileSync(path.join(root, 'three'), '');
      const length = ino.readSync();
      expect(ino.buffer.byteLength).toBeGreaterThanOrEqual(length);
      expect(decodeRecords(ino.buffer, length).map((r) => r.name)).toStrictEqual(['three']);
    } finally {
      ino.close();
    }
  });
});
