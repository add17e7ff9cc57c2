/**
 * fleet-worker: one of N workers that process the files hosts forward with
 * inotify-native's forwardArrivals() / PublishScheduler (docs/fleet.md).
 * Every worker started with the same --consumer shares one durable pull
 * consumer: each message goes to one of them; it is acknowledged only after
 * the job succeeded; a worker that dies mid-job stops extending its claim
 * (`working()`), so after --ack-wait the message goes to another worker.
 *
 * Run, from a clone after `npm install` (README, "Running the examples"):
 *
 *   node examples/fleet-worker/worker.mts --servers nats://10.0.0.5:4222 --copy-to /srv/processed   # Node >= 22.18
 *   node examples/fleet-worker/worker.mts --servers nats://10.0.0.5:4222 --exec /usr/local/bin/ingest --
 *   npx tsc -p examples && node examples/dist/fleet-worker/worker.mjs --servers ... --copy-to DIR    # Node 20
 *
 * Options: --servers URL (repeatable), --stream NAME (INOTIFY_ARRIVALS),
 * --consumer NAME (fleet-workers), --ack-wait MS (30000), --max-deliver N (5),
 * --retry-delay MS (5000, before a failed job is offered again),
 * then the job, one of:
 *   --copy-to DIR       copy the file (from shared storage: the host's pathname
 *                       must be readable here) to DIR/<host>/<relpath>, via a
 *                       temporary name and a rename; checks the sha256 when the
 *                       message has one
 *   --exec CMD [ARG...] (last) run CMD ARG... <pathname>, no shell; exit 0 = done.
 *                       Env: FLEET_ID, FLEET_HOST, FLEET_PATHNAME_HEX (exact bytes)
 *
 * One line per step on stdout:
 *   ready stream=<s> consumer=<c>
 *   waiting <why>                                   (server unreachable; retried every second)
 *   start seq=<n> delivery=<n> id=<id> <pathname>
 *   done seq=<n> delivery=<n> id=<id> <result>
 *   fail seq=<n> delivery=<n> id=<id> <reason>      (offered again after --retry-delay, up to --max-deliver)
 * SIGINT/SIGTERM: stop taking messages, finish the current job, exit 0.
 * Exit status 2: a command-line mistake (--help prints the usage).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { decodeArrival, type DecodedArrival } from 'inotify-native';

interface Options {
  servers: string[];
  stream: string;
  consumer: string;
  ackWait: number;
  maxDeliver: number;
  retryDelay: number;
  copyTo: string | undefined;
  exec: string[] | undefined;
}

const USAGE = 'usage: worker --servers URL [--stream S] [--consumer C] [--ack-wait MS] [--max-deliver N] [--retry-delay MS] (--copy-to DIR | --exec CMD [ARG...])\n';

/** A command-line mistake: the reason and the usage on stderr, exit status 2. */
function usage(message: string): never {
  process.stderr.write(`fleet-worker: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const options: Options = { servers: [], stream: 'INOTIFY_ARRIVALS', consumer: 'fleet-workers', ackWait: 30_000, maxDeliver: 5, retryDelay: 5000, copyTo: undefined, exec: undefined };
  const number = (value: string | undefined, name: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) usage(`${name} takes a positive integer, given ${String(value)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => argv[++i] ?? usage(`${String(arg)} needs a value`);
    switch (arg) {
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      case '--servers': options.servers.push(value()); break;
      case '--stream': options.stream = value(); break;
      case '--consumer': options.consumer = value(); break;
      case '--ack-wait': options.ackWait = number(value(), arg); break;
      case '--max-deliver': options.maxDeliver = number(value(), arg); break;
      case '--retry-delay': options.retryDelay = number(value(), arg); break;
      case '--copy-to': options.copyTo = path.resolve(value()); break;
      case '--exec':
        options.exec = argv.slice(i + 1);
        if (options.exec.length === 0) usage('--exec needs a command');
        i = argv.length;
        break;
      default: usage(`unknown argument ${String(arg)}`);
    }
  }
  if (options.servers.length === 0) usage('--servers is required');
  if ((options.copyTo === undefined) === (options.exec === undefined)) usage('give one job: --copy-to DIR or --exec CMD');
  return options;
}

/** The pathname's exact bytes below the watched root (the basename when the message has no root). */
function relativeBytes(arrival: DecodedArrival): Buffer {
  const bytes = arrival.pathnameBytes;
  const root = arrival.root === null ? undefined : Buffer.from(`${arrival.root}/`);
  if (root !== undefined && bytes.subarray(0, root.length).equals(root)) return bytes.subarray(root.length);
  return bytes.subarray(bytes.lastIndexOf('/') + 1);
}

/** Copies the file to DIR/<host>/<relpath> through a temporary name; verifies the sha256 when the message has one. */
async function copyJob(arrival: DecodedArrival, dir: string): Promise<string> {
  const hostDir = path.join(dir, arrival.host.replace(/\//g, '_'));
  const target = Buffer.concat([Buffer.from(`${hostDir}/`), relativeBytes(arrival)]);
  const parent = target.subarray(0, target.lastIndexOf('/'));
  mkdirSync(parent, { recursive: true });
  const temp = Buffer.concat([parent, Buffer.from(`/.fleet-${process.pid}-${arrival.id.replace(/[^\w]/g, '_').slice(-40)}`)]);
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(arrival.pathnameBytes), tap, createWriteStream(temp));
    const digest = hash.digest('hex');
    if (arrival.sha256 !== undefined && digest !== arrival.sha256) throw new Error(`sha256 ${digest} differs from the message's ${arrival.sha256} (the file changed since it arrived)`);
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  return `copied to ${target.toString()}`;
}

/** Runs the command with the pathname appended (argv, no shell). */
function execJob(arrival: DecodedArrival, argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, [...args, arrival.pathname], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, FLEET_ID: arrival.id, FLEET_HOST: arrival.host, FLEET_PATHNAME_HEX: arrival.pathnameBytes.toString('hex') },
    });
    child.once('error', reject);
    child.once('close', (code, signal) => (code === 0 ? resolve('exit=0') : reject(new Error(signal === null ? `exit=${code}` : `signal=${signal}`))));
  });
}

