/**
 * The transfer tracker as a Node user holds it: files already there at
 * start (`reportExisting`), and a tracker that is an EventEmitter.
 */
import { EventEmitter, getEventListeners, once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { trackTransfers, type TransferComplete } from '../src/index.js';
import { tempDir, track } from './transfer-helpers.js';

describe('reportExisting', () => {
  test('files already in the tree are reported once each, as found, after the quiet period; excluded and filtered ones are not', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    for (const name of ['a.raw', 'sub/b.raw', 'node_modules/c.raw', 'd.txt']) fs.writeFileSync(path.join(dir, name), 'x');
    const log = track(dir, { reportExisting: true, filter: ['*.raw', 'zz-sentinel-*'], exclude: 'node_modules' });
    await log.completions(2);
    await log.drain(); // every transfer ended: nothing more will be reported for them
    expect(log.names()).toEqual(['a.raw', 'sub/b.raw']);
    expect(log.files.map((c) => c.via)).toEqual(['found', 'found']);
    expect(new Set(log.files.map((c) => c.id)).size).toBe(2);
    expect(log.starts.filter((s) => !path.basename(s.pathname).startsWith('zz-'))).toHaveLength(2);
  });

  test('without it, files already there are never reported', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'old.raw'), 'x');
    const log = track(dir);
    fs.writeFileSync(path.join(dir, 'new.raw'), 'y');
    await log.completions(1);
    await log.drain();
    expect(log.names()).toEqual(['new.raw']);
  });
});

describe('TransferTracker is an EventEmitter', () => {
  test('getEventListeners, prependListener, removeAllListeners, events.once, instanceof', async () => {
    const dir = tempDir();
    const tracker = trackTransfers(dir);
    try {
      expect(tracker).toBeInstanceOf(EventEmitter);
      const order: string[] = [];
      const second = (): void => {
        order.push('second');
      };
      tracker.on('complete', second);
      tracker.prependListener('complete', () => order.push('first'));
      expect(getEventListeners(tracker, 'complete')).toHaveLength(2);
      expect(getEventListeners(tracker, 'complete')[1]).toBe(second);
      const arrived = once(tracker, 'complete') as Promise<[TransferComplete]>;
      const outside = path.join(os.tmpdir(), `moved-${process.pid}-${Date.now()}`);
      fs.writeFileSync(outside, 'z');
      fs.renameSync(outside, path.join(dir, 'm'));
      const [file] = await arrived;
      expect(file.pathname).toBe(path.join(dir, 'm'));
      expect(order).toEqual(['first', 'second']);
      tracker.removeAllListeners('complete');
      expect(tracker.listenerCount('complete')).toBe(0);
      expect(tracker.eventNames()).not.toContain('complete');
    } finally {
      await tracker.close();
    }
  });
});
