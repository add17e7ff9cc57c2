/**
 * A reader that lags behind the kernel: directories created, filled and
 * renamed before their events are processed. Nothing below a renamed
 * directory may be lost because arming its children failed while the
 * rename was still unprocessed.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { IN_CLOSE_WRITE, IN_CREATE, IN_MOVED_TO, type InotifyEvent } from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { EventLog, describeEvents, openNotifier, openWatchManager } from './helpers/notifier.js';

function sh(script: string, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', script], { cwd }, (error) => (error === null ? resolve() : reject(error)));
  });
}

function busyWait(ms: number): void {
  const until = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  while (process.hrtime.bigint() < until) { /* a slow listener */ }
}

describe('a lagging reader', () => {
  test('a child whose arming failed (ENOENT: its parent was renamed meanwhile) is armed and scanned when the rename pairs', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO, { rec: true, autoAdd: true });
    const notifier = openNotifier(wm);
    const log = new EventLog(notifier);
    const A = path.join(root, 'A');
    const B = path.join(root, 'B');
    // While A's creation is delivered (A is watched by then), the tree moves on ahead of the reader:
    // A/b is created (its IN_CREATE is queued on A's watch), A is renamed, and B/b fills up.
    notifier.on('event', (event) => {
      if (event.pathname !== A || !(event.mask & IN_CREATE)) return;
      fs.mkdirSync(path.join(A, 'b'));
      fs.renameSync(A, B);
      fs.mkdirSync(path.join(B, 'b', 'c', 'd'), { recursive: true });
      fs.writeFileSync(path.join(B, 'b', 'c', 'd', 'f'), 'x');
    });
    fs.mkdirSync(A);
    await log.waitFor((e) => e.pathname === A);
    await log.settle(root);
    const seen = log.without().map((e) => `${e.maskname} ${path.relative(root, e.pathname)}`);
    expect(seen, describeEvents(log.without())).toStrictEqual([
      'IN_CREATE|IN_ISDIR A',
      'IN_CREATE|IN_ISDIR A/b', // reported at its path when the kernel queued it
      'IN_MOVED_TO|IN_ISDIR B',
      'IN_CREATE|IN_ISDIR B/b/c',
      'IN_CREATE|IN_ISDIR B/b/c/d',
      'IN_CREATE B/b/c/d/f',
      'IN_CLOSE_WRITE B/b/c/d/f',
    ]);
    expect(wm.getWd(path.join(B, 'b', 'c', 'd'))).toBeTypeOf('number');
    fs.writeFileSync(path.join(B, 'b', 'c', 'd', 'later'), '');
    await log.waitFor((e) => e.pathname === path.join(B, 'b', 'c', 'd', 'later'));
    expect(log.errors).toStrictEqual([]);
  });

  test('mkdir -p A/b/c/d, write, mv A B, write again, 50 rounds with a slow listener: every create and write is reported', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO, { rec: true, autoAdd: true });
    const notifier = openNotifier(wm);
    const log = new EventLog(notifier);
    notifier.on('event', () => busyWait(3));
    const rounds = 50;
    const script = Array.from({ length: rounds }, (_, i) =>
      `mkdir -p A${i}/b/c/d && echo x > A${i}/b/c/d/f && mv A${i} B${i} && echo y > B${i}/b/c/d/g`).join('\n');
    await sh(script, root);
    await log.settle(root, 60_000);
    // Per round, what was reported below it (the top directory named A<i> or B<i>, whichever the event saw).
    const byRound = new Map<number, InotifyEvent[]>();
    for (const event of log.without()) {
      const top = path.relative(root, event.pathname).split('/')[0] ?? '';
      const round = Number(top.slice(1));
      if (!/^[AB]\d+$/.test(top)) continue;
      byRound.set(round, [...(byRound.get(round) ?? []), event]);
    }
    const lost: string[] = [];
    for (let i = 0; i < rounds; i++) {
      const events = byRound.get(i) ?? [];
      const tail = (e: InotifyEvent): string => path.relative(root, e.pathname).split('/').slice(1).join('/');
      const created = new Set(events.filter((e) => e.mask & IN_CREATE).map(tail));
      const written = new Set(events.filter((e) => e.mask & IN_CLOSE_WRITE).map(tail));
      for (const name of ['b', 'b/c', 'b/c/d', 'b/c/d/f', 'b/c/d/g']) {
        if (!created.has(name)) lost.push(`round ${i}: IN_CREATE ${name}`);
      }
      for (const name of ['b/c/d/f', 'b/c/d/g']) {
        if (!written.has(name)) lost.push(`round ${i}: IN_CLOSE_WRITE ${name}`);
      }
    }
    expect(lost, describeEvents(log.without(), 100)).toStrictEqual([]);
    expect(log.errors).toStrictEqual([]);
  }, 120_000);
});
