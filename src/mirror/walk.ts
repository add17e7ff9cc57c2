/**
 * Listing a tree for two-way sync: every path below a directory, as bytes
 * (names that are not UTF-8 stay intact), without following symlinks,
 * skipping excluded paths and the mirror's own working directory.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import { RelPath } from './rel-path.js';

/** The directory (at a root's top) where rsync parks files it replaces, for the overwrite check. */
export const REPLACED_DIR = '.inotify-mirror-replaced';

/**
 * Adds to `into` every path at and below `start` (the whole tree when
 * undefined) of the tree at `root`, by key. `excluded` takes an absolute
 * pathname. A directory that vanishes or cannot be read is skipped: its
 * events (or the next reconcile) tell the rest.
 */
export function walkTree(root: Buffer, start: RelPath | undefined, excluded: (pathname: string) => boolean, into: Map<string, RelPath>): void {
  const pending: (RelPath | undefined)[] = [start];
  if (start !== undefined) {
    const stat = fs.lstatSync(start.under(root), { throwIfNoEntry: false });
    if (stat === undefined) return;
    into.set(start.key, start);
    if (!stat.isDirectory()) return;
  }
  while (pending.length > 0) {
    const dir = pending.pop();
    let names: Buffer[];
    try {
      names = fs.readdirSync(dir === undefined ? root : dir.under(root), { encoding: 'buffer' });
    } catch {
      continue;
    }
    for (const name of names) {
      if (dir === undefined && name.toString('latin1') === REPLACED_DIR) continue;
      const path = RelPath.from(dir === undefined ? name : Buffer.concat([dir.bytes, Buffer.from('/'), name]));
      if (excluded(path.under(root).toString('utf8'))) continue;
      into.set(path.key, path);
      const stat = fs.lstatSync(path.under(root), { throwIfNoEntry: false });
      if (stat?.isDirectory() === true) pending.push(path);
    }
  }
}
