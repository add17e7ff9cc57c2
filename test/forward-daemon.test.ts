/**
 * PublishScheduler in the inotifyd daemon (the CLI, as a user runs it), with
 * a real nats-server: arrivals spooled while the server is down survive a
 * SIGKILL of the daemon and are sent, in order and once each, by the next
 * run. And without the client package: a clear error naming it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { runCli, startDaemon, tempDir, until } from './daemon-helpers.js';
import { readStream } from './forward-helpers.js';
import { ensureLib } from './helpers/child.js';
import { repoRoot } from './helpers/index.js';
import { haveNatsServer, startNatsServer } from './helpers/nats-server.js';

function config(url: string, incoming: string, spoolDir: string, transfers = '{ settleTime: 50 }'): string {
  return `import { defineConfig, PublishScheduler } from 'inotify-native';
const publish = new PublishScheduler({ servers: ${JSON.stringify(url)}, spoolDir: ${JSON.stringify(spoolDir)}, host: 'd1', retryMin: 50, retryMax: 300 });
export default defineConfig({
  watches: [{ path: ${JSON.stringify(incoming)}, rec: true, autoAdd: true, eventMap: { TRANSFER_COMPLETE: publish }, transfers: ${transfers} }],
  shutdownTimeout: '10s',
});
`;
}

const spooled = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => name.endsWith('.msg')).sort() : []);

describe.skipIf(!haveNatsServer)('PublishScheduler in inotifyd', () => {
  test('a daemon killed with arrivals still spooled (server down) sends them all when restarted, in order, once each', async () => {
    const server = await startNatsServer();
    await server.stop(); // the port is kept: the daemon starts while the server is unreachable
    const dir = tempDir();
    const incoming = path.join(dir, 'incoming');
    const spoolDir = path.join(dir, 'spool');
    fs.mkdirSync(incoming);
    const first = await startDaemon(dir, config(server.url, incoming, spoolDir));
    const names = Array.from({ length: 12 }, (_, i) => `file-${String(i).padStart(2, '0')}.bin`);
    for (const [i, name] of names.entries()) {
      fs.writeFileSync(path.join(incoming, name), `payload ${i}`);
      await until(() => spooled(spoolDir).length === i + 1, () => `${name} spooled:\n${first.stderr}`);
    }
    await first.waitFor(/publish WARNING\] jetstream: /);
    expect((await first.stop('SIGKILL')).signal).toBe('SIGKILL');
    expect(spooled(spoolDir)).toHaveLength(12);
    expect(fs.existsSync(path.join(spoolDir, '.lock'))).toBe(true); // left by the killed daemon: taken over

    await server.start();
    const second = await startDaemon(dir, config(server.url, incoming, spoolDir));
    await second.waitFor('12 message(s) left in the spool');
    await until(() => spooled(spoolDir).length === 0, () => `the spool drained:\n${second.stderr}`);
    const stream = await readStream(server.url);
    expect(stream.map((m) => path.basename(m.pathname))).toEqual(names);
    expect(stream.every((m) => m.host === 'd1' && m.root === incoming && m.event === 'TRANSFER_COMPLETE' && m.via === 'close-write')).toBe(true);

    // A new arrival goes straight through; a clean stop closes the connection and releases the spool.
    fs.writeFileSync(path.join(incoming, 'late.bin'), 'late');
    await until(() => second.stderr.includes('as stream seq 13'), () => `late.bin sent:\n${second.stderr}`);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(path.join(spoolDir, '.lock'))).toBe(false);
    expect(second.stderr).not.toMatch(/ERROR|CRITICAL/);
    expect((await readStream(server.url)).map((m) => path.basename(m.pathname))).toEqual([...names, 'late.bin']);
  });

  test('files that arrived while the daemon was dead are found at restart (reportExisting); the ones already sent are dropped by the stream as duplicates', async () => {
    const server = await startNatsServer();
    const dir = tempDir();
    const incoming = path.join(dir, 'incoming');
    const spoolDir = path.join(dir, 'spool');
    fs.mkdirSync(incoming);
    const transfers = '{ settleTime: 50, quietPeriod: 100, reportExisting: true }';
    const first = await startDaemon(dir, config(server.url, incoming, spoolDir, transfers));
    for (const name of ['a.bin', 'b.bin']) fs.writeFileSync(path.join(incoming, name), name);
    await until(() => first.stderr.includes('as stream seq 2'), () => `a and b sent:\n${first.stderr}`);
    await first.stop('SIGKILL');
    for (const name of ['c.bin', 'd.bin']) fs.writeFileSync(path.join(incoming, name), name);

    const second = await startDaemon(dir, config(server.url, incoming, spoolDir, transfers));
    await until(() => (second.stderr.match(/sent \S+ as stream seq/g) ?? []).length === 4, () => `4 acknowledgements:\n${second.stderr}`);
    expect(second.stderr.match(/\(duplicate: the stream had it already\)/g)).toHaveLength(2);
    const stream = await readStream(server.url);
    expect(stream.map((m) => path.basename(m.pathname)).sort()).toEqual(['a.bin', 'b.bin', 'c.bin', 'd.bin']);
    expect(stream.slice(2).every((m) => m.via === 'found')).toBe(true);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  test('SIGHUP: the new config\'s scheduler takes the spool over from the old one; arrivals before and after are each sent once', async () => {
    const server = await startNatsServer();
    const dir = tempDir();
    const incoming = path.join(dir, 'incoming');
    const spoolDir = path.join(dir, 'spool');
    fs.mkdirSync(incoming);
    const daemon = await startDaemon(dir, config(server.url, incoming, spoolDir));
    fs.writeFileSync(path.join(incoming, 'before.bin'), 'before');
    await until(() => daemon.stderr.includes('as stream seq 1'), () => `before.bin sent:\n${daemon.stderr}`);
    daemon.child.kill('SIGHUP');
    await daemon.waitFor('config reloaded');
    fs.writeFileSync(path.join(incoming, 'after.bin'), 'after');
    await until(() => daemon.stderr.includes('as stream seq 2'), () => `after.bin sent:\n${daemon.stderr}`);
    expect(await daemon.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(daemon.stderr).not.toMatch(/ERROR|CRITICAL|ERR_FORWARD/);
    expect((await readStream(server.url)).map((m) => path.basename(m.pathname))).toEqual(['before.bin', 'after.bin']);
    expect(spooled(spoolDir)).toEqual([]);
  });
});

describe('without the NATS client package', () => {
  // Makes require() of @nats-io/* fail as it does when the package is not installed.
  const hideClient = (dir: string): string => {
    const file = path.join(dir, 'hide-nats.cjs');
    fs.writeFileSync(file, `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request.startsWith('@nats-io/')) throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
  return resolve.call(this, request, ...rest);
};
`);
    return file;
  };

  test('the core package loads and works; forwarding throws ERR_FORWARD_CLIENT_MISSING naming the packages to install', () => {
    const dir = tempDir();
    const lib = ensureLib();
    const script = `const lib = require(${JSON.stringify(lib)});
const out = { watchWorks: typeof lib.WatchManager === 'function' };
try { new lib.JetStreamTransport({ servers: 'nats://127.0.0.1:1' }); } catch (e) { out.code = e.code; out.message = e.message; }
console.log(JSON.stringify(out));`;
    const run = spawnSync(process.execPath, ['--require', hideClient(dir), '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout) as { watchWorks: boolean; code: string; message: string };
    expect(out.watchWorks).toBe(true);
    expect(out.code).toBe('ERR_FORWARD_CLIENT_MISSING');
    expect(out.message).toContain('npm install @nats-io/transport-node@3.3.1 @nats-io/jetstream@3.3.1');
  });

  test('inotifyd -t on a config with a PublishScheduler fails with that message (exit 1), before anything is watched', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'config.mjs'), config('nats://127.0.0.1:1', dir, path.join(dir, 'spool')));
    const hook = hideClient(dir);
    const result = spawnSync(process.execPath, ['--require', hook, path.join(repoRoot, 'lib', 'cli', 'inotifyd.js'), '-t', '-c', path.join(dir, 'config.mjs')], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/config\.mjs: module: expected a module that loads, given Error \[ERR_FORWARD_CLIENT_MISSING\]: forwarding to NATS JetStream needs the package @nats-io\/transport-node/);
    expect(fs.existsSync(path.join(dir, 'spool'))).toBe(false);
    // With the client, the same config passes.
    expect(runCli(['-t', '-c', path.join(dir, 'config.mjs')], dir)).toMatchObject({ status: 0 });
  });
});
