// The scale curve: one tree per size (5k, 50k, 200k, 500k directories), each
// watched in turn by the C reader, our Notifier and our watch(), runs
// alternated; ready time, setup CPU time, RSS and JS heap per watch, as a
// markdown table and as an SVG chart written by this file (no dependency).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterProc, inotifyWatches, nowNs, rssKb } from './proc.mjs';
import { median } from './report.mjs';
import { runProgram } from './scenarios.mjs';
import { rmrf } from './prepare.mjs';

const WATCHES_SYSCTL = '/proc/sys/fs/inotify/max_user_watches';

export const CURVE_ADAPTERS = ['c-raw', 'ours-notifier', 'ours-watch'];
/** The baseline process (a Node adapter that watches nothing) for heap and RSS above Node's own. */
const BASELINE = 'node-empty';

/**
 * Raises fs.inotify.max_user_watches by `extra` (the watches already in use
 * by others on this machine keep their room); returns a function that puts
 * the old value back (idempotent), or null when the limit cannot be raised.
 */
export function raiseWatchLimit(extra) {
  let before;
  try {
    before = Number(readFileSync(WATCHES_SYSCTL, 'utf8'));
    writeFileSync(WATCHES_SYSCTL, String(before + extra));
  } catch {
    return null;
  }
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    writeFileSync(WATCHES_SYSCTL, String(before));
  };
}

/**
 * Runs the curve. `adapters` are run.mjs's adapter descriptions (with
 * spawnSpec); `onRestore` receives the limit-restoring function so the
 * caller's signal handler can run it too.
 */
export async function scaleCurve({ adapters, bins, work, sizes, filesPerDir, runs, log, onRestore }) {
  const byName = new Map(adapters.map((a) => [a.name, a]));
  const curve = CURVE_ADAPTERS.filter((n) => byName.has(n) && !byName.get(n).unavailable);
  const baseline = byName.get(BASELINE);
  const maxDirs = Math.max(...sizes);
  const limit = Number(readFileSync(WATCHES_SYSCTL, 'utf8'));
  // Room for the largest tree (+1 root per √N top-level dir and some slack) beyond what others hold.
  const restore = raiseWatchLimit(Math.ceil(maxDirs * 1.1) + 1000);
  onRestore?.(restore ?? (() => {}));
  if (restore === null) {
    // Not root: only the sizes that leave other inotify users on this machine their room.
    const fits = sizes.filter((n) => n * 1.1 <= limit * 0.8);
    if (fits.length < sizes.length) log(`scale curve: cannot raise fs.inotify.max_user_watches (${limit}); sizes above ${Math.floor((limit * 0.8) / 1.1)} dirs skipped`);
    if (fits.length === 0) throw new Error(`fs.inotify.max_user_watches (${limit}) is too low for any size and cannot be raised (run as root)`);
    sizes = fits;
  }
  const rows = [];
  try {
    for (const dirs of sizes) {
      const root = join(work, `curve-${dirs}`);
      rmrf(root);
      mkdirSync(root);
      const tTree = nowNs();
      const out = await runProgram(bins.writer, ['tree', root, String(dirs), String(filesPerDir)]);
      if (!/LAST /.test(out)) throw new Error(`writer tree ${dirs} did not finish`);
      log(`scale curve: made ${dirs} dirs × ${filesPerDir} files in ${((nowNs() - tTree) / 1e6).toFixed(0)} ms`);
      const samples = new Map(curve.map((n) => [n, []]));
      const base = [];
      for (let run = 0; run < runs; run++) {
        // Alternated: each adapter goes first in turn, so a load swing does not hit one adapter only.
        const order = curve.map((_, i) => curve[(i + run) % curve.length]);
        for (const name of order) {
          const s = await once(byName.get(name), root, dirs);
          samples.get(name).push(s);
          log(`scale curve ${dirs} run ${run + 1}/${runs} ${name}: ready ${s.watchMs.toFixed(0)} ms, CPU ${s.cpuMs.toFixed(0)} ms, RSS ${(s.rssKb / 1024).toFixed(1)} MB${s.heapUsed === undefined ? '' : `, heap ${(s.heapUsed / 2 ** 20).toFixed(1)} MB`}, ${s.watches} watches`);
        }
        if (baseline && !baseline.unavailable) base.push(await once(baseline, root, 0));
      }
      rmrf(root);
      const baseHeap = median(base.map((s) => s.heapUsed));
      const baseRss = median(base.map((s) => s.rssKb));
      for (const name of curve) {
        const ss = samples.get(name);
        const watches = median(ss.map((s) => s.watches));
        const heap = median(ss.map((s) => s.heapUsed).filter((x) => x !== undefined));
        rows.push({
          dirs,
          adapter: name,
          watches,
          watchMs: median(ss.map((s) => s.watchMs)),
          cpuMs: median(ss.map((s) => s.cpuMs)),
          rssMb: median(ss.map((s) => s.rssKb)) / 1024,
          rssAboveMb: name === 'c-raw' || baseRss === null ? null : (median(ss.map((s) => s.rssKb)) - baseRss) / 1024,
          heap,
          heapPerWatch: heap === null || baseHeap === null ? null : (heap - baseHeap) / watches,
        });
      }
    }
  } finally {
    restore?.();
  }
  // What one more watch costs, from the previous size: free of the fixed part (compiled code, module state).
  for (const r of rows) {
    const prev = rows.filter((x) => x.adapter === r.adapter && x.dirs < r.dirs).sort((a, b) => b.dirs - a.dirs)[0];
    r.heapMarginal = prev && r.heap !== null && prev.heap !== null ? (r.heap - prev.heap) / (r.watches - prev.watches) : null;
  }
  return rows;
}

