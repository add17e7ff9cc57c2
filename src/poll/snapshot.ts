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
  const queue = [root];
  for (let i = 0; i < queue.length && !truncated; i++) {
    const dir = queue[i] as string;
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (error) {
      if (dir === root) throw error;
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
        continue; // gone between readdir and lstat: next poll sees it gone
      }
      const isDir = st.isDirectory();
      entries.set(pathname, { ino: st.ino, dir: isDir, size: st.size, mtimeNs: st.mtimeNs });
      if (isDir && options.recursive) queue.push(pathname);
    }
  }
  return { entries, truncated, stats };
}
