/**
 * The inotify-mirror command as a child process: --once --json (the initial
 * reconcile with its progress as JSON lines), following changes until
 * SIGTERM, --dry-run changing nothing, and command-line mistakes (exit 2).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLib, spawnNode } from './helpers/child.js';
import { repoRoot, tempDir } from './helpers/index.js';
import { treeDiff } from './mirror-helpers.js';

const CLI = path.join(repoRoot, 'lib', 'cli', 'inotify-mirror.js');

function roots(): { src: string; dst: string } {
  const dir = tempDir('mirror-cli-');
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, 'sub', `f${i}`), 'x'.repeat(1000 + i));
  return { src, dst: path.join(dir, 'dst') };
}

interface JsonLine { event: string; [key: string]: unknown }

describe('inotify-mirror', () => {
  beforeAll(() => {
    ensureLib();
  });

  it('--once --json: the reconcile and its progress as JSON lines, exit 0', async () => {
    const { src, dst } = roots();
    const child = spawnNode([CLI, '--once', '--json', src, dst]);
    const result = await child.waitForExit();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as JsonLine);
    const progress = lines.filter((l) => l.event === 'progress');
    expect(progress.at(-1)).toMatchObject({ reason: 'initial', files: { done: 20, total: 20 }, bytes: { done: 20190, total: 20190 } });
    expect(lines.find((l) => l.event === 'reconcile')).toMatchObject({ reason: 'initial', files: 20, bytes: 20190 });
    expect(lines.at(-1)).toEqual({ event: 'ready' });
    expect(treeDiff(src, dst)).toBe('');
  });

  it('follows changes until SIGTERM, printing one line per change', async () => {
    const { src, dst } = roots();
    const child = spawnNode([CLI, src, dst]);
    await child.waitForLine(/^following changes in /);
    fs.writeFileSync(path.join(src, 'new file'), 'new');
    await child.waitForLine(/^send "new file": 1 file, 3 bytes$/);
    fs.renameSync(path.join(src, 'new file'), path.join(src, 'renamed'));
    await child.waitForLine(/^rename "new file" -> "renamed"$/);
    expect(treeDiff(src, dst)).toBe('');
    child.kill('SIGTERM');
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });

  it('after a SIGKILL, a restart sends only what changed meanwhile', async () => {
    const { src, dst } = roots();
    const child = spawnNode([CLI, src, dst]);
    await child.waitForLine(/^following changes in /);
    fs.writeFileSync(path.join(src, 'before-kill'), 'sent');
    await child.waitForLine(/^send "before-kill"/);
    child.kill('SIGKILL');
    await child.waitForExit();
    fs.writeFileSync(path.join(src, 'while-dead'), 'missed');
    fs.appendFileSync(path.join(src, 'sub', 'f0'), 'more');
    const restart = await spawnNode([CLI, '--once', '--json', src, dst]).waitForExit();
    expect(restart.code).toBe(0);
    const reconcile = restart.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as JsonLine).find((l) => l.event === 'reconcile');
    expect(reconcile).toMatchObject({ files: 2 }); // not the 21 files already there
    expect(treeDiff(src, dst)).toBe('');
  });

  it('--dry-run lists what would change and changes nothing', async () => {
    const { src, dst } = roots();
    const child = spawnNode([CLI, '--once', '--dry-run', src, dst]);
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('reconcile (initial): would send 20 files, 20190 bytes');
    expect(result.stdout).toContain('>f+++++++++ sub/f19');
    expect(fs.existsSync(dst)).toBe(false);
  });

  it('--two-way --once: merges both ways, reports the conflict as a JSON line, exit 0', async () => {
    const { src, dst } = roots();
    fs.mkdirSync(dst);
    fs.writeFileSync(path.join(dst, 'only-dst'), 'd');
    fs.writeFileSync(path.join(src, 'both.txt'), 'src version');
    fs.writeFileSync(path.join(dst, 'both.txt'), 'dst version!');
    const state = path.join(path.dirname(src), 'state');
    const result = await spawnNode([CLI, '--two-way', '--once', '--json', '--state', state, src, dst]).waitForExit();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as JsonLine);
    const conflict = lines.find((l) => l.event === 'conflict');
    expect(conflict).toMatchObject({ kind: 'both-changed', path: 'both.txt', conflictPath: expect.stringMatching(/^both\.conflict-(src|dst)-\d{8}-\d{6}\.txt$/) as string });
    expect(treeDiff(src, dst)).toBe('');
    expect(fs.readFileSync(path.join(src, 'only-dst'), 'utf8')).toBe('d');
    expect(fs.existsSync(path.join(state, 'two-way.lock'))).toBe(false);
    // --status: what the next sync will do, from the state; a conflict to come included.
    fs.writeFileSync(path.join(src, 'sub', 'f1'), 'edited on src');
    fs.writeFileSync(path.join(dst, 'only-dst'), 'edited on dst');
    fs.writeFileSync(path.join(src, 'only-dst'), 'edited on src too');
    const status = await spawnNode([CLI, '--two-way', '--status', '--json', '--state', state, src, dst]).waitForExit();
    expect(status.code).toBe(0);
    const report = status.stdout.trim().split('\n').map((line) => JSON.parse(line) as JsonLine);
    expect(report).toEqual([
      { event: 'pending', path: 'only-dst', action: 'conflict', renamed: expect.stringMatching(/^(source|destination)$/) as string },
      { event: 'pending', path: 'sub/f1', action: 'copy', from: 'source', to: 'destination' },
      { event: 'status', state, synced: 24, pending: 2 },
    ]);
    const plain = await spawnNode([CLI, '--two-way', '--status', '--state', state, src, dst]).waitForExit();
    expect(plain.stdout).toContain('copy "sub/f1" source -> destination\n2 paths pending, 24 synced');
  });

  it('exits 2 with a clear message for command-line mistakes, --two-way ones included', async () => {
    const { src, dst } = roots();
    const mistakes = [
      ['--two-way', '--remote-command', '["node", 1]', src, 'host:/x'], ['--two-way', '--remote-command', '[', src, 'host:/x'],
      ['--remote-command', 'node', src, 'host:/x'], ['--two-way', '--remote-command', 'node', src, dst], ['--two-way', '--delete', src, dst], ['--two-way', '-n', src, dst], ['--state', dst, src, dst], ['--status', src, dst],
      [src], ['--exclude', '*.{a,b}', src, dst], ['--bogus', src, dst],
    ];
    for (const args of mistakes) {
      const result = await spawnNode([CLI, ...args]).waitForExit();
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^inotify-mirror: /);
    }
    const remote = await spawnNode([CLI, '--two-way', '--remote-command', '[]', src, 'host:/x']).waitForExit();
    expect(remote.stderr).toContain('--remote-command: the JSON array must hold one or more non-empty strings');
    const missing = await spawnNode([CLI, '--once', path.join(src, 'missing'), dst]).waitForExit();
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ENOENT/);
    const help = await spawnNode([CLI, '--help']).waitForExit();
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: inotify-mirror');
  });
});
