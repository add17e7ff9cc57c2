/**
 * The whole fleet on loopback: inotifyd "hosts" (rsync pushes into half of
 * them, cp into the others) forwarding to one nats-server, workers on one
 * durable consumer copying every file out. On the way the server is stopped
 * and started again, one daemon is SIGKILLed and restarted while it drains
 * its spool, and one worker is SIGKILLed mid-job. Every file is processed
 * exactly once and each host's order is kept.
 *
 * `npm test` runs it scaled down; `FLEET_FULL=1` (`npm run test:fleet-full`)
 * runs the full size of issue 18: 4 hosts, 3 workers, 2,000 files, a 10 s
 * outage.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDaemon, tempDir, until, type DaemonProcess } from './daemon-helpers.js';
import { FleetWorker, readStream } from './forward-helpers.js';
import { compileExamples } from './helpers/examples.js';
import { removeTree, repoRoot } from './helpers/index.js';
import { haveNatsServer, startNatsServer } from './helpers/nats-server.js';

/** The two sizes, in one place. `workers` counts the one killed mid-job. */
const size = process.env.FLEET_FULL === '1'
  ? { hosts: 4, workers: 3, filesPerBatch: 250, outageMs: 10_000, waitMs: 600_000, testTimeout: 1_200_000 }
  : { hosts: 2, workers: 3, filesPerBatch: 40, outageMs: 0, waitMs: 30_000, testTimeout: 120_000 };
const totalFiles = size.hosts * size.filesPerBatch * 2;

const outDir = path.join(repoRoot, 'examples', `.dist-fleet-e2e-${process.pid}`);
const workerScript = path.join(outDir, 'fleet-worker', 'worker.mjs');
const haveRsync = spawnSync('rsync', ['--version']).status === 0;

beforeAll(() => {
  if (haveNatsServer && haveRsync) compileExamples(outDir);
}, 180_000);
afterAll(() => removeTree(outDir));

function hostConfig(url: string, host: string, incoming: string, spoolDir: string): string {
  return `import { defineConfig, PublishScheduler } from 'inotify-native';
const publish = new PublishScheduler({ servers: ${JSON.stringify(url)}, spoolDir: ${JSON.stringify(spoolDir)}, host: ${JSON.stringify(host)}, hash: true, retryMin: 50, retryMax: 300 });
export default defineConfig({
  watches: [{ path: ${JSON.stringify(incoming)}, rec: true, autoAdd: true, eventMap: { TRANSFER_COMPLETE: publish }, transfers: { settleTime: 50 } }],
  logging: { level: 'WARNING', levels: { publish: 'DEBUG' } },
});
`;
}

/** Writes `count` files named `<prefix>-NNN.dat` with distinct content into dir. */
function makeFiles(dir: string, prefix: string, count: number): string[] {
  fs.mkdirSync(dir, { recursive: true });
  return Array.from({ length: count }, (_, i) => {
    const name = `${prefix}-${String(i).padStart(3, '0')}.dat`;
    fs.writeFileSync(path.join(dir, name), `${prefix} ${i} `.repeat(50 + i));
    return name;
  });
}

/** The ids a daemon spooled, in spool order (its DEBUG lines). */
const spooledIds = (daemon: DaemonProcess): string[] => [...daemon.stderr.matchAll(/spooled (\S+) \(/g)].map((m) => m[1] as string);
const sentCount = (daemon: DaemonProcess): number => daemon.stderr.split(' as stream seq ').length - 1;
const duplicateCount = (daemon: DaemonProcess): number => daemon.stderr.split('(duplicate: the stream had it already)').length - 1;
const spoolFiles = (dir: string): number => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.msg')).length : 0);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Host {
  host: string;
  etc: string;
  incoming: string;
  spool: string;
  /** Each run of its daemon (a SIGKILLed one, then its restart). */
  lives: DaemonProcess[];
  /** The file names that arrived, in order. */
  names: string[];
}

