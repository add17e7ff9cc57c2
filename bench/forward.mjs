#!/usr/bin/env node
// Forwarding benchmark (issue 18): how fast one host publishes arrivals to a
// local nats-server (JetStream), and how long a file takes from close() on the
// host to a worker's fetch. Starts its own nats-server on 127.0.0.1 (a free
// port, a temp store) and stops it. See bench/README.md, "Forwarding".
//
//   node bench/forward.mjs [--messages N] [--files N] [--interval MS]

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const lib = require('../lib/index.js');
const { connect } = require('@nats-io/transport-node');
const { jetstream, jetstreamManager, AckPolicy } = require('@nats-io/jetstream');

const { values: opt } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    files: { type: 'string', default: '500' },
    interval: { type: 'string', default: '10' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  console.log('usage: node bench/forward.mjs [--messages N (publish test, default 5000)] [--files N (latency test, default 500)] [--interval MS (between files, default 10)]');
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'bench-forward-'));

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', join(work, 'store')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.once('error', reject);
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      log += chunk;
      const port = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log)?.[1];
      if (port !== undefined && log.includes('Server is ready')) resolve({ child, url: `nats://127.0.0.1:${port}` });
    });
  });
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Publish throughput: N messages through the spool (fsync on or off), until the last PubAck. */
async function publishRate(url, count, fsync) {
  const stream = `BENCH_${fsync ? 'FSYNC' : 'NOFSYNC'}`;
  const transport = new lib.JetStreamTransport({ servers: url, stream, streamSubjects: [`bench.${stream}.>`] });
  const publisher = await lib.ForwardPublisher.open({ transport, spoolDir: join(work, `spool-${stream}`), fsync });
  const data = Buffer.from(JSON.stringify({ v: 1, pathname: '/srv/incoming/some/file.dat', size: 123456, pad: 'x'.repeat(300) }));
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await publisher.enqueue({ subject: `bench.${stream}.h1`, id: `h1:${i}`, data });
  await publisher.flush();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await publisher.close();
  return { rate: count / seconds, seconds, sent: publisher.stats.sent };
}

/** End to end: a file closed on the host -> the message fetched by a worker (a durable pull consumer). */
async function endToEnd(url, files, interval) {
  const root = mkdtempSync(join(work, 'incoming-'));
  const settleTime = 50;
  const fwd = await lib.forwardArrivals(root, { servers: url, spoolDir: join(work, 'spool-e2e'), host: 'h1', transfers: { settleTime } });
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  const consumerReady = (async () => {
    for (;;) {
      try {
        await jsm.consumers.add('INOTIFY_ARRIVALS', { durable_name: 'bench', ack_policy: AckPolicy.Explicit });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50)); // the stream is created by the first publish's connect
      }
    }
  })();
  const written = new Map();
  const latencies = [];
  // Prime: one file so the stream exists before the consumer is created.
  writeFileSync(join(root, 'prime'), 'x');
  await fwd.flush();
  await consumerReady;
  const consumer = await jetstream(nc).consumers.get('INOTIFY_ARRIVALS', 'bench');
  const receiving = (async () => {
    while (latencies.length < files) {
      const message = await consumer.next({ expires: 2000 });
      if (message === null) continue;
      const arrival = lib.decodeArrival(message.data);
      const t0 = written.get(arrival.pathname);
      if (t0 !== undefined) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      message.ack();
    }
  })();
  for (let i = 0; i < files; i++) {
    const file = join(root, `f${i}`);
    writeFileSync(file, `file ${i}`);
    written.set(file, process.hrtime.bigint());
    await new Promise((r) => setTimeout(r, interval));
  }
  await receiving;
  await fwd.close();
  await nc.close();
  latencies.sort((a, b) => a - b);
  return { settleTime, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) };
}

const { child, url } = await startServer();
try {
  const messages = Number(opt.messages);
  const withFsync = await publishRate(url, messages, true);
  const withoutFsync = await publishRate(url, messages, false);
  const e2e = await endToEnd(url, Number(opt.files), Number(opt.interval));
  console.log(`| measure | value |
|---|---|
| publish, spool fsync on (${messages} messages, 1 host) | ${Math.round(withFsync.rate)} msg/s |
| publish, spool fsync off | ${Math.round(withoutFsync.rate)} msg/s |
| file closed -> worker fetched, p50 (${opt.files} files, 1 every ${opt.interval} ms; includes settleTime ${e2e.settleTime} ms) | ${e2e.p50.toFixed(1)} ms |
| same, p99 | ${e2e.p99.toFixed(1)} ms |
| same, max | ${e2e.max.toFixed(1)} ms |`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(work, { recursive: true, force: true });
}
