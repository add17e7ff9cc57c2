// The adapter side of the benchmark's line protocol (see bench/README.md).
//
// An adapter module calls runAdapter({ start }) where start(ctx) begins watching
// ctx.root recursively, calls ctx.record(kind, path) for every event it gets and
// resolves with { close(), watchPid?, info? } once the watch is fully armed.
// Everything observed is kept in memory and only written out after STOP, so the
// measurement pays for one clock read and one EventLog.add per event.

import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

const hr = process.hrtime.bigint;

/** CLOCK_MONOTONIC in nanoseconds as a Number (exact below 2^53 ns ≈ 104 days of uptime). */
export const nowNs = () => Number(hr());

export function runAdapter({ start }) {
  const { values: args } = parseArgs({
    options: { root: { type: 'string' }, dump: { type: 'string' }, mask: { type: 'string' } },
  });
  const root = args.root.replace(/\/+$/, '');
  const dumpFile = args.dump;
  const out = (line) => process.stdout.write(line + '\n');

  const log = new EventLog();
  const waits = new Set();
  let overflow = null;
  let lastCount = 0;

  // One clock read per synchronous run of events, i.e. per read batch for a
  // library that delivers a batch's events one by one in one callback from the
  // loop: the C reader reads the clock once per read(2), ours-raw once per
  // 'batch'. The microtask runs when that callback returns.
  let batchT = 0;
  const clearBatchT = () => {
    batchT = 0;
  };

  const ctx = {
    root,
    /** The time of the current batch (see batchT): for per-event APIs whose events come in synchronous runs. */
    batchNow() {
      if (batchT === 0) {
        batchT = nowNs();
        queueMicrotask(clearBatchT);
      }
      return batchT;
    },
    mask: args.mask ? Number(args.mask) : undefined,
    record(kind, path, t = nowNs()) {
      log.add(t, kind, path);
      // Usually one name is awaited: an endsWith per event, no basename() allocation.
      if (waits.size !== 0) {
        for (const name of waits) {
          if (path.endsWith(name) && (path.length === name.length || path.charCodeAt(path.length - name.length - 1) === 47)) {
            waits.delete(name);
            out(`SEEN ${name} ${t}`);
          }
        }
      }
    },
    /** For adapters that learn about overflows: counts them (null means "not exposed"). */
    overflow() {
      overflow = (overflow ?? 0) + 1;
    },
    exposesOverflow() {
      overflow = overflow ?? 0;
    },
    out,
  };

  const fail = (err) => {
    out(`ERROR ${String(err && err.stack ? err.stack : err).replace(/\s*\n\s*/g, ' | ')}`);
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);

  const tStart = nowNs();
  const cpuStart = process.cpuUsage();
  Promise.resolve()
    .then(() => start(ctx))
    .then((handle) => {
      const t = nowNs();
      const cpu = process.cpuUsage(cpuStart);
      // Measure the heap the watch keeps alive, not garbage from setting it up.
      if (typeof globalThis.gc === 'function') globalThis.gc();
      const mem = process.memoryUsage();
      out(
        'READY ' +
          JSON.stringify({
            t,
            tStart,
            cpuUs: cpu.user + cpu.system,
            heapUsed: mem.heapUsed,
            external: mem.external,
            arrayBuffers: mem.arrayBuffers,
            rssKb: Math.round(mem.rss / 1024),
            watchPid: handle.watchPid,
            ...(handle.info ?? {}),
          }),
      );
      serve(handle);
    })
    .catch(fail);

  function serve(handle) {
    let stopping = false;
    const progress = setInterval(() => {
      const n = log.total;
      if (n !== lastCount) out(`PROGRESS ${n}`);
      lastCount = n;
    }, 1000);
    progress.unref();

    let buf = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        command(line);
      }
    });
    process.stdin.on('end', () => stop());

    function command(line) {
      if (line.startsWith('WAIT ')) {
        const name = line.slice(5);
        // Already seen? The driver sends WAIT before the event can happen, so this
        // look-back is a fallback.
        if (log.n) {
          const paths = log.paths;
          for (let k = paths.length - 1; k >= 0; k--) {
            if (basename(paths[k]) === name) {
              out(`SEEN ${name} ${log.times[k]}`);
              return;
            }
          }
        }
        waits.add(name);
      } else if (line === 'COUNT') {
        out(`COUNT ${log.total} ${log.lastT}`);
      } else if (line === 'KEEP 0' || line === 'KEEP 1') {
        // BENCH_KEEP_ALL=1 keeps every event anyway: to measure what the log itself costs.
        log.keeping = line === 'KEEP 1' || process.env.BENCH_KEEP_ALL === '1';
      } else if (line === 'STOP') {
        stop();
      }
    }

    async function stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(progress);
      try {
        await handle.close();
      } catch (err) {
        out(`ERROR close: ${String(err).replace(/\n/g, ' ')}`);
      }
      const rows = [];
      const paths = log.paths;
      for (let k = 0; k < log.n; k++) {
        let p = paths[k];
        if (p.startsWith(root + '/')) p = p.slice(root.length + 1);
        else if (p === root) p = '';
        rows.push(JSON.stringify([log.times[k], log.kind(k), p]));
      }
      writeFileSync(dumpFile, `{"overflow":${JSON.stringify(overflow)},"events":[\n${rows.join(',\n')}\n]}\n`);
      out('DONE');
      process.exit(0);
    }
  }
}