describe.skipIf(!haveNatsServer || !haveRsync)('a fleet on loopback', () => {
  test(`${size.hosts} hosts (rsync, cp), ${size.workers} workers (one SIGKILLed mid-job), ${totalFiles} files, server down mid-way, a daemon SIGKILLed: every file processed once, per-host order kept`, async () => {
    const server = await startNatsServer();
    const dir = tempDir('fleet-');
    const hosts: Host[] = Array.from({ length: size.hosts }, (_, i) => {
      const host = `h${i + 1}`;
      const h = { host, etc: path.join(dir, host, 'etc'), incoming: path.join(dir, host, 'incoming'), spool: path.join(dir, host, 'spool'), lives: [], names: [] };
      fs.mkdirSync(h.incoming, { recursive: true });
      fs.mkdirSync(h.etc, { recursive: true });
      return h;
    });
    const daemon = (h: Host): DaemonProcess => h.lives.at(-1) as DaemonProcess;
    const startHost = async (h: Host): Promise<void> => {
      h.lives.push(await startDaemon(h.etc, hostConfig(server.url, h.host, h.incoming, h.spool)));
    };
    await Promise.all(hosts.map(startHost));

    const out = path.join(dir, 'processed');
    const workerArgs = ['--servers', server.url, '--ack-wait', '5000'];
    // The doomed worker's job never ends by itself: it is killed while running it.
    const doomed = new FleetWorker(workerScript, [...workerArgs, '--exec', '/bin/sh', '-c', 'sleep 600', 'sh']);
    await until(() => doomed.lines('ready ').length === 1, () => `the doomed worker ready:\n${doomed.stdout}${doomed.stderr}`);
    const workers = Array.from({ length: size.workers - 1 }, () => new FleetWorker(workerScript, [...workerArgs, '--copy-to', out]));
    const doneLines = (): string[] => workers.flatMap((w) => w.lines('done '));
    // What was processed: distinct arrivals, so that a redelivered message's second run is not counted.
    const doneIds = (): Set<string | undefined> => new Set(doneLines().map((l) => / id=(\S+) /.exec(l)?.[1]));
    const outputs = (): string => [doomed, ...workers].map((w) => w.stdout + w.stderr).join('\n---\n');

    /** Batch `b`: rsync -a into the odd hosts, cp into the even ones. */
    const arrive = (b: number): void => {
      for (const [i, h] of hosts.entries()) {
        const src = path.join(dir, 'src', `${h.host}-b${b}`);
        const names = makeFiles(src, `${h.host}-b${b}`, size.filesPerBatch);
        if (i % 2 === 0) expect(spawnSync('rsync', ['-a', `${src}/`, `${h.incoming}/`]).status).toBe(0);
        else for (const name of names) fs.copyFileSync(path.join(src, name), path.join(h.incoming, name));
        h.names.push(...names);
      }
    };
    const perBatch = size.hosts * size.filesPerBatch;

    // Batch 1; the doomed worker takes one of its messages and is killed mid-job.
    arrive(1);
    await until(() => doomed.lines('start ').length === 1, () => `the doomed worker starts a job:\n${outputs()}`, size.waitMs);
    doomed.killGroup('SIGKILL');
    const doomedSeq = /seq=(\d+)/.exec(doomed.lines('start ')[0] as string)?.[1];
    await until(() => doneIds().size >= perBatch, () => `${perBatch} files processed:\n${outputs()}`, size.waitMs);

    // Server down; batch 2 arrives and waits in the hosts' spools; the outage lasts outageMs at least.
    await server.stop();
    const downAt = Date.now();
    arrive(2);
    await until(() => hosts.every((h) => spoolFiles(h.spool) === size.filesPerBatch), () => `${size.filesPerBatch} arrivals spooled on each host:\n${hosts.map((h) => daemon(h).stderr).join('\n')}`, size.waitMs);
    expect(doneLines()).toHaveLength(perBatch);
    await sleep(size.outageMs - (Date.now() - downAt));
    await server.start();

    // The first host's daemon is SIGKILLed once it has sent some of its spool, and restarted: it sends the rest.
    const first = hosts[0] as Host;
    await until(() => sentCount(daemon(first)) > size.filesPerBatch, () => `${first.host} sends from its spool:\n${daemon(first).stderr}`, size.waitMs);
    expect(await daemon(first).stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await startHost(first);
    await until(() => doneIds().size >= totalFiles, () => `${totalFiles} files processed:\n${outputs()}`, size.waitMs);

    // Exactly once: one stream entry and one job per file, no failure, every copy identical.
    const stream = await readStream(server.url);
    const inStream = new Set(stream.map((m) => m.id));
    expect(stream, `the stream's seqs ${stream.map((m) => m.seq).join(',')}; processed but not in it: ${[...doneIds()].filter((id) => !inStream.has(id as string)).join(' ')}\n${outputs()}`).toHaveLength(totalFiles);
    const done = doneLines();
    expect(new Set(done.map((l) => /seq=(\d+)/.exec(l)?.[1])).size).toBe(totalFiles);
    expect(done).toHaveLength(totalFiles);
    expect(workers.flatMap((w) => w.lines('fail '))).toEqual([]);
    // The killed worker's message went to another worker, once.
    const redelivered = done.filter((l) => !/ delivery=1 /.test(l));
    expect(redelivered.filter((l) => l.startsWith(`done seq=${doomedSeq} `))).toHaveLength(1);
    for (const h of hosts) {
      for (const name of h.names) {
        expect(fs.readFileSync(path.join(out, h.host, name)), `${h.host}/${name}`).toEqual(fs.readFileSync(path.join(h.incoming, name)));
      }
      // Per host, the stream holds the arrivals in the order the host spooled them (across its daemon's lives).
      expect(stream.filter((m) => m.host === h.host).map((m) => m.id)).toEqual([...new Set(h.lives.flatMap(spooledIds))]);
    }
    const duplicates = hosts.reduce((n, h) => n + h.lives.reduce((m, d) => m + duplicateCount(d), 0), 0);
    if (process.env.FLEET_FULL === '1') {
      process.stderr.write(`fleet: ${totalFiles} files, ${stream.length} stream entries, ${done.length} jobs done, ${redelivered.length} redelivered, ${duplicates} re-sends dropped by the stream as duplicates\n`);
    }
    for (const h of hosts) expect(await daemon(h).stop('SIGTERM')).toEqual({ code: 0, signal: null });
    for (const w of workers) expect(await w.stop()).toBe(0);
  }, size.testTimeout);
});
