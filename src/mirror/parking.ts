/**
 * The parking directory of a two-way root (REPLACED_DIR at its top): rsync's
 * `--backup-dir` moves every file it replaces there, and the mirror then
 * checks each one (two-way.ts, #checkReplaced). The same operations serve a
 * local root (local-side.ts) and a remote one (serve.ts). Paths are relative
 * to the parking directory. A parking "directory" that is a symlink or a
 * file is never used: it is reported as ENOTDIR, never followed.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import { systemError } from '../errors.js';
import { readEntry, type Entry } from './entry.js';
import { renameNoReplace } from './rename-no-replace.js';
import type { RelPath } from './rel-path.js';
import { REPLACED_DIR, walkTree } from './walk.js';

/** The parking directory of `root` (bytes, no trailing slash). */
export function parkingDir(root: Buffer): Buffer {
  return Buffer.concat([root, Buffer.from(`/${REPLACED_DIR}`)]);
}

/** The parking directory when it is a real directory, undefined when absent; ENOTDIR otherwise. */
function existingParking(root: Buffer): Buffer | undefined {
  const dir = parkingDir(root);
  const stat = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (stat === undefined) return undefined;
  if (!stat.isDirectory()) throw systemError('ENOTDIR', 'parking', dir.toString(), 'the mirror\'s parking directory is not a directory: remove it');
  return dir;
}

/** Every parked file or symlink with its entry (directories are only the way to them). */
export function listParked(root: Buffer): [RelPath, Entry][] {
  const dir = existingParking(root);
  if (dir === undefined) return [];
  const found = new Map<string, RelPath>();
  walkTree(dir, undefined, () => false, found);
  const parked: [RelPath, Entry][] = [];
  for (const path of found.values()) {
    const entry = readEntry(path.under(dir));
    if (entry !== undefined && entry.kind !== 'dir') parked.push([path, entry]);
  }
  return parked;
}

/** Removes one parked file (nothing when it is gone). */
export function dropParked(root: Buffer, path: RelPath): void {
  const dir = existingParking(root);
  if (dir !== undefined) fs.rmSync(path.under(dir), { force: true });
}

/** Moves one parked file to `to` (relative to the root), creating its parent; never over an existing entry (EEXIST). */
export function keepParked(root: Buffer, path: RelPath, to: RelPath): void {
  const dir = existingParking(root);
  if (dir === undefined) throw systemError('ENOENT', 'rename', path.text);
  fs.mkdirSync(to.parent()?.under(root) ?? root, { recursive: true });
  renameNoReplace(path.under(dir), to.under(root));
}

/** Removes the parking directory and everything left in it. */
export function clearParked(root: Buffer): void {
  const dir = existingParking(root);
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
}
