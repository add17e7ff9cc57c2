/**
 * The soak (scripts/soak.mjs, `npm run soak`) at a small size, twice: once
 * as it runs by default (every event delivered, memory and fds flat), once
 * with a consumer that stalls so the kernel queue overflows (the loss is
 * reported as IN_Q_OVERFLOW and every other event is still accounted for).
 * The full 1,000,000-event run is `npm run soak`; see docs/RELIABILITY.md.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureLib, spawnNode } from './helpers/child.js';
import { repoRoot } from './helpers/index.js';

interface SoakResult {
  ok: boolean;
  written: number;
  delivered: number;
  overflows: number;
  lost: number;
  brokenCycles: number;
  samples: Array<{ label: string; fds: number; rssMB: number; heapUsedMB: number }>;
  failures: string[];
}

async function soak(env: Record<string, string>): Promise<SoakResult> {
  ensureLib();
  const child = spawnNode([path.join(repoRoot, 'scripts', 'soak.mjs')], { env: { ...process.env, ...env } });
  const result = await child.waitForExit(60_000);
  const line = result.stdout.split('\n').find((l) => l.startsWith('SOAK '));
  expect(line, `exit ${result.code}\n${result.stdout}\n${result.stderr}`).toBeDefined();
  const parsed = JSON.parse((line ?? 'SOAK {}').slice(5)) as SoakResult;
  expect(parsed.failures, result.stdout).toEqual([]);
  expect(result.code, result.stderr).toBe(0);
  return parsed;
}

describe('soak (small)', () => {
  it('30,000 events through a Notifier: all accounted for, fds back to the start, heap flat', async () => {
    const result = await soak({ SOAK_EVENTS: '30000' });
    expect(result.ok).toBe(true);
    expect(result.brokenCycles).toBe(0);
    // Without an overflow nothing may be missing; with one, the loss is what it covers.
    if (result.overflows === 0) expect(result.delivered).toBe(result.written);
    else expect(result.lost).toBeGreaterThan(0);
    const [start, end] = [result.samples.find((s) => s.label === 'start'), result.samples.find((s) => s.label === 'end')];
    expect(end?.fds).toBe(start?.fds);
    expect(result.samples.find((s) => s.label === 'closed')?.fds).toBe((start?.fds ?? 0) - 1);
  });

  it('with a stalling consumer the queue overflows: IN_Q_OVERFLOW reported, the rest still in order', async () => {
    const result = await soak({ SOAK_EVENTS: '60000', SOAK_PAUSE_EVERY: '15000', SOAK_PAUSE_MS: '1000' });
    expect(result.ok).toBe(true);
    expect(result.overflows).toBeGreaterThanOrEqual(1);
    expect(result.lost).toBeGreaterThan(0);
    expect(result.delivered + result.lost).toBe(result.written);
    expect(result.brokenCycles).toBe(0);
  });
});