async function once(adapter, root, dirs) {
  const timeoutMs = 60_000 + dirs * 0.5; // 0.5 ms a directory: 5 min for 500k, ten times what C needs
  const proc = new AdapterProc(adapter.spawnSpec(root, '/dev/null')).start();
  try {
    await proc.ready(proc.tSpawn + timeoutMs * 1e6);
    const info = proc.readyInfo;
    return {
      watchMs: (info.t - info.tStart) / 1e6,
      cpuMs: info.cpuUs / 1000,
      rssKb: rssKb(proc.pid) ?? info.rssKb,
      heapUsed: info.heapUsed,
      watches: info.watches ?? inotifyWatches(proc.pid),
    };
  } finally {
    proc.kill();
    // Freeing 500k watches takes the kernel a while: the next process starts after it.
    await proc.until(() => proc.exited, nowNs() + 120e9, 'exit').catch(() => {});
  }
}

const LABEL = { 'c-raw': 'C reader', 'ours-notifier': 'Notifier', 'ours-watch': 'watch()' };
const COLOR = { 'c-raw': '#555555', 'ours-notifier': '#1f77b4', 'ours-watch': '#d62728' };

const fmt = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

/** The curve as a markdown table: one row per size and adapter, ratios to the C reader of the same size. */
export function curveMarkdown(rows, { runs, filesPerDir, loadavg, svg }) {
  const lines = [
    `### Scale curve`,
    '',
    `Trees of N directories × ${filesPerDir} files on tmpfs; medians of ${runs} run(s), adapters alternated. *ready* = the adapter's own`,
    '"start watching" → armed (wall); *CPU* = that process\'s CPU time over the same span (user + system, all threads), which',
    'other load disturbs less; *RSS above Node* = RSS at ready minus a Node process that watches nothing; *heap / watch* = JS',
    `heap after \`gc()\` at ready, minus that process's, ÷ watches (fixed costs such as compiled code included); *marginal* = the heap
growth from the previous size ÷ the watches added, what one more watch costs. Load average (1, 5, 15 min) at the end: ${loadavg.join(', ')}.`,
    '',
    '| dirs | adapter | watches | ready ms | × C | CPU ms | × C | CPU µs / dir | RSS MB | RSS above Node MB | JS heap B / watch | marginal B / watch |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const c = rows.find((x) => x.dirs === r.dirs && x.adapter === 'c-raw');
    const ratio = (k) => (c && r.adapter !== 'c-raw' ? `${(r[k] / c[k]).toFixed(2)}×` : '');
    lines.push(
      `| ${fmt(r.dirs)} | ${LABEL[r.adapter]} | ${fmt(r.watches)} | ${fmt(r.watchMs)} | ${ratio('watchMs')} | ${fmt(r.cpuMs)} | ${ratio('cpuMs')} | ${fmt((r.cpuMs * 1000) / r.dirs, 1)} | ${fmt(r.rssMb, 1)} | ${fmt(r.rssAboveMb, 1)} | ${fmt(r.heapPerWatch)} | ${fmt(r.heapMarginal)} |`,
    );
  }
  if (svg) lines.push('', `![scale curve](${svg})`);
  return lines.join('\n');
}

