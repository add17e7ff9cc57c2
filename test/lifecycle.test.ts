/**
 * One after-close contract for every public resource: `close()` (a promise,
 * or sync where documented), a `closed` getter, idempotent close, and
 * `using` / `await using`; each one releases its inotify fd.
 */
import { describe, expect, test } from 'vitest';
import { Inotify, IN_CREATE, Notifier, trackTransfers, watch, WatchManager } from '../src/index.js';
import { inotifyFdCount, tempDir } from './helpers/index.js';

describe('close(), closed, dispose', () => {
  test('Inotify and WatchManager: sync close(), closed, using', () => {
    const dir = tempDir();
    const before = inotifyFdCount();
    let ino: Inotify | undefined;
    let wm: WatchManager | undefined;
    {
      using i = new Inotify();
      using w = new WatchManager();
      w.addWatch(dir, IN_CREATE);
      ino = i;
      wm = w;
      expect([i.closed, w.closed]).toEqual([false, false]);
      expect(inotifyFdCount()).toBe(before + 2);
    }
    expect([ino.closed, wm.closed]).toEqual([true, true]);
    expect(inotifyFdCount()).toBe(before);
    wm.close(); // idempotent
    ino.close();
    expect(() => wm?.addWatch(dir, IN_CREATE)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  test('Notifier, watch() streams and trackTransfers(): promise close(), closed, await using', async () => {
    const dir = tempDir();
    const before = inotifyFdCount();
    const held: Array<{ readonly closed: boolean; close(): Promise<void> }> = [];
    {
      await using notifier = new Notifier(new WatchManager());
      await using stream = watch(dir);
      await using batches = watch(dir, { coalesce: { ms: 10 } });
      await using tracker = trackTransfers(dir);
      held.push(notifier, stream, batches, tracker);
      expect(held.map((r) => r.closed)).toEqual([false, false, false, false]);
      expect(inotifyFdCount()).toBe(before + 4);
    }
    expect(held.map((r) => r.closed)).toEqual([true, true, true, true]);
    expect(inotifyFdCount()).toBe(before);
    await Promise.all(held.map((r) => r.close())); // idempotent
  });
});
