#!/usr/bin/env node
// Benchmark harness for inotify-native (issue 7): our three layers against a raw
// C inotify reader and the Node peers. See bench/README.md for method and protocol.
//
//   node bench/run.mjs [--quick] [--runs N] [--adapters a,b] [--scenarios x,y]
//                      [--out FILE.md] [--json FILE.json] [--size key=value,...]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compileC, ensureTools, installPeers, machineInfo, mountTmpfs, rmrf, unmount } from './harness/prepare.mjs';
import { live, nowNs } from './harness/proc.mjs';
import { aggregate, markdown } from './harness/report.mjs';
import * as S from './harness/scenarios.mjs';
import { curveMarkdown, curveSvg, scaleCurve } from './harness/scale-curve.mjs';
import { ladderMarkdown, latencyLadder } from './harness/latency-ladder.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH, '..');
const WORK = join(BENCH, '.work');
const PEERS = join(WORK, 'peers');
const OURS_LIB = join(REPO, 'lib', 'index.js');

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    adapters: { type: 'string' },
    scenarios: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'string' },
    size: { type: 'string' },
    'curve-sizes': { type: 'string' },
    svg: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const ALL_SCENARIOS = ['setup', 'scale', 'throughput', 'latency', 'race', 'rsync', 'scale-curve', 'latency-ladder'];
/** Scenarios with their own loop and table (not one row per adapter per run). */
const OWN_LOOP = ['scale-curve', 'latency-ladder'];
const SCENARIO_KEY = { setup: 'setup', scale: 'scale', throughput: 'tp', latency: 'lat', race: 'race', rsync: 'rsync' };

if (opt.help) {
  console.log(`usage: node bench/run.mjs [--quick] [--runs N] [--adapters a,b] [--scenarios ${ALL_SCENARIOS.join(',')}]
                        [--out FILE.md] [--json FILE.json] [--size key=value,...]
                        [--curve-sizes 5000,50000,...] [--svg FILE.svg]
size keys: setupDirs, scaleDirs (0 skips), filesPerDir, throughputFiles, backlogFiles, latencyWrites, raceDirs, curveFilesPerDir,
           ladderRounds, ladderWrites
scale-curve: directories per tree (default 5000,50000,200000,500000; quick 5000,50000); the chart goes to --svg
(default bench/scale-curve.svg in full mode, bench/.work/scale-curve.svg with --quick or --curve-sizes)`);
  process.exit(0);
}

const quick = opt.quick;
const cfg = {
  quick,
  runs: Number(opt.runs ?? (quick ? 1 : 3)),
  sizes: quick
    ? { setupDirs: 1000, scaleDirs: 0, filesPerDir: 10, throughputFiles: 10_000, backlogFiles: 5000, latencyWrites: 100, raceDirs: 200, curveFilesPerDir: 4, ladderRounds: 2, ladderWrites: 100 }
    : { setupDirs: 5000, scaleDirs: 50_000, filesPerDir: 10, throughputFiles: 50_000, backlogFiles: 5000, latencyWrites: 500, raceDirs: 200, curveFilesPerDir: 4, ladderRounds: 6, ladderWrites: 500 },
  curveSizes: opt['curve-sizes'] ? opt['curve-sizes'].split(',').map(Number) : quick ? [5000, 50_000] : [5000, 50_000, 200_000, 500_000],
  latencyIntervalUs: 5000,
  backlogRounds: quick ? 3 : 5,
  quietMs: quick ? 300 : 500,
  timeouts: quick
    ? { setup: 30_000, scale: 60_000, throughput: 20_000, latency: 20_000, race: 20_000, rsync: 20_000 }
    : { setup: 120_000, scale: 120_000, throughput: 120_000, latency: 60_000, race: 60_000, rsync: 60_000 },
};
for (const kv of (opt.size ?? '').split(',').filter(Boolean)) {
  const [k, v] = kv.split('=');
  if (!(k in cfg.sizes) || !Number.isFinite(Number(v))) throw new Error(`bad --size ${kv}`);
  cfg.sizes[k] = Number(v);
}
if (!(cfg.runs >= 1)) throw new Error('--runs must be >= 1');
if (!cfg.curveSizes.every((n) => Number.isInteger(n) && n >= 1)) throw new Error(`bad --curve-sizes ${opt['curve-sizes']}`);
// A full run's chart is the one shown in RESULTS.md and the README; smaller runs write theirs aside.
const svgPath = opt.svg ?? (quick || opt['curve-sizes'] ? join(WORK, 'scale-curve.svg') : join(BENCH, 'scale-curve.svg'));

