// Medians over runs and the markdown report.

const fmtInt = (v) => Math.round(v).toLocaleString('en-US');

function fmt(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return '';
  if (typeof v !== 'number') return String(v);
  if (digits === 0) return fmtInt(v);
  if (Math.abs(v) >= 1000) return fmtInt(v);
  return v.toFixed(digits);
}

export function median(xs) {
  const s = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The figures, in table order. */
export function figures(cfg) {
  const z = cfg.sizes;
  const n = (x) => x.toLocaleString('en-US');
  const f = [
    { key: 'setup.readyMs', label: `setup ready ms, spawn→READY (${n(z.setupDirs)} dirs)`, d: 0 },
    { key: 'setup.watchMs', label: 'setup watch ms, watch call→READY', d: 0 },
    { key: 'setup.rssMb', label: 'setup RSS MB', d: 1 },
    { key: 'setup.heapMb', label: 'setup JS heap MB', d: 1 },
    { key: 'setup.watches', label: 'setup inotify watches', d: 0 },
  ];
  if (z.scaleDirs) {
    f.push(
      { key: 'scale.watchMs', label: `scale watch ms (${n(z.scaleDirs)} dirs)`, d: 0 },
      { key: 'scale.rssMb', label: 'scale RSS MB', d: 1 },
      { key: 'scale.heapMb', label: 'scale JS heap MB', d: 1 },
      { key: 'scale.watches', label: 'scale inotify watches', d: 0 },
    );
  }
  f.push(
    { key: 'tp.sentinelMs', label: `burst of ${n(z.throughputFiles)} creates: sentinel ms`, d: 0 },
    { key: 'tp.lagMs', label: 'lag after writer ms', d: 0, noRatio: true },
    { key: 'tp.createsPerS', label: 'burst creates/s reported', d: 0 },
    { key: 'tp.reported', label: `creates reported / ${n(z.throughputFiles)}`, d: 0, range: true },
    { key: 'tp.events', label: 'events delivered', d: 0, range: true },
    { key: 'tp.overflow', label: 'Q_OVERFLOW', d: 0, range: true, noRatio: true },
    { key: 'tp.cpuMs', label: 'CPU ms', d: 0 },
    { key: 'tp.cpuUsPerCreate', label: 'CPU µs / create', d: 2 },
    { key: 'tp.drainMs', label: `backlog of ${n(z.backlogFiles)} creates: drain ms (median of ${cfg.backlogRounds} rounds)`, d: 1 },
    { key: 'tp.drainCreatesPerS', label: 'backlog creates/s', d: 0 },
    { key: 'tp.drainEventsPerS', label: 'backlog events/s', d: 0 },
    { key: 'tp.drainCpuNsPerEvent', label: 'backlog CPU ns / event', d: 0 },
    { key: 'lat.p50', label: `latency p50 ms (${z.latencyWrites} writes)`, d: 2 },
    { key: 'lat.p99', label: 'latency p99 ms', d: 2 },
    { key: 'race.files', label: `race files / ${z.raceDirs}`, d: 0, range: true },
    { key: 'rsync.temps', label: 'rsync temp names seen / 20', d: 0, range: true },
    { key: 'rsync.finals', label: 'rsync finals seen / 20', d: 0, range: true },
  );
  return f;
}

/**
 * results: [{ run, scenario, adapter, status, reason, metrics, detail }]
 * Returns per adapter: { key: { med, min, max, n, runs, bad: [{status, reason}] } }.
 */
export function aggregate(results, adapters, cfg) {
  const out = {};
  for (const a of adapters) {
    const rows = results.filter((r) => r.adapter === a.name);
    const agg = {};
    for (const fig of figures(cfg)) {
      const scen = fig.key.split('.')[0];
      const rs = rows.filter((r) => r.scenarioKey === scen);
      const vals = rs.filter((r) => r.status === 'ok').map((r) => r.metrics[fig.key]);
      const nums = vals.filter((v) => typeof v === 'number');
      const bad = rs.filter((r) => r.status !== 'ok').map((r) => ({ status: r.status, reason: r.reason }));
      agg[fig.key] = {
        med: median(nums),
        min: nums.length ? Math.min(...nums) : null,
        max: nums.length ? Math.max(...nums) : null,
        n: nums.length,
        runs: rs.length,
        notExposed: vals.length > 0 && vals.every((v) => v === null),
        strs: vals.filter((v) => typeof v === 'string'),
        bad,
      };
    }
    out[a.name] = agg;
  }
  return out;
}

function cell(a, fig) {
  if (!a) return '';
  if (a.n === 0) {
    if (a.notExposed) return 'not exposed';
    if (a.strs.length) return a.strs.length < a.runs ? `${a.strs[0]} (${a.strs.length}/${a.runs})` : a.strs[0];
    if (a.bad.length) return a.bad[0].status === 'skipped' ? 'skipped' : `${a.bad[0].status}`;
    return '';
  }
  let s = fmt(a.med, fig.d);
  if (fig.range && a.min !== a.max) s += ` [${fmt(a.min, fig.d)}–${fmt(a.max, fig.d)}]`;
  if (a.strs.length) s += ` (${a.strs.length}/${a.runs} ${a.strs[0]})`;
  if (a.bad.length) s += ` (${a.bad.length}/${a.runs} ${a.bad[0].status})`;
  return s;
}

function ratio(a, ref) {
  if (!a || !ref || a.med === null || ref.med === null || a.n === 0 || ref.n === 0) return '';
  if (ref.med === 0) return a.med === 0 ? '1' : '';
  const r = a.med / ref.med;
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

const esc = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function markdown({ meta, cfg, adapters, agg, results, durationS }) {
  const figs = figures(cfg);
  const L = [];
  const m = meta.machine;
  L.push('# inotify-native benchmark');
  L.push('');
  L.push(
    `Generated ${meta.date} by \`node bench/run.mjs ${meta.argv.join(' ')}\` in ${durationS.toFixed(0)} s; ` +
      `${cfg.quick ? '**quick mode** (small sizes), ' : ''}median of ${cfg.runs} run(s)` +
      `${cfg.runs > 1 ? ' ([min–max] shown for counts that differ)' : ''}.`,
  );
  L.push('');
  L.push(
    `Machine: nproc ${m.nproc} (${m.model}), ${m.memGiB} GiB RAM, kernel ${m.kernel}${m.distro ? ` (${m.distro})` : ''}, ` +
      `load average (1/5/15 min) at start ${m.loadavg.join(' / ')}, at end ${meta.loadavgEnd.join(' / ')}. inotify limits: max_queued_events ${m.limits.max_queued_events}, ` +
      `max_user_watches ${m.limits.max_user_watches}, max_user_instances ${m.limits.max_user_instances}. ` +
      `Watched dirs on ${meta.fs}.`,
  );
  L.push('');
  L.push(`Versions: node ${m.node}; ${meta.versions.join('; ')}; C adapters built with ${m.cc || 'cc'} -O2.`);
  L.push('');
  L.push(
    `Sizes: setup tree ${cfg.sizes.setupDirs.toLocaleString('en-US')} dirs × ${cfg.sizes.filesPerDir} files` +
      (cfg.sizes.scaleDirs ? `; scale tree ${cfg.sizes.scaleDirs.toLocaleString('en-US')} dirs × ${cfg.sizes.filesPerDir} files` : '; scale tree skipped') +
      `; throughput ${cfg.sizes.throughputFiles.toLocaleString('en-US')} files; latency ${cfg.sizes.latencyWrites} writes ${cfg.latencyIntervalUs / 1000} ms apart; ` +
      `race ${cfg.sizes.raceDirs}; rsync 20 × 1 MiB.`,
  );
  L.push('');
  const table = (title, valueOf) => {
    L.push(title);
    L.push('');
    L.push(`| adapter | ${figs.map((f) => esc(f.label)).join(' | ')} |`);
    L.push(`|---|${figs.map(() => '---').join('|')}|`);
    for (const a of adapters) {
      if (a.unavailable) {
        const cells = [esc(a.unavailable), ...figs.slice(1).map(() => '')];
        L.push(`| ${esc(a.label)} | ${cells.join(' | ')} |`);
        continue;
      }
      L.push(`| ${esc(a.label)} | ${figs.map((f) => esc(valueOf(a, f))).join(' | ')} |`);
    }
    L.push('');
  };
  table('## Results (medians)', (a, f) => cell(agg[a.name]?.[f.key], f));
  const ref = (name, title) => {
    if (!agg[name]) return;
    table(title, (a, f) => (f.noRatio ? '' : a.name === name ? (agg[name][f.key].n ? '1' : '') : ratio(agg[a.name]?.[f.key], agg[name][f.key])));
  };
  ref('c-raw', '## Ratio to the C reader (c-raw); for ms, MB and CPU lower is better, for counts and creates/s higher');
  ref('ours-notifier', '## Ratio to our Notifier layer (ours-notifier)');

  const tg = targets(agg, adapters, cfg);
  if (tg.length) {
    L.push("## Targets for our Notifier layer (computed from the medians above)");
    L.push('');
    L.push('| target | measured | verdict |');
    L.push('|---|---|---|');
    for (const t of tg) L.push(`| ${esc(t.target)} | ${esc(t.measured)} | ${t.verdict} |`);
    L.push('');
  }

  // heap per watch: the adapter's retained heap less an empty Node process's, per inotify watch
  const base = agg['node-empty']?.['setup.heapMb']?.med;
  const perWatch = [];
  for (const a of adapters) {
    const h = agg[a.name]?.['setup.heapMb']?.med;
    const w = agg[a.name]?.['setup.watches']?.med;
    if (a.name === 'node-empty' || h == null || !w) continue;
    const sh = agg[a.name]?.['scale.heapMb']?.med;
    const sw = agg[a.name]?.['scale.watches']?.med;
    perWatch.push(
      `| ${esc(a.label)} | ${fmt(w, 0)} | ${fmt(h, 1)} | ${base != null ? fmt(((h - base) * 1024 * 1024) / w, 0) : ''} | ` +
        `${sh != null && sw ? fmt(((sh - h) * 1024 * 1024) / (sw - w), 0) : ''} |`,
    );
  }
  if (perWatch.length) {
    L.push('## JS heap per watch');
    L.push('');
    L.push(
      `Heap = V8 heapUsed right after READY and a forced gc(). Per watch = (heap − empty Node process's heap${base != null ? `, ${fmt(base, 1)} MB` : ''}) / watches` +
        `${cfg.sizes.scaleDirs ? '; marginal = (scale heap − setup heap) / (scale watches − setup watches)' : ''}.`,
    );
    L.push('');
    L.push('| adapter | watches | heap MB | bytes/watch | marginal bytes/watch (scale) |');
    L.push('|---|---|---|---|---|');
    L.push(...perWatch);
    L.push('');
  }

  // rsync event kinds from the last ok run
  const rk = [];
  for (const a of adapters) {
    const r = results.filter((x) => x.adapter === a.name && x.scenarioKey === 'rsync' && x.status === 'ok').at(-1);
    if (r?.detail?.kinds) rk.push(`| ${esc(a.label)} | ${esc(JSON.stringify(r.detail.kinds.temp))} | ${esc(JSON.stringify(r.detail.kinds.final))} |`);
  }
  if (rk.length) {
    L.push('## rsync event kinds (last run; temp = `.name.XXXXXX`, final = `name`)');
    L.push('');
    L.push('| adapter | temp-file events | final-file events |');
    L.push('|---|---|---|');
    L.push(...rk);
    L.push('');
  }

  const notes = [];
  for (const r of results) {
    if (r.status !== 'ok' || r.note)
      notes.push(`- ${r.adapter}, ${r.scenario}, run ${r.run}: **${r.status}**${r.reason ? ` — ${r.reason}` : ''}${r.note ? ` — ${r.note}` : ''}`);
  }
  for (const a of adapters) if (a.unavailable) notes.push(`- ${a.name}: ${a.unavailable}`);
  if (notes.length) {
    L.push('## Failures, timeouts and notes');
    L.push('');
    L.push(...[...new Set(notes)].map(esc));
    L.push('');
  }
  return L.join('\n');
}

const PEERS = ['parcel', 'chokidar', 'fswatch', 'inotifywait', 'inotify-npm'];

/** The project's targets, checked against the medians (ours-notifier vs c-raw and the peers). */
function targets(agg, adapters, cfg) {
  const N = agg['ours-notifier'];
  const C = agg['c-raw'];
  if (!N || N['setup.watchMs']?.n === 0) return [];
  const med = (a, k) => (a && a[k] && a[k].n ? a[k].med : null);
  const peers = adapters.filter((a) => PEERS.includes(a.name) && !a.unavailable);
  const verdict = (ok) => (ok === null ? 'n/a' : ok ? '**met**' : '**missed**');
  const out = [];

  // events/s: the backlog drain (reader capacity), then the burst
  const nE = med(N, 'tp.drainEventsPerS');
  const cE = med(C, 'tp.drainEventsPerS');
  out.push({
    target: "Notifier events/s ≥ 0.5 × C reader's (backlog drain, full pathnames)",
    measured: nE != null && cE != null ? `${fmt(nE, 0)} vs ${fmt(cE, 0)} events/s = ${(nE / cE).toFixed(2)} ×` : 'no data',
    verdict: verdict(nE != null && cE != null ? nE >= 0.5 * cE : null),
  });
  const nCpu = med(N, 'tp.drainCpuNsPerEvent');
  const cCpu = med(C, 'tp.drainCpuNsPerEvent');
  out.push({
    target: "(same, by CPU cost, less sensitive to other load) Notifier CPU per event ≤ 2 × C reader's",
    measured: nCpu != null && cCpu != null ? `${fmt(nCpu, 0)} vs ${fmt(cCpu, 0)} ns/event = ${(nCpu / cCpu).toFixed(2)} ×` : 'no data',
    verdict: verdict(nCpu != null && cCpu != null ? nCpu <= 2 * cCpu : null),
  });
  const peerE = peers.map((a) => [a, med(agg[a.name], 'tp.drainCreatesPerS')]);
  const nC = med(N, 'tp.drainCreatesPerS');
  const beaten = peerE.filter(([, v]) => v != null && nC != null && v >= nC).map(([a]) => a.label);
  out.push({
    target: 'Notifier creates/s (backlog) above every peer',
    measured:
      `${fmt(nC, 0)}/s; peers: ` +
      peerE.map(([a, v]) => `${a.name} ${v == null ? 'no figure' : fmt(v, 0)}`).join(', '),
    verdict: verdict(nC == null ? null : beaten.length === 0),
  });

  // setup
  const nS = med(N, 'setup.watchMs');
  const cS = med(C, 'setup.watchMs');
  out.push({
    target: `setup (${cfg.sizes.setupDirs.toLocaleString('en-US')} dirs) watch ms ≤ 1.3 × C reader's`,
    measured: nS != null && cS != null ? `${fmt(nS, 0)} vs ${fmt(cS, 0)} ms = ${(nS / cS).toFixed(2)} ×` : 'no data',
    verdict: verdict(nS != null && cS != null ? nS <= 1.3 * cS : null),
  });
  if (cfg.sizes.scaleDirs) {
    const nS2 = med(N, 'scale.watchMs');
    const cS2 = med(C, 'scale.watchMs');
    out.push({
      target: `scale (${cfg.sizes.scaleDirs.toLocaleString('en-US')} dirs) watch ms ≤ 1.3 × C reader's`,
      measured: nS2 != null && cS2 != null ? `${fmt(nS2, 0)} vs ${fmt(cS2, 0)} ms = ${(nS2 / cS2).toFixed(2)} ×` : 'no data',
      verdict: verdict(nS2 != null && cS2 != null ? nS2 <= 1.3 * cS2 : null),
    });
  }
  const peerS = peers.map((a) => [a, med(agg[a.name], 'setup.watchMs')]);
  out.push({
    target: 'setup watch ms below every peer',
    measured: `${fmt(nS, 0)} ms; peers: ` + peerS.map(([a, v]) => `${a.name} ${v == null ? 'no figure' : fmt(v, 0)}`).join(', '),
    verdict: verdict(nS == null ? null : peerS.every(([, v]) => v == null || v > nS)),
  });

  // loss
  const rep = N['tp.reported'];
  const ovf = N['tp.overflow'];
  const n = cfg.sizes.throughputFiles;
  out.push({
    target: `0 loss in the burst (${n.toLocaleString('en-US')} creates, every run)`,
    measured: rep?.n ? `reported ${fmt(rep.min, 0)}–${fmt(rep.max, 0)} of ${fmt(n, 0)}; Q_OVERFLOW ${fmt(ovf?.min, 0)}–${fmt(ovf?.max, 0)}` : 'no data',
    verdict: verdict(rep?.n ? rep.min === n && rep.bad.length === 0 : null),
  });
  const race = N['race.files'];
  out.push({
    target: `race: ${cfg.sizes.raceDirs}/${cfg.sizes.raceDirs} files (every run)`,
    measured: race?.n ? `${fmt(race.min, 0)}–${fmt(race.max, 0)}` : 'no data',
    verdict: verdict(race?.n ? race.min === cfg.sizes.raceDirs && race.bad.length === 0 : null),
  });
  const p99 = med(N, 'lat.p99');
  out.push({
    target: 'latency p99 ≤ 2 ms',
    measured: p99 != null ? `${p99.toFixed(2)} ms (runs ${N['lat.p99'].min.toFixed(2)}–${N['lat.p99'].max.toFixed(2)})` : 'no data',
    verdict: verdict(p99 != null ? p99 <= 2 : null),
  });
  return out;
}
