/**
 * A real nats-server with JetStream for tests: on 127.0.0.1, a port the
 * kernel picks, a temp store dir; stopped when the test finishes (and can be
 * stopped and started again on the same port and store, as in an outage).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onTestFinished } from 'vitest';

/** True when nats-server is installed (CI installs it: .ci/run). */
export const haveNatsServer = spawnSync('nats-server', ['--version']).status === 0;

/** How long a SIGTERMed server gets to flush its store and exit, on a loaded machine. */
const STOP_GRACE_MS = 60_000;

/** One nats-server process at a time, restartable. */
export class NatsServer {
  /** The client port (0 until the first start). */
  port = 0;
  readonly storeDir: string;
  #process: ChildProcess | undefined;
  #log = '';

  constructor(storeDir: string) {
    this.storeDir = storeDir;
  }

  /** nats://127.0.0.1:PORT */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#process !== undefined;
  }

  /** Starts it (on the port of the last run, or a free one the first time) and waits until it accepts clients. */
  async start(): Promise<void> {
    if (this.#process !== undefined) throw new Error('nats-server already running');
    // -p -1: the server picks a free port and prints it.
    const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(this.port === 0 ? -1 : this.port), '-js', '-sd', this.storeDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#process = child;
    this.#log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`nats-server not ready after 30 s:\n${this.#log}`)), 30_000);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        this.#process = undefined;
        reject(error);
      };
      child.once('error', fail);
      child.once('exit', (code) => {
        if (this.#process === child) fail(new Error(`nats-server exited with ${code}:\n${this.#log}`));
      });
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        this.#log += chunk;
        const port = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(this.#log)?.[1];
        if (port !== undefined && /Server is ready/.test(this.#log)) {
          clearTimeout(timer);
          this.port = Number(port);
          resolve();
        }
      });
    });
  }

  /**
   * Stops it and waits for the exit: SIGTERM, which flushes the store, then
   * SIGKILL after 60 s. Rejects when SIGKILL was needed: the file store writes
   * behind, so a killed server may have lost messages it had acknowledged,
   * and a test of an outage must not blame the forwarder for that.
   */
  async stop(): Promise<void> {
    const child = this.#process;
    if (child === undefined) return;
    this.#process = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const started = Date.now();
    child.kill('SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
    if (killed) throw new Error(`nats-server did not stop within ${Date.now() - started} ms of SIGTERM and was SIGKILLed; its log:\n${this.#log}`);
  }
}

/** Starts a nats-server with JetStream in a fresh store dir; stopped and removed when the current test finishes. */
export async function startNatsServer(): Promise<NatsServer> {
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nats-store-'));
  const server = new NatsServer(storeDir);
  onTestFinished(async () => {
    await server.stop();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });
  await server.start();
  return server;
}
