/**
 * A directory snapshot for polling: each entry's inode, type, size and
 * mtime, from one readdir per directory and one lstat per entry (the whole
 * cost of a poll), bounded by `maxEntries`.
 */
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
   * Something vanished between its listing and its lstat (or a directory
   * between its lstat and its readdir): the walk saw the tree mid-change, so
   * a subtree may be missing. Diffing it could report a moved directory's
   * contents as deleted and re-created; the poller takes another snapshot.
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

/**
 * Walks `root` (breadth first). A directory that vanishes or cannot be read
 * mid-walk is skipped (its entries count as gone); an unreadable root rejects.
 */
export async function takeSnapshot(root: string, options: SnapshotOptions): Promise<Snapshot> {
  const entries = new Map<string, SnapshotEntry>();
  let stats = 0;
  let truncated = false;
  let torn = false;
  const queue = [root];
  for (let i = 0; i < queue.length && !truncated; i++) {
    const dir = queue[i] as string;
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (error) {
      if (dir === root) throw error;
      // Gone (moved or deleted mid-walk): torn. Unreadable (EACCES): its entries are simply not seen.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') torn = true;
      continue;
    }
    for (const name of names) {
      if (entries.size >= options.maxEntries) {
        truncated = true;
        break;
      }
      const pathname = join(dir, name);
      if (options.exclude?.(pathname) === true) continue;
      let st;
      try {
        stats++;
        st = await fs.lstat(pathname, { bigint: true });
      } catch {
        torn = true; // gone between readdir and lstat
        continue;
      }
      const isDir = st.isDirectory();
      entries.set(pathname, { ino: st.ino, dir: isDir, size: st.size, mtimeNs: st.mtimeNs });
      if (isDir && options.recursive) queue.push(pathname);
    }
  }
  return { entries, truncated, torn, stats };
}
