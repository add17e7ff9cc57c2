/**
 * Name reuse under lag: a reader one round behind `mkdir -p a/b<i>/c/d ...
 * mv a a2 ...` finds, when it handles round i's IN_CREATE of `a`, round
 * i+1's `a` at that path. Arming it would report round i+1's directories as
 * round i's, and the rename of round i would then re-path that watch, so
 * round i+1's files would be reported under a2 before the rename that put
 * them there. No event may be reported at a path that, in the stream
 * delivered so far, belongs to another round's directory.
 *
 * The lag is made, not timed: the listener of round i's IN_CREATE of `a`
 * runs the shell steps that finish round i+1 and start round i+2, so every
 * record of round i is handled with round i+1 already done on disk.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_IGNORED, IN_ISDIR, IN_MOVED_FROM, IN_MOVED_TO, IN_Q_OVERFLOW, type InotifyEvent,
} from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { EventLog, describeEvents, openNotifier, openWatchManager } from './helpers/notifier.js';

const ROUNDS = 12;

/**
 * The shell step that finishes round `j - 1` (rename `a`, write into it,
 * and with `remove` delete it) and starts round `j` (a new `a` with a file).
 */
function step(j: number, remove: boolean): string {
  const parts: string[] = [];
  if (j > 0) {
    const to = remove ? 'a2' : `a2_${j - 1}`;
    parts.push(`mv a ${to}`, `echo y > ${to}/b${j - 1}/c/d/g`);
    if (remove) parts.push('rm -rf a2');
  }
  if (j < ROUNDS) parts.push(`mkdir -p a/b${j}/c/d`, `echo x > a/b${j}/c/d/f`);
  return parts.join(' && ');
}

interface Outcome {
  /** Events reported below a top directory that, in the stream so far, is another round's (or none). */
  wrong: string[];
  /** What each round made (its five creates and two writes) that no event reported. */
  lost: string[];
}

/**
 * Replays the delivered stream: the root's own events say which round's
 * directory each top-level name holds at each point (the k-th IN_CREATE of
 * `a` is round k's; a rename carries it to its new name; a delete ends it).
 */
function check(root: string, events: readonly InotifyEvent[]): Outcome {
  const top = new Map<string, number>();
  let creates = 0;
  let moving: number | undefined;
  const wrong: string[] = [];
  const seen = new Set<string>();
  for (const event of events) {
    // IN_IGNORED comes at a watch's last path, when the kernel frees the watch: possibly after its parent's IN_DELETE.
    if (event.wd === -1 || event.mask & IN_IGNORED) continue;
    const [name = '', ...below] = path.relative(root, event.pathname).split('/');
    if (below.length === 0) {
      if (name === 'a' && event.mask & IN_CREATE) top.set(name, creates++);
      else if (event.mask & IN_MOVED_FROM) {
        moving = top.get(name);
        top.delete(name);
      } else if (event.mask & IN_MOVED_TO && moving !== undefined) top.set(name, moving);
      else if (event.mask & IN_DELETE) top.delete(name);
      continue;
    }
    const round = Number(below[0]?.slice(1));
    const label = `${event.maskname} ${[name, ...below].join('/')}${event.synthetic ? ' (synthetic)' : ''}`;
    if (top.get(name) !== round) wrong.push(`${label} while ${name} is round ${top.get(name) ?? 'none'}'s`);
    if (event.mask & (IN_CREATE | IN_MOVED_TO)) seen.add(`create ${below.join('/')}`);
    if (event.mask & IN_CLOSE_WRITE) seen.add(`write ${below.join('/')}`);
  }
  const lost: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const made of [`b${i}`, `b${i}/c`, `b${i}/c/d`, `b${i}/c/d/f`, `b${i}/c/d/g`]) {
      if (!seen.has(`create ${made}`)) lost.push(`create ${made}`);
    }
    for (const made of [`b${i}/c/d/f`, `b${i}/c/d/g`]) if (!seen.has(`write ${made}`)) lost.push(`write ${made}`);
  }
  return { wrong, lost };
}

