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

// node -e SCRIPT <lib> <dir>: prints one JSON line when its 1.5 s timer fires.
const SCRIPT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const [lib, dir] = process.argv.slice(1);
const { Inotify, IN_ATTRIB } = require(lib);
for (let i = 0; i < 32; i++) fs.writeFileSync(path.join(dir, 'f' + i), '');
const ino = new Inotify();
ino.addWatch(dir, IN_ATTRIB);
let batches = 0;
let maxRecords = 0;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
ino.on('batch', (records) => {
  batches++;
  maxRecords = Math.max(maxRecords, records.length);
  Atomics.wait(sleeper, 0, 0, 300); // a slow consumer: the writer refills the queue meanwhile
});
// One syscall per event, 32 names in turn (so the kernel merges nothing): as fast as it goes.
// Stops by itself after 30 s in case this process is killed first.
const writer = spawn(process.execPath, ['-e', 'const fs = require("fs"); const t = new Date(); const end = Date.now() + 30000; for (let i = 0; (i & 1023) !== 0 || Date.now() < end; i++) fs.utimesSync(process.argv[1] + "/f" + (i & 31), t, t);', dir], { stdio: 'ignore' });
const started = Date.now();
setTimeout(() => {
  writer.kill('SIGKILL');
  ino.close();
  console.log(JSON.stringify({ firedAfter: Date.now() - started, batches, maxRecords }));
}, 1500);
`;

describe('a producer faster than the consumer', () => {
  it('the event loop still turns: a timer fires on time while full batches keep coming', async () => {
    const lib = ensureLib();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inotify-starve-'));
    try {
      const child = spawnNode(['-e', SCRIPT, lib, dir]);
      let result;
      try {
        result = await child.waitForExit(20_000);
      } catch (error) {
        child.kill();
        throw new Error(`the 1.5 s timer never fired: the drain loop starved the event loop\n${String(error)}`);
      }
      expect(result.code, result.stderr).toBe(0);
      const out = JSON.parse(result.stdout) as { firedAfter: number; batches: number; maxRecords: number };
      // The writer outpaced the reader: at least one batch filled the 256 KiB
      // buffer (8192 records of 32 bytes), so the drain had more to read.
      expect(out.maxRecords, JSON.stringify(out)).toBeGreaterThan(8000);
      // At most 4 full batches (4 x 300 ms here) before the loop gets its turn.
      expect(out.firedAfter, JSON.stringify(out)).toBeLessThan(1500 + 4 * 300 + 2000);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
