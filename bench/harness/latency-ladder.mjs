// The latency ladder: write -> first event, for the C reader and for each of
// our layers stacked on it (Inotify batches, Notifier, watch()), in rounds with
// the adapters alternated, so that a load swing lands on every adapter alike.
// Each rung's extra time over the rung it stands on is what that layer adds to one
// event; ratios to the C reader are taken within a round, then their median.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './report.mjs';
import { latencySamples, quantile, withAdapter } from './scenarios.mjs';

/** The rungs, bottom up: what each adds to the rung it stands on (`on`). */
export const LADDER = [
  { name: 'c-raw', label: 'C reader', adds: 'the kernel queues the event; the reader wakes from poll() and read()s it' },
  { name: 'node-floor', on: 'c-raw', label: 'Node floor: fs.watch(dir)', adds: "a Node process's own way in: libuv's inotify reader (C) wakes the loop and calls JS once per event" },
  { name: 'ours-raw', on: 'c-raw', label: 'Inotify batches', adds: 'libuv wakes the loop, the addon read()s the batch, one N-API call hands it to JS' },
  { name: 'ours-notifier', on: 'ours-raw', label: 'Notifier', adds: 'decode, watch-table lookup, pathname, event object, emit' },
  { name: 'ours-watch', on: 'ours-notifier', label: 'watch()', adds: 'the watch() layer: its filter and listener call' },
];

/**
 * Runs `rounds` rounds of `writes` writes `intervalUs` apart for every rung
 * available among `adapters` (run.mjs's descriptions, with spawnSpec).
 * Returns { rungs: [{ name, label, adds, samples, missed, p50, p90, p99, max,
 * p50Ratio, p99Ratio, addsP50 }], rounds: [{ round, order, byAdapter }] }.
 */
export async function latencyLadder({ adapters, cfg, bins, work, dumpDir, rounds, writes, intervalUs, timeoutMs, log, kindName }) {
  const byName = new Map(adapters.map((a) => [a.name, a]));
  const rungs = LADDER.filter((r) => byName.has(r.name) && !byName.get(r.name).unavailable);
  if (!rungs.some((r) => r.name === 'c-raw')) throw new Error('the latency ladder needs the C reader (adapter c-raw) as its bottom rung');
  const pooled = new Map(rungs.map((r) => [r.name, { lat: [], missed: 0 }]));
  const perRound = [];
  for (let round = 1; round <= rounds; round++) {
    const order = rungs.map((_, i) => rungs[(i + round - 1) % rungs.length].name);
    const byAdapter = {};
    for (const name of order) {
      const adapter = byName.get(name);
      const dir = join(work, `ladder-${round}-${name}`);
      mkdirSync(dir);
      const ctx = { cfg, bins, work, dumpDir, run: round, scenario: 'latency-ladder', adapter, kindName };
      try {
        const r = await withAdapter(ctx, dir, timeoutMs, async (proc, deadline, dump, partial) => {
          partial.detail = await latencySamples(ctx, proc, dir, writes, intervalUs, deadline, dump);
          return partial;
        });
        if (r.status !== 'ok') throw new Error(`latency ladder round ${round} ${name}: ${r.status} (${r.reason})`);
        const { lat, missed } = r.detail;
        pooled.get(name).lat.push(...lat);
        pooled.get(name).missed += missed;
        byAdapter[name] = { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), missed };
        log(`latency ladder round ${round}/${rounds} ${name}: p50 ${byAdapter[name].p50?.toFixed(3)} ms, p99 ${byAdapter[name].p99?.toFixed(3)} ms, ${missed} missed`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    perRound.push({ round, order, byAdapter });
  }
  const out = [];
  for (const rung of rungs) {
    const { lat, missed } = pooled.get(rung.name);
    lat.sort((a, b) => a - b);
    const below = rung.on !== undefined && pooled.has(rung.on) ? rung.on : undefined;
    const within = (key, other) => median(perRound.map((r) => (r.byAdapter[rung.name]?.[key] ?? NaN) / (r.byAdapter[other]?.[key] ?? NaN)));
    const diff = (other) => median(perRound.map((r) => (r.byAdapter[rung.name]?.p50 ?? NaN) - (r.byAdapter[other]?.p50 ?? NaN)));
    out.push({
      ...rung,
      samples: lat.length,
      missed,
      p50: quantile(lat, 0.5),
      p90: quantile(lat, 0.9),
      p99: quantile(lat, 0.99),
      max: lat.at(-1) ?? null,
      p50Ratio: rung.name === 'c-raw' ? null : within('p50', 'c-raw'),
      p99Ratio: rung.name === 'c-raw' ? null : within('p99', 'c-raw'),
      on: below ?? null,
      addsP50: below === undefined ? null : diff(below),
    });
  }
  return { rungs: out, rounds: perRound };
}

const labelOf = (name) => LADDER.find((r) => r.name === name)?.label ?? name;
const fmt = (x, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));

/** The ladder as markdown: one row per rung, then what each rung adds. */
export function ladderMarkdown(result, { rounds, writes, intervalUs, loadavg }) {
  const lines = [
    '### Latency ladder',
    '',
    `${writes} single-file writes ${intervalUs / 1000} ms apart per round, ${rounds} rounds, the adapters alternated (each goes first in turn).`,
    'Latency = the writer\'s clock before `open()` → the adapter\'s clock when the first event naming the file reaches its code.',
    'Percentiles pool every round; *× C* is the median over rounds of (this rung ÷ the C reader in the same round); *adds* is the',
    `median over rounds of (this rung's p50 − the p50 of the rung it stands on), what that layer costs one event. Load average (1, 5, 15 min) at the end: ${loadavg.join(', ')}.`,
    '',
    '| rung | samples | missed | p50 ms | p90 ms | p99 ms | max ms | p50 × C | p99 × C | stands on | adds to p50 (µs) | what the rung adds |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|',
  ];
  for (const r of result.rungs) {
    lines.push(
      `| ${r.label} | ${r.samples} | ${r.missed} | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.p99)} | ${fmt(r.max, 2)} | ${r.p50Ratio === null ? '' : `${fmt(r.p50Ratio, 2)}×`} | ${r.p99Ratio === null ? '' : `${fmt(r.p99Ratio, 2)}×`} | ${r.on === null ? '' : labelOf(r.on)} | ${r.addsP50 === null ? '' : fmt(r.addsP50 * 1000, 0)} | ${r.adds} |`,
    );
  }
  return lines.join('\n');
}
