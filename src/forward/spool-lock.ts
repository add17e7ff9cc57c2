/**
 * One owner per spool directory. Across processes: a `.lock` file holding
 * the owner's pid (a lock left by a killed process is taken over). Within a
 * process: a second opener waits until the first releases it, as happens on
 * a daemon reload, where the new config's publisher starts before the old
 * one has finished.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { forwardError } from './errors.js';

const held = new Map<string, Promise<void>>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function takeFileLock(file: string): void {
  for (;;) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let pid = Number.NaN;
    try {
      pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    } catch {
      continue; // released meanwhile: try again
    }
    if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) {
      throw forwardError('ERR_FORWARD_SPOOL_LOCKED', `the spool ${nodePath.dirname(file)} is in use by process ${pid}`, { path: nodePath.dirname(file) });
    }
    try {
      unlinkSync(file); // left by a process that is gone (or by this one, killed and restarted with the same pid)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** Resolves with a release function once this process owns `dir`. Rejects with ERR_FORWARD_SPOOL_LOCKED when another process does. */
export async function lockSpool(dir: string): Promise<() => void> {
  const previous = held.get(dir) ?? Promise.resolve();
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const mine = previous.then(() => released);
  held.set(dir, mine);
  await previous;
  const file = nodePath.join(dir, '.lock');
  try {
    takeFileLock(file);
  } catch (error) {
    release();
    if (held.get(dir) === mine) held.delete(dir);
    throw error;
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    try {
      unlinkSync(file);
    } catch {
      // already gone: nothing to release on disk
    }
    release();
    if (held.get(dir) === mine) held.delete(dir);
  };
}
