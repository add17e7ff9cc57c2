/**
 * The disk spool and the publisher's loop on a real temp dir; the engine
 * here is a scripted ForwardTransport (the real one, JetStream, is covered
 * by forward-publish, forward-daemon and forward-workers).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import { DiskSpool, ForwardPublisher, type ForwardTransport, type OutgoingMessage, type PublishAck } from '../src/index.js';
import { tempDir, until } from './daemon-helpers.js';

const message = (n: number): OutgoingMessage => ({ subject: 's.a', id: `id-${n}`, data: Buffer.from(`payload ${n}`) });

async function openSpool(dir: string, options?: Parameters<typeof DiskSpool.open>[1]): Promise<DiskSpool> {
  const spool = await DiskSpool.open(dir, options);
  onTestFinished(() => spool.close());
  return spool;
}

test('messages come back in order after a reopen; sequence numbers go on; an interrupted write leaves nothing behind', async () => {
  const dir = path.join(tempDir(), 'spool');
  const first = await openSpool(dir);
  await Promise.all([1, 2, 3, 4].map((n) => first.append(message(n))));
  await first.remove(1);
  first.close();
  fs.writeFileSync(path.join(dir, '.tmp-99'), 'half a message');
  const second = await openSpool(dir);
  expect(second.length).toBe(3);
  expect(fs.existsSync(path.join(dir, '.tmp-99'))).toBe(false);
  expect((await second.peek())?.id).toBe('id-2');
  expect((await second.append(message(5))).seq).toBe(5);
  const ids: string[] = [];
  for (let next = await second.peek(); next !== undefined; next = await second.peek()) {
    ids.push(next.id);
    expect(Buffer.from(next.data).toString()).toBe(`payload ${next.id.slice(3)}`);
    await second.remove(next.seq);
  }
  expect(ids).toEqual(['id-2', 'id-3', 'id-4', 'id-5']);
  expect(second.bytes).toBe(0);
});

test('an unreadable spool file is moved to rejected/ and reported; the next message is read', async () => {
  const dir = path.join(tempDir(), 'spool');
  const spool = await openSpool(dir);
  await spool.append(message(1));
  await spool.append(message(2));
  const [firstFile] = fs.readdirSync(dir).filter((name) => name.endsWith('.msg')).sort();
  fs.writeFileSync(path.join(dir, firstFile as string), '{not json');
  const errors: Error[] = [];
  expect((await spool.peek((error) => errors.push(error)))?.id).toBe('id-2');
  expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ERR_FORWARD_SPOOL_CORRUPT']);
  expect(fs.readdirSync(path.join(dir, 'rejected'))).toEqual([firstFile]);
});

test('the byte bound refuses a message that would exceed it, with ERR_FORWARD_SPOOL_FULL; bad bounds are range errors', async () => {
  const spool = await openSpool(path.join(tempDir(), 'spool'), { maxBytes: 200, fsync: false });
  await spool.append(message(1));
  await spool.append(message(2));
  await expect(spool.append({ ...message(3), data: Buffer.alloc(100) })).rejects.toMatchObject({ code: 'ERR_FORWARD_SPOOL_FULL' });
  await expect(DiskSpool.open(path.join(tempDir(), 'x'), { maxMessages: 0 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
});

/** A transport that fails as scripted: 'down' (retry), 'too-big' (permanent), or stores the message. */
class ScriptedTransport implements ForwardTransport {
  readonly engine = 'scripted';
  connected = false;
  readonly stored: string[] = [];
  readonly failures = new Map<string, Array<'down' | 'too-big'>>();
  async connect(): Promise<void> {
    this.connected = true;
  }
  async publish(m: OutgoingMessage): Promise<PublishAck> {
    const failure = this.failures.get(m.id)?.shift();
    if (failure === 'down') throw new Error('connection lost');
    if (failure === 'too-big') throw Object.assign(new Error('maximum payload exceeded'), { permanent: true });
    const duplicate = this.stored.includes(m.id);
    if (!duplicate) this.stored.push(m.id);
    return { seq: this.stored.indexOf(m.id) + 1, duplicate };
  }
  async close(): Promise<void> {
    this.connected = false;
  }
}

test('the publisher keeps order through failures, sets aside a message refused for good, and re-sends until acknowledged', async () => {
  const transport = new ScriptedTransport();
  transport.failures.set('id-2', ['down', 'down']);
  transport.failures.set('id-3', ['too-big']);
  const dir = path.join(tempDir(), 'spool');
  const publisher = await ForwardPublisher.open({ transport, spoolDir: dir, retryMin: 1, retryMax: 5 });
  onTestFinished(() => publisher.close());
  const events: string[] = [];
  publisher.on('retry', (error) => events.push(`retry ${error.message}`));
  publisher.on('rejected', (error) => events.push(`rejected ${(error as NodeJS.ErrnoException).code}`));
  publisher.on('sent', (m, ack) => events.push(`sent ${m.id}${ack.duplicate ? ' dup' : ''}`));
  for (const n of [1, 2, 3, 4, 1]) await publisher.enqueue(message(n));
  await publisher.flush(30_000);
  expect(transport.stored).toEqual(['id-1', 'id-2', 'id-4']);
  expect(events).toEqual(['sent id-1', 'retry connection lost', 'retry connection lost', 'sent id-2', 'rejected ERR_FORWARD_REJECTED', 'sent id-4', 'sent id-1 dup']);
  expect(publisher.stats).toEqual({ spooled: 5, sent: 3, duplicates: 1, rejected: 1, retries: 2 });
  expect(fs.readdirSync(path.join(dir, 'rejected'))).toHaveLength(1);
  await publisher.close();
  await expect(publisher.enqueue(message(6))).rejects.toMatchObject({ code: 'ERR_FORWARD_CLOSED' });
  await until(() => !transport.connected, 'the transport closed');
});
