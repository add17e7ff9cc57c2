#!/usr/bin/env node
// npm run stress — the lagging-reader stress of issue 10, through the library
// (a Notifier, lib/ as a user loads it) and through the CLI
// (`inotify-profile -r -a --json`).
//
// Each run watches a fresh directory recursively with auto-add and a
// deliberately slow consumer (every event costs --delay-ms of busy CPU: in
// the library an 'event' listener, in the CLI a preloaded module that makes
// every write to stdout that slow), so the reader falls behind while one
// bash process does --rounds rounds of
//
//   mkdir -p A<i>/b/c/d && echo x > A<i>/b/c/d/f && mv A<i> B<i> && echo y > B<i>/b/c/d/g
//
// (names unique per round: a name reused after a deletion the reader has not
// reached yet cannot be reported, see docs/RELIABILITY.md). When bash is done,
// a sentinel file is written until its event arrives (everything before it has
// been delivered by then); the run directory is removed (the cleanup).
// Counted per round, whatever top name (A<i> or B<i>) the event carried:
//   creates:            IN_CREATE of b, b/c, b/c/d, b/c/d/f, b/c/d/g (5 per round)
//   writes after move:  IN_CLOSE_WRITE of B<i>/b/c/d/g, at the B<i> path (1 per round)
// and, not counted as lost but shown: IN_CLOSE_WRITE of f, overflows, and how
// many events were synthetic (found by a scan: the measure of the lag).
//
// Usage: node scripts/stress.mjs [--runs 5] [--rounds 50] [--delay-ms 3]
//                                [--via library,cli] [--json]
// Environment: STRESS_LIB=path/to/lib runs another build (both ways).
// Prints one line per run and a total per way; with --json, one JSON object.
// Exit status: 0 when nothing was lost, 1 when something was, 2 on bad usage.
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
// STRESS_LIB: another build's lib/ to run (e.g. an older commit's, to compare).
const libDir = process.env.STRESS_LIB ? path.resolve(process.env.STRESS_LIB) : path.join(here, '..', 'lib');
const cli = path.join(libDir, 'cli', 'profile.js');
const slowStdout = path.join(here, 'stress-slow-stdout.mjs');

const USAGE = 'usage: node scripts/stress.mjs [--runs N] [--rounds N] [--delay-ms MS] [--via library,cli] [--json]';
let options;
try {
  ({ values: options } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '50' },
      'delay-ms': { type: 'string', default: '3' },
      via: { type: 'string', default: 'library,cli' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  console.error(`stress: ${error.message}\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}
const runs = Number(options.runs);
const rounds = Number(options.rounds);
const delayMs = Number(options['delay-ms']);
const ways = options.via.split(',').filter(Boolean);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(rounds) || rounds < 1 || !(delayMs >= 0)
  || ways.length === 0 || ways.some((way) => way !== 'library' && way !== 'cli')) {
  console.error(`stress: bad arguments\n${USAGE}`);
  process.exit(2);
}
if (!fs.existsSync(path.join(libDir, 'index.js'))) {
  console.error(`stress: ${libDir} is missing: run \`npm run compile\` first`);
  process.exit(2);
}
const lib = createRequire(import.meta.url)(path.join(libDir, 'index.js'));

const CREATED = ['b', 'b/c', 'b/c/d', 'b/c/d/f', 'b/c/d/g'];
const SETTLE_MS = 120_000;

function busyWait(ms) {
  const until = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  while (process.hrtime.bigint() < until) { /* the deliberately slow consumer */ }
}

function writerScript() {
  const lines = [];
  for (let i = 0; i < rounds; i++) {
    lines.push(`mkdir -p A${i}/b/c/d && echo x > A${i}/b/c/d/f && mv A${i} B${i} && echo y > B${i}/b/c/d/g`);
  }
  return lines.join('\n');
}

/** Resolves true once `condition()` holds, false after `ms`. */
async function until(condition, ms) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/**
 * Runs the writer in `root` (while the reader reads), then writes sentinel files until one is among
 * `events` (every event before it has been delivered by then; a new one
 * every 2 s, as an overflow may drop one). Returns `events`.
 */
async function drive(root, events) {
  // Asynchronously: the reader runs while bash writes (a synchronous child would leave it nothing to race with).
  await new Promise((resolve, reject) => {
    execFile('bash', ['-c', writerScript()], { cwd: root }, (error) => (error === null ? resolve() : reject(error)));
  });
  const deadline = Date.now() + SETTLE_MS;
  for (let n = 0; ; n++) {
    const sentinel = path.join(root, `.sentinel-${n}`);
    fs.writeFileSync(sentinel, '');
    if (await until(() => events.some((event) => event.pathname === sentinel), 2000)) return events;
    if (Date.now() > deadline) throw new Error(`no sentinel event within ${SETTLE_MS / 1000} s`);
  }
}

function count(root, events) {
  const created = new Set();
  const written = new Set();
  const duplicates = [];
  let overflows = 0;
  let synthetic = 0;
  for (const event of events) {
    if (event.synthetic) synthetic++;
    if (event.wd === -1) {
      overflows++;
      continue;
    }
    const parts = path.relative(root, event.pathname).split('/');
    const top = parts[0] ?? '';
    if (!/^[AB]\d+$/.test(top) || parts.length < 2) continue;
    const round = top.slice(1);
    const rest = parts.slice(1).join('/');
    if (event.mask & lib.IN_CREATE) {
      // Exactly once: an entry reported again (at either path) is a duplicate.
      if (created.has(`${round} ${rest}`)) duplicates.push(`round ${round}: IN_CREATE ${rest} again (${event.pathname})`);
      created.add(`${round} ${rest}`);
    }
    if (event.mask & lib.IN_CLOSE_WRITE) written.add(`${top[0]}${round} ${rest}`);
  }
  const lost = [];
  let creates = 0;
  let writesAfterMove = 0;
  let writesBeforeMove = 0;
  for (let i = 0; i < rounds; i++) {
    for (const name of CREATED) {
      if (created.has(`${i} ${name}`)) creates++;
      else lost.push(`round ${i}: IN_CREATE ${name}`);
    }
    if (written.has(`B${i} b/c/d/g`)) writesAfterMove++;
    else lost.push(`round ${i}: IN_CLOSE_WRITE B${i}/b/c/d/g`);
    if (written.has(`A${i} b/c/d/f`) || written.has(`B${i} b/c/d/f`)) writesBeforeMove++;
  }
  return {
    creates, createsMade: rounds * CREATED.length, writesAfterMove, writesAfterMoveMade: rounds,
    writesBeforeMove, overflows, synthetic, events: events.length, lost, duplicates,
  };
}

async function viaLibrary(root) {
  const wm = new lib.WatchManager();
  wm.addWatch(root, lib.IN_CREATE | lib.IN_CLOSE_WRITE | lib.IN_MOVED_TO, { rec: true, autoAdd: true });
  const notifier = new lib.Notifier(wm);
  const errors = [];
  const events = [];
  notifier.on('error', (error) => errors.push(error));
  notifier.on('event', (event) => {
    events.push({ wd: event.wd, mask: event.mask, pathname: event.pathname, synthetic: event.synthetic });
    busyWait(delayMs);
  });
  try {
    await drive(root, events);
    if (errors.length !== 0) throw errors[0];
    return events;
  } finally {
    await notifier.close();
  }
}

async function viaCli(root) {
  const child = spawn(process.execPath, [
    '--import', slowStdout, cli, '-r', '-a', '--json', '-e', 'IN_CREATE,IN_CLOSE_WRITE,IN_MOVED_TO', root,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STRESS_DELAY_MS: String(delayMs) } });
  let stderr = '';
  const events = [];
  let buffered = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk; });
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    buffered += chunk;
    for (let newline; (newline = buffered.indexOf('\n')) !== -1;) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.startsWith('{"time"')) events.push(JSON.parse(line));
    }
  });
  let exit;
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve(exit = { code, signal })));
  try {
    // The "Watching ..." line comes once every watch is in place.
    if (!await until(() => stderr.includes('Watching') || exit !== undefined, 30_000) || exit !== undefined) {
      throw new Error(`inotify-profile did not start: ${stderr.trim() || '(no output)'}`);
    }
    return await drive(root, events);
  } finally {
    child.kill('SIGINT');
    await exited;
  }
}

