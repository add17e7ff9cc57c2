// The driver side of the adapter line protocol: one adapter process, started in
// its own process group so a timeout can kill it and everything it spawned.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export const nowNs = () => Number(process.hrtime.bigint());

let clkTck = 100; // sysconf(_SC_CLK_TCK); ask getconf in case this kernel differs
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* keep 100 */
}

/** The currently running adapter processes, so a signal handler can kill them. */
export const live = new Set();

export class TimeoutError extends Error {}

export class AdapterProc {
  /**
   * @param {{ cmd: string, args: string[], env?: object }} spec
   */
  constructor(spec) {
    this.spec = spec;
    this.lines = [];
    this.errors = [];
    this.stderr = '';
    this.lastProgress = 0;
    this.exited = false;
    this.exitCode = null;
    this.seen = new Map(); // name -> t_ns
    this.armed = new Set(); // names already sent as WAIT
    this.seenWaiters = new Map(); // name -> [resolve]
    this.countWaiters = [];
    this.readyInfo = null;
    this.done = false;
    this.waiters = new Set(); // { check(), resolve, reject }
  }

  start() {
    this.tSpawn = nowNs();
    const child = spawn(this.spec.cmd, this.spec.args, {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...(this.spec.env ?? {}) },
    });
    this.child = child;
    this.pid = child.pid;
    live.add(this);
    child.stdin.on('error', () => {}); // the adapter may die with commands in flight
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.#line(buf.slice(0, i), nowNs());
        buf = buf.slice(i + 1);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c) => {
      if (this.stderr.length < 20000) this.stderr += c;
    });
    child.on('error', (err) => {
      this.errors.push(String(err));
      this.#exit(-1);
    });
    child.on('exit', (code, signal) => this.#exit(code ?? signal));
    return this;
  }

  #exit(code) {
    if (this.exited) return;
    this.exited = true;
    this.exitCode = code;
    live.delete(this);
    this.#wake();
  }

  #line(line, t) {
    const sp = line.indexOf(' ');
    const verb = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? '' : line.slice(sp + 1);
    switch (verb) {
      case 'READY':
        this.readyInfo = { ...JSON.parse(rest), tLine: t };
        break;
      case 'SEEN': {
        const [name, ts] = rest.split(' ');
        if (!this.seen.has(name)) this.seen.set(name, Number(ts));
        break;
      }
      case 'COUNT': {
        const [n, tl] = rest.split(' ').map(Number);
        this.lastProgress = Math.max(this.lastProgress, n);
        const w = this.countWaiters.shift();
        if (w) w({ n, tLast: tl, t });
        break;
      }
      case 'PROGRESS':
        this.lastProgress = Math.max(this.lastProgress, Number(rest));
        break;
      case 'DONE':
        this.done = true;
        break;
      case 'ERROR':
        this.errors.push(rest);
        break;
      default:
        this.lines.push(line);
    }
    this.#wake();
  }

  #wake() {
    for (const w of [...this.waiters]) w.check();
  }

  /** Resolves with pred()'s first truthy value; rejects on exit or at the deadline (monotonic ns). */
  until(pred, deadlineNs, what) {
    return new Promise((resolve, reject) => {
      let timer;
      const w = {
        check: () => {
          let v;
          try {
            v = pred();
          } catch (err) {
            finish();
            return reject(err);
          }
          if (v) {
            finish();
            resolve(v);
          } else if (this.exited) {
            finish();
            reject(new Error(`adapter exited (${this.exitCode}) while waiting for ${what}${this.#why()}`));
          }
        },
      };
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(w);
      };
      this.waiters.add(w);
      timer = setTimeout(
        () => {
          finish();
          reject(new TimeoutError(`timeout waiting for ${what}`));
        },
        Math.max(0, (deadlineNs - nowNs()) / 1e6),
      );
      w.check();
    });
  }

  #why() {
    const msg = this.errors[0] ?? this.stderr.trim().split('\n').slice(-3).join(' | ');
    return msg ? `: ${msg.slice(0, 400)}` : '';
  }

  reason() {
    return this.#why().replace(/^: /, '');
  }

  send(line) {
    if (!this.exited) this.child.stdin.write(line + '\n');
  }

  ready(deadlineNs) {
    return this.until(() => this.readyInfo, deadlineNs, 'READY');
  }

  /**
   * Sends WAIT for `name` and waits for a COUNT round trip, so the adapter has
   * read the WAIT (it handles stdin lines in order) before the event happens.
   */
  async arm(name, deadlineNs) {
    this.armed.add(name);
    this.send(`WAIT ${name}`);
    await this.count(deadlineNs);
  }

  /** Asks the adapter to report `name`; resolves with the event time or rejects. */
  waitSeen(name, deadlineNs) {
    if (!this.armed.has(name)) this.send(`WAIT ${name}`);
    return this.until(() => this.seen.get(name), deadlineNs, `event for ${name}`);
  }

  async count(deadlineNs) {
    let got = null;
    this.countWaiters.push((v) => (got = v)); // set synchronously, before #wake() runs the check
    this.send('COUNT');
    await this.until(() => got, deadlineNs, 'COUNT');
    return got;
  }

  /**
   * Waits until the sentinel is reported or the adapter has gone idle without it
   * (then it dropped it). Returns the sentinel time or null.
   */
  async sentinelOrIdle(name, deadlineNs, idleMs) {
    if (!this.armed.has(name)) this.send(`WAIT ${name}`);
    let lastN = -1;
    let lastChange = nowNs();
    for (;;) {
      if (this.seen.has(name)) return this.seen.get(name);
      const tick = Math.min(deadlineNs, nowNs() + 200e6);
      try {
        await this.until(() => this.seen.get(name), tick, `event for ${name}`);
      } catch (err) {
        if (!(err instanceof TimeoutError)) throw err;
        if (nowNs() >= deadlineNs) throw err;
      }
      if (this.seen.has(name)) return this.seen.get(name);
      const c = await this.count(deadlineNs);
      if (c.n !== lastN) {
        lastN = c.n;
        lastChange = nowNs();
      } else if (nowNs() - lastChange > idleMs * 1e6) {
        return null;
      }
    }
  }

  /** Waits until no new events arrive for quietMs (bounded by maxMs). */
  async drain(quietMs, maxMs, deadlineNs) {
    const end = Math.min(deadlineNs, nowNs() + maxMs * 1e6);
    let last = await this.count(deadlineNs);
    let stableSince = nowNs();
    while (nowNs() < end) {
      await new Promise((r) => setTimeout(r, Math.min(100, quietMs / 3)));
      const c = await this.count(deadlineNs);
      if (c.n !== last.n) {
        last = c;
        stableSince = nowNs();
      } else if (nowNs() - stableSince >= quietMs * 1e6) {
        return last;
      }
    }
    return last;
  }

  /** STOP, then read the dump the adapter wrote. */
  async stop(dumpFile, deadlineNs) {
    this.send('STOP');
    await this.until(() => this.done || null, deadlineNs, 'DONE');
    await this.until(() => this.exited || null, Math.min(deadlineNs, nowNs() + 5e9), 'exit').catch(() => {});
    return JSON.parse(readFileSync(dumpFile, 'utf8'));
  }

  kill() {
    if (this.exited) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      try {
        this.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  pids() {
    const ps = [this.pid];
    const w = this.readyInfo?.watchPid;
    if (w && w !== this.pid) ps.push(w);
    return ps;
  }

  /**
   * CPU time of the adapter and its watch process, in ms: the sum over their
   * threads of /proc/<pid>/task/<tid>/schedstat (ns resolution); utime+stime
   * from /proc/<pid>/stat (clock ticks) when schedstat is not there.
   */
  cpuMs() {
    let ns = 0;
    for (const pid of this.pids()) {
      let got = false;
      try {
        for (const tid of readdirSync(`/proc/${pid}/task`)) {
          try {
            ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
            got = true;
          } catch {
            /* thread ended */
          }
        }
      } catch {
        /* process ended */
      }
      if (got) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ns += ((Number(f[11]) + Number(f[12])) * 1e9) / clkTck; // utime, stime (fields 14, 15)
      } catch {
        /* exited */
      }
    }
    return ns / 1e6;
  }

  watchPid() {
    return this.readyInfo?.watchPid ?? this.pid;
  }
}

export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Number of inotify watches held by pid, from /proc/<pid>/fdinfo. */
export function inotifyWatches(pid) {
  let n = 0;
  let fds;
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return null;
  }
  for (const fd of fds) {
    let s;
    try {
      s = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    let i = -1;
    while ((i = s.indexOf('inotify wd:', i + 1)) >= 0) n++;
  }
  return n;
}
