#!/usr/bin/env node
// npm run soak — pushes SOAK_EVENTS events (default 1,000,000) through a
// Notifier (lib/, as a user loads it) from a writer process, and checks:
//
// - every event is accounted for: each file's events must follow its
//   create -> modify -> delete cycle, so a lost, duplicated or reordered
//   event shows up as a broken cycle, unless an IN_Q_OVERFLOW came between
//   (then the loss is reported, by design, and the cycle re-synchronises;
//   see OVERFLOW_WINDOW for the events just after it);
//   with no overflow, delivered == written exactly;
// - memory and fds are flat: RSS, heap (after GC) and the process's open fds
//   sampled at start, middle and end; fails if fds grew, if the heap grew by
//   more than SOAK_HEAP_MB (default 16) or RSS by more than SOAK_RSS_MB
//   (default 96) from start to end;
// - nothing hangs: fails if no event arrives for 30 s.
//
// Prints a report and a final `SOAK {json}` line; exits 1 on any failure.
// Environment: SOAK_EVENTS, SOAK_FILES (64), SOAK_HEAP_MB, SOAK_RSS_MB,
// SOAK_PAUSE_EVERY / SOAK_PAUSE_MS (stall the consumer to force overflows), SOAK_DIR
// (where the watched directory is made; default /dev/shm, else the temp dir).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const lib = path.join(here, '..', 'lib', 'index.js');
if (!fs.existsSync(lib)) {
  console.error(`soak: ${lib} is missing: run \`npm run build\` first`);
  process.exit(1);
}
const { WatchManager, Notifier, IN_CREATE, IN_MODIFY, IN_DELETE, IN_Q_OVERFLOW } = require(lib);

const EVENTS = Number(process.env.SOAK_EVENTS ?? 1_000_000);
const FILES = Number(process.env.SOAK_FILES ?? 64);
const HEAP_MB = Number(process.env.SOAK_HEAP_MB ?? 16);
const RSS_MB = Number(process.env.SOAK_RSS_MB ?? 96);
// Optional: stall the processor every PAUSE_EVERY events, so the kernel queue
// overflows and the overflow half of the accounting is exercised. A stall lasts
// at least PAUSE_MS and until the writer has made more events than the queue
// holds (or is done): a count, so a loaded machine's slow writer still
// overflows the queue.
const PAUSE_EVERY = Number(process.env.SOAK_PAUSE_EVERY ?? 0);
const PAUSE_MS = Number(process.env.SOAK_PAUSE_MS ?? 1000);
const STALL_MS = 30_000;
const cycles = Math.ceil(EVENTS / 3);
const expected = cycles * 3;

v8.setFlagsFromString('--expose-gc');
const gc = globalThis.gc ?? vm.runInNewContext('gc');

function sample(label) {
  gc();
  gc();
  const m = process.memoryUsage();
  return {
    label,
    rssMB: +(m.rss / 2 ** 20).toFixed(1),
    heapUsedMB: +(m.heapUsed / 2 ** 20).toFixed(1),
    externalMB: +(m.external / 2 ** 20).toFixed(1),
    fds: fs.readdirSync('/proc/self/fd').length - 1, // minus readdir's own
  };
}

// tmpfs by default: the soak measures the library, not the disk's create/unlink speed.
const base = process.env.SOAK_DIR ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
const dir = fs.mkdtempSync(path.join(base, 'inotify-soak-'));
const failures = [];
const stats = {
  events: EVENTS, files: FILES, written: expected, delivered: 0, create: 0, modify: 0, delete: 0,
  overflows: 0, lost: 0, brokenCycles: 0, other: 0, resyncs: 0,
};

