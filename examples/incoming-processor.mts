/**
 * incoming-processor: runs a job for every file that arrives, complete, in a
 * directory tree, a few at a time. The autocrunch use case (raw data pushed
 * by rsync, processed as each file lands), without its pitfalls: rsync's
 * temporary names never reach the job, every rsync mode works, files in new
 * subdirectories are not missed, interrupted uploads are reported.
 *
 * Run, from a clone after `npm install` (README, "Running the examples"):
 *
 *   node examples/incoming-processor.mts /srv/incoming --jobs 4 --filter '*.raw'   # Node >= 22.18
 *   node examples/incoming-processor.mts /srv/incoming --exec gzip -k             # a command per file
 *   npx tsc -p examples && node examples/dist/incoming-processor.mjs /srv/incoming  # Node 20
 *
 * Options: --jobs N (default 2), --filter GLOB (repeatable), --quiet-period MS,
 * --settle-time MS, --abandon-after MS, --exec CMD [ARG...] (last; the file's
 * path is appended). The default job prints the file's sha256.
 *
 * One line per result on stdout:
 *   ok <pathname> sha256=<hex> bytes=<n> via=<how it arrived> ms=<job time>
 *   ok <pathname> exit=0 via=<...> ms=<...>          (with --exec)
 *   fail <pathname> <reason>
 *   abandoned <pathname> <reason>
 * SIGINT/SIGTERM: stop watching, finish the jobs already queued, exit 0.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { trackTransfers, type TrackTransfersOptions, type TransferComplete } from 'inotify-native';

/** Runs at most `size` jobs at once; the rest wait in order. */
class WorkerPool {
  readonly #queue: Array<() => Promise<void>> = [];
  readonly #idle: Array<() => void> = [];
  #running = 0;

  readonly size: number;

  constructor(size: number) {
    this.size = size;
  }

  /** Queues a job. Jobs handle their own errors: a rejection here is a bug and is logged. */
  submit(job: () => Promise<void>): void {
    this.#queue.push(job);
    this.#next();
  }

  /** Resolves once every queued and running job has finished. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #next(): void {
    while (this.#running < this.size && this.#queue.length > 0) {
      const job = this.#queue.shift() as () => Promise<void>;
      this.#running++;
      job()
        .catch((error: unknown) => console.error('job crashed:', error))
        .finally(() => {
          this.#running--;
          this.#next();
        });
    }
    if (this.#running === 0 && this.#queue.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }
}

/** The job: a file's sha256 (streamed, so size does not matter), or a command run on it. */
type Job = (file: TransferComplete) => Promise<string>;

async function sha256(file: TransferComplete): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  const source = createReadStream(file.pathname);
  source.on('data', (chunk) => {
    bytes += chunk.length;
  });
  await pipeline(source, hash);
  return `sha256=${hash.digest('hex')} bytes=${bytes}`;
}

function command(argv: readonly string[]): Job {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('--exec needs a command');
  return (file) => new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args, file.pathname], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve('exit=0');
      else reject(new Error(`exit=${code ?? signal}`));
    });
  });
}

interface Settings {
  dir: string;
  jobs: number;
  tracker: TrackTransfersOptions;
  job: Job;
}

function parse(argv: readonly string[]): Settings {
  let dir: string | undefined;
  let jobs = 2;
  let job: Job = sha256;
  const filters: string[] = [];
  const tracker: TrackTransfersOptions = {};
  const number = (flag: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--jobs') jobs = Math.max(1, Math.floor(number(arg, argv[++i])));
    else if (arg === '--filter') filters.push(argv[++i] ?? '*');
    else if (arg === '--quiet-period') tracker.quietPeriod = number(arg, argv[++i]);
    else if (arg === '--settle-time') tracker.settleTime = number(arg, argv[++i]);
    else if (arg === '--abandon-after') tracker.abandonAfter = number(arg, argv[++i]);
    else if (arg === '--exec') {
      job = command(argv.slice(i + 1));
      break;
    } else if (dir === undefined && !arg.startsWith('--')) dir = arg;
    else throw new Error(`unknown argument: ${arg}`);
  }
  if (dir === undefined) throw new Error('usage: incoming-processor <dir> [--jobs N] [--filter GLOB] [--exec CMD ARG...]');
  if (filters.length > 0) tracker.filter = filters;
  return { dir, jobs, tracker, job };
}

async function main(): Promise<void> {
  const settings = parse(process.argv.slice(2));
  const pool = new WorkerPool(settings.jobs);
  const stop = new AbortController();
  const incoming = trackTransfers(settings.dir, { ...settings.tracker, signal: stop.signal });
  let processed = 0;
  let failed = 0;

  incoming.on('abandoned', (t) => console.log(`abandoned ${t.pathname} ${t.reason}`));
  incoming.on('error', (error) => console.error(`watch error: ${error.message}`));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => stop.abort());
  }
  console.log(`watching ${settings.dir} with ${settings.jobs} workers`);

  // Each completion becomes one job; the loop ends when the watch is closed.
  for await (const file of incoming) {
    pool.submit(async () => {
      const started = Date.now();
      try {
        const result = await settings.job(file);
        processed++;
        console.log(`ok ${file.pathname} ${result} via=${file.via} ms=${Date.now() - started}`);
      } catch (error) {
        failed++;
        console.log(`fail ${file.pathname} ${error instanceof Error ? error.message : String(error)}`);
      }
    });
  }
  await pool.idle();
  console.log(`stopped: ${processed} processed, ${failed} failed`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
