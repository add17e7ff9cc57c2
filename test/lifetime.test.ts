/**
 * Lifetime: close, ref/unref, process exit, throwing listeners, workers
 * terminated mid-stream, garbage collection of an open instance, fd leaks.
 * Whole-process behaviour runs in child processes loading the built lib/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { Inotify, IN_CREATE, IN_MODIFY, Notifier, WatchManager } from '../src/index.js';
import { atLeast, collect, inotifyFdCount, openInotify, some, tempDir } from './helpers/index.js';
import { ensureLib, fixturesDir, spawnNode } from './helpers/child.js';

let lib = '';
beforeAll(() => {
  lib = ensureLib();
});

const fixture = (name: string): string => path.join(fixturesDir, name);


describe('close', () => {
  test('close twice is fine: one close event, fd -1, closed true', () => {
    const ino = new Inotify();
    expect(ino.fd).toBeGreaterThanOrEqual(0);
    expect(ino.closed).toBe(false);
    let closes = 0;
    ino.on('close', () => closes++);
    ino.close();
    ino.close();
    ino[Symbol.dispose]();
    expect(closes).toBe(1);
    expect(ino.closed).toBe(true);
    expect(ino.fd).toBe(-1);
  });

  test('close releases the fd at once', () => {
    const before = inotifyFdCount();
    const ino = new Inotify();
    expect(inotifyFdCount()).toBe(before + 1);
    expect(fs.readlinkSync(`/proc/self/fd/${ino.fd}`)).toBe('anon_inode:inotify');
    ino.close();
    expect(inotifyFdCount()).toBe(before);
  });

  test('events queued before close are never delivered after it', async () => {
    const dir = tempDir();
    const closed = new Inotify();
    closed.addWatch(dir, IN_CREATE);
    let delivered = 0;
    closed.on('batch', () => delivered++);
    const sentinel = openInotify();
    sentinel.addWatch(dir, IN_CREATE);
    const done = collect(sentinel, some((r) => r.name === 'made'));
    fs.writeFileSync(path.join(dir, 'made'), '');
    closed.close(); // same tick: the kernel queued the event, the loop has not polled yet
    await done;
    expect(delivered).toBe(0);
  });

  test('close() inside a batch listener stops the drain: no further batch, no crash', async () => {
    const dir = tempDir();
    const ino = new Inotify();
    ino.addWatch(dir, IN_CREATE);
    let batches = 0;
    ino.on('batch', () => {
      batches++;
      ino.close();
    });
    // More than one buffer's worth, so the native drain loop has a second batch ready.
    for (let i = 0; i < 10_000; i++) fs.closeSync(fs.openSync(path.join(dir, `c${i}`), 'w'));
    const sentinel = openInotify();
    sentinel.addWatch(dir, IN_MODIFY);
    const done = collect(sentinel, atLeast(1));
    fs.appendFileSync(path.join(dir, 'c0'), 'x');
    await done;
    expect(batches).toBe(1);
    expect(ino.closed).toBe(true);
  });

  // Counts, not speed: each close() of an instance that holds a watch waits in
  // the kernel for an SRCU grace period (fsnotify frees its marks), 1-2 ms on
  // a quiet machine and 8 ms or more on a busy one, in C as in Node. A leaked
  // instance per cycle would hit the per-user instance limit (default 128)
  // long before the end, and the fd count would grow.
  test('1,000 open/watch/close cycles leave the fd count unchanged', () => {
    const dir = tempDir();
    const before = fs.readdirSync('/proc/self/fd').length;
    const inotifyBefore = inotifyFdCount();
    for (let i = 0; i < 1_000; i++) {
      const ino = new Inotify();
      ino.addWatch(dir, IN_CREATE);
      ino.close();
      if (i % 100 === 0) expect(inotifyFdCount()).toBe(inotifyBefore);
    }
    expect(fs.readdirSync('/proc/self/fd').length).toBe(before);
    expect(inotifyFdCount()).toBe(inotifyBefore);
  }, 300_000);
});

describe('ref / unref', () => {
  test('hasRef follows ref(), unref(), the ref option and close()', () => {
    const ino = openInotify();
    expect(ino.hasRef()).toBe(true);
    expect(ino.unref()).toBe(ino);
    expect(ino.hasRef()).toBe(false);
    expect(ino.ref()).toBe(ino);
    expect(ino.hasRef()).toBe(true);
    ino.close();
    expect(ino.hasRef()).toBe(false);
    expect(openInotify({ ref: false }).hasRef()).toBe(false);
  });

  test('ref() and unref() are no-ops after close(), as on Node handles; a Notifier over a closed manager takes ref: false', () => {
    const ino = openInotify();
    ino.close();
    expect(ino.ref()).toBe(ino);
    expect(ino.unref()).toBe(ino);
    expect(ino.hasRef()).toBe(false);
    const wm = new WatchManager();
    wm.close();
    const notifier = new Notifier(wm, undefined, { ref: false });
    expect(notifier.ref()).toBe(notifier);
    expect(notifier.unref()).toBe(notifier);
    expect(wm.inotify.hasRef()).toBe(false);
    notifier.stop();
  });

  test.each(['unref', 'option'])('a child that watches after %s() exits by itself', async (mode) => {
    const dir = tempDir();
    const child = spawnNode([fixture('watch-ref.cjs'), lib, dir, mode]);
    const result = await child.waitForExit(10_000);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('READY hasRef=false');
    // It exited with the instance still open: unref, not close, let it go.
    expect(result.stdout).toContain('EXIT open=true hasRef=false');
  });

  test('a child that watches without unref() stays alive and keeps receiving events', async () => {
    const dir = tempDir();
    const child = spawnNode([fixture('watch-ref.cjs'), lib, dir, 'ref']);
    await child.waitForLine(/^READY hasRef=true$/);
    fs.writeFileSync(path.join(dir, 'one'), '');
    await child.waitForLine(/^EVENT one$/);
    fs.writeFileSync(path.join(dir, 'two'), '');
    await child.waitForLine(/^EVENT two$/);
    // Two readable wake-ups later, it has had every chance to exit.
    expect(child.running).toBe(true);
    child.kill();
    const result = await child.waitForExit();
    expect(result.signal).toBe('SIGKILL');
  });
});

describe('listener exceptions', () => {
  test('a throwing listener reaches uncaughtException; the process goes on', async () => {
    const dir = tempDir();
    const child = spawnNode([fixture('throwing-listener.cjs'), lib, dir, 'handler']);
    const result = await child.waitForExit(10_000);
    expect(result.stdout).toContain('CAUGHT boom from listener');
    expect(result.stdout).toContain('SECOND second');
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/FATAL|Abort|core dumped/i);
  });

  test('without a handler it is a normal uncaught exception (exit 1 with the stack), not an abort', async () => {
    const dir = tempDir();
    const child = spawnNode([fixture('throwing-listener.cjs'), lib, dir, 'none']);
    const result = await child.waitForExit(10_000);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Error: boom from listener');
    expect(result.stderr).toContain('throwing-listener.cjs');
    expect(result.stderr).not.toMatch(/FATAL|Abort/);
    expect(result.stdout).not.toContain('SECOND');
  });
});

describe('workers and garbage collection', () => {
  test('workers watching a busy directory, ended mid-stream 20 times, do not crash the process or leak fds', async () => {
    const dir = tempDir();
    const child = spawnNode([fixture('worker-terminate.cjs'), lib, dir, '20']);
    const result = await child.waitForExit(60_000);
    expect(result.stderr).not.toMatch(/FATAL|Abort|uv_loop_close|Assertion/i);
    expect(result.signal).toBeNull();
    expect(result.stdout).toContain('DONE 20 inotify-fds=0');
    expect(result.code).toBe(0);
  });

  test('with --expose-gc, an open Inotify whose only reference was dropped keeps delivering', async () => {
    const dir = tempDir();
    const child = spawnNode(['--expose-gc', fixture('gc.cjs'), lib, dir, 'open']);
    const result = await child.waitForExit(30_000);
    expect(result.stdout).toContain('OK 20');
    expect(result.code).toBe(0);
  });

  test('a closed Inotify is garbage collected, with its read buffer', async () => {
    const dir = tempDir();
    const child = spawnNode(['--expose-gc', fixture('gc.cjs'), lib, dir, 'closed']);
    const result = await child.waitForExit(30_000);
    const match = /COLLECTED (\d+)\/200 kept=(-?\d+)/.exec(result.stdout);
    expect(match, result.stdout + result.stderr).not.toBeNull();
    const [, collected, kept] = match ?? [];
    // FinalizationRegistry promises nothing for any one object; nearly all is the bar.
    expect(Number(collected)).toBeGreaterThanOrEqual(180);
    // 200 leaked instances would keep 200 x 256 KiB of buffers.
    expect(Number(kept)).toBeLessThan(20 * 256 * 1024);
  });
});