// Per-file position in its cycle: what the next event must be.
const NEXT = new Map([[IN_CREATE, IN_MODIFY], [IN_MODIFY, IN_DELETE], [IN_DELETE, IN_CREATE]]);
const expectNext = new Map();
let afterOverflow = false;
// The kernel has ONE overflow marker per queue: while it is queued and unread,
// further drops add no second marker. So the events still queued when the
// marker was read (up to max_queued_events, plus the rest of the read that held
// it: at most 4 buffers of 256 KiB) may have gaps no marker announces; a
// Notifier with `rescan` covers them (its rescan runs after the marker is read).
// Here an event out of its cycle inside that window is a resync, not a fault.
const queueLimit = (() => {
  try {
    return Number(fs.readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
  } catch {
    return 16384;
  }
})();
const OVERFLOW_WINDOW = queueLimit + (4 * 256 * 1024) / 16;
let resyncUntil = -1;

// The writer's progress (cycles done, or 'done'), outside the watched directory.
const progressFile = `${dir}.progress`;
function writerProgress() {
  try {
    const text = fs.readFileSync(progressFile, 'utf8');
    return text === 'done' ? Infinity : Number(text) || 0;
  } catch {
    return 0;
  }
}

// Blocks the consumer (nothing is read meanwhile) for PAUSE_MS, then until
// the writer made a queue's worth of events more, or finished (at most 20 s,
// below the 30 s without events that counts as a hang).
function stall() {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const from = writerProgress();
  Atomics.wait(pause, 0, 0, PAUSE_MS);
  const deadline = Date.now() + 20_000;
  while ((writerProgress() - from) * 3 < queueLimit + 3072 && Date.now() < deadline) Atomics.wait(pause, 0, 0, 20);
}
let ended = false;
let lastProgress = Date.now();
let middle;
let writerResult;

const wm = new WatchManager();
wm.addWatch(dir, IN_CREATE | IN_MODIFY | IN_DELETE);
const notifier = new Notifier(wm, (event) => {
  lastProgress = Date.now();
  if (event.mask & IN_Q_OVERFLOW) {
    stats.overflows++;
    // Whatever each file's position was, it is unknown now.
    expectNext.clear();
    afterOverflow = true;
    resyncUntil = stats.delivered + OVERFLOW_WINDOW;
    return;
  }
  if (event.name.startsWith('END')) {
    if (event.mask & IN_CREATE) ended = true;
    return;
  }
  const kind = event.mask & (IN_CREATE | IN_MODIFY | IN_DELETE);
  if (kind === IN_CREATE) stats.create++;
  else if (kind === IN_MODIFY) stats.modify++;
  else if (kind === IN_DELETE) stats.delete++;
  else {
    stats.other++;
    return;
  }
  stats.delivered++;
  if (PAUSE_EVERY > 0 && stats.delivered % PAUSE_EVERY === 0) stall();
  const want = expectNext.get(event.name);
  if (want === undefined) {
    // First event of this name: a cycle starts with IN_CREATE, unless an overflow cut into it.
    if (kind !== IN_CREATE) {
      if (afterOverflow) stats.resyncs++;
      else stats.brokenCycles++;
    }
  } else if (want !== kind) {
    if (stats.delivered <= resyncUntil) stats.resyncs++;
    else stats.brokenCycles++;
  }
  expectNext.set(event.name, NEXT.get(kind));
  if (middle === undefined && stats.delivered >= expected / 2) {
    middle = null; // taken once, outside the processor
    setImmediate(() => {
      middle = sample('middle');
    });
  }
});
notifier.on('error', (error) => failures.push(`notifier error: ${error.stack}`));

// Node keeps an fd or two after its first child process (e.g. /dev/null for
// 'ignore' stdio): start one and wait for it, so the start sample includes them.
await new Promise((resolve) => {
  const warmup = spawn(process.execPath, ['-e', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  warmup.stdout.resume();
  warmup.once('close', resolve);
});
const start = sample('start');
const startedAt = process.hrtime.bigint();
const writer = spawn(process.execPath, [path.join(here, 'soak-writer.mjs'), dir, String(cycles), String(FILES), progressFile], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let writerOut = '';
writer.stdout.setEncoding('utf8').on('data', (chunk) => {
  writerOut += chunk;
});
const writerClosed = new Promise((resolve) => writer.once('close', (code) => resolve(code)));

// Once the writer has exited, a file made now is queued after everything it
// did: seeing its IN_CREATE means every earlier event was read. While the
// queue is still overflowing that IN_CREATE may itself be dropped, so make
// another one every 200 ms until one arrives.
let writerDone = false;
const writerClosedAt = writerClosed.then((code) => {
  writerDone = true;
  return code;
});
await new Promise((resolve) => {
  let sentinels = 0;
  let lastSentinel = 0;
  const timer = setInterval(() => {
    if (ended) {
      clearInterval(timer);
      resolve();
    } else if (Date.now() - lastProgress > STALL_MS) {
      failures.push(`stalled: no event for ${STALL_MS / 1000} s (delivered ${stats.delivered} of ${expected})`);
      clearInterval(timer);
      resolve();
    } else if (writerDone && Date.now() - lastSentinel >= 200) {
      lastSentinel = Date.now();
      fs.writeFileSync(path.join(dir, `END${sentinels++}`), '');
    }
  }, 20);
});
const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
const writerCode = await writerClosedAt;
if (writerCode !== 0) failures.push(`writer exited with ${writerCode}`);
else writerResult = JSON.parse(writerOut.trim());
await new Promise((resolve) => setImmediate(resolve)); // let a pending middle sample run
const end = sample('end');
await notifier.close();
const closed = sample('closed');
fs.rmSync(dir, { recursive: true, force: true });
fs.rmSync(progressFile, { force: true });

stats.lost = expected - stats.delivered;
if (stats.brokenCycles > 0) failures.push(`${stats.brokenCycles} event(s) out of their cycle with no overflow before them: lost, duplicated or reordered`);
if (stats.other > 0) failures.push(`${stats.other} event(s) of an unexpected kind`);
if (stats.overflows === 0 && stats.delivered !== expected) failures.push(`no overflow, yet ${stats.delivered} delivered of ${expected} written`);
if (stats.lost < 0) failures.push(`${-stats.lost} more events delivered than written`);
if (stats.overflows > 0 && stats.lost === 0) failures.push('an overflow was reported but nothing was lost');
if (end.fds > start.fds) failures.push(`open fds grew: ${start.fds} at start, ${end.fds} at end`);
if (closed.fds >= start.fds) failures.push(`closing the notifier did not release its inotify fd (${closed.fds} fds, ${start.fds} at start)`);
if (end.heapUsedMB - start.heapUsedMB > HEAP_MB) failures.push(`heap grew by ${(end.heapUsedMB - start.heapUsedMB).toFixed(1)} MB (limit ${HEAP_MB})`);
if (end.rssMB - start.rssMB > RSS_MB) failures.push(`RSS grew by ${(end.rssMB - start.rssMB).toFixed(1)} MB (limit ${RSS_MB})`);

const samples = [start, ...(middle ? [middle] : []), end, closed];
console.log(`soak: ${expected} events written by ${FILES}-file create/modify/delete cycles in ${seconds.toFixed(1)} s`
  + ` (${Math.round(expected / seconds)} events/s; writer alone ${writerResult?.seconds?.toFixed(1) ?? '?'} s)`);
console.log(`soak: delivered ${stats.delivered}, overflows ${stats.overflows}, lost to overflows ${stats.lost}, broken cycles ${stats.brokenCycles}`);
for (const s of samples) console.log(`soak: ${s.label.padEnd(6)} rss ${s.rssMB} MB, heap ${s.heapUsedMB} MB, external ${s.externalMB} MB, fds ${s.fds}`);
console.log(`SOAK ${JSON.stringify({ ok: failures.length === 0, seconds: +seconds.toFixed(2), ...stats, samples, failures })}`);
if (failures.length > 0) {
  for (const f of failures) console.error(`soak: FAIL ${f}`);
  process.exit(1);
}
console.log('soak: ok');
