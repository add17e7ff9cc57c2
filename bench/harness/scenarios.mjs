// The five scenarios. Each starts one fresh adapter process, measures, and
// returns { status: 'ok' | 'timeout' | 'failed' | 'skipped', reason?, metrics, detail }.

import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AdapterProc, TimeoutError, inotifyWatches, nowNs, rssKb } from './proc.mjs';

const MB = 1024 * 1024;

/** Runs a program to completion; resolves with its stdout (rejects on failure). */
export function runProgram(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`)),
    );
  });
}

/**
 * Starts the adapter on root, waits for READY and hands it to body(proc, deadline).
 * Turns every way of going wrong into a result instead of a hang: the process
 * group is killed on timeout and in every case before returning.
 */
export async function withAdapter(ctx, root, timeoutMs, body) {
  const dump = join(ctx.dumpDir, `${ctx.adapter.name}-${ctx.scenario}-${ctx.run}.json`);
  const proc = new AdapterProc(ctx.adapter.spawnSpec(root, dump)).start();
  const deadline = proc.tSpawn + timeoutMs * 1e6;
  const partial = { metrics: {}, detail: {} };
  try {
    await proc.ready(deadline);
    const r = await body(proc, deadline, dump, partial);
    return { status: 'ok', ...r };
  } catch (err) {
    const timedOut = err instanceof TimeoutError;
    partial.detail.lastProgress = proc.lastProgress;
    return {
      status: timedOut ? 'timeout' : 'failed',
      reason: timedOut
        ? `${err.message} after ${timeoutMs / 1000} s (process group killed; ${proc.lastProgress} events reported before)`
        : String(err.message ?? err),
      ...partial,
    };
  } finally {
    proc.kill();
    try {
      unlinkSync(dump);
    } catch {
      /* not written */
    }
  }
}

/** Distinct relative paths reported, from a dump. */
function distinctPaths(events) {
  const s = new Set();
  for (const e of events) s.add(e[2]);
  return s;
}

/** 1 & 1b. Time until the recursive watch is armed, memory right after, and a probe event. */
export async function setup(ctx, tree, prefix) {
  return withAdapter(ctx, tree.root, ctx.cfg.timeouts[ctx.scenario], async (proc, deadline, dump, partial) => {
    const info = proc.readyInfo;
    const pid = proc.watchPid();
    const m = partial.metrics;
    m[`${prefix}.readyMs`] = (info.t - proc.tSpawn) / 1e6;
    m[`${prefix}.watchMs`] = (info.t - info.tStart) / 1e6;
    m[`${prefix}.rssMb`] = (rssKb(pid) ?? info.rssKb) / 1024;
    if (ctx.adapter.heap) m[`${prefix}.heapMb`] = info.heapUsed / MB;
    m[`${prefix}.watches`] = inotifyWatches(pid);
    // A file in the deepest, last-made directory must be reported.
    if (ctx.adapter.noProbe) {
      await proc.stop(dump, deadline);
      return partial;
    }
    const probe = `probe-${ctx.adapter.name}-${ctx.run}`;
    const probePath = join(tree.last, probe);
    await proc.arm(probe, deadline);
    writeFileSync(probePath, 'x\n');
    let probeOk = true;
    try {
      await proc.waitSeen(probe, Math.min(deadline, nowNs() + 5e9));
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      probeOk = false;
    } finally {
      rmSync(probePath, { force: true });
    }
    partial.detail.probe = probeOk;
    partial.detail.adapterWatches = info.watches ?? null;
    await proc.stop(dump, deadline);
    return { ...partial, ...(probeOk ? {} : { note: 'probe file in the last directory not reported within 5 s' }) };
  });
}

/** 2. The C writer creates N files as fast as it can in one watched dir, then "sentinel". */
export async function throughput(ctx) {
  const n = ctx.cfg.sizes.throughputFiles;
  const dir = join(ctx.work, `tp-${ctx.run}-${ctx.adapter.name}`);
  mkdirSync(dir);
  try {
    return await withAdapter(ctx, dir, ctx.cfg.timeouts.throughput, async (proc, deadline, dump, partial) => {
      const m = partial.metrics;
      const cpu0 = proc.cpuMs();
      await proc.arm('sentinel', deadline);
      const out = await runProgram(ctx.bins.writer, ['burst', dir, String(n)]);
      const tStart = Number(/START (\d+)/.exec(out)[1]);
      const [, tEnd, tSent] = /END (\d+) (\d+)/.exec(out).map(Number);
      m['tp.writerMs'] = (tEnd - tStart) / 1e6;
      const tSeen = await proc.sentinelOrIdle('sentinel', deadline, 3000);
      if (tSeen !== null) {
        m['tp.sentinelMs'] = (tSeen - tStart) / 1e6;
        m['tp.lagMs'] = Math.max(0, (tSeen - tSent) / 1e6);
      } else {
        m['tp.sentinelMs'] = 'sentinel lost';
        partial.note = 'sentinel never reported (adapter went idle without it: silent loss)';
      }
      const burst = await proc.drain(ctx.cfg.quietMs, 10_000, deadline);
      m['tp.cpuMs'] = proc.cpuMs() - cpu0;
      if (tSeen !== null) {
        // The backlog rounds' events are counted, not kept (see EventLog in adapters/common.mjs).
        proc.send('KEEP 0');
        await backlog(ctx, proc, dir, deadline, m, partial.detail);
        proc.send('KEEP 1');
      }
      const d = await proc.stop(dump, deadline);
      const files = new Set();
      for (const e of d.events) {
        const b = basename(e[2]);
        if (b.length === 7 && b[0] === 'f') files.add(b);
      }
      m['tp.reported'] = files.size;
      m['tp.events'] = burst.n;
      if (files.size) m['tp.cpuUsPerCreate'] = (m['tp.cpuMs'] * 1000) / files.size;
      if (tSeen !== null) m['tp.createsPerS'] = files.size / ((tSeen - tStart) / 1e9);
      m['tp.overflow'] = d.overflow ?? null;
      return partial;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * 2b. Reader capacity without a writer competing for the CPU: the adapter's
 * process group is stopped (SIGSTOP), K files are written (their events stay
 * queued in the kernel, K chosen to fit max_queued_events), then SIGCONT;
 * time from SIGCONT until the adapter reports that round's sentinel. Repeated
 * `rounds` times in the same process (JIT and GC make single rounds noisy);
 * the medians over rounds are reported.
 */
async function backlog(ctx, proc, dir, deadline, m, detail) {
  const perFile = 3; // CREATE, MODIFY, CLOSE_WRITE for open/write/close
  const k = Math.min(ctx.cfg.sizes.backlogFiles, Math.floor((ctx.limits.max_queued_events - 64) / perFile) - 1);
  const rounds = [];
  for (let r = 0; r < ctx.cfg.backlogRounds; r++) {
    const sentinel = `sentinel2-${r}`;
    await proc.arm(sentinel, deadline); // WAIT first, so the adapter matches it as it arrives
    const before = await proc.count(deadline);
    process.kill(-proc.pid, 'SIGSTOP');
    let tCont;
    let cpu0;
    try {
      await runProgram(ctx.bins.writer, ['burst', dir, String(k), `g${r}`, sentinel]);
    } finally {
      cpu0 = proc.cpuMs();
      tCont = nowNs();
      process.kill(-proc.pid, 'SIGCONT');
    }
    const tSeen = await proc.sentinelOrIdle(sentinel, deadline, 3000);
    // CPU read as soon as the sentinel is reported: later the adapter's GC
    // (of its own in-memory event log too) would be counted as drain work.
    const cpuMs = proc.cpuMs() - cpu0;
    if (tSeen === null) {
      rounds.push({ lost: true });
      continue;
    }
    const after = await proc.drain(Math.min(ctx.cfg.quietMs, 300), 5000, deadline);
    const ms = (tSeen - tCont) / 1e6;
    rounds.push({ ms, cpuMs, events: after.n - before.n });
  }
  detail.backlog = { files: k, rounds };
  const ok = rounds.filter((x) => !x.lost);
  if (!ok.length) {
    m['tp.drainMs'] = 'sentinel lost';
    return;
  }
  m['tp.drainMs'] = median(ok.map((x) => x.ms));
  m['tp.drainCreatesPerS'] = median(ok.map((x) => (k + 1) / (x.ms / 1000)));
  m['tp.drainEventsPerS'] = median(ok.map((x) => x.events / (x.ms / 1000)));
  m['tp.drainCpuNsPerEvent'] = median(ok.map((x) => (x.cpuMs * 1e6) / x.events));
  if (ok.length < rounds.length) detail.backlogLostRounds = rounds.length - ok.length;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const i = s.length >> 1;
  return s.length % 2 ? s[i] : (s[i - 1] + s[i]) / 2;
}

/**
 * Single writes spaced `interval` µs apart into `dir`, watched by `proc`
 * (READY): the latency of each, write start -> the first event naming that
 * file, sorted (ms), and how many writes were never reported.
 */
export async function latencySamples(ctx, proc, dir, n, intervalUs, deadline, dump) {
  await proc.arm('sentinel', deadline);
  const out = await runProgram(ctx.bins.writer, ['latency', dir, String(n), String(intervalUs)]);
  const writes = new Map();
  for (const [, i, t] of out.matchAll(/^W (\d+) (\d+)$/gm)) writes.set(`lat${i.padStart(5, '0')}`, Number(t));
  await proc.sentinelOrIdle('sentinel', deadline, 3000);
  await proc.drain(ctx.cfg.quietMs, 5000, deadline);
  const d = await proc.stop(dump, deadline);
  const first = new Map();
  for (const e of d.events) {
    const b = basename(e[2]);
    if (writes.has(b) && !first.has(b)) first.set(b, e[0]);
  }
  const lat = [];
  for (const [name, t] of writes) if (first.has(name)) lat.push((first.get(name) - t) / 1e6);
  lat.sort((a, b) => a - b);
  return { lat, missed: n - lat.length };
}

/** 3. Single writes spaced INTERVAL apart: write start -> first event for that file. */
export async function latency(ctx) {
  const n = ctx.cfg.sizes.latencyWrites;
  const dir = join(ctx.work, `lat-${ctx.run}-${ctx.adapter.name}`);
  mkdirSync(dir);
  try {
    return await withAdapter(ctx, dir, ctx.cfg.timeouts.latency, async (proc, deadline, dump, partial) => {
      const m = partial.metrics;
      const { lat, missed } = await latencySamples(ctx, proc, dir, n, ctx.cfg.latencyIntervalUs, deadline, dump);
      m['lat.p50'] = quantile(lat, 0.5);
      m['lat.p99'] = quantile(lat, 0.99);
      m['lat.missed'] = missed;
      partial.detail.max = lat.at(-1) ?? null;
      return partial;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function quantile(sorted, q) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** 4. mkdir -p rNNN/b/c/d && echo x > rNNN/b/c/d/f, 200 times from a shell loop. */
export async function race(ctx) {
  const n = ctx.cfg.sizes.raceDirs;
  const dir = join(ctx.work, `race-${ctx.run}-${ctx.adapter.name}`);
  mkdirSync(dir);
  try {
    return await withAdapter(ctx, dir, ctx.cfg.timeouts.race, async (proc, deadline, dump, partial) => {
      const m = partial.metrics;
      await proc.arm('sentinel', deadline);
      await runProgram('sh', [
        '-c',
        `for i in $(seq -w 1 ${n}); do mkdir -p r$i/b/c/d && echo x > r$i/b/c/d/f; done; echo x > sentinel`,
      ], { cwd: dir });
      await proc.sentinelOrIdle('sentinel', deadline, 3000);
      await proc.drain(ctx.cfg.quietMs, 5000, deadline);
      const d = await proc.stop(dump, deadline);
      const paths = distinctPaths(d.events);
      let files = 0;
      let leafDirs = 0;
      for (const p of paths) {
        if (/^r\d+\/b\/c\/d\/f$/.test(p)) files++;
        else if (/^r\d+\/b\/c\/d$/.test(p)) leafDirs++;
      }
      m['race.files'] = files;
      partial.detail.leafDirs = leafDirs;
      return partial;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 5. rsync -a src/ watched/ of 20 x 1 MiB: rsync writes .name.XXXXXX, then renames it to name. */
export async function rsync(ctx, src, names) {
  const dir = join(ctx.work, `rsync-${ctx.run}-${ctx.adapter.name}`);
  mkdirSync(dir);
  try {
    return await withAdapter(ctx, dir, ctx.cfg.timeouts.rsync, async (proc, deadline, dump, partial) => {
      const m = partial.metrics;
      await proc.arm('sentinel', deadline);
      await runProgram('rsync', ['-a', `${src}/`, `${dir}/`]);
      writeFileSync(join(dir, 'sentinel'), 'x\n');
      await proc.sentinelOrIdle('sentinel', deadline, 3000);
      await proc.drain(ctx.cfg.quietMs, 5000, deadline);
      const d = await proc.stop(dump, deadline);
      const finals = new Set();
      const temps = new Set();
      const kinds = { temp: {}, final: {} };
      const want = new Set(names);
      for (const e of d.events) {
        const b = basename(e[2]);
        const kind = ctx.kindName(e[1]);
        if (want.has(b)) {
          finals.add(b);
          kinds.final[kind] = (kinds.final[kind] ?? 0) + 1;
        } else {
          const t = /^\.(.+)\.[A-Za-z0-9]{6}$/.exec(b);
          if (t && want.has(t[1])) {
            temps.add(t[1]);
            kinds.temp[kind] = (kinds.temp[kind] ?? 0) + 1;
          }
        }
      }
      m['rsync.temps'] = temps.size;
      m['rsync.finals'] = finals.size;
      partial.detail.kinds = kinds;
      return partial;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
