/**
 * `inotify-mirror --two-way` as a child process, killed with SIGKILL: once
 * after its first merge (its state must have reached the disk), once in the
 * middle of a sync (rsync has written one side's files, the state does not
 * know yet). The restart converges without re-copying: counted by the paths
 * it sends and by the inode numbers of the files it had no reason to touch.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLib, spawnNode, type Child } from './helpers/child.js';
import { repoRoot, tempDir } from './helpers/index.js';
import { waitUntil } from './helpers/wait.js';
import { treeDiff } from './mirror-helpers.js';

const CLI = path.join(repoRoot, 'lib', 'cli', 'inotify-mirror.js');

interface JsonLine { event: string; type?: string; paths?: string[]; files?: number; [key: string]: unknown }

const lines = (child: Child): JsonLine[] => child.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as JsonLine);

function inodes(dir: string): Map<string, number> {
  return new Map(fs.readdirSync(dir).map((name) => [name, fs.lstatSync(path.join(dir, name)).ino]));
}

/** Resolves when `file` exists (checked on a short interval), or rejects after a generous bound. */
function fileAppears(file: string, what: string): Promise<void> {
  const waiters = new Set<() => void>();
  const timer = setInterval(() => {
    for (const waiter of [...waiters]) waiter();
  }, 50);
  return waitUntil(waiters, () => (fs.existsSync(file) ? true : undefined), 60_000, () => `timed out waiting for ${what}`)
    .then(() => undefined)
    .finally(() => clearInterval(timer));
}

describe('inotify-mirror --two-way killed with SIGKILL', () => {
  beforeAll(() => {
    ensureLib();
  });

  it('restarts from its state and converges without re-copying what was done', async () => {
    const dir = tempDir('two-way-crash-');
    const [a, b, state, bin] = ['a', 'b', 'state', 'bin'].map((name) => path.join(dir, name)) as [string, string, string, string];
    for (const d of [a, b, bin]) fs.mkdirSync(d);
    for (let i = 0; i < 100; i++) {
      fs.writeFileSync(path.join(a, `a${i}`), `a${i} `.repeat(500));
      fs.writeFileSync(path.join(b, `b${i}`), `b${i} `.repeat(500));
    }
    // An rsync that, while HANG exists, does its copy and then hangs (as if the mirror died before it heard back).
    const rsync = spawnSync('sh', ['-c', 'command -v rsync'], { encoding: 'utf8' }).stdout.trim();
    const [hang, copied, hungPid] = ['HANG', 'COPIED', 'hung.pid'].map((name) => path.join(dir, name)) as [string, string, string];
    fs.writeFileSync(path.join(bin, 'rsync'), [
      '#!/bin/sh',
      `if [ -e '${hang}' ]; then '${rsync}' "$@"; echo $$ > '${hungPid}'; touch '${copied}'; exec sleep 600; fi`,
      `exec '${rsync}' "$@"`, '',
    ].join('\n'), { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
    const run = (): Child => spawnNode([CLI, '--two-way', '--state', state, '--json', a, b], { env });

    // 1. The first merge, then SIGKILL: no close, no final flush.
    const first = run();
    await first.waitForLine(/"event":"ready"/);
    first.kill('SIGKILL');
    await first.waitForExit();
    expect(treeDiff(a, b)).toBe('');
    const merged = { a: inodes(a), b: inodes(b) };
    expect(merged.a.size).toBe(200);

    // 2. Changes on both sides while stopped; the restart is killed after rsync wrote the new files into a.
    for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(a, `a${i}`), `changed a${i}`);
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(b, `n${i}`), `new n${i}`);
    fs.writeFileSync(hang, '');
    const second = run();
    try {
      await fileAppears(copied, 'the first rsync of the restart');
    } finally {
      second.kill('SIGKILL');
      const pid = fs.existsSync(hungPid) ? Number(fs.readFileSync(hungPid, 'utf8')) : 0;
      if (pid > 0) process.kill(pid, 'SIGKILL');
    }
    await second.waitForExit();
    fs.rmSync(hang);
    expect(fs.readFileSync(path.join(a, 'n0'), 'utf8')).toBe('new n0'); // it got that far
    const copiedBeforeKill = inodes(a);

    // 3. The next start converges: only a0..a9 still need sending; n0..n4 are found equal on both sides.
    const third = run();
    await third.waitForLine(/"event":"ready"/);
    third.kill('SIGTERM');
    const result = await third.waitForExit();
    expect(result.code).toBe(0);
    expect(treeDiff(a, b)).toBe('');
    const events = lines(third);
    expect(events.filter((e) => e.event === 'conflict')).toEqual([]);
    const sent = events.filter((e) => e.event === 'sync' && e.type === 'send').flatMap((e) => e.paths ?? []).sort();
    expect(sent).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`).sort());
    expect(events.find((e) => e.event === 'reconcile')).toMatchObject({ reason: 'initial', files: 10 });
    for (let i = 0; i < 5; i++) expect(fs.lstatSync(path.join(a, `n${i}`)).ino).toBe(copiedBeforeKill.get(`n${i}`));
    const untouched = [...merged.b.keys()].filter((name) => !/^a\d$/.test(name));
    expect(untouched).toHaveLength(190);
    for (const name of untouched) {
      expect(fs.lstatSync(path.join(a, name)).ino, name).toBe(merged.a.get(name));
      expect(fs.lstatSync(path.join(b, name)).ino, name).toBe(merged.b.get(name));
    }
  });
});