const options = parseArgs(process.argv.slice(2));
let stopping = false;
let wake: (() => void) | undefined;
const stop = (): void => {
  stopping = true;
  wake?.();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  wake = () => {
    clearTimeout(timer);
    resolve();
  };
});

/** Creates the stream (as the publishers would) and the shared durable consumer when they do not exist. */
async function prepare(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(options.stream);
  } catch {
    await jsm.streams.add({ name: options.stream, subjects: ['inotify.arrivals.>'] }).catch(() => undefined); // another worker may win the race
  }
  try {
    await jsm.consumers.info(options.stream, options.consumer);
  } catch {
    await jsm.consumers.add(options.stream, {
      durable_name: options.consumer, ack_policy: AckPolicy.Explicit, ack_wait: nanos(options.ackWait), max_deliver: options.maxDeliver,
    });
  }
}

async function handle(message: JsMsg): Promise<void> {
  const tag = `seq=${message.seq} delivery=${message.info.deliveryCount}`;
  let arrival: DecodedArrival;
  try {
    arrival = decodeArrival(message.data);
  } catch (error) {
    console.log(`fail ${tag} not an arrival message (${(error as Error).message}): dropped`);
    message.term();
    return;
  }
  console.log(`start ${tag} id=${arrival.id} ${arrival.pathname}`);
  // Extend the claim while the job runs: only a worker that is gone lets its message be redelivered.
  const heartbeat = setInterval(() => message.working(), Math.max(100, Math.floor(options.ackWait / 3)));
  try {
    const result = options.copyTo !== undefined ? await copyJob(arrival, options.copyTo) : await execJob(arrival, options.exec ?? []);
    await message.ackAck();
    console.log(`done ${tag} id=${arrival.id} ${result}`);
  } catch (error) {
    message.nak(options.retryDelay);
    console.log(`fail ${tag} id=${arrival.id} ${(error as Error).message}`);
  } finally {
    clearInterval(heartbeat);
  }
}

while (!stopping) {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: options.servers, reconnect: false, timeout: 5000 });
    await prepare(nc);
  } catch (error) {
    console.log(`waiting ${(error as Error).message}`);
    await sleep(1000);
    continue;
  }
  console.log(`ready stream=${options.stream} consumer=${options.consumer}`);
  try {
    const consumer = await jetstream(nc).consumers.get(options.stream, options.consumer);
    while (!stopping) {
      // A short expiry: a stop request is seen within a second even when there is no work.
      const message = await consumer.next({ expires: 1000 });
      if (message !== null) await handle(message);
    }
  } catch (error) {
    if (!stopping) console.log(`waiting ${(error as Error).message}`);
  } finally {
    await nc.close().catch(() => undefined);
  }
}
