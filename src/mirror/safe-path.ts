/**
 * The path check of the serving end (`inotify-mirror --serve`): a path that
 * arrives from the other side is refused unless it names a place inside the
 * root, before any fs call uses it. The name itself must be a plain relative
 * path (no `..`, no `.` or empty segment, not absolute, no NUL byte), and no
 * directory on the way to it may be a symlink: `link/x` with `link -> /`
 * would otherwise write outside the root. The last segment is not followed
 * by the operations that use it (rename, unlink, rmdir, mkdir act on the
 * name itself), so a symlink there is just an entry of the tree.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import type { CodedError } from '../errors.js';
import { RelPath } from './rel-path.js';

/** The code of a refused path. */
export const PATH_ESCAPE = 'ERR_PATH_ESCAPE';

function escapeError(shown: string, reason: string): CodedError {
  const error: CodedError = new Error(`refused path ${JSON.stringify(shown)}: ${reason}`);
  error.code = PATH_ESCAPE;
  error.path = shown;
  return error;
}

/**
 * Decodes a protocol path (base64 of the raw bytes) and checks it names a
 * place inside `root` (bytes, absolute, no trailing slash). Returns the
 * path; throws an Error with code ERR_PATH_ESCAPE (and `path`, the UTF-8
 * rendering) when it is not a string, not base64, not a plain relative path,
 * or passes through a symlink below the root. A parent that does not exist
 * (or is a file) is not refused: the operation then fails with ENOENT or
 * ENOTDIR on its own, inside the root.
 */
export function insideRoot(root: Buffer, encoded: unknown): RelPath {
  if (typeof encoded !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw escapeError(String(encoded), 'not a base64 string');
  }
  const bytes = Buffer.from(encoded, 'base64');
  let path: RelPath;
  try {
    path = RelPath.from(bytes);
  } catch (error) {
    throw escapeError(bytes.toString('utf8'), (error as Error).message.replace(/^The argument 'path' /, '').replace(/\. Received .*$/s, ''));
  }
  checkParents(root, path);
  return path;
}

/** Throws when a directory on the way to `path` (below `root`) is a symlink. */
function checkParents(root: Buffer, path: RelPath): void {
  let end = path.bytes.indexOf(0x2f);
  while (end >= 0) {
    const parent = Buffer.concat([root, Buffer.from('/'), path.bytes.subarray(0, end)]);
    let stat: fs.Stats | undefined;
    try {
      stat = fs.lstatSync(parent, { throwIfNoEntry: false });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return; // a file on the way: the operation fails with ENOTDIR
      throw error;
    }
    if (stat === undefined || !stat.isDirectory()) {
      if (stat?.isSymbolicLink() === true) throw escapeError(path.text, `${JSON.stringify(path.bytes.subarray(0, end).toString('utf8'))} is a symlink`);
      return; // missing or not a directory: nothing below it can be reached
    }
    end = path.bytes.indexOf(0x2f, end + 1);
  }
}
