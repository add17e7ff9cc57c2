/**
 * The Notifier's surface on the real kernel: 'event', `for await`,
 * loop({ signal }), stop(), close(), Symbol.asyncDispose, coalesce, and the
 * watch() short path.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { describe, expect, test } from 'vitest';
import {
  IN_CLOSE_WRITE, IN_CREATE, IN_MODIFY, Notifier, WatchManager, watch, type EventStream, type InotifyEvent,
} from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { EventLog, openNotifier, openWatchManager } from './helpers/notifier.js';

describe('Notifier', () => {
  test("'event' listeners get InotifyEvent objects in kernel order", async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE);
    const notifier = openNotifier(wm);
    const seen: InotifyEvent[] = [];
    notifier.on('event', (event) => seen.push(event));
    const log = new EventLog(notifier);
    for (const name of ['c', 'a', 'b']) fs.writeFileSync(path.join(root, name), '');
    await log.sentinel(root);
    expect(seen.slice(0, 3).map((e) => [e.name, e.pathname, e.path, e.wd, e.dir, e.synthetic])).toStrictEqual(
      ['c', 'a', 'b'].map((name) => [name, path.join(root, name), root, wm.getWd(root), false, false]),
    );
    expect(seen[0]).toBeInstanceOf(Object.getPrototypeOf(seen[1]).constructor);
  });

  test('for await yields events; breaking out detaches the iterator, the notifier keeps running', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE);
    const notifier = openNotifier(wm);
    const log = new EventLog(notifier);
    setImmediate(() => {
      for (const name of ['one', 'two', 'three']) fs.writeFileSync(path.join(root, name), '');
    });
    const names: string[] = [];
    for await (const event of notifier) {
      names.push(event.name);
      if (names.length === 2) break;
    }
    expect(names).toStrictEqual(['one', 'two']);
    expect(notifier.closed).toBe(false);
    await log.sentinel(root);
    // A second loop sees only what comes after it started.
    const iterator = notifier[Symbol.asyncIterator]();
    fs.writeFileSync(path.join(root, 'four'), '');
    expect((await iterator.next()).value?.name).toBe('four');
    notifier.stop();
    expect(await iterator.next()).toStrictEqual({ value: undefined, done: true });
  });

  test('loop({ signal }) resolves when the signal aborts, and stops the notifier', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE);
    const notifier = openNotifier(wm);
    const ac = new AbortController();
    let closed = 0;
    notifier.on('close', () => closed++);
    const looping = notifier.loop({ signal: ac.signal });
    let resolved = false;
    void looping.then(() => {
      resolved = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(resolved).toBe(false);
    ac.abort();
    await looping;
    expect(notifier.closed).toBe(true);
    expect(closed).toBe(1);
    // The inotify instance is closed with it (as pyinotify's stop()): the manager is unusable.
    expect(wm.inotify.closed).toBe(true);
    expect(() => wm.addWatch(root, IN_CREATE)).toThrow(expect.objectContaining({ code: 'EBADF' }) as Error);
    // Later loops resolve at once; an already aborted signal stops at once.
    await notifier.loop();
    const other = openNotifier(openWatchManager());
    await other.loop({ signal: AbortSignal.abort() });
    expect(other.closed).toBe(true);
  });

  test('stop() ends every for-await loop and resolves loop(); it is idempotent', async () => {
    const wm = openWatchManager();
    wm.addWatch(tempDir(), IN_CREATE);
    const notifier = openNotifier(wm);
    const consumed = (async () => {
      let n = 0;
      for await (const _event of notifier) n++;
      return n;
    })();
    const looping = notifier.loop();
    setImmediate(() => notifier.stop());
    await looping;
    expect(await consumed).toBe(0);
    notifier.stop();
    expect(notifier.closed).toBe(true);
    // Iterating a stopped notifier ends immediately.
    expect(await notifier[Symbol.asyncIterator]().next()).toStrictEqual({ value: undefined, done: true });
  });

  test('close() and Symbol.asyncDispose stop and wait for pending async hooks', async () => {
    const root = tempDir();
    for (const via of ['close', 'asyncDispose'] as const) {
      const wm = new WatchManager();
      wm.addWatch(root, IN_CREATE);
      let finished = false;
      const notifier = new Notifier(wm, async () => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        finished = true;
      });
      const started = new Promise((resolve) => notifier.once('event', resolve));
      fs.writeFileSync(path.join(root, via), '');
      await started;
      await (via === 'close' ? notifier.close() : notifier[Symbol.asyncDispose]());
      expect(finished, via).toBe(true);
      expect(notifier.closed).toBe(true);
      expect(wm.inotify.closed).toBe(true);
    }
  });

  test('coalesce drops an event identical to an earlier one of the same read batch', async () => {
    const root = tempDir();
    const results: string[][] = [];
    for (const coalesce of [false, true]) {
      const dir = path.join(root, String(coalesce));
      fs.mkdirSync(dir);
      for (const name of ['f', 'g']) fs.writeFileSync(path.join(dir, name), '');
      const wm = openWatchManager();
      wm.addWatch(dir, IN_MODIFY | IN_CLOSE_WRITE);
      const log = new EventLog(openNotifier(wm, undefined, { coalesce }));
      // Synchronously, so all are read in one batch; not consecutive, so the kernel does not merge them.
      fs.appendFileSync(path.join(dir, 'f'), 'a');
      fs.appendFileSync(path.join(dir, 'g'), 'b');
      fs.appendFileSync(path.join(dir, 'f'), 'c');
      await log.sentinel(dir);
      results.push(log.without().map((e) => `${e.maskname} ${e.name}`));
    }
    expect(results[0]).toStrictEqual([
      'IN_MODIFY f', 'IN_CLOSE_WRITE f', 'IN_MODIFY g', 'IN_CLOSE_WRITE g', 'IN_MODIFY f', 'IN_CLOSE_WRITE f',
    ]);
    expect(results[1]).toStrictEqual(['IN_MODIFY f', 'IN_CLOSE_WRITE f', 'IN_MODIFY g', 'IN_CLOSE_WRITE g']);
  });
});

describe('watch() holds events only for a running loop, boundedly', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const collected = async (refs: ReadonlyArray<WeakRef<object>>): Promise<number> => {
    await new Promise((resolve) => setImmediate(resolve)); // WeakRef targets live until the job ends
    gc();
    gc();
    return refs.filter((ref) => ref.deref() === undefined).length;
  };
  // Weak references to every event, and a promise for the event about `name`.
  const track = (stream: EventStream, refs: Array<WeakRef<object>>, name: string): Promise<void> => new Promise((resolve) => {
    stream.notifier.on('event', (event) => {
      refs.push(new WeakRef(event));
      if (event.name === name) resolve();
    });
  });

  test('a stream never iterated holds no events', async () => {
    const root = tempDir();
    const stream = watch(root, { recursive: false, events: ['IN_CREATE'] });
    const refs: Array<WeakRef<object>> = [];
    const done = track(stream, refs, 'last');
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(root, `f${i}`), '');
    fs.writeFileSync(path.join(root, 'last'), '');
    await done;
    expect(refs.length).toBe(301);
    expect(await collected(refs)).toBe(301);
    await stream.close();
  });

  test('beyond maxQueued, a lagging loop gets one IN_Q_OVERFLOW in place of what was dropped, then events again; close() frees the rest', async () => {
    const root = tempDir();
    const stream = watch(root, { recursive: false, events: ['IN_CREATE'], maxQueued: 10 });
    const refs: Array<WeakRef<object>> = [];
    let done = track(stream, refs, 'f49');
    const first = stream.next(); // the iteration starts
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(root, `f${i}`), '');
    await done;
    const got: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { value } = i === 0 ? await first : await stream.next();
      got.push(value?.wd === -1 ? value.maskname : (value?.name ?? ''));
    }
    // f0 went to the waiting next(); f1..f10 waited; f11..f49 were dropped.
    expect(got).toStrictEqual(['f0', ...Array.from({ length: 10 }, (_, i) => `f${i + 1}`), 'IN_Q_OVERFLOW']);
    fs.writeFileSync(path.join(root, 'again'), '');
    expect((await stream.next()).value?.name).toBe('again');
    // Waiting events are freed by close().
    done = track(stream, refs.splice(0), 'g9');
    const later: Array<WeakRef<object>> = [];
    stream.notifier.on('event', (event) => later.push(new WeakRef(event)));
    for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(root, `g${i}`), '');
    await done;
    expect(later.length).toBe(10);
    await stream.close();
    expect(await stream.next()).toStrictEqual({ value: undefined, done: true });
    expect(await collected(later)).toBe(10);
  });

  test('maxQueued is checked', () => {
    const root = tempDir();
    expect(() => watch(root, { maxQueued: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }) as Error);
    expect(() => watch(root, { maxQueued: '5' as unknown as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }) as Error);
  });
});

describe('watch()', () => {
  test('events as names, recursive by default, ended by the signal', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'sub'));
    const ac = new AbortController();
    const stream = watch(root, { events: ['IN_CLOSE_WRITE', 'IN_MOVED_TO'], signal: ac.signal });
    setImmediate(() => {
      fs.writeFileSync(path.join(root, 'sub', 'a'), 'x');
      fs.mkdirSync(path.join(root, 'new'));
      fs.writeFileSync(path.join(root, 'new', 'b'), 'x');
      fs.renameSync(path.join(root, 'sub', 'a'), path.join(root, 'c'));
    });
    const seen: string[] = [];
    for await (const event of stream) {
      seen.push(`${event.maskname} ${path.relative(root, event.pathname)}`);
      if (event.name === 'c') ac.abort();
    }
    expect(seen).toStrictEqual(['IN_CLOSE_WRITE sub/a', 'IN_CLOSE_WRITE new/b', 'IN_MOVED_TO c']);
    expect(stream.notifier.closed).toBe(true);
  });

  // A directory deeper than PATH_MAX cannot be watched (ENAMETOOLONG): an error while watching.
  const tooDeep = 'd=$(printf "a%.0s" $(seq 250)); for i in $(seq 18); do mkdir "$d" && cd "$d"; done';

  test('an error while watching goes to onError and watching goes on', async () => {
    const root = tempDir();
    const errors: Error[] = [];
    const stream = watch(root, { events: ['IN_CLOSE_WRITE'], onError: (error) => errors.push(error) });
    execFileSync('bash', ['-c', tooDeep], { cwd: root });
    for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    fs.writeFileSync(path.join(root, 'after'), 'x');
    const next = await stream.next();
    expect(next.value?.pathname).toBe(path.join(root, 'after'));
    expect(errors[0]).toMatchObject({ code: 'ENAMETOOLONG', syscall: 'inotify_add_watch' });
    await stream.close();
  });

  test('without onError, an error while watching rejects the iteration', async () => {
    const root = tempDir();
    const stream = watch(root, { events: ['IN_CLOSE_WRITE'] });
    execFileSync('bash', ['-c', tooDeep], { cwd: root });
    await expect(stream.next()).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
  });

  test('close() ends the iteration; an unknown event name and a missing path throw at once', async () => {
    const root = tempDir();
    const stream = watch(root, { recursive: false });
    const next = stream.next();
    await stream.close();
    expect(await next).toStrictEqual({ value: undefined, done: true });
    expect(() => watch(root, { events: ['IN_NOPE'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }) as Error);
    expect(() => watch(path.join(root, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }) as Error);
    const aborted = watch(root, { signal: AbortSignal.abort() });
    expect(await aborted.next()).toStrictEqual({ value: undefined, done: true });
  });
});
