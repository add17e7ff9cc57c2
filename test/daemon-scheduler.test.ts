/**
 * TaskScheduler semantics through a real inotifyd on real files: delay and
 * cancel per path, one re-run for an event during a job, singleJob, pools.
 * Counts come from the job log after a shutdown that lets every task finish.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { maxOverlap, prelude, readLog, startDaemon, tempDir, until } from './daemon-helpers.js';

function write(file: string, data = 'x'): void {
  fs.writeFileSync(file, data);
}

describe('inotifyd: TaskScheduler', () => {
  it('delay: changes inside the delay run once, after the delay from the last one; a file deleted inside it never runs; paths are independent', async () => {
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(w);
    const daemon = await startDaemon(dir, `${prelude(dir)}
import { defineConfig, TaskScheduler, Cancel } from 'inotify-native';
const sched = new TaskScheduler({ delay: '2s', job: (event) => record({ ev: 'run', p: event.pathname, m: event.maskname }) });
export default defineConfig({
  watches: [{ path: ${JSON.stringify(w)}, eventMap: { IN_CLOSE_WRITE: sched, IN_DELETE: Cancel(sched) } }],
  shutdownTimeout: '60s',
});
`);
    const a = path.join(w, 'a');
    const b = path.join(w, 'b');
    const c = path.join(w, 'c');
    // Interleaved: the kernel merges identical consecutive events.
    write(a, '1');
    write(b);
    write(a, '2');
    write(c);
    write(a, '3');
    const lastA = Date.now();
    fs.unlinkSync(c);
    await daemon.waitFor(`IN_DELETE ${c}: cancel task`);
    await daemon.waitFor(`IN_CLOSE_WRITE ${a}: re-schedule task`, 2);
    // The shutdown lets the delayed tasks run: the log is complete when it exits.
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    const runs = readLog(dir);
    expect(runs.map((r) => r.p).sort()).toEqual([a, b]);
    const runA = runs.find((r) => r.p === a);
    expect(runA?.t).toBeGreaterThanOrEqual(lastA + 2000 - 50);
    expect(fs.readFileSync(a, 'utf8')).toBe('3');
  }, 90_000);

  it('an event during a running job queues exactly one re-run after it, never overlapping', async () => {
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(w);
    const daemon = await startDaemon(dir, `${prelude(dir)}
import { defineConfig, TaskScheduler } from 'inotify-native';
let n = 0;
const sched = new TaskScheduler({ job: async (event) => {
  const run = ++n;
  record({ ev: 'start', p: event.pathname, run });
  await gate('go-' + run);
  record({ ev: 'end', p: event.pathname, run });
} });
export default defineConfig({ watches: [{ path: ${JSON.stringify(w)}, eventMap: { IN_CLOSE_WRITE: sched, IN_ATTRIB: sched } }], shutdownTimeout: '60s' });
`);
    const x = path.join(w, 'x');
    write(x, '1');
    await until(() => readLog(dir).some((e) => e.ev === 'start'), 'the first run');
    // Three events, no two alike in a row (the kernel merges identical consecutive events).
    write(x, '2');
    fs.chmodSync(x, 0o600);
    write(x, '3');
    await daemon.waitFor('one re-run queued after it', 3);
    fs.writeFileSync(path.join(dir, 'go-1'), '');
    await until(() => readLog(dir).filter((e) => e.ev === 'start').length === 2, 'the re-run');
    fs.writeFileSync(path.join(dir, 'go-2'), '');
    fs.writeFileSync(path.join(dir, 'go-3'), '');
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    const log = readLog(dir);
    expect(log.map((e) => `${e.ev}${String(e.run)}`)).toEqual(['start1', 'end1', 'start2', 'end2']);
    expect(maxOverlap(log)).toBe(1);
  });

  it.each([
    ['singleJob: true', 1],
    ['concurrency: 3', 3],
  ])('%s: never more jobs at once than the bound, and no path lost', async (option, bound) => {
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(w);
    const daemon = await startDaemon(dir, `${prelude(dir)}
import { defineConfig, TaskScheduler } from 'inotify-native';
const sched = new TaskScheduler({ ${option}, job: async (event) => {
  record({ ev: 'start', p: event.pathname });
  await gate('go');
  record({ ev: 'end', p: event.pathname });
} });
export default defineConfig({ watches: [{ path: ${JSON.stringify(w)}, eventMap: { IN_CLOSE_WRITE: sched } }], shutdownTimeout: '60s' });
`);
    const files = Array.from({ length: 8 }, (_, i) => path.join(w, `f${i}`));
    for (const file of files) write(file);
    // Each task is queued (or started) as its event is handled; starts are synchronous with that.
    await daemon.waitFor('schedule task', files.length);
    await until(() => readLog(dir).length >= bound, () => `${bound} jobs started`);
    expect(readLog(dir).filter((e) => e.ev === 'start')).toHaveLength(bound);
    fs.writeFileSync(path.join(dir, 'go'), '');
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    const log = readLog(dir);
    expect(maxOverlap(log)).toBe(bound);
    expect(log.filter((e) => e.ev === 'start').map((e) => e.p).sort()).toEqual([...files].sort());
    expect(log.filter((e) => e.ev === 'end')).toHaveLength(files.length);
  });
});
