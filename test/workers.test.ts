/**
 * Eight worker threads, each with its own WatchManager + Notifier on its own
 * directory, a writer thread keeping all of them busy, and every watcher
 * ended mid-burst: terminate() from outside (often while the worker is inside
 * the addon's call into JS), process.exit() from inside a processor, or an
 * uncaught exception from a listener. Repeated for a few rounds in a child
 * process; the process must not crash, must leak no inotify fd, and its main
 * thread must still watch normally afterwards.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureLib, spawnNode } from './helpers/child.js';

// Plain CommonJS, written to a temp file and run as `node script lib dir rounds`.
const SCRIPT = String.raw`
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { Worker, isMainThread, workerData, parentPort } = require('node:worker_threads');
const WATCHERS = 8;
const MODES = ['terminate', 'terminate', 'terminate', 'terminate', 'terminate', 'exit', 'throw', 'close-then-terminate'];

function inotifyFds() {
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try { if (fs.readlinkSync('/proc/self/fd/' + fd) === 'anon_inode:inotify') count += 1; } catch {}
  }
  return count;
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timed out: ' + what)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

if (isMainThread) {
  const [lib, root, roundsText] = process.argv.slice(2);
  const rounds = Number(roundsText);
  const stats = { terminated: 0, exited: 0, threw: 0, events: 0 };
  (async () => {
    for (let round = 0; round < rounds; round++) {
      const dirs = Array.from({ length: WATCHERS }, (_, i) => path.join(root, 'r' + round + '-w' + i));
      for (const dir of dirs) fs.mkdirSync(dir);
      const writer = new Worker(__filename, { workerData: { role: 'writer', dirs } });
      writer.on('error', (error) => { console.log('WRITER ERROR ' + error.stack); process.exit(3); });
      const watchers = dirs.map((dir, i) => {
        const mode = MODES[(i + round) % MODES.length];
        const worker = new Worker(__filename, { workerData: { role: 'watcher', lib, dir, mode } });
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        const flowing = new Promise((resolve) => worker.on('message', (m) => { if (m.flowing) resolve(); else stats.events += m.events; }));
        const failed = new Promise((resolve) => worker.once('error', resolve));
        return { worker, mode, exited, flowing, failed };
      });
      // Every watcher sees events, then all of them end at once, mid-burst.
      await withTimeout(Promise.all(watchers.map((w) => w.flowing)), 20000, 'round ' + round + ': events flowing in every worker');
      await Promise.all(watchers.map(async (w) => {
        if (w.mode === 'terminate' || w.mode === 'close-then-terminate') {
          if (w.mode === 'close-then-terminate') w.worker.postMessage('close');
          await w.worker.terminate();
          stats.terminated++;
        } else if (w.mode === 'throw') {
          const error = await withTimeout(w.failed, 20000, 'round ' + round + ': the throwing worker');
          if (!String(error && error.message).includes('listener failed on purpose')) throw new Error('unexpected worker error ' + (error && error.stack));
          stats.threw++;
        } else {
          stats.exited++;
        }
        const code = await withTimeout(w.exited, 20000, 'round ' + round + ': worker exit (' + w.mode + ')');
        if (w.mode === 'exit' && code !== 7) throw new Error('exit mode ended with code ' + code);
      }));
      await writer.terminate();
      console.log('ROUND ' + round + ' ok inotify-fds=' + inotifyFds());
    }

    // The main thread still works: load the library here for the first time, watch, see an event.
    const { WatchManager, Notifier, IN_CREATE } = require(lib);
    const wm = new WatchManager();
    const probe = path.join(root, 'main-probe');
    fs.mkdirSync(probe);
    wm.addWatch(probe, IN_CREATE, { rec: true, autoAdd: true });
    const notifier = new Notifier(wm);
    const seen = withTimeout(new Promise((resolve) => notifier.on('event', (e) => { if (e.name === 'hello') resolve(e); })), 10000, 'main thread event');
    fs.writeFileSync(path.join(probe, 'hello'), 'x');
    const event = await seen;
    const during = inotifyFds();
    await notifier.close();
    console.log('DONE ' + JSON.stringify({ ...stats, mainEvent: event.maskname + ' ' + event.pathname, fdsWhileWatching: during, fdsAfterClose: inotifyFds() }));
  })().catch((error) => { console.log('FAILED ' + error.stack); process.exit(2); });
} else if (workerData.role === 'writer') {
  // As fast as possible until terminated: files created, written, renamed, deleted, and
  // directories made and removed (so auto-add runs its scans inside the workers too).
  const { dirs } = workerData;
  for (let i = 0; ; i++) {
    const dir = dirs[i % dirs.length];
    const file = path.join(dir, 'f' + (i % 16));
    try {
      fs.writeFileSync(file, String(i));
      if (i % 3 === 0) fs.renameSync(file, file + '.moved');
      if (i % 5 === 0) { const sub = path.join(dir, 'd' + (i % 4)); fs.mkdirSync(sub, { recursive: true }); fs.writeFileSync(path.join(sub, 'x'), 'y'); }
      if (i % 7 === 0) fs.rmSync(path.join(dir, 'd' + (i % 4)), { recursive: true, force: true });
      if (i % 11 === 0) fs.rmSync(file + '.moved', { force: true });
    } catch {}
  }
} else {
  const { WatchManager, Notifier, IN_ALL_EVENTS } = require(workerData.lib);
  const wm = new WatchManager();
  wm.addWatch(workerData.dir, IN_ALL_EVENTS, { rec: true, autoAdd: true });
  let events = 0;
  const notifier = new Notifier(wm, () => {
    events++;
    if (events === 1) parentPort.postMessage({ flowing: true });
    if (events % 500 === 0) parentPort.postMessage({ events: 500 });
    if (workerData.mode === 'exit' && events === 300) process.exit(7);
    if (workerData.mode === 'throw' && events === 300) throw new Error('listener failed on purpose');
    // Stay busy in the processor, so terminate() often lands inside the addon's call into JS.
    const until = Date.now() + 1;
    while (Date.now() < until);
  });
  // A processor exception becomes 'error'; rethrowing it makes it uncaught in this worker.
  notifier.on('error', (error) => { throw error; });
  parentPort.on('message', (m) => { if (m === 'close') notifier.stop(); });
}
`;

// Workers that spend nearly all their time inside addon calls that throw,
// terminated from outside: the throw often lands after termination began,
// when JS can no longer receive it. (Before NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
// node-addon-api aborted the process there, in 5 runs out of 5; and a
// constructor whose napi_wrap failed aborted it in 3 runs out of 6.)
const THROWING_SCRIPT = String.raw`
'use strict';
const { Worker, isMainThread, workerData, parentPort } = require('node:worker_threads');
if (isMainThread) {
  const [lib, roundsText] = process.argv.slice(2);
  (async () => {
    let terminated = 0;
    for (let round = 0; round < Number(roundsText); round++) {
      const workers = Array.from({ length: 4 }, () => new Worker(__filename, { workerData: { lib } }));
      await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
      await new Promise((resolve) => setTimeout(resolve, (round * 7) % 20));
      await Promise.all(workers.map((w) => w.terminate()));
      terminated += workers.length;
    }
    const { Inotify } = require(lib);
    const ino = new Inotify();
    ino.addWatch(__dirname, 0x100);
    ino.close();
    console.log('DONE terminated=' + terminated);
  })();
} else {
  const { Inotify } = require(workerData.lib);
  const { readDirectory } = require(require('node:path').join(require('node:path').dirname(workerData.lib), 'readdir.js'));
  const open = new Inotify();
  const closed = new Inotify();
  closed.close();
  parentPort.postMessage('ready');
  for (let i = 0; ; i++) {
    try { open.addWatch('/nonexistent/' + i, 0x100); } catch {}
    try { closed.addWatch('/tmp', 0x100); } catch {}
    try { open.rmWatch(123456); } catch {}
    try { closed.readSync(); } catch {}
    try { closed.ref(); } catch {}
    try { readDirectory('/nonexistent/' + i); } catch {}
    if (i % 2 === 0) new Inotify().close();
  }
}
`;

describe('worker threads', () => {
  it('workers terminated while inside throwing addon calls, 20 rounds of 4: no abort, main thread still works', async () => {
    const lib = ensureLib();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'inotify-throwing-'));
    try {
      const script = path.join(root, 'throwing.cjs');
      fs.writeFileSync(script, THROWING_SCRIPT);
      const result = await spawnNode([script, lib, '20']).waitForExit(80_000);
      const context = `exit ${result.code} signal ${result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
      expect(result.signal, context).toBeNull();
      expect(result.code, context).toBe(0);
      expect(result.stdout.trim(), context).toBe('DONE terminated=80');
      expect(result.stderr, context).not.toMatch(/FATAL|Assertion|Segmentation|AddressSanitizer|runtime error/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 180_000);

  it('8 watching workers ended mid-burst (terminate, process.exit, uncaught throw), 3 rounds: no crash, no leaked fd, main thread still works', async () => {
    const lib = ensureLib();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'inotify-workers-'));
    try {
      const script = path.join(root, 'workers.cjs');
      fs.writeFileSync(script, SCRIPT);
      const child = spawnNode([script, lib, root, '3']);
      const result = await child.waitForExit(80_000);
      const context = `exit ${result.code} signal ${result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
      expect(result.signal, context).toBeNull();
      expect(result.code, context).toBe(0);
      const done = result.stdout.split('\n').find((line) => line.startsWith('DONE '));
      expect(done, context).toBeDefined();
      const stats = JSON.parse((done ?? 'DONE {}').slice(5)) as Record<string, number | string>;
      expect(stats.terminated).toBe(3 * 6);
      expect(stats.exited).toBe(3);
      expect(stats.threw).toBe(3);
      expect(stats.mainEvent).toBe(`IN_CREATE ${path.join(root, 'main-probe', 'hello')}`);
      expect(stats.fdsWhileWatching).toBe(1);
      expect(stats.fdsAfterClose).toBe(0);
      // Each round ends with no inotify fd left open by the ended workers.
      expect(result.stdout.match(/ROUND \d ok inotify-fds=0/g)?.length, context).toBe(3);
      expect(result.stderr, context).not.toMatch(/FATAL|Assertion|Segmentation|AddressSanitizer|runtime error/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 180_000);
});
