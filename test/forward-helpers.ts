/** Forwarding tests' shared parts: reading a JetStream stream back, running fleet workers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { onTestFinished } from 'vitest';
import { decodeArrival, type DecodedArrival } from '../src/index.js';
import { repoRoot } from './helpers/index.js';

/** The arrivals in `stream` on the server at `url`, in stream order (seq 1..last). */
export async function readStream(url: string, stream = 'INOTIFY_ARRIVALS'): Promise<Array<DecodedArrival & { seq: number; msgId: string | undefined }>> {
  const nc = await connect({ servers: url, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: Array<DecodedArrival & { seq: number; msgId: string | undefined }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq });
      if (message === null) continue;
      out.push({ ...decodeArrival(message.data), seq, msgId: message.header?.get('Nats-Msg-Id') });
    }
    return out;
  } finally {
    await nc.close();
  }
}

/**
 * One examples/fleet-worker process, in its own process group so that a
 * SIGKILL takes its job's child (an --exec command) with it.
 */
export class FleetWorker {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';

  /** Starts `node script ...args`; killed (the whole group) when the current test finishes. */
  constructor(script: string, args: string[]) {
    this.child = spawn(process.execPath, [script, ...args], { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    onTestFinished(() => this.killGroup());
  }

  /** Its stdout lines that start with `prefix` ('ready ', 'start ', 'done ', 'fail '). */
  lines(prefix: string): string[] {
    return this.stdout.split('\n').filter((line) => line.startsWith(prefix));
  }

  killGroup(signal: NodeJS.Signals = 'SIGKILL'): void {
    try {
      process.kill(-(this.child.pid as number), signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM (finish the current job, exit); resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('close', (code) => resolve(code)));
    this.child.kill('SIGTERM');
    return exited;
  }
}