const results = {};
let anyLost = false;
for (const way of ways) {
  const perRun = [];
  for (let run = 1; run <= runs; run++) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `inotify-stress-${way}-`));
    try {
      const events = way === 'library' ? await viaLibrary(root) : await viaCli(root);
      const counted = count(root, events);
      perRun.push(counted);
      if (counted.lost.length !== 0 || counted.duplicates.length !== 0) anyLost = true;
      if (!options.json) {
        console.log(`${way} run ${run}/${runs}: creates ${counted.creates}/${counted.createsMade}, `
          + `writes after move ${counted.writesAfterMove}/${counted.writesAfterMoveMade}, `
          + `writes before move ${counted.writesBeforeMove}/${rounds}, overflows ${counted.overflows}, `
          + `events ${counted.events} (${counted.synthetic} synthetic: found by scans, as the reader was behind)`
          + (counted.lost.length === 0 ? '' : `\n  lost: ${counted.lost.slice(0, 10).join('; ')}${counted.lost.length > 10 ? ' ...' : ''}`)
          + (counted.duplicates.length === 0 ? '' : `\n  reported twice: ${counted.duplicates.slice(0, 10).join('; ')}`));
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }
  const total = (key) => perRun.reduce((sum, run) => sum + run[key], 0);
  results[way] = {
    runs: perRun.length, rounds, delayMs,
    creates: total('creates'), createsMade: total('createsMade'),
    writesAfterMove: total('writesAfterMove'), writesAfterMoveMade: total('writesAfterMoveMade'),
    writesBeforeMove: total('writesBeforeMove'), overflows: total('overflows'), synthetic: total('synthetic'),
    lost: perRun.flatMap((run) => run.lost),
    duplicates: perRun.flatMap((run) => run.duplicates),
  };
  if (!options.json) {
    const r = results[way];
    console.log(`${way} total (${runs} x ${rounds} rounds): creates ${r.creates}/${r.createsMade} (lost ${r.createsMade - r.creates}), `
      + `writes after move ${r.writesAfterMove}/${r.writesAfterMoveMade} (lost ${r.writesAfterMoveMade - r.writesAfterMove}), `
      + `reported twice ${r.duplicates.length}`);
  }
}
if (options.json) console.log(JSON.stringify(results));
process.exit(anyLost ? 1 : 0);

