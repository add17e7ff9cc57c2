/**
 * forwardArrivals() against a real nats-server (JetStream, 127.0.0.1, a
 * free port, started by the test): each arrival published once with the
 * right fields; an outage spools in order and loses nothing; a re-send is
 * dropped by the stream's message-id window.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { PublishScheduler, forwardArrivals, type ArrivalForwarding, type ArrivalMessage, type ForwardArrivalsOptions } from '../src/index.js';
import { tempDir, until } from './daemon-helpers.js';
import { readStream } from './forward-helpers.js';
import { haveNatsServer, startNatsServer } from './helpers/nats-server.js';

const transfers = { settleTime: 50, quietPeriod: 100 };

async function forward(root: string, options: Omit<ForwardArrivalsOptions, 'spoolDir'> & { spoolDir?: string }): Promise<ArrivalForwarding & { spooledLog: ArrivalMessage[] }> {
  const fwd = await forwardArrivals(root, { spoolDir: path.join(tempDir('spool-'), 'spool'), transfers, retryMin: 50, retryMax: 200, ...options });
  const spooledLog: ArrivalMessage[] = [];
  fwd.on('spooled', (message) => spooledLog.push(message));
  fwd.on('retry', () => undefined); // expected while the server is down
  onTestFinished(() => fwd.close());
  return Object.assign(fwd, { spooledLog });
}

describe.skipIf(!haveNatsServer)('forwardArrivals to NATS JetStream', () => {
  test('each arrival is published once, with host, root, pathname (exact bytes too), size, mtime, sha256, via, event time and a stable id', async () => {
    const server = await startNatsServer();
    const root = tempDir('incoming-');
    const fwd = await forward(root, { servers: server.url, host: 'host-a', hash: true });
    const sent: string[] = [];
    fwd.on('sent', (message, ack) => sent.push(`${message.pathname}:${ack.duplicate}`));

    fs.writeFileSync(path.join(root, 'plain.txt'), 'hello');
    fs.writeFileSync(path.join(root, '.part.tmp'), 'renamed-in');
    fs.renameSync(path.join(root, '.part.tmp'), path.join(root, 'renamed.dat'));
    const badName = Buffer.concat([Buffer.from(`${root}/bad-`), Buffer.from([0xff, 0xfe]), Buffer.from('.bin')]);
    fs.writeFileSync(badName, 'not utf-8 name');
    await until(() => sent.length === 3, () => `3 acknowledged messages (have ${sent.join(', ')})`);

    const stream = await readStream(server.url);
    expect(stream).toHaveLength(3);
    const byName = new Map(stream.map((m) => [m.pathnameBytes.toString('hex'), m]));
    const cases: Array<[Buffer, string, string]> = [
      [Buffer.from(path.join(root, 'plain.txt')), 'hello', 'close-write'],
      [Buffer.from(path.join(root, 'renamed.dat')), 'renamed-in', 'atomic-rename'],
      [badName, 'not utf-8 name', 'close-write'],
    ];
    for (const [bytes, content, via] of cases) {
      const message = byName.get(bytes.toString('hex'));
      expect(message, bytes.toString()).toBeDefined();
      if (message === undefined) continue;
      const stat = fs.statSync(bytes, { bigint: true });
      expect(message).toMatchObject({
        v: 1, host: 'host-a', root, size: content.length, via, event: 'TRANSFER_COMPLETE',
        sha256: createHash('sha256').update(content).digest('hex'),
        dev: String(stat.dev), ino: String(stat.ino), mtime_ns: String(stat.mtimeNs),
        id: `host-a:${stat.dev}:${stat.ino}:${stat.mtimeNs}:${stat.size}`,
      });
      expect(message.msgId).toBe(message.id);
      expect(message.relpath).toBe(path.relative(root, bytes.toString()));
      expect(Date.parse(message.mtime)).toBe(Math.floor(Number(stat.mtimeNs / 1_000_000n)));
      expect(Math.abs(Date.parse(message.event_time) - Date.now())).toBeLessThan(10 * 60_000);
      expect(fs.readFileSync(message.pathnameBytes, 'utf8')).toBe(content);
    }
    const bad = byName.get(badName.toString('hex'));
    expect(bad?.pathname_b64).toBe(badName.toString('base64'));
    expect(bad?.pathname).toContain('\uFFFD');
    expect(byName.get(Buffer.from(path.join(root, 'plain.txt')).toString('hex'))?.pathname_b64).toBeUndefined();
    expect(byName.get(Buffer.from(path.join(root, 'renamed.dat')).toString('hex'))?.src_pathname).toBe(path.join(root, '.part.tmp'));

    // The same arrival sent again (a restart that finds it again) is dropped by the stream: same id.
    const again = await fwd.forwarder.forward({ pathname: path.join(root, 'plain.txt'), via: 'found' }, root);
    await until(() => sent.length === 4, 'the re-send acknowledged');
    expect(sent[3]).toBe(`${again.pathname}:true`);
    expect(fwd.forwarder.publisher.stats).toMatchObject({ sent: 3, duplicates: 1, rejected: 0 });
    expect(await readStream(server.url)).toHaveLength(3);
  });

  test('server down: arrivals wait in the spool on disk, in order; when it returns they all arrive in that order, none twice', async () => {
    const server = await startNatsServer();
    const root = tempDir('incoming-');
    const spoolDir = path.join(tempDir('spool-'), 'spool');
    const fwd = await forward(root, { servers: server.url, host: 'host-b', spoolDir });
    let acked = 0;
    fwd.on('sent', () => acked++);
    for (let i = 0; i < 5; i++) {
      fs.writeFileSync(path.join(root, `before-${i}`), `b${i}`);
      await until(() => fwd.spooledLog.length === i + 1, () => `before-${i} spooled`);
    }
    await until(() => acked === 5, '5 messages acknowledged before the outage');

    await server.stop();
    for (let i = 0; i < 20; i++) {
      fs.writeFileSync(path.join(root, `during-${String(i).padStart(2, '0')}`), `d${i}`);
      await until(() => fwd.spooledLog.length === 5 + i + 1, () => `during-${i} spooled`);
    }
    // Nothing acknowledged while the server is down; all 20 are files in the spool.
    expect(acked).toBe(5);
    expect(fwd.pending).toBe(20);
    expect(fs.readdirSync(spoolDir).filter((name) => name.endsWith('.msg'))).toHaveLength(20);

    await server.start();
    await fwd.flush(60_000);
    expect(acked).toBe(25);
    expect(fs.readdirSync(spoolDir).filter((name) => name.endsWith('.msg'))).toHaveLength(0);
    const stream = await readStream(server.url);
    expect(stream.map((m) => m.id)).toEqual(fwd.spooledLog.map((m) => m.id));
    expect(new Set(stream.map((m) => m.id)).size).toBe(25);
    expect(stream.slice(5).map((m) => path.basename(m.pathname))).toEqual(Array.from({ length: 20 }, (_, i) => `during-${String(i).padStart(2, '0')}`));
  });

  test('the spool is bounded: beyond maxMessages an arrival is refused with ERR_FORWARD_SPOOL_FULL (reported, not silently lost)', async () => {
    const root = tempDir('incoming-');
    // No server at all: port 1 refuses connections.
    const fwd = await forward(root, { servers: 'nats://127.0.0.1:1', maxMessages: 3 });
    const skipped: Array<[string, string | undefined]> = [];
    fwd.on('skipped', (pathname, error) => skipped.push([path.basename(pathname), (error as NodeJS.ErrnoException).code]));
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(root, `f${i}`), 'x');
    await until(() => fwd.spooledLog.length + skipped.length === 5, '5 arrivals handled');
    expect(fwd.spooledLog).toHaveLength(3);
    expect(skipped.map(([, code]) => code)).toEqual(['ERR_FORWARD_SPOOL_FULL', 'ERR_FORWARD_SPOOL_FULL']);
  });

  test('a spool directory is owned by one process: a second live owner gets ERR_FORWARD_SPOOL_LOCKED', async () => {
    const spoolDir = path.join(tempDir('spool-'), 'spool');
    fs.mkdirSync(spoolDir);
    // pid 1 is alive (init), so its lock is not stale.
    fs.writeFileSync(path.join(spoolDir, '.lock'), '1\n');
    await expect(forwardArrivals(tempDir(), { servers: 'nats://127.0.0.1:1', spoolDir })).rejects.toMatchObject({ code: 'ERR_FORWARD_SPOOL_LOCKED', path: spoolDir });
    // A lock left by a process that is gone is taken over.
    fs.writeFileSync(path.join(spoolDir, '.lock'), `${2 ** 22 + 1}\n`);
    const fwd = await forwardArrivals(tempDir(), { servers: 'nats://127.0.0.1:1', spoolDir });
    fwd.on('retry', () => undefined);
    expect(fs.readFileSync(path.join(spoolDir, '.lock'), 'utf8')).toBe(`${process.pid}\n`);
    await fwd.close();
    expect(fs.existsSync(path.join(spoolDir, '.lock'))).toBe(false);
  });
});

test('bad options are argument errors with a code, before anything is watched', async () => {
  await expect(forwardArrivals(os.tmpdir(), { servers: [], spoolDir: '/tmp/x' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await expect(forwardArrivals(os.tmpdir(), { servers: 'nats://127.0.0.1:1', spoolDir: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await expect(forwardArrivals(os.tmpdir(), { servers: 'nats://127.0.0.1:1', spoolDir: '/tmp/x', subject: 'a.*' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  // A misspelt option is an error, not silently ignored.
  await expect(forwardArrivals(os.tmpdir(), { servers: 'nats://127.0.0.1:1', spoolDir: '/tmp/x', hsh: true } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.hsh') });
  expect(() => new PublishScheduler({ servers: 'nats://127.0.0.1:1', spoolDir: '/tmp/x', spooldir: '/tmp/y' } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  expect(fs.existsSync('/tmp/x')).toBe(false);
});
