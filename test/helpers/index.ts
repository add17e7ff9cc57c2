/**
 * Shared test helpers: a fresh temp dir per test, Inotify instances that are
 * closed when the test ends, and `collect()`, which awaits records with a
 * timeout instead of sleeping.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onTestFinished } from 'vitest';
import { Inotify, maskname, type InotifyOptions, type RawRecord } from '../../src/index.js';

/** The repository root (test/helpers/../..). */
export const repoRoot = path.resolve(__dirname, '..', '..');

/** How many inotify instances this process has open (its fds that are anon_inode:inotify). */
export function inotifyFdCount(): number {
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:inotify') count += 1;
    } catch {
      // the directory handle of readdirSync itself, closed by now
    }
  }
  return count;
}

/** A fresh directory under os.tmpdir(), removed when the current test finishes. */
export function tempDir(prefix = 'inotify-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  onTestFinished(() => removeTree(dir));
  return dir;
}

/** rm -rf: fs.rmSync cannot remove names that are not UTF-8, rm(1) can. */
export function removeTree(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    spawnSync('rm', ['-rf', '--', dir]);
  }
}

/** A new Inotify, closed when the current test finishes. */
export function openInotify(options?: InotifyOptions): Inotify {
  const ino = new Inotify(options);
  onTestFinished(() => ino.close());
  return ino;
}

/** A record as one readable line, for failure messages. */
export function describeRecord(record: RawRecord): string {
  const mask = maskname(record.mask) || '0';
  const hex = `0x${(record.mask >>> 0).toString(16)}`;
  const bytes = record.nameBytes === undefined ? '' : ` nameBytes=<${record.nameBytes.toString('hex')}>`;
  return `{wd ${record.wd} ${mask} (${hex}) cookie ${record.cookie} name ${JSON.stringify(record.name)}${bytes}}`;
}

/** What {@link collect} saw: every record, in order, and how many 'batch' emissions carried them. */
export interface Collected {
  records: RawRecord[];
  batches: number;
}

/**
 * Listens to `ino`'s 'batch' events and resolves once `until(recordsSoFar)`
 * holds. Rejects once `timeoutMs` passed with no new batch, with every record
 * seen, so a failure says what did arrive. Start it before triggering the
 * change, or in the same synchronous stretch (records are only delivered from
 * the event loop).
 *
 * The timeout counts from the last progress, and on expiry the reader gets
 * one more turn of the loop before the verdict: a test that blocks the loop
 * (writing 10,000 files synchronously on a loaded machine) would otherwise
 * see its timer fire before the records already queued in the kernel are read.
 */
export function collect(
  ino: Inotify,
  until: (records: readonly RawRecord[]) => boolean,
  timeoutMs = 20_000,
): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const seen: Collected = { records: [], batches: 0 };
    const finish = (): void => {
      clearTimeout(timer);
      ino.off('batch', onBatch);
      ino.off('error', onError);
    };
    const onBatch = (records: RawRecord[]): void => {
      seen.batches += 1;
      seen.records.push(...records);
      if (until(seen.records)) {
        finish();
        resolve(seen);
      }
    };
    const onError = (error: Error): void => {
      finish();
      reject(error);
    };
    let batchesAtArm = 0;
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      batchesAtArm = seen.batches;
      timer = setTimeout(() => setImmediate(expire), timeoutMs);
    };
    const expire = (): void => {
      if (until(seen.records)) return; // resolved by the batch read in this turn
      if (seen.batches !== batchesAtArm) return arm();
      finish();
      const list = seen.records.map(describeRecord).join('\n  ') || '(nothing)';
      reject(new Error(`no progress for ${timeoutMs} ms; saw ${seen.records.length} records in ${seen.batches} batches:\n  ${list}`));
    };
    arm();
    ino.on('batch', onBatch);
    ino.on('error', onError);
  });
}

/** A predicate for {@link collect}: some record satisfies `match`. */
export function some(match: (record: RawRecord) => boolean): (records: readonly RawRecord[]) => boolean {
  return (records) => records.some(match);
}

/** A predicate for {@link collect}: at least `count` records satisfy `match`. */
export function atLeast(count: number, match: (record: RawRecord) => boolean = () => true): (records: readonly RawRecord[]) => boolean {
  return (records) => records.filter(match).length >= count;
}

/** The records with watch descriptor `wd` and exactly mask `mask` (and name `name`, when given). */
export function exactly(wd: number, mask: number, name?: string): (record: RawRecord) => boolean {
  return (record) => record.wd === wd && record.mask === mask && (name === undefined || record.name === name);
}
