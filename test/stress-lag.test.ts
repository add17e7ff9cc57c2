/**
 * The lagging-reader stress of issue 10, small: `npm run stress` (5 runs x
 * 50 rounds) run as 1 run x 10 rounds, through the library and through the
 * CLI, each with a deliberately slow consumer. Every create and every write
 * after the move must be reported (the script counts; see scripts/stress.mjs),
 * part of them by the scans of new directories (synthetic events).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { repoRoot } from './helpers/index.js';
import { ensureLib } from './helpers/child.js';

interface Totals {
  creates: number;
  createsMade: number;
  writesAfterMove: number;
  writesAfterMoveMade: number;
  synthetic: number;
  lost: string[];
}

beforeAll(() => {
  ensureLib();
});

test('10 rounds of mkdir -p A/b/c/d, write, mv A B, write: nothing lost through the library or the CLI', () => {
  const run = spawnSync(process.execPath, [
    path.join(repoRoot, 'scripts', 'stress.mjs'), '--runs', '1', '--rounds', '10', '--json',
  ], { encoding: 'utf8', timeout: 120_000 });
  expect(run.stderr).toBe('');
  const results = JSON.parse(run.stdout) as Record<'library' | 'cli', Totals>;
  for (const way of ['library', 'cli'] as const) {
    const totals = results[way];
    expect(totals.lost, way).toStrictEqual([]);
    expect([totals.creates, totals.writesAfterMove], way).toStrictEqual([50, 10]);
    expect([totals.createsMade, totals.writesAfterMoveMade], way).toStrictEqual([50, 10]);
    expect(totals.synthetic, `${way}: no scan found anything`).toBeGreaterThan(0);
  }
  expect(run.status).toBe(0);
}, 130_000);
