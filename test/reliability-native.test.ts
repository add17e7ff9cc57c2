/**
 * The addon under a producer faster than its consumer. Each readable wake-up
 * drains the kernel queue into JS batch by batch; if the queue refills while
 * JS handles a batch, the drain must still give the event loop back after a
 * bounded amount of work, or no timer and no other I/O ever runs again (the
 * process looks hung). Run in a child process, so that a regression is a
 * timeout here rather than a stuck test runner.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureLib, spawnNode } from './helpers/child.js';

// node -e SCRIPT <lib> <dir> <counter>: prints one JSON line when its timer fires.
//
// Counts, not clocks: the consumer arms a 0 ms timer on the first full batch,
// and each batch it handles waits until the writer has queued more than a
// buffer's worth again (the writer reports its progress in <counter>). A
// drain that returns to the loop after at most 4 full batches lets the timer
// fire within 4 more batches; an unbounded one never lets it fire while the
// writer runs (30 s at most).
const SCRIPT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const [lib, dir, counter] = process.argv.slice(1);
const { Inotify, IN_ATTRIB } = require(lib);
for (let i = 0; i < 32; i++) fs.writeFileSync(path.join(dir, 'f' + i), '');
fs.writeFileSync(counter, '0');
const written = () => Number(fs.readFileSync(counter, 'utf8')) || 0;
const ino = new Inotify();
ino.addWatch(dir, IN_ATTRIB);
let batches = 0;
let maxRecords = 0;
let dueAt = -1;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const finish = (result) => {
  writer.kill('SIGKILL');
  ino.close();
  console.log(JSON.stringify({ ...result, batches, maxRecords }));
};
ino.on('batch', (records) => {
  batches++;
  maxRecords = Math.max(maxRecords, records.length);
  if (dueAt < 0 && records.length >= 8000) {
    dueAt = batches;
    setTimeout(() => finish({ full: true, batchesWhileDue: batches - dueAt }), 0);
  }
  // A slow consumer: the writer queues more than a full buffer (8192 records) meanwhile.
  const target = written() + 9000;
  const deadline = Date.now() + 20000;
  while (written() < target && Date.now() < deadline) Atomics.wait(sleeper, 0, 0, 10);
});
// One syscall per event, 32 names in turn (so the kernel merges nothing), as
// fast as it goes; every 1024 events it replaces <counter> with its count
// (by a rename: never seen half written). It stops by itself
// after 30 s in case this process is killed first.
const writer = spawn(process.execPath, ['-e', 'const fs = require("fs"); const [dir, counter] = process.argv.slice(1); const t = new Date(); const end = Date.now() + 30000; for (let i = 1; (i & 1023) !== 0 || Date.now() < end; i++) { fs.utimesSync(dir + "/f" + (i & 31), t, t); if ((i & 1023) === 0) { fs.writeFileSync(counter + ".new", String(i)); fs.renameSync(counter + ".new", counter); } }', dir, counter], { stdio: 'ignore' });
writer.on('exit', () => { if (dueAt < 0) finish({ full: false }); });
`;

describe('a producer faster than the consumer', () => {
  it('the event loop still turns: a timer gets its turn within 4 full batches while full batches keep coming', async () => {
    const lib = ensureLib();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inotify-starve-'));
    try {
      const child = spawnNode(['-e', SCRIPT, lib, path.join(dir, 'watched'), path.join(dir, 'counter')]);
      fs.mkdirSync(path.join(dir, 'watched'));
      let result;
      try {
        result = await child.waitForExit(120_000);
      } catch (error) {
        child.kill();
        throw new Error(`the timer never fired: the drain loop starved the event loop\n${String(error)}`);
      }
      expect(result.code, result.stderr).toBe(0);
      const out = JSON.parse(result.stdout) as { full: boolean; batchesWhileDue?: number; batches: number; maxRecords: number };
      // The writer outpaced the reader: a batch filled the 256 KiB buffer
      // (8192 records of 32 bytes), so the drain had more to read.
      expect(out.full, JSON.stringify(out)).toBe(true);
      expect(out.maxRecords, JSON.stringify(out)).toBeGreaterThan(8000);
      // The native drain hands JS at most 4 full buffers per wake-up, then yields.
      expect(out.batchesWhileDue, JSON.stringify(out)).toBeLessThanOrEqual(4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
