/**
 * The whole fleet on loopback: two inotifyd "hosts" (rsync pushes into one,
 * cp into the other) forwarding to one nats-server, two workers copying
 * every file out. The server is stopped in the middle and started again:
 * every file is processed exactly once, each host's order is kept.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { startDaemon, tempDir, until, type DaemonProcess } from './daemon-helpers.js';
import { readStream } from './forward-helpers.js';
import { compileExamples } from './helpers/examples.js';
import { removeTree, repoRoot } from './helpers/index.js';
import { haveNatsServer, startNatsServer } from './helpers/nats-server.js';

const outDir = path.join(repoRoot, 'examples', `.dist-fleet-e2e-${process.pid}`);
const haveRsync = spawnSync('rsync', ['--version']).status === 0;

beforeAll(() => {
  if (haveNatsServer && haveRsync) compileExamples(outDir);
}, 180_000);
afterAll(() => removeTree(outDir));

function startWorker(url: string, out: string): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, [path.join(outDir, 'fleet-worker', 'worker.mjs'), '--servers', url, '--copy-to', out, '--ack-wait', '5000'], {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += `[stderr] ${chunk}`;
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => output };
}

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
const spoolFiles = (dir: string): number => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.msg')).length : 0);

describe.skipIf(!haveNatsServer || !haveRsync)('a fleet on loopback', () => {
  test('2 hosts (rsync, cp), 2 workers, server down mid-way: every file processed once, per-host order kept', async () => {
    const server = await startNatsServer();
    const dir = tempDir('fleet-');
    const hosts = ['h1', 'h2'].map((host) => ({ host, incoming: path.join(dir, host, 'incoming'), spool: path.join(dir, host, 'spool') }));
    for (const h of hosts) fs.mkdirSync(h.incoming, { recursive: true });
    const daemons = await Promise.all(hosts.map((h) => {
      fs.mkdirSync(path.join(dir, h.host, 'etc'), { recursive: true });
      return startDaemon(path.join(dir, h.host, 'etc'), hostConfig(server.url, h.host, h.incoming, h.spool));
    }));
    const out = path.join(dir, 'processed');
    const workers = [startWorker(server.url, out), startWorker(server.url, out)];
    const doneLines = (): string[] => workers.flatMap((w) => w.output().split('\n').filter((l) => l.startsWith('done ')));
    const src = path.join(dir, 'src');

    // Batch 1: rsync into h1, cp into h2; all processed.
    const batch1 = { h1: makeFiles(path.join(src, 'b1'), 'r1', 40), h2: makeFiles(path.join(src, 'c1'), 'c1', 40) };
    expect(spawnSync('rsync', ['-a', `${path.join(src, 'b1')}/`, `${hosts[0]?.incoming}/`]).status).toBe(0);
    for (const name of batch1.h2) fs.copyFileSync(path.join(src, 'c1', name), path.join(hosts[1]?.incoming as string, name));
    await until(() => doneLines().length >= 80, `80 files processed:\n${workers.map((w) => w.output()).join('\n')}`);

    // Server down; batch 2 arrives and waits in the hosts' spools.
    await server.stop();
    const batch2 = { h1: makeFiles(path.join(src, 'b2'), 'r2', 40), h2: makeFiles(path.join(src, 'c2'), 'c2', 40) };
    expect(spawnSync('rsync', ['-a', `${path.join(src, 'b2')}/`, `${hosts[0]?.incoming}/`]).status).toBe(0);
    for (const name of batch2.h2) fs.copyFileSync(path.join(src, 'c2', name), path.join(hosts[1]?.incoming as string, name));
    await until(() => hosts.every((h) => spoolFiles(h.spool) === 40), `40 arrivals spooled on each host:\n${daemons.map((d) => d.stderr).join('\n')}`);
    expect(doneLines()).toHaveLength(80);

    await server.start();
    await until(() => doneLines().length >= 160, `160 files processed:\n${workers.map((w) => w.output()).join('\n')}`);

    // Exactly once: 160 distinct stream entries and 160 distinct jobs, no failure, every copy identical.
    const stream = await readStream(server.url);
    expect(stream).toHaveLength(160);
    const seqs = doneLines().map((l) => /seq=(\d+)/.exec(l)?.[1]);
    expect(new Set(seqs).size).toBe(160);
    expect(workers.flatMap((w) => w.output().split('\n').filter((l) => l.startsWith('fail ')))).toEqual([]);
    for (const [i, h] of hosts.entries()) {
      const names = i === 0 ? [...batch1.h1, ...batch2.h1] : [...batch1.h2, ...batch2.h2];
      for (const name of names) {
        expect(fs.readFileSync(path.join(out, h.host, name)), `${h.host}/${name}`).toEqual(fs.readFileSync(path.join(h.incoming, name)));
      }
      // Per host, the stream holds the arrivals in the order the host spooled them.
      expect(stream.filter((m) => m.host === h.host).map((m) => m.id)).toEqual(spooledIds(daemons[i] as DaemonProcess));
    }
    for (const daemon of daemons) expect(await daemon.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    for (const w of workers) {
      w.child.kill('SIGTERM');
      await until(() => w.child.exitCode !== null, 'the worker exits');
      expect(w.child.exitCode).toBe(0);
    }
  });
});