// ---------------------------------------------------------------- SVG chart

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Round numbers for a log axis between lo and hi: 1, 2, 5 × 10^k. */
function logTicks(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) out.push(v);
    }
  }
  return out;
}

const short = (v) => (v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : `${v}`);

/**
 * One panel: log-log axes (a straight line of slope 1 is linear growth),
 * one polyline per adapter, an optional dashed goal line.
 */
function panel({ x0, y0, w, h, title, rows, key, xs, goal }) {
  const pts = rows.filter((r) => typeof r[key] === 'number' && r[key] > 0);
  if (pts.length === 0) return '';
  const ys = pts.map((r) => r[key]).concat(goal ? [goal.value] : []);
  const xlo = Math.min(...xs) / 1.3;
  const xhi = Math.max(...xs) * 1.3;
  const ylo = Math.min(...ys) / 1.5;
  const yhi = Math.max(...ys) * 1.5;
  const X = (v) => x0 + ((Math.log(v) - Math.log(xlo)) / (Math.log(xhi) - Math.log(xlo))) * w;
  const Y = (v) => y0 + h - ((Math.log(v) - Math.log(ylo)) / (Math.log(yhi) - Math.log(ylo))) * h;
  const parts = [
    `<text x="${x0 + w / 2}" y="${y0 - 10}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#999"/>`,
  ];
  for (const v of xs) {
    parts.push(`<line x1="${X(v).toFixed(1)}" y1="${y0}" x2="${X(v).toFixed(1)}" y2="${y0 + h}" stroke="#eee"/>`);
    parts.push(`<text x="${X(v).toFixed(1)}" y="${y0 + h + 14}" text-anchor="middle">${short(v)}</text>`);
  }
  for (const v of logTicks(ylo, yhi)) {
    parts.push(`<line x1="${x0}" y1="${Y(v).toFixed(1)}" x2="${x0 + w}" y2="${Y(v).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${x0 - 4}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${short(v)}</text>`);
  }
  parts.push(`<text x="${x0 + w / 2}" y="${y0 + h + 30}" text-anchor="middle">directories</text>`);
  if (goal) {
    parts.push(`<line x1="${x0}" y1="${Y(goal.value).toFixed(1)}" x2="${x0 + w}" y2="${Y(goal.value).toFixed(1)}" stroke="#2ca02c" stroke-dasharray="5,4"/>`);
    parts.push(`<text x="${x0 + w - 4}" y="${(Y(goal.value) - 4).toFixed(1)}" text-anchor="end" fill="#2ca02c">${esc(goal.label)}</text>`);
  }
  for (const adapter of CURVE_ADAPTERS) {
    const line = pts.filter((r) => r.adapter === adapter).sort((a, b) => a.dirs - b.dirs);
    if (line.length === 0) continue;
    const coords = line.map((r) => `${X(r.dirs).toFixed(1)},${Y(r[key]).toFixed(1)}`);
    parts.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${COLOR[adapter]}" stroke-width="2"/>`);
    for (const c of coords) {
      const [cx, cy] = c.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${COLOR[adapter]}"/>`);
    }
  }
  return parts.join('\n');
}

/** The chart: setup wall time, setup CPU time, RSS, JS heap per watch against tree size. */
export function curveSvg(rows, { title }) {
  const xs = [...new Set(rows.map((r) => r.dirs))].sort((a, b) => a - b);
  const pw = 250;
  const ph = 200;
  const panels = [
    { title: 'ready, ms (wall)', key: 'watchMs' },
    { title: 'setup CPU, ms', key: 'cpuMs' },
    { title: 'RSS at ready, MB', key: 'rssMb' },
    { title: 'JS heap per watch, bytes', key: 'heapPerWatch', goal: { value: 200, label: 'goal 200 B' } },
  ];
  const width = 60 + panels.length * (pw + 60);
  const height = ph + 120;
  const body = panels.map((p, i) => panel({ ...p, x0: 60 + i * (pw + 60), y0: 50, w: pw, h: ph, rows, xs })).join('\n');
  const legend = CURVE_ADAPTERS.filter((a) => rows.some((r) => r.adapter === a))
    .map((a, i) => `<rect x="${60 + i * 130}" y="${ph + 96}" width="14" height="4" fill="${COLOR[a]}"/><text x="${80 + i * 130}" y="${ph + 102}">${LABEL[a]}</text>`)
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="60" y="18" font-size="13" font-weight="bold">${esc(title)}</text>
${body}
${legend}
</svg>
`;
}
