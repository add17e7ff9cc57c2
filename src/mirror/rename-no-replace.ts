/**
 * A rename that never replaces an existing entry, without renameat2(2)
 * (Node has no RENAME_NOREPLACE). The name `to` is claimed by a call that
 * fails with EEXIST when it is taken, so no check-then-rename window exists:
 *
 * - a file or a symlink: link(2) `from` to `to` (atomic, EEXIST when taken;
 *   link does not follow a symlink), then unlink `from`. The inode is kept,
 *   as by rename. For a moment both names exist (a watcher sees a create and
 *   a delete instead of a move pair);
 * - a directory: mkdir(2) `to` (atomic, EEXIST when taken), then rename(2)
 *   `from` over that empty directory, which rename replaces atomically. A
 *   writer who puts something in the claimed directory meanwhile makes the
 *   rename fail with ENOTEMPTY (nothing is lost; the claimed directory is
 *   removed when still empty).
 *
 * On a file system without hard links (link fails EPERM/EOPNOTSUPP/EMLINK)
 * a file falls back to lstat then rename: the only case with a window.
 */
import type { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import { systemError } from '../errors.js';

const NO_HARD_LINKS = new Set(['EPERM', 'EOPNOTSUPP', 'ENOTSUP', 'EMLINK']);

/**
 * Renames `from` to `to` unless `to` exists: throws EEXIST (with `path`
 * `to`) then, and the fs errors of the calls otherwise (ENOENT for a missing
 * `from`, ENOTEMPTY when a claimed directory was written to meanwhile).
 */
export function renameNoReplace(from: Buffer | string, to: Buffer | string): void {
  const stat = fs.lstatSync(from);
  if (stat.isDirectory()) {
    fs.mkdirSync(to);
    try {
      fs.renameSync(from, to);
    } catch (error) {
      try {
        fs.rmdirSync(to);
      } catch {
        // Someone wrote into it: it is theirs now.
      }
      throw error;
    }
    return;
  }
  try {
    fs.linkSync(from, to);
  } catch (error) {
    if (!NO_HARD_LINKS.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    if (fs.lstatSync(to, { throwIfNoEntry: false }) !== undefined) throw systemError('EEXIST', 'rename', to.toString());
    fs.renameSync(from, to);
    return;
  }
  fs.unlinkSync(from);
}