/**
 * The in-memory event log: times and kinds in typed arrays (no boxed number
 * per event), paths in a plain array (the strings the library handed us, not
 * copies). Measured on our Notifier's backlog drain (15,003 events, median of
 * rounds 5-20): counting only 7 ms; this layout 9-10 ms; a plain
 * [t, kind, path] array 11-14 ms; copying paths into a UTF-8 arena 4,096 at a
 * time 16-34 ms (and a byte-by-byte copy was slower still: the library's
 * pathnames are cons strings, flattened by the first charCodeAt). Kinds are
 * numbers (raw masks) or strings, interned to negative codes.
 *
 * While the driver measures a backlog drain it sends `KEEP 0`: events are
 * then only counted (and matched against awaited names), nothing per event is
 * kept, so the figure is the library's cost, not the GC's for this log.
 */
class EventLog {
  n = 0;
  /** Events counted but not kept (during `KEEP 0`). */
  dropped = 0;
  keeping = true;
  lastT = 0;
  times = new Float64Array(1 << 16);
  kinds = new Float64Array(1 << 16);
  paths = [];
  #codes = new Map();
  #names = [];

  /** Every event recorded, kept or not. */
  get total() {
    return this.n + this.dropped;
  }

  add(t, kind, path) {
    this.lastT = t;
    if (!this.keeping) {
      this.dropped++;
      return;
    }
    const n = this.n;
    if (n === this.times.length) this.#grow();
    this.times[n] = t;
    if (typeof kind === 'number') this.kinds[n] = kind;
    else {
      let code = this.#codes.get(kind);
      if (code === undefined) {
        code = -1 - this.#names.length;
        this.#codes.set(kind, code);
        this.#names.push(kind);
      }
      this.kinds[n] = code;
    }
    this.paths.push(path);
    this.n = n + 1;
  }

  #grow() {
    const cap = this.times.length * 2;
    const t = new Float64Array(cap);
    t.set(this.times);
    this.times = t;
    const k = new Float64Array(cap);
    k.set(this.kinds);
    this.kinds = k;
  }

  kind(i) {
    const k = this.kinds[i];
    return k < 0 ? this.#names[-1 - k] : k;
  }
}

/** The watch mask every inotify-level adapter uses (same as the C reader's default). */
export function benchMask(c) {
  return (
    c.IN_CREATE |
    c.IN_DELETE |
    c.IN_MODIFY |
    c.IN_ATTRIB |
    c.IN_CLOSE_WRITE |
    c.IN_MOVED_FROM |
    c.IN_MOVED_TO |
    c.IN_DELETE_SELF |
    c.IN_MOVE_SELF
  );
}
