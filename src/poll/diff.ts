/**
 * The difference of two snapshots as inotify would have reported it:
 * IN_CREATE, IN_MODIFY, IN_DELETE, and IN_MOVED_FROM/IN_MOVED_TO pairs for
 * an inode found at a new path (watchdog's PollingObserver rule). Polling
 * cannot see a close: a file changed in one poll and unchanged in the next
 * gets IN_CLOSE_WRITE then.
 */
import { IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_ISDIR, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO } from '../constants.js';
import type { SnapshotEntry } from './snapshot.js';

/** One change, ready to become an event. */
export interface PollChange {
  readonly mask: number;
  readonly pathname: string;
  readonly dir: boolean;
  /** Pairs IN_MOVED_FROM with its IN_MOVED_TO. */
  readonly cookie: number;
  /** On IN_MOVED_TO: where the entry was. */
  readonly srcPathname?: string;
}

/** The result of one diff, and the files still changing (they get IN_CLOSE_WRITE once stable). */
export interface PollDiff {
  readonly changes: PollChange[];
  readonly changing: Set<string>;
}

/** True when `path` is below `dir`. */
function isBelow(path: string, dir: string): boolean {
  return path.startsWith(`${dir}/`);
}

/**
 * Compares `before` and `after`. `changing`: files changed in the previous
 * diff. `nextCookie` hands out move cookies. Directories created or moved
 * come before what is inside them; deletions come children first.
 */
export function diffSnapshots(
  before: ReadonlyMap<string, SnapshotEntry>, after: ReadonlyMap<string, SnapshotEntry>, changing: ReadonlySet<string>, nextCookie: () => number,
): PollDiff {
  const changes: PollChange[] = [];
  const stillChanging = new Set<string>();
  // Inodes that left their path: candidates for moves.
  const goneByIno = new Map<bigint, string>();
  for (const [path, entry] of before) {
    const now = after.get(path);
    if (now === undefined || now.ino !== entry.ino) goneByIno.set(entry.ino, path);
  }
  const movedDirs: Array<[string, string]> = [];
  const moved = new Set<string>(); // old paths taken by a move
  const arrivals = [...after.keys()].filter((path) => before.get(path)?.ino !== after.get(path)?.ino).sort();
  const created: string[] = [];
  // First the moves (so that a path re-used after its entry moved away is not taken for a deletion).
  for (const path of arrivals) {
    const entry = after.get(path) as SnapshotEntry;
    const from = goneByIno.get(entry.ino);
    if (from === undefined || before.get(from)?.dir !== entry.dir || moved.has(from)) {
      created.push(path);
      continue;
    }
    moved.add(from);
    // Inside a directory that moved, at the same relative place: the directory's move says it all.
    if (movedDirs.some(([src, dst]) => isBelow(path, dst) && from === src + path.slice(dst.length))) continue;
    const isd = entry.dir ? IN_ISDIR : 0;
    const cookie = nextCookie();
    changes.push({ mask: IN_MOVED_FROM | isd, pathname: from, dir: entry.dir, cookie });
    changes.push({ mask: IN_MOVED_TO | isd, pathname: path, dir: entry.dir, cookie, srcPathname: from });
    if (entry.dir) movedDirs.push([from, path]);
    else if (before.get(from)?.size !== entry.size || before.get(from)?.mtimeNs !== entry.mtimeNs) stillChanging.add(path);
  }
  for (const path of created) {
    const entry = after.get(path) as SnapshotEntry;
    const old = before.get(path);
    // The path names another inode now, and the old one did not move: it was deleted first.
    if (old !== undefined && !moved.has(path)) {
      changes.push({ mask: IN_DELETE | (old.dir ? IN_ISDIR : 0), pathname: path, dir: old.dir, cookie: 0 });
      moved.add(path);
    }
    changes.push({ mask: IN_CREATE | (entry.dir ? IN_ISDIR : 0), pathname: path, dir: entry.dir, cookie: 0 });
    if (!entry.dir) {
      if (entry.size > 0n) changes.push({ mask: IN_MODIFY, pathname: path, dir: false, cookie: 0 });
      stillChanging.add(path);
    }
  }
  // Same inode, same path: modified when its size or mtime changed; closed once it stops changing.
  for (const [path, entry] of after) {
    const old = before.get(path);
    if (old === undefined || old.ino !== entry.ino || entry.dir) continue;
    if (old.size !== entry.size || old.mtimeNs !== entry.mtimeNs) {
      changes.push({ mask: IN_MODIFY, pathname: path, dir: false, cookie: 0 });
      stillChanging.add(path);
    } else if (changing.has(path)) {
      changes.push({ mask: IN_CLOSE_WRITE, pathname: path, dir: false, cookie: 0 });
    }
  }
  // Gone, and not moved: deleted (children before their directory).
  const deletions = [...before.keys()].filter((path) => !moved.has(path) && after.get(path)?.ino !== before.get(path)?.ino
    && !movedDirs.some(([src]) => isBelow(path, src))).sort().reverse();
  for (const path of deletions) {
    const old = before.get(path) as SnapshotEntry;
    changes.push({ mask: IN_DELETE | (old.dir ? IN_ISDIR : 0), pathname: path, dir: old.dir, cookie: 0 });
  }
  return { changes, changing: stillChanging };
}
