/**
 * examples/incoming-processor.mts, compiled by the repository's tsc and run
 * as a child process on a real rsync transfer: one job per file, hashes
 * right, bounded concurrency, graceful stop.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { removeTree, repoRoot } from './helpers/index.js';
import { buildExamples, makeFiles, Run, rsync, tempDir } from './transfer-helpers.js';

const outDir = path.join(repoRoot, 'examples', `.dist-transfer-${process.pid}`);
let example = '';
beforeAll(async () => {
  example = await buildExamples(outDir);
}, 180_000);
afterAll(() => removeTree(outDir));

function processor(dir: string, ...args: string[]): Run {
  return new Run(process.execPath, [example, dir, '--quiet-period', '400', '--settle-time', '150', ...args]);
}

test('hashes every file of an rsync -a push once, final names only, then stops on SIGTERM', async () => {
  const root = tempDir();
  const src = path.join(root, 'src');
  const dst = path.join(root, 'incoming');
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
  const names = makeFiles(src, 12, { subdirs: 3, size: 20_000 });
  const child = processor(dst, '--jobs', '3');
  await child.waitForOutput((lines) => lines.some((l) => l.startsWith('watching ')), 10_000, 'the watching line');
  await rsync('-a', `${src}/`, `${dst}/`);
  const lines = await child.waitForOutput((ls) => ls.filter((l) => l.startsWith('ok ')).length >= 12, 15_000, '12 results');
  child.kill('SIGTERM');
  const result = await child.exit(10_000);
  expect(result.code, result.stderr).toBe(0);

  const ok = lines.filter((l) => l.startsWith('ok '));
  const seen = ok.map((line) => {
    const match = /^ok (\S+) sha256=([0-9a-f]{64}) bytes=(\d+) via=(\S+) ms=\d+$/.exec(line);
    expect(match, line).not.toBeNull();
    const [, file = '', hash, bytes, via] = match ?? [];
    const rel = path.relative(dst, file);
    const expected = createHash('sha256').update(fs.readFileSync(path.join(src, rel))).digest('hex');
    expect(hash, rel).toBe(expected);
    expect(Number(bytes)).toBe(20_000);
    expect(['rsync', 'found']).toContain(via);
    return rel;
  });
  expect(seen.sort()).toEqual(names);
  expect(child.stdout).not.toMatch(/^(fail|abandoned) /m);
  expect(child.stdout.trim().split('\n').at(-1)).toBe('stopped: 12 processed, 0 failed');
});

test('--exec runs a command per file and reports its failures', async () => {
  const dst = tempDir();
  const child = processor(dst, '--filter', '*.bad', '--exec', 'false');
  await child.waitForOutput((lines) => lines.some((l) => l.startsWith('watching ')), 10_000, 'the watching line');
  fs.writeFileSync(path.join(dst, 'x.bad'), 'x');
  fs.writeFileSync(path.join(dst, 'ignored.txt'), 'not selected by the filter');
  await child.waitForOutput((lines) => lines.some((l) => l.startsWith('fail ')), 10_000, 'a failure');
  child.kill('SIGINT');
  const result = await child.exit(10_000);
  expect(result.code).toBe(0);
  expect(child.stdout).toContain(`fail ${path.join(dst, 'x.bad')} exit=1`);
  expect(child.stdout).not.toContain('ignored.txt');
  expect(child.stdout).toContain('stopped: 0 processed, 1 failed');
});
