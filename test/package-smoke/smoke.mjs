// The installed package, used as a consumer uses it, on whatever Node.js and
// CPU runs this file: `node --test smoke.mjs` from a project that installed
// the tarball (scripts/test-package.sh: Node 20, 22, 24 and 26 on x64, and
// arm64 under qemu-user; test/package.test.ts: the Node running the suite).
//
// Plain JavaScript and node:test, so it needs nothing but Node: no compiler,
// no vitest (whose native parts exist for the host CPU only).
//
// The addon must come from prebuilds/linux-<arch>/ (nothing compiled) unless
// SMOKE_EXPECT_ADDON=any. SMOKE_LAUNCHER is the command that runs a child
// Node under emulation (qemu-user without binfmt_misc cannot exec one).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  IN_CLOSE_WRITE, IN_CREATE, IN_ISDIR, IN_MOVED_FROM, IN_MOVED_TO, Inotify, Notifier, WatchManager, watch,
} from 'inotify-native';

const require = createRequire(path.join(process.cwd(), 'package.json'));
// Under qemu every step is 5-20 times slower than native.
const WAIT_MS = Number(process.env.SMOKE_WAIT_MS ?? 60_000);
const launcher = (process.env.SMOKE_LAUNCHER ?? '').split(' ').filter(Boolean);

/** Runs this Node (through SMOKE_LAUNCHER when set) with `args`; returns stdout. */
function runNode(args) {
  const [command, ...prefix] = [...launcher, process.execPath];
  return execFileSync(command, [...prefix, ...args], { encoding: 'utf8' });
}

const roots = [];
function tempDir() {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'inotify-smoke-')));
  roots.push(dir);
  return dir;
}
after(() => {
  for (const dir of roots) fs.rmSync(dir, { recursive: true, force: true });
});

/** Resolves once `done(events)` holds for the Notifier's events so far; rejects after WAIT_MS. */
function until(notifier, done) {
  const events = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      notifier.off('event', onEvent);
      reject(new Error(`timed out; events so far:\n${events.map((e) => `${e.maskname} ${e.pathname}`).join('\n')}`));
    }, WAIT_MS);
    const onEvent = (event) => {
      events.push(event);
      if (done(events)) {
        clearTimeout(timer);
        notifier.off('event', onEvent);
        resolve(events);
      }
    };
    notifier.on('event', onEvent);
  });
}

const inotifyFds = () =>
  fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:inotify';
    } catch {
      return false;
    }
  }).length;

test('require() and import give the same API', () => {
  assert.equal(require('inotify-native').Inotify, Inotify);
  assert.equal(typeof IN_CREATE, 'number');
});

test('the addon comes from the prebuild for this CPU', { skip: process.env.SMOKE_EXPECT_ADDON === 'any' }, () => {
  new Inotify().close(); // loaded by now
  const maps = fs.readFileSync('/proc/self/maps', 'utf8').split('\n');
  const addon = maps.find((line) => line.endsWith('.node') && line.includes('inotify-native'));
  assert.ok(addon, 'no inotify-native addon mapped');
  assert.match(addon, new RegExp(`/node_modules/inotify-native/prebuilds/linux-${process.arch}/inotify-native\\.glibc\\.node$`));
  const installed = path.dirname(require.resolve('inotify-native/package.json'));
  assert.equal(fs.existsSync(path.join(installed, 'build')), false, 'a build/ directory: the install compiled the addon');
});

test('bad input is a Node-style error, not a crash', () => {
  const ino = new Inotify();
  const missing = path.join(tempDir(), 'missing');
  assert.throws(() => ino.addWatch(missing, IN_CREATE), (error) => {
    assert.equal(error.code, 'ENOENT');
    assert.equal(error.syscall, 'inotify_add_watch');
    assert.equal(error.path, missing);
    return true;
  });
  assert.throws(() => ino.addWatch(42, IN_CREATE), { code: 'ERR_INVALID_ARG_TYPE' });
  ino.close();
  assert.throws(() => ino.addWatch('/', IN_CREATE), { code: 'EBADF' });
});

test('a recursive watch sees a new tree exactly once, and pairs a move', async () => {
  const root = tempDir();
  const wm = new WatchManager();
  const notifier = new Notifier(wm);
  try {
    wm.addWatch(root, IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO, { rec: true, autoAdd: true });
    const file = path.join(root, 'a', 'b', 'c', 'f');
    const seen = until(notifier, (events) => events.some((e) => e.pathname === file && e.mask & IN_CLOSE_WRITE));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'x');
    const events = await seen;
    const creates = events.filter((e) => e.mask & IN_CREATE).map((e) => [path.relative(root, e.pathname), Boolean(e.mask & IN_ISDIR)]);
    assert.deepEqual(creates, [['a', true], ['a/b', true], ['a/b/c', true], ['a/b/c/f', false]]);
    assert.equal(events.filter((e) => e.pathname === file && e.mask & IN_CLOSE_WRITE).length, 1);

    const moved = path.join(root, 'a', 'g');
    const pair = until(notifier, (got) => got.some((e) => e.mask & IN_MOVED_TO));
    fs.renameSync(file, moved);
    const to = (await pair).find((e) => e.mask & IN_MOVED_TO);
    assert.equal(to.pathname, moved);
    assert.equal(to.srcPathname, file);
  } finally {
    notifier.stop();
  }
});

test('for await over watch() yields an event, and close releases the fd', async () => {
  const root = tempDir();
  const before = inotifyFds();
  const stream = watch(root);
  const next = stream[Symbol.asyncIterator]().next();
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hi');
  const { value } = await next;
  assert.equal(value.pathname, path.join(root, 'hello.txt'));
  await stream.close();
  assert.equal(inotifyFds(), before);
});

test('a worker thread watches, and terminating it leaves no fd open', async () => {
  const root = tempDir();
  const before = inotifyFds();
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const { Inotify, IN_CREATE } = require(workerData.entry);
     const ino = new Inotify();
     ino.addWatch(workerData.root, IN_CREATE);
     ino.on('batch', (records) => parentPort.postMessage(records.map((r) => r.name)));
     parentPort.postMessage('ready');`,
    { eval: true, workerData: { root, entry: require.resolve('inotify-native') } },
  );
  const names = await new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (message) => {
      if (message === 'ready') fs.writeFileSync(path.join(root, 'from-main'), '');
      else resolve(message);
    });
  });
  assert.deepEqual(names, ['from-main']);
  await worker.terminate();
  assert.equal(inotifyFds(), before);
});

test('the inotify-profile command runs', () => {
  const bin = path.join(process.cwd(), 'node_modules', '.bin', 'inotify-profile');
  const help = runNode([fs.realpathSync(bin), '--help']);
  assert.match(help, /inotify-profile/);
});
