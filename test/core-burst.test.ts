/**
 * A burst of 50,000 creates under the default kernel limits: either every
 * create is delivered, in kernel order, or the loss is announced by an
 * 'overflow' event. Never a silent loss, never a reordering.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { expect, onTestFinished, test } from 'vitest';
import { IN_CREATE, IN_Q_OVERFLOW } from '../src/index.js';
import { removeTree, tempDir } from './helpers/index.js';
import { EventLog, openNotifier, openWatchManager } from './helpers/notifier.js';

const COUNT = 50_000;

/** Runs a node child that creates `count` empty files f00000... in `dir`, as fast as it can. */
function burst(dir: string, count: number): Promise<void> {
  const script = `const fs = require('fs');
for (let i = 0; i < ${count}; i++) fs.closeSync(fs.openSync(${JSON.stringify(dir)} + '/f' + String(i).padStart(5, '0'), 'w'));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`burst child exited ${code}: ${stderr}`))));
  });
}

/** A fresh dir on tmpfs when there is one: creating 50,000 files on a disk filesystem takes seconds more. */
function fastTempDir(): string {
  if (!fs.existsSync('/dev/shm')) return tempDir();
  const dir = fs.mkdtempSync('/dev/shm/inotify-test-');
  onTestFinished(() => removeTree(dir));
  return dir;
}

test(`a burst of ${COUNT} creates: all delivered in order, or an overflow is emitted`, async () => {
  const root = fastTempDir();
  const wm = openWatchManager();
  wm.addWatch(root, IN_CREATE);
  const notifier = openNotifier(wm);
  const log = new EventLog(notifier);

  await burst(root, COUNT);
  await log.settle(root, 25_000);

  const names = log.without().filter((e) => e.wd !== -1).map((e) => e.name);
  const outOfOrder = names.findIndex((name, i) => i > 0 && name <= (names[i - 1] as string));
  expect(outOfOrder, `order broken at ${names[outOfOrder - 1]} -> ${names[outOfOrder]}`).toBe(-1);
  expect(names.every((name) => /^f\d{5}$/.test(name))).toBe(true);
  const overflowed = log.overflows.length > 0;
  // Either nothing was lost, or the loss was announced (as an 'overflow' and as an event in the stream).
  if (!overflowed) expect(names).toHaveLength(COUNT);
  else {
    expect(names.length).toBeLessThan(COUNT);
    expect(log.events.some((e) => e.wd === -1 && e.mask === IN_Q_OVERFLOW)).toBe(true);
  }
  expect(names[0]).toBe('f00000');
  expect(log.errors).toStrictEqual([]);
}, 120_000);
