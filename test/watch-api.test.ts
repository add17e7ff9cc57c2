/**
 * watch() as a Node user calls it: the callback form, `ref`, a checked
 * `signal`, the opt-in `coalesce` batches, and `closed` / `await using`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { IN_CREATE, WatchManager, trackTransfers, watch, type AddWatchOptions, type EventBatch, type InotifyEvent, type TrackTransfersOptions, type WatchOptions } from '../src/index.js';
import { inotifyFdCount, tempDir } from './helpers/index.js';
import { ensureLib, spawnNode } from './helpers/child.js';

/** Resolves with the value `take` returns once it returns one, re-checked on every call of the returned `poke`. */
function waiter<T>(take: () => T | undefined, timeoutMs = 10_000): { done: Promise<T>; poke: () => void } {
  let poke = (): void => {};
  const done = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
    poke = () => {
      const value = take();
      if (value !== undefined) {
        clearTimeout(timer);
        resolve(value);
      }
    };
  });
  return { done, poke };
}

describe('watch(path, options, listener)', () => {
  test('the listener gets each event in kernel order; close() stops it', async () => {
    const dir = tempDir();
    const seen: InotifyEvent[] = [];
    const { done, poke } = waiter(() => (seen.some((e) => e.name === 'done') ? seen : undefined));
    const stream = watch(dir, { events: ['IN_CREATE', 'IN_DELETE'] }, (event) => {
      seen.push(event);
      poke();
    });
    try {
      fs.writeFileSync(path.join(dir, 'a'), '');
      fs.unlinkSync(path.join(dir, 'a'));
      fs.writeFileSync(path.join(dir, 'done'), '');
      await done;
      expect(seen.map((e) => `${e.maskname} ${e.name}`)).toEqual(['IN_CREATE a', 'IN_DELETE a', 'IN_CREATE done']);
    } finally {
      await stream.close();
    }
    expect(stream.closed).toBe(true);
  });

  test('watch(path, listener) works too; a listener that is not a function is a coded TypeError', async () => {
    const dir = tempDir();
    const names: string[] = [];
    const { done, poke } = waiter(() => (names.includes('x') ? names : undefined));
    const stream = watch(dir, (event) => {
      names.push(event.name);
      poke();
    });
    try {
      fs.writeFileSync(path.join(dir, 'x'), '');
      await done;
    } finally {
      await stream.close();
    }
    expect(() => watch(dir, {}, 'log' as unknown as () => void)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('watch() options', () => {
  test("addWatch()'s pyinotify spellings (rec, autoAdd, excludeFilter) are a coded error naming Node's, in watch() and trackTransfers()", () => {
    const dir = tempDir();
    const before = inotifyFdCount();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ rec: false }, 'options.recursive'], [{ autoAdd: true }, 'options.recursive'], [{ excludeFilter: /x/ }, 'options.exclude'],
    ];
    for (const [options, node] of cases) {
      for (const open of [() => watch(dir, options as WatchOptions), () => trackTransfers(dir, options as TrackTransfersOptions)]) {
        expect(open).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining(node) as string }));
      }
    }
    expect(inotifyFdCount()).toBe(before);
  });

  test("and the reverse: watch()'s spellings (recursive, exclude) given to addWatch() or updateWatch() are a coded error naming pyinotify's", () => {
    const dir = tempDir();
    using wm = new WatchManager();
    for (const [options, pyinotify] of [[{ recursive: true }, 'options.rec'], [{ exclude: ['*.tmp'] }, 'options.excludeFilter']] as const) {
      expect(() => wm.addWatch(dir, IN_CREATE, options as unknown as AddWatchOptions))
        .toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining(pyinotify) as string }));
    }
    expect(wm.watches.size).toBe(0);
    const wd = wm.addWatch(dir, IN_CREATE).get(dir) as number;
    expect(() => wm.updateWatch(wd, { recursive: true } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  test('signal must be an AbortSignal, ref a boolean, coalesce.ms a number in range: coded errors, no fd left open', () => {
    const dir = tempDir();
    const before = inotifyFdCount();
    expect(() => watch(dir, { signal: {} as AbortSignal })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => watch(dir, { ref: 'no' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => watch(dir, { coalesce: { ms: -1 } })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => watch(dir, { coalesce: 100 as unknown as { ms: number } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(inotifyFdCount()).toBe(before);
  });

  test('ref: false lets a process that only watches exit by itself (iterating, with a listener, with coalesce)', async () => {
    const lib = ensureLib();
    const dir = tempDir();
    const script = `
      const { watch } = require(${JSON.stringify(lib)});
      const dir = ${JSON.stringify(dir)};
      const a = watch(dir, { ref: false });
      a.next().then(() => {}, () => {});
      watch(dir, { ref: false }, () => {});
      watch(dir, { ref: false, coalesce: { ms: 60000 } }, () => {});
      require('fs').writeFileSync(dir + '/x', ''); // an open coalesce window must not hold the process either
      console.log('READY');
    `;
    const child = spawnNode(['-e', script]);
    const result = await child.waitForExit(20_000);
    expect(result.stdout).toContain('READY');
    expect(result.code).toBe(0);
  });

  test('closed, and await using closes the stream at scope exit', async () => {
    const dir = tempDir();
    const before = inotifyFdCount();
    let escaped: ReturnType<typeof watch> | undefined;
    {
      await using stream = watch(dir);
      escaped = stream;
      expect(stream.closed).toBe(false);
      expect(inotifyFdCount()).toBe(before + 1);
    }
    expect(escaped.closed).toBe(true);
    expect(inotifyFdCount()).toBe(before);
  });
});

describe('watch({ coalesce: { ms } })', () => {
  test('events of one path within the window arrive as one change in one batch; the iteration yields batches', async () => {
    const dir = tempDir();
    // A window no test run reaches: the batch is delivered by close(), so its content does not depend on timing.
    const stream = watch(dir, { events: ['IN_CREATE', 'IN_MODIFY', 'IN_CLOSE_WRITE', 'IN_MOVED_TO'], coalesce: { ms: 3_600_000 } });
    const first = stream.next(); // iterating from here on
    const seen: string[] = [];
    const { done, poke } = waiter(() => (seen.includes('b') ? true : undefined));
    stream.notifier.on('event', (e) => {
      seen.push(e.name);
      poke();
    });
    fs.writeFileSync(path.join(dir, 'a'), 'one');
    fs.appendFileSync(path.join(dir, 'a'), 'two');
    fs.writeFileSync(path.join(dir, 'b.tmp'), 'x');
    fs.renameSync(path.join(dir, 'b.tmp'), path.join(dir, 'b'));
    await done;
    await stream.close();
    const result = await first;
    expect(result.done).toBe(false);
    const batch = result.value as EventBatch;
    expect(batch.map((c) => path.basename(c.pathname))).toEqual(['a', 'b.tmp', 'b']);
    const [a, tmp, b] = batch;
    expect(a?.maskname).toBe('IN_MODIFY|IN_CLOSE_WRITE|IN_CREATE');
    expect(a?.events.map((e) => e.maskname)).toEqual(['IN_CREATE', 'IN_MODIFY', 'IN_CLOSE_WRITE', 'IN_MODIFY', 'IN_CLOSE_WRITE']);
    expect(tmp?.events.map((e) => e.maskname)).toEqual(['IN_CREATE', 'IN_MODIFY', 'IN_CLOSE_WRITE']);
    expect(b?.maskname).toBe('IN_MOVED_TO');
    expect(b?.srcPathname).toBe(path.join(dir, 'b.tmp'));
    expect((await stream.next()).done).toBe(true);
  });

  test('with a listener, batches go to it; the last window is delivered on close, not lost', async () => {
    const dir = tempDir();
    const batches: EventBatch[] = [];
    // A window no test run will reach: only close() can deliver it.
    const stream = watch(dir, { events: ['IN_CREATE'], coalesce: { ms: 3_600_000 } }, (batch) => batches.push(batch));
    fs.writeFileSync(path.join(dir, 'p'), '');
    fs.writeFileSync(path.join(dir, 'q'), '');
    // Wait until the Notifier has the events: its 'event' listeners see them before the window does.
    const { done, poke } = waiter(() => (seen.length === 2 ? true : undefined));
    const seen: string[] = [];
    stream.notifier.on('event', (e) => {
      seen.push(e.name);
      poke();
    });
    await done;
    expect(batches).toEqual([]);
    await stream.close();
    expect(batches.map((batch) => batch.map((c) => path.basename(c.pathname)))).toEqual([['p', 'q']]);
  });
});

describe('maxQueued bounds every form that queues', () => {
  /** A stream's listener log: `until(n)` resolves once the listener has had `n` items. */
  function listenerLog<T>(): { items: T[]; listener: (item: T) => void; until: (n: number) => Promise<void> } {
    const items: T[] = [];
    const waiters = new Set<() => void>();
    return {
      items,
      listener: (item) => {
        items.push(item);
        for (const wake of [...waiters]) wake();
      },
      until: async (n) => {
        const { done, poke } = waiter(() => (items.length >= n ? true : undefined));
        waiters.add(poke);
        poke();
        await done;
        waiters.delete(poke);
      },
    };
  }
  const label = (e: InotifyEvent | undefined): string => (e?.wd === -1 ? e.maskname : (e?.name ?? ''));

  test('a listener has no queue (it gets every event); an iteration of the same stream is bounded, with one IN_Q_OVERFLOW', async () => {
    const dir = tempDir();
    const log = listenerLog<InotifyEvent>();
    const stream = watch(dir, { recursive: false, events: ['IN_CREATE'], maxQueued: 3 }, log.listener);
    const first = stream.next(); // the iteration starts, and lags
    for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(dir, `f${i}`), '');
    await log.until(10);
    expect(log.items.map(label)).toStrictEqual(Array.from({ length: 10 }, (_, i) => `f${i}`));
    const got = [label((await first).value)];
    for (let i = 0; i < 4; i++) got.push(label((await stream.next()).value));
    // f0 went to the waiting next(); f1..f3 waited; f4..f9 were dropped.
    expect(got).toStrictEqual(['f0', 'f1', 'f2', 'f3', 'IN_Q_OVERFLOW']);
    fs.writeFileSync(path.join(dir, 'again'), '');
    expect(label((await stream.next()).value)).toBe('again');
    await stream.close();
  });

  test('coalesce: a window holds at most maxQueued events, then one IN_Q_OVERFLOW change stands for the rest', async () => {
    const dir = tempDir();
    const log = listenerLog<EventBatch>();
    // A window no test run reaches: close() delivers it, so its content does not depend on timing.
    const stream = watch(dir, { recursive: false, events: ['IN_CREATE'], coalesce: { ms: 3_600_000 }, maxQueued: 5 }, log.listener);
    const seen = listenerLog<InotifyEvent>();
    stream.notifier.on('event', seen.listener);
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `f${i}`), '');
    await seen.until(20);
    await stream.close();
    expect(log.items).toHaveLength(1);
    const batch = log.items[0] as EventBatch;
    expect(batch.map((c) => (c.pathname === '' ? c.maskname : path.basename(c.pathname)))).toStrictEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'IN_Q_OVERFLOW']);
    expect(batch[5]?.events.map((e) => e.wd)).toStrictEqual([-1]);
  });

  test('coalesce, iterated: the batches waiting for a lagging loop hold at most maxQueued events', async () => {
    const dir = tempDir();
    const log = listenerLog<EventBatch>();
    const stream = watch(dir, { recursive: false, events: ['IN_CREATE'], coalesce: { ms: 1 }, maxQueued: 4 }, log.listener);
    const first = stream.next(); // the iteration starts, and lags
    // One file per window: the next is written once the listener had the last one's batch.
    for (let i = 0; i < 10; i++) {
      fs.writeFileSync(path.join(dir, `f${i}`), '');
      await log.until(i + 1);
    }
    const names = (batch: EventBatch | undefined): string => (batch ?? []).map((c) => (c.pathname === '' ? c.maskname : path.basename(c.pathname))).join(',');
    expect(log.items.map(names)).toStrictEqual(Array.from({ length: 10 }, (_, i) => `f${i}`));
    const got = [names((await first).value)];
    for (let i = 0; i < 5; i++) got.push(names((await stream.next()).value));
    // f0's batch went to the waiting next(); f1..f4 waited (4 events); the rest were dropped.
    expect(got).toStrictEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'IN_Q_OVERFLOW']);
    fs.writeFileSync(path.join(dir, 'again'), '');
    expect(names((await stream.next()).value)).toBe('again');
    await stream.close();
  });
});

describe('an error while watching, without onError, rejects the iteration of every form', () => {
  // 18 nested directories of 250 characters: the deepest path is too long to watch (ENAMETOOLONG).
  const tooDeep = 'd=$(printf "a%.0s" $(seq 250)); for i in $(seq 18); do mkdir "$d" && cd "$d"; done';

  test('coalesce, iterated: the iteration rejects with the coded error (it used to end as if closed)', async () => {
    const root = tempDir();
    const stream = watch(root, { events: ['IN_CLOSE_WRITE'], coalesce: { ms: 10 } });
    const next = stream.next();
    execFileSync('bash', ['-c', tooDeep], { cwd: root });
    await expect(next).rejects.toMatchObject({ code: 'ENAMETOOLONG', syscall: 'inotify_add_watch' });
    expect(stream.closed).toBe(true);
  });

  test('a listener and an iteration: the iteration rejects (no uncaught exception as well)', async () => {
    const root = tempDir();
    const stream = watch(root, { events: ['IN_CLOSE_WRITE'] }, () => {});
    const next = stream.next();
    execFileSync('bash', ['-c', tooDeep], { cwd: root });
    await expect(next).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    await expect(stream.next()).resolves.toStrictEqual({ value: undefined, done: true });
  });
});
