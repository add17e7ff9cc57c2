/**
 * examples/fleet-worker against a real nats-server: workers share one
 * durable pull consumer; each message is processed once; a job that outlives
 * the ack wait is not redelivered while its worker lives; a worker killed
 * (SIGKILL) mid-job has its message redelivered to, and processed by, another.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { forwardArrivals } from '../src/index.js';
import { tempDir, until } from './daemon-helpers.js';
import { FleetWorker } from './forward-helpers.js';
import { compileExamples } from './helpers/examples.js';
import { removeTree, repoRoot } from './helpers/index.js';
import { haveNatsServer, startNatsServer, type NatsServer } from './helpers/nats-server.js';

const outDir = path.join(repoRoot, 'examples', `.dist-fleet-${process.pid}`);
const worker = path.join(outDir, 'fleet-worker', 'worker.mjs');

beforeAll(() => {
  if (haveNatsServer) compileExamples(outDir);
}, 180_000);
afterAll(() => removeTree(outDir));

async function publishFiles(server: NatsServer, count: number, size = 1000): Promise<{ root: string; names: string[] }> {
  const root = tempDir('incoming-');
  const fwd = await forwardArrivals(root, {
    servers: server.url, spoolDir: path.join(tempDir('spool-'), 'spool'), host: 'h1', hash: true, transfers: { settleTime: 50 },
  });
  onTestFinished(() => fwd.close());
  let sent = 0;
  fwd.on('sent', () => sent++);
  const names = Array.from({ length: count }, (_, i) => `f${String(i).padStart(3, '0')}.dat`);
  for (const [i, name] of names.entries()) fs.writeFileSync(path.join(root, name), Buffer.alloc(size, i % 251));
  await until(() => sent === count, () => `${count} messages published (have ${sent})`);
  return { root, names };
}

async function consumerState(server: NatsServer): Promise<{ pending: number; ackPending: number }> {
  const nc = await connect({ servers: server.url, reconnect: false });
  try {
    const info = await (await jetstreamManager(nc)).consumers.info('INOTIFY_ARRIVALS', 'fleet-workers');
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  } finally {
    await nc.close();
  }
}

describe.skipIf(!haveNatsServer)('fleet-worker', () => {
  test('two workers on one durable consumer: every file copied exactly once, then nothing pending', async () => {
    const server = await startNatsServer();
    const { root, names } = await publishFiles(server, 30);
    const out = tempDir('processed-');
    const workers = [0, 1].map(() => new FleetWorker(worker, ['--servers', server.url, '--copy-to', out, '--ack-wait', '5000']));
    await until(() => workers.reduce((n, w) => n + w.lines('done ').length, 0) >= 30, () => `30 done lines:\n${workers.map((w) => w.stdout + w.stderr).join('\n---\n')}`);
    const done = workers.flatMap((w) => w.lines('done '));
    const seqs = done.map((line) => /seq=(\d+)/.exec(line)?.[1]);
    expect(new Set(seqs).size).toBe(30);
    expect(done).toHaveLength(30);
    expect(workers.flatMap((w) => w.lines('fail '))).toEqual([]);
    for (const name of names) expect(fs.readFileSync(path.join(out, 'h1', name))).toEqual(fs.readFileSync(path.join(root, name)));
    expect(await consumerState(server)).toEqual({ pending: 0, ackPending: 0 });
    for (const w of workers) expect(await w.stop()).toBe(0);
    expect(workers.map((w) => w.stderr)).toEqual(['', '']);
  });

  test('a job longer than the ack wait is not redelivered while its worker lives (it extends its claim)', async () => {
    const server = await startNatsServer();
    await publishFiles(server, 1);
    const slow = new FleetWorker(worker, ['--servers', server.url, '--ack-wait', '1000', '--exec', '/bin/sh', '-c', 'sleep 3', 'sh']);
    await until(() => slow.lines('start ').length === 1, () => `the slow worker starts:\n${slow.stdout}${slow.stderr}`);
    const other = new FleetWorker(worker, ['--servers', server.url, '--ack-wait', '1000', '--copy-to', tempDir('processed-')]);
    await until(() => slow.lines('done ').length === 1, () => `the slow job done:\n${slow.stdout}${slow.stderr}`);
    expect(slow.lines('done ')[0]).toMatch(/^done seq=1 delivery=1 id=h1:\S+ exit=0$/);
    await until(() => other.lines('ready ').length === 1, 'the other worker ready');
    expect(other.lines('start ')).toEqual([]);
    expect(await consumerState(server)).toEqual({ pending: 0, ackPending: 0 });
    expect(await other.stop()).toBe(0);
  });

  test('a worker killed (SIGKILL) mid-job: its message is redelivered and processed by the other worker', async () => {
    const server = await startNatsServer();
    const { root, names } = await publishFiles(server, 1, 100_000);
    const doomed = new FleetWorker(worker, ['--servers', server.url, '--ack-wait', '1500', '--exec', '/bin/sh', '-c', 'sleep 60', 'sh']);
    await until(() => doomed.lines('start ').length === 1, () => `the first worker starts the job:\n${doomed.stdout}${doomed.stderr}`);
    expect(doomed.lines('start ')[0]).toMatch(/^start seq=1 delivery=1 /);
    const out = tempDir('processed-');
    const survivor = new FleetWorker(worker, ['--servers', server.url, '--ack-wait', '1500', '--copy-to', out]);
    await until(() => survivor.lines('ready ').length === 1, 'the second worker ready');
    doomed.killGroup('SIGKILL');
    await until(() => survivor.lines('done ').length === 1, () => `the second worker processes the redelivered message:\n${survivor.stdout}${survivor.stderr}`);
    expect(survivor.lines('start ')).toHaveLength(1);
    expect(survivor.lines('done ')[0]).toMatch(/^done seq=1 delivery=2 id=h1:\S+ copied to /);
    expect(doomed.lines('done ')).toEqual([]);
    expect(fs.readFileSync(path.join(out, 'h1', names[0] as string))).toEqual(fs.readFileSync(path.join(root, names[0] as string)));
    expect(await consumerState(server)).toEqual({ pending: 0, ackPending: 0 });
    expect(await survivor.stop()).toBe(0);
    expect(survivor.stderr).toBe('');
  });
});
