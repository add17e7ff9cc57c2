/**
 * A directory snapshot for polling: each entry's inode, type, size and
 * mtime, from one readdir per directory and one lstat per entry (the whole
 * cost of a poll), bounded by `maxEntries`.
 */
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';

/** What a snapshot keeps of an entry. */
export interface SnapshotEntry {
  readonly ino: bigint;
  readonly dir: boolean;
  readonly size: bigint;
  readonly mtimeNs: bigint;
}

/** path -> entry (the root itself left out), and whether `maxEntries` cut the walk short. */
export interface Snapshot {
  readonly entries: ReadonlyMap<string, SnapshotEntry>;
  readonly truncated: boolean;
  /**
   * The walk saw the tree mid-change: something vanished between its listing
   * and its lstat (or a directory between its lstat and its readdir), so a
   * subtree may be missing; or one inode with a single link (or a directory)
   * was found at two paths, because it was renamed into a directory the walk
   * had not listed yet. Diffing it could report a move as a delete and a
   * create; the poller takes another snapshot.
   */
  readonly torn: boolean;
  /** lstat calls made. */
  readonly stats: number;
}

/** How to walk. */
export interface SnapshotOptions {
  readonly recursive: boolean;
  /** Stop after this many entries (the rest are not seen: `truncated`). */
  readonly maxEntries: number;
  /** Paths neither listed nor descended into. */
  readonly exclude?: ((pathname: string) => boolean) | undefined;
}

/** One filesystem call the walk needs: its result is sent back into the walk. */
type WalkCall = { readonly op: 'readdir'; readonly path: string } | { readonly op: 'lstat'; readonly path: string };

/**
 * The walk, breadth first, as a generator of the calls it needs (so one walk
 * serves both {@link takeSnapshot} and {@link takeSnapshotSync}). A call that
 * fails is sent back as its error. A directory that vanishes or cannot be
 * read mid-walk is skipped (its entries count as gone); an unreadable root throws.
 */
function* walk(root: string, options: SnapshotOptions): Generator<WalkCall, Snapshot, unknown> {
  const entries = new Map<string, SnapshotEntry>();
  let stats = 0;
  let truncated = false;
  let torn = false;
  // "dev:ino" of every directory and single-link file seen: one found twice is a rename seen at both ends.
  const seen = new Set<string>();
  const queue = [root];
  for (let i = 0; i < queue.length && !truncated; i++) {
    const dir = queue[i] as string;
    const names = yield { op: 'readdir', path: dir };
    if (names instanceof Error) {
      if (dir === root) throw names;
      // Gone (moved or deleted mid-walk): torn. Unreadable (EACCES): its entries are simply not seen.
      const code = (names as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') torn = true;
      continue;
    }
    for (const name of names as string[]) {
      if (entries.size >= options.maxEntries) {
        truncated = true;
        break;
      }
      const pathname = join(dir, name);
      if (options.exclude?.(pathname) === true) continue;
      stats++;
      const st = yield { op: 'lstat', path: pathname };
      if (st instanceof Error) {
        torn = true; // gone between readdir and lstat
        continue;
      }
      const { dev, ino, nlink, size, mtimeNs } = st as BigIntStats;
      const isDir = (st as BigIntStats).isDirectory();
      if (isDir || nlink === 1n) {
        const key = `${dev}:${ino}`;
        if (seen.has(key)) torn = true;
        else seen.add(key);
      }
      entries.set(pathname, { ino, dir: isDir, size, mtimeNs });
      if (isDir && options.recursive) queue.push(pathname);
    }
  }
  return { entries, truncated, torn, stats };
}

/** Walks `root` (see {@link walk}) with asynchronous calls: the event loop runs between them. */
export async function takeSnapshot(root: string, options: SnapshotOptions): Promise<Snapshot> {
  const walker = walk(root, options);
  let step = walker.next();
  while (step.done !== true) {
    const call = step.value;
    let result: unknown;
    try {
      result = call.op === 'readdir' ? await fs.readdir(call.path) : await fs.lstat(call.path, { bigint: true });
    } catch (error) {
      result = error;
    }
    step = walker.next(result);
  }
  return step.value;
}

/** The same walk with synchronous calls: a baseline taken before the caller goes on, as inotify's watches are. */
export function takeSnapshotSync(root: string, options: SnapshotOptions): Snapshot {
  const walker = walk(root, options);
  let step = walker.next();
  while (step.done !== true) {
    const call = step.value;
    let result: unknown;
    try {
      result = call.op === 'readdir' ? readdirSync(call.path) : lstatSync(call.path, { bigint: true });
    } catch (error) {
      result = error;
    }
    step = walker.next(result);
  }
  return step.value;
}
