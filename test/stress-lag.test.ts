/**
 * The lagging-reader stress of issue 10, small: `npm run stress` (5 runs x
 * 50 rounds, library and CLI) run as 1 run x 10 rounds each way, with a
 * deliberately slow consumer. Every create and every write after the move
 * must be reported (the script counts; see scripts/stress.mjs), part of them
 * by the scans of new directories (synthetic events).
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
  duplicates: string[];
}

beforeAll(() => {
  ensureLib();
});

test('10 rounds of mkdir -p A/b/c/d, write, mv A B, write, with a slow consumer (library and CLI): nothing lost', () => {
  const run = spawnSync(process.execPath, [
    path.join(repoRoot, 'scripts', 'stress.mjs'), '--runs', '1', '--rounds', '10', '--via', 'library,cli', '--json',
  ], { encoding: 'utf8', timeout: 120_000 });
  expect(run.stderr).toBe('');
  const report = JSON.parse(run.stdout) as { library: Totals; cli: Totals };
  for (const via of ['library', 'cli'] as const) {
    const totals = report[via];
    expect(totals.lost, via).toStrictEqual([]);
    expect(totals.duplicates, via).toStrictEqual([]);
    expect([totals.creates, totals.writesAfterMove], via).toStrictEqual([50, 10]);
    expect([totals.createsMade, totals.writesAfterMoveMade], via).toStrictEqual([50, 10]);
    expect(totals.synthetic, `${via}: no scan found anything`).toBeGreaterThan(0);
  }
  expect(run.status).toBe(0);
}, 130_000);