async function run(remove: boolean, rescan: boolean): Promise<{ outcome: Outcome; log: EventLog }> {
  const root = tempDir();
  const wm = openWatchManager();
  wm.addWatch(root, IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE, { rec: true, autoAdd: true });
  const sh = (j: number): void => {
    execFileSync('bash', ['-c', step(j, remove)], { cwd: root, stdio: 'ignore' });
  };
  // Rounds 0 and 1 start before anything is read.
  sh(0);
  sh(1);
  const notifier = openNotifier(wm, undefined, { rescan });
  const log = new EventLog(notifier);
  let created = 0;
  notifier.on('event', (event) => {
    if (event.synthetic || event.mask !== (IN_CREATE | IN_ISDIR) >>> 0 || event.pathname !== path.join(root, 'a')) return;
    const next = ++created + 1; // round `created - 1` is being handled: finish round `next - 1`, start round `next`
    if (next <= ROUNDS) sh(next);
  });
  await log.waitFor(() => created >= ROUNDS - 1, 30_000);
  await log.settle(root, 30_000);
  return { outcome: check(root, log.without()), log };
}

describe('name reuse while the reader is a round behind', () => {
  test('mkdir -p a/b<i>/c/d, mv a a2_<i>: nothing at a wrong path, and nothing lost', async () => {
    const { outcome, log } = await run(false, false);
    expect(outcome.wrong, describeEvents(log.without())).toStrictEqual([]);
    expect(outcome.lost, describeEvents(log.without())).toStrictEqual([]);
    expect(log.errors).toStrictEqual([]);
  }, 60_000);

  for (const rescan of [false, true]) {
    test(`mkdir -p a/b<i>/c/d, mv a a2, rm -rf a2: nothing at a wrong path${rescan ? ' (rescan on)' : ''}`, async () => {
      const { outcome, log } = await run(true, rescan);
      // What was created and deleted before the reader got to it is not reported (docs/RELIABILITY.md).
      expect(outcome.wrong, describeEvents(log.without())).toStrictEqual([]);
      expect(log.errors).toStrictEqual([]);
    }, 60_000);
  }
});

describe('a watch table that disagrees with the tree', () => {
  test('the kernel names a watch the table holds at another path: overflow, then the directory re-armed at its real path', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE | IN_CLOSE_WRITE, { rec: true, autoAdd: true });
    const x = path.join(root, 'x');
    fs.mkdirSync(x); // its IN_CREATE waits in the kernel: no Notifier reads yet
    fs.writeFileSync(path.join(x, 'f'), 'x');
    wm.addWatch(x, IN_CREATE | IN_CLOSE_WRITE);
    // A wrong table, as a wrong re-path would leave it: x's watch held at another path.
    wm._repath(x, path.join(root, 'elsewhere'), undefined);
    const log = new EventLog(openNotifier(wm));
    await log.waitFor((e) => e.pathname === path.join(x, 'f') && (e.mask & IN_CLOSE_WRITE) !== 0);
    const seen = log.without().map((e) => (e.wd === -1 ? e.maskname : `${e.maskname} ${path.relative(root, e.pathname)}${e.synthetic ? ' (synthetic)' : ''}`));
    expect(seen).toStrictEqual([
      'IN_CREATE|IN_ISDIR x',
      'IN_Q_OVERFLOW',
      'IN_CREATE x/f (synthetic)',
      'IN_CLOSE_WRITE x/f (synthetic)',
    ]);
    expect(log.overflows.map((e) => e.mask)).toStrictEqual([IN_Q_OVERFLOW]);
    expect(wm.getWd(path.join(root, 'elsewhere'))).toBeUndefined();
    expect(wm.getWd(x)).toBeTypeOf('number');
    fs.writeFileSync(path.join(x, 'later'), '');
    await log.waitFor((e) => e.pathname === path.join(x, 'later') && (e.mask & IN_CLOSE_WRITE) !== 0);
    expect(log.errors).toStrictEqual([]);
  });
});
