/**
 * A transfer tracker after a real kernel queue overflow: the tree is rescanned,
 * what arrived in the blind spot is reported once, transfers in flight end
 * (complete or abandoned) instead of timing out, and the overflow is signalled.
 * The overflow is forced with a tiny queue (helpers/queue-limit.ts); the blind
 * spot is synchronous code (nothing is read while it runs).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { InotifyEvent, TrackTransfersOptions, TransferComplete } from '../src/index.js';
import { canLimitQueue, withQueueLimit } from './helpers/queue-limit.js';
import { tempDir, track, type TransferLog } from './transfer-helpers.js';

// Long enough that a transfer left in flight would still be waiting when the test gives up on it.
const TIMINGS = { quietPeriod: 400, settleTime: 150, abandonAfter: 120_000 } as const;

/** The completions of `rel`, relative to the log's root. */
function completionsOf(log: TransferLog, rel: string): TransferComplete[] {
  return log.completes.filter((c) => c.pathname === path.join(log.root, rel));
}

/** A tracker on `root` whose inotify queue holds `limit` events. */
function trackWithTinyQueue(root: string, limit: number, options?: TrackTransfersOptions): TransferLog {
  return withQueueLimit(limit, () => track(root, { ...TIMINGS, ...options }));
}

describe.skipIf(!canLimitQueue)('trackTransfers after a queue overflow', () => {
  test('files written in the blind spot are reported once each; transfers in flight complete or end, none by timeout', async () => {
    const root = tempDir();
    const outside = tempDir('transfer-overflow-src-');
    fs.writeFileSync(path.join(outside, 'synced-by-rsync.raw'), 'r'.repeat(5000));
    const log = trackWithTinyQueue(root, 64);
    const overflows: InotifyEvent[] = [];
    log.tracker.on('overflow', (event) => overflows.push(event));

    // In flight when the queue overflows: a file being written, an rsync-style temp and one that rsync will delete.
    const inflight = fs.openSync(path.join(root, 'inflight.raw'), 'w');
    fs.writeSync(inflight, 'first half ');
    fs.writeFileSync(path.join(root, '.renamed.raw.Ab12Cd'), 'temp data');
    fs.writeFileSync(path.join(root, '.deleted.raw.Xy34Zw'), 'temp data');
    const finals = ['inflight.raw', 'renamed.raw', 'deleted.raw'];
    await log.waitFor(() => finals.every((f) => log.starts.some((s) => s.finalPathname === path.join(root, f))), 10_000, 'three starts');

    // The blind spot: events flood the 64-event queue; the in-flight file is finished, the temps renamed or deleted.
    const files: string[] = [];
    for (let i = 1; i <= 300; i++) files.push(`f${i}.raw`);
    for (const d of ['d1', 'd2']) for (let j = 1; j <= 3; j++) files.push(`${d}/g${j}.raw`);
    execFileSync('/bin/bash', ['-c', [
      'for i in $(seq 1 300); do echo x > f$i.raw; done',
      'for d in d1 d2; do mkdir $d; for j in 1 2 3; do echo y > $d/g$j.raw; done; done',
      'mv .renamed.raw.Ab12Cd renamed.raw',
      'rm .deleted.raw.Xy34Zw',
      'rsync -a "$1"/synced-by-rsync.raw .',
    ].join(' && '), 'blind-spot', outside], { cwd: root });
    fs.writeSync(inflight, 'second half');
    fs.closeSync(inflight);
    // An rsync temp begun in the blind spot, still being written: the rescan finds it, and its rename completes it.
    const lateTemp = path.join(root, '.late.raw.Qw12Er');
    const late = fs.openSync(lateTemp, 'w');
    try {
      fs.writeSync(late, 'begun unseen, ');
      await log.waitFor(() => log.starts.some((s) => s.pathname === lateTemp), 20_000, 'the late temp found by the rescan');
      fs.writeSync(late, 'finished in sight');
    } finally {
      fs.closeSync(late);
    }
    fs.renameSync(lateTemp, path.join(root, 'late.raw'));

    const expected = [...files, 'inflight.raw', 'renamed.raw', 'synced-by-rsync.raw', 'late.raw'];
    const waitingFor = new Set(expected.map((rel) => path.join(root, rel)));
    await log.waitFor(() => {
      for (const c of log.completes) waitingFor.delete(c.pathname);
      return waitingFor.size === 0;
    }, 30_000, 'every file complete');
    await log.drain(20_000);

    expect(overflows.length).toBeGreaterThan(0);
    expect(overflows[0]?.maskname).toBe('IN_Q_OVERFLOW');
    const counts = new Map<string, number>();
    for (const c of log.completes) counts.set(c.pathname, (counts.get(c.pathname) ?? 0) + 1);
    const twice = expected.filter((rel) => counts.get(path.join(root, rel)) !== 1);
    expect(twice, log.describe()).toStrictEqual([]);
    expect(log.names().sort()).toStrictEqual([...expected].sort());
    expect(log.errors).toStrictEqual([]);

    // The in-flight file completes under its start's id, as found (its close was lost, the rescan found it closed).
    const inflightStart = log.starts.find((s) => s.finalPathname === path.join(root, 'inflight.raw'));
    const inflightDone = completionsOf(log, 'inflight.raw')[0];
    expect(inflightDone).toMatchObject({ id: inflightStart?.id, via: 'found', size: 'first half second half'.length });
    // The temp renamed in the blind spot completes its transfer, as rsync's do; the deleted one is abandoned as deleted.
    const renamedStart = log.starts.find((s) => s.finalPathname === path.join(root, 'renamed.raw'));
    expect(completionsOf(log, 'renamed.raw')[0]).toMatchObject({
      id: renamedStart?.id, via: 'rsync', tempPathname: path.join(root, '.renamed.raw.Ab12Cd'),
    });
    const lateStart = log.starts.find((s) => s.pathname === lateTemp);
    expect(lateStart?.finalPathname).toBe(path.join(root, 'late.raw'));
    expect(completionsOf(log, 'late.raw')[0]).toMatchObject({ id: lateStart?.id, via: 'rsync', tempPathname: lateTemp, size: 31 });
    expect(log.abandoned.map((a) => [path.relative(root, a.pathname), a.reason])).toStrictEqual([['.deleted.raw.Xy34Zw', 'deleted']]);
    // Files only the rescan saw are found; none is a temp name; every start ended exactly once.
    expect(completionsOf(log, 'f300.raw')[0]?.via).toBe('found');
    expect(completionsOf(log, 'd2/g3.raw')[0]?.via).toBe('found');
    expect(log.completes.filter((c) => path.basename(c.pathname).startsWith('.'))).toStrictEqual([]);
    const ended = [...log.completes.map((c) => c.id), ...log.abandoned.map((a) => a.id)];
    for (const start of log.starts) expect(ended.filter((id) => id === start.id), `start #${start.id}`).toHaveLength(1);
  }, 60_000);

  test('a file held open for writing across the overflow is not complete until it is closed; with no overflow listener, a warning', async () => {
    const root = tempDir();
    const log = trackWithTinyQueue(root, 32);
    const warnings: Error[] = [];
    log.tracker.on('warning', (warning) => warnings.push(warning));
    const held = fs.openSync(path.join(root, 'held.raw'), 'w');
    try {
      fs.writeSync(held, 'before ');
      await log.waitFor(() => log.starts.length === 1, 10_000, 'the held file started');
      execFileSync('/bin/bash', ['-c', 'for i in $(seq 1 100); do echo x > f$i.raw; done'], { cwd: root });
      fs.writeSync(held, 'during');
      // Every file of the blind spot complete: the quiet period that follows the rescan is over.
      await log.completions(100, 30_000);
      await log.sentinel(20_000);
      expect(warnings.length).toBeGreaterThan(0);
      expect(warnings[0]).toMatchObject({ name: 'InotifyOverflowWarning', message: expect.stringContaining('rescanned') });
      expect(completionsOf(log, 'held.raw')).toStrictEqual([]);
      expect(log.tracker.inProgress().map((t) => [path.basename(t.pathname ?? ''), t.state])).toStrictEqual([['held.raw', 'writing']]);
    } finally {
      fs.closeSync(held);
    }
    await log.waitFor(() => completionsOf(log, 'held.raw').length === 1, 10_000, 'the held file complete');
    await log.drain(20_000);
    expect(completionsOf(log, 'held.raw')).toMatchObject([{ via: 'close-write', size: 'before during'.length }]);
    expect(log.files).toHaveLength(101);
    expect(log.abandoned).toStrictEqual([]);
  }, 60_000);

  test('with rescan: false, the blind spot is missed (and the warning says so), but a transfer in flight still completes', async () => {
    const root = tempDir();
    const log = trackWithTinyQueue(root, 32, { rescan: false });
    const warnings: Error[] = [];
    log.tracker.on('warning', (warning) => warnings.push(warning));
    const inflight = fs.openSync(path.join(root, 'inflight.raw'), 'w');
    fs.writeSync(inflight, 'data');
    await log.waitFor(() => log.starts.length === 1, 10_000, 'the in-flight file started');
    execFileSync('/bin/bash', ['-c', 'for i in $(seq 1 100); do echo x > f$i.raw; done'], { cwd: root });
    fs.closeSync(inflight);
    await log.waitFor(() => completionsOf(log, 'inflight.raw').length === 1, 10_000, 'the in-flight file complete');
    await log.drain(20_000);
    expect(warnings[0]?.message).toContain('may have been missed');
    expect(completionsOf(log, 'inflight.raw')[0]).toMatchObject({ via: 'found', size: 4 });
    expect(log.files.length).toBeLessThan(101);
    expect(log.abandoned).toStrictEqual([]);
  }, 60_000);
});