const log = (...a) => console.error('[bench]', ...a);

// ---------------------------------------------------------------- adapters
const nodeAdapter = (file) => (root, dump) => ({
  cmd: process.execPath,
  args: ['--expose-gc', join(BENCH, 'adapters', file), '--root', root, '--dump', dump],
  env: { BENCH_PEERS_DIR: PEERS, BENCH_OURS_LIB: OURS_LIB },
});

const ADAPTERS = [
  { name: 'c-raw', label: 'c-raw: C reader (baseline)', heap: false, c: true },
  { name: 'ours-raw', label: 'ours-raw: Inotify batches', heap: true, ours: ['Inotify'], file: 'ours-raw.mjs' },
  { name: 'ours-notifier', label: 'ours-notifier: Notifier events', heap: true, ours: ['WatchManager', 'Notifier'], file: 'ours-notifier.mjs' },
  { name: 'ours-watch', label: 'ours-watch: watch() listener', heap: true, ours: ['watch'], only: ['scale-curve', 'latency-ladder'], file: 'ours-watch.mjs' },
  { name: 'ours-processevent', label: 'ours-processevent: ProcessEvent', heap: true, ours: ['WatchManager', 'Notifier', 'ProcessEvent'], file: 'ours-processevent.mjs' },
  { name: 'parcel', label: '@parcel/watcher', heap: true, peer: '@parcel/watcher', file: 'parcel.mjs' },
  { name: 'chokidar', label: 'chokidar', heap: true, peer: 'chokidar', perFileWatches: true, file: 'chokidar.mjs' },
  { name: 'fswatch', label: `fs.watch recursive (node ${process.version})`, heap: true, perFileWatches: true, file: 'fswatch.mjs' },
  { name: 'inotifywait', label: 'inotifywait -m -r', heap: false, tool: 'inotifywait', file: 'inotifywait.mjs' },
  { name: 'inotify-npm', label: 'inotify (npm)', heap: true, peer: 'inotify', file: 'inotify-npm.mjs' },
  { name: 'node-floor', label: 'fs.watch(dir), not recursive (libuv\'s reader: Node\'s floor)', heap: false, only: ['latency-ladder'], file: 'node-floor.mjs' },
  { name: 'node-empty', label: 'node, no watcher', heap: true, noProbe: true, only: ['setup', 'scale', 'scale-curve'], file: 'node-empty.mjs' },
];

const wantAdapters = opt.adapters ? opt.adapters.split(',') : ADAPTERS.map((a) => a.name);
for (const n of wantAdapters) if (!ADAPTERS.some((a) => a.name === n)) throw new Error(`unknown adapter ${n}`);
const adapters = ADAPTERS.filter((a) => wantAdapters.includes(a.name));
let scenarios = opt.scenarios ? opt.scenarios.split(',') : ALL_SCENARIOS;
for (const s of scenarios) if (!ALL_SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`);
if (!cfg.sizes.scaleDirs) scenarios = scenarios.filter((s) => s !== 'scale');

// Mask names for adapters that record raw numeric masks (ours-raw).
const MASKS = [
  [0x4000, 'Q_OVERFLOW'], [0x100, 'CREATE'], [0x40, 'MOVED_FROM'], [0x80, 'MOVED_TO'], [0x8, 'CLOSE_WRITE'],
  [0x2, 'MODIFY'], [0x4, 'ATTRIB'], [0x200, 'DELETE'], [0x400, 'DELETE_SELF'], [0x800, 'MOVE_SELF'],
  [0x20, 'OPEN'], [0x1, 'ACCESS'], [0x10, 'CLOSE_NOWRITE'], [0x8000, 'IGNORED'], [0x2000, 'UNMOUNT'],
];
const kindName = (k) => {
  if (typeof k !== 'number') return String(k).replace(/^IN_/, '');
  const hit = MASKS.find(([b]) => k & b);
  return hit ? hit[1] : `0x${k.toString(16)}`;
};

// ---------------------------------------------------------------- main
const tmpfsDir = join(WORK, 'tmpfs');
let mounted = false;
let exitCode = 0;
let restoreWatchLimit = () => {};

function cleanup() {
  for (const p of live) p.kill();
  restoreWatchLimit();
  if (mounted) unmount(tmpfsDir);
  mounted = false;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    log(`${sig}: killing adapters, unmounting`);
    cleanup();
    process.exit(130);
  });
}

const t0 = nowNs();
try {
  mkdirSync(WORK, { recursive: true });
  const bins = compileC(BENCH, join(WORK, 'bin'));
  const needPeers = adapters.some((a) => a.peer);
  const peers = needPeers ? installPeers(PEERS, log) : {};
  const tools = ensureTools(log);
  const machine = machineInfo();

  // Availability of each adapter, and the versions line.
  const versions = [];
  let oursVersion = null;
  if (adapters.some((a) => a.ours)) {
    if (!existsSync(OURS_LIB)) {
      oursVersion = { ok: false, reason: `failed: ${OURS_LIB} not built (run npm install or npm run build)` };
    } else {
      const r = spawnSync(
        process.execPath,
        ['-e', `const l=require(${JSON.stringify(OURS_LIB)});console.log(JSON.stringify(Object.keys(l).filter(k=>typeof l[k]==='function')))`],
        { encoding: 'utf8' },
      );
      const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
      const git = spawnSync('git', ['-C', REPO, 'log', '-1', '--format=%h'], { encoding: 'utf8' }).stdout.trim();
      const label = `${pkg.name} ${pkg.version}${git ? ` (git ${git})` : ''}`;
      if (r.status === 0) {
        oursVersion = { ok: true, label, exports: new Set(JSON.parse(r.stdout)) };
        versions.push(label);
      } else {
        const lines = r.stderr.trim().split('\n');
        const why = lines.find((l) => /^\w*Error\b/.test(l.trim())) ?? lines.find((l) => /Error/.test(l)) ?? r.stderr.trim().slice(0, 200);
        oursVersion = { ok: false, reason: `failed: lib does not load: ${why}` };
      }
    }
  }
  for (const a of adapters) {
    if (a.ours && !oursVersion.ok) a.unavailable = oursVersion.reason;
    else if (a.ours) {
      const missing = a.ours.filter((k) => !oursVersion.exports.has(k));
      if (missing.length) a.unavailable = `failed: lib/index.js does not export ${missing.join(', ')} (yet)`;
    }
    if (a.peer) {
      const p = peers[a.peer];
      a.label = `${a.label} ${p.version ?? ''}`.trim();
      if (!p.ok) a.unavailable = p.reason;
      versions.push(
        `${a.peer} ${p.version ?? '?'}${p.ok ? '' : ' (not installed: ' + p.reason.split(':')[0] + ')'}` +
          (p.engines && p.ok ? ` (declares engines node ${p.engines})` : ''),
      );
    }
    if (a.tool) {
      const t = tools[a.tool];
      if (!t.ok) a.unavailable = `failed: ${t.reason}`;
      else a.label = `${t.version} (-m -r)`;
      versions.push(t.ok ? t.version : `${a.tool} missing`);
    }
    a.spawnSpec = a.c
      ? (root, dump) => ({ cmd: bins.raw_inotify, args: ['--root', root, '--dump', dump] })
      : nodeAdapter(a.file);
  }
  versions.push(tools.rsync.ok ? tools.rsync.version : 'rsync missing');

  // Everything measured happens on a tmpfs when we can mount one (no disk noise).
  mounted = mountTmpfs(tmpfsDir);
  const work = mounted ? tmpfsDir : join(WORK, 'disk');
  if (!mounted) {
    rmrf(work);
    mkdirSync(work, { recursive: true });
  }
  const fsName = mounted ? 'tmpfs (mounted by the harness)' : 'the local disk (could not mount a tmpfs)';
  log(`watched dirs on ${fsName}: ${work}`);
  const dumpDir = join(work, 'dumps');
  mkdirSync(dumpDir, { recursive: true });

  const trees = {};
  const makeTree = async (which, dirs) => {
    if (trees[which]) return trees[which];
    const root = join(work, `tree-${which}`);
    mkdirSync(root);
    const t = nowNs();
    const out = await S.runProgram(bins.writer, ['tree', root, String(dirs), String(cfg.sizes.filesPerDir)]);
    log(`made ${which} tree: ${dirs} dirs × ${cfg.sizes.filesPerDir} files in ${((nowNs() - t) / 1e6).toFixed(0)} ms`);
    trees[which] = { root, last: /LAST (.+)/.exec(out)[1] };
    return trees[which];
  };
  let rsyncSrc = null;
  const rsyncNames = Array.from({ length: 20 }, (_, i) => `m${String(i).padStart(2, '0')}.bin`);
  const makeRsyncSrc = async () => {
    if (rsyncSrc) return rsyncSrc;
    rsyncSrc = join(work, 'rsync-src');
    mkdirSync(rsyncSrc);
    const { randomBytes } = await import('node:crypto');
    for (const n of rsyncNames) writeFileSync(join(rsyncSrc, n), randomBytes(1 << 20));
    return rsyncSrc;
  };

  const results = [];
  for (let run = 1; run <= cfg.runs; run++) {
    for (const scenario of scenarios) {
      if (OWN_LOOP.includes(scenario)) continue; // their own loops, below
      for (const a of adapters) {
        if (a.unavailable) continue;
        if (a.only && !a.only.includes(scenario)) continue;
        if ((scenario === 'rsync' && !tools.rsync.ok) || (scenario === 'race' && a.name === 'node-empty')) continue;
        const ctx = { cfg, bins, work, dumpDir, run, scenario, adapter: a, kindName, limits: machine.limits };
        let r;
        if (scenario === 'scale' && a.perFileWatches) {
          const need = cfg.sizes.scaleDirs * (cfg.sizes.filesPerDir + 1);
          const limit = machine.limits.max_user_watches;
          if (need > limit * 0.8) {
            r = {
              status: 'skipped',
              reason: `would need about ${need.toLocaleString('en-US')} inotify watches (one per file and per dir, see its setup watches figure) against max_user_watches ${limit}; not run so other inotify users on this machine are not starved`,
              metrics: {},
              detail: {},
            };
          }
        }
        try {
          if (!r && scenario === 'setup') r = await S.setup(ctx, await makeTree('setup', cfg.sizes.setupDirs), 'setup');
          if (!r && scenario === 'scale') r = await S.setup(ctx, await makeTree('scale', cfg.sizes.scaleDirs), 'scale');
          if (!r && scenario === 'throughput') r = await S.throughput(ctx);
          if (!r && scenario === 'latency') r = await S.latency(ctx);
          if (!r && scenario === 'race') r = await S.race(ctx);
          if (!r && scenario === 'rsync') r = await S.rsync(ctx, await makeRsyncSrc(), rsyncNames);
        } catch (err) {
          // A scenario function itself threw: that is a harness bug, not an adapter result.
          r = { status: 'failed', reason: `harness error: ${err.stack ?? err}`, metrics: {}, detail: {} };
          exitCode = 1;
        }
        results.push({ run, scenario, scenarioKey: SCENARIO_KEY[scenario], adapter: a.name, ...r });
        const shown = Object.entries(r.metrics)
          .map(([k, v]) => `${k.split('.')[1]}=${typeof v === 'number' ? +v.toFixed(2) : v}`)
          .join(' ');
        log(`run ${run}/${cfg.runs} ${scenario} ${a.name}: ${r.status}${r.reason ? ` (${r.reason})` : ''} ${shown}`);
        // The baseline is our own code: if it fails, the harness is broken.
        if (a.name === 'c-raw' && r.status !== 'ok') exitCode = 1;
      }
    }
  }

  let curve = null;
  if (scenarios.includes('scale-curve')) {
    try {
      const rows = await scaleCurve({
        adapters: adapters.filter((a) => a.spawnSpec),
        bins, work, sizes: cfg.curveSizes, filesPerDir: cfg.sizes.curveFilesPerDir, runs: cfg.runs, log,
        onRestore: (restore) => (restoreWatchLimit = restore),
      });
      const svgRel = relative(opt.out ? dirname(resolve(opt.out)) : process.cwd(), svgPath);
      writeFileSync(svgPath, curveSvg(rows, { title: `Recursive watch setup against tree size (${cfg.sizes.curveFilesPerDir} files per directory, tmpfs)` }));
      curve = { rows, md: curveMarkdown(rows, { runs: cfg.runs, filesPerDir: cfg.sizes.curveFilesPerDir, loadavg: machineInfo().loadavg, svg: svgRel }) };
      log(`scale curve chart: ${svgPath}`);
    } catch (err) {
      curve = { rows: [], md: `### Scale curve\n\nfailed: ${err.message}` };
      exitCode = 1;
    }
  }

  let ladder = null;
  if (scenarios.includes('latency-ladder')) {
    const ladderCfg = { rounds: cfg.sizes.ladderRounds, writes: cfg.sizes.ladderWrites, intervalUs: cfg.latencyIntervalUs };
    try {
      const result = await latencyLadder({
        adapters: adapters.filter((a) => a.spawnSpec), cfg, bins, work, dumpDir, kindName, log,
        ...ladderCfg, timeoutMs: cfg.timeouts.latency + ladderCfg.writes * (ladderCfg.intervalUs / 1000),
      });
      ladder = { result, md: ladderMarkdown(result, { ...ladderCfg, loadavg: machineInfo().loadavg }) };
    } catch (err) {
      ladder = { result: null, md: `### Latency ladder\n\nfailed: ${err.message}` };
      exitCode = 1;
    }
  }

  const durationS = (nowNs() - t0) / 1e9;
  // Adapters only the scale curve runs have rows in its own table, not in the scenario tables.
  const tabled = adapters.filter((a) => !(a.only !== undefined && a.only.every((x) => OWN_LOOP.includes(x))));
  const agg = aggregate(results, tabled, cfg);
  const meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    argv: process.argv.slice(2),
    machine,
    loadavgEnd: machineInfo().loadavg,
    versions,
    fs: fsName,
  };
  let md = results.length !== 0 ? markdown({ meta, cfg, adapters: tabled, agg, results, durationS })
    : `# inotify-native benchmark\n\nGenerated ${meta.date} by \`node bench/run.mjs ${meta.argv.join(' ')}\` in ${durationS.toFixed(0)} s on ` +
      `nproc ${machine.nproc} (${machine.model}), kernel ${machine.kernel}, node ${machine.node}, watched dirs on ${fsName}.`;
  if (curve) md += `\n\n${curve.md}`;
  if (ladder) md += `\n\n${ladder.md}`;
  console.log(md);
  if (opt.out) writeFileSync(opt.out, md + '\n');
  if (opt.json) {
    const strip = adapters.map(({ spawnSpec, ...rest }) => rest);
    writeFileSync(opt.json, JSON.stringify({ meta, cfg, adapters: strip, results, aggregate: agg, scaleCurve: curve?.rows, latencyLadder: ladder?.result }, null, 1) + '\n');
  }
  log(`done in ${durationS.toFixed(1)} s${exitCode ? ' (with harness failures)' : ''}`);
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  cleanup();
}
process.exit(exitCode);
