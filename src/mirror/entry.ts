/**
 * What two-way sync knows of one path on one side: its kind, size, mtime (ns)
 * and, for a file, a content hash (sha256, computed only when size and mtime
 * do not already say "unchanged"). Encoded compactly for the state store.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

/** One path on one side, as seen now or as recorded at the last sync. */
export interface Entry {
  readonly kind: 'file' | 'dir' | 'symlink';
  /** Bytes (a file), 0 otherwise. */
  readonly size: number;
  /** Modification time in ns, as a decimal string (beyond 2^53). Files only; '0' otherwise. */
  readonly mtime: string;
  /** sha256 (base64) of a file's content, or a symlink's target (latin1, byte for byte). Absent until computed. */
  hash?: string;
}

/** Reads `path` (bytes) with lstat: undefined when absent; other kinds (fifo, socket, device) are skipped as absent. */
export function readEntry(path: Buffer): Entry | undefined {
  let stat: fs.BigIntStats | undefined;
  try {
    stat = fs.lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined; // a parent became a file
    throw error;
  }
  if (stat === undefined) return undefined;
  if (stat.isDirectory()) return { kind: 'dir', size: 0, mtime: '0' };
  if (stat.isSymbolicLink()) {
    let target: string;
    try {
      target = (fs.readlinkSync(path, { encoding: 'buffer' })).toString('latin1');
    } catch {
      return undefined; // replaced meanwhile: its own event follows
    }
    return { kind: 'symlink', size: 0, mtime: '0', hash: target };
  }
  if (stat.isFile()) return { kind: 'file', size: Number(stat.size), mtime: stat.mtimeNs.toString() };
  return undefined;
}

/** Fills in a file's hash (reading it), unless known; false when the file is gone or unreadable now. */
export function ensureHash(path: Buffer, entry: Entry): boolean {
  if (entry.hash !== undefined) return true;
  const hash = createHash('sha256');
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
    }
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
  entry.hash = hash.digest('base64');
  return true;
}

/**
 * Fills in a file entry's hash when it can (false when the file is gone or
 * unreadable): a local file is read at once ({@link fileHasher}); a remote
 * one's hash is fetched beforehand (lazy-hash.ts), as a hasher cannot wait.
 */
export type Hasher = (entry: Entry) => boolean;

/** The hasher of the local file at `path`. */
export function fileHasher(path: Buffer): Hasher {
  return (entry) => ensureHash(path, entry);
}

/**
 * True when `now` is what `then` recorded: same kind; a directory always; a
 * symlink with the same target; a file with the same size and either the
 * same mtime or (the mtime moved, e.g. a touch) the same content hash.
 */
export function unchanged(hash: Hasher, now: Entry | undefined, then: Entry | undefined): boolean {
  if (now === undefined || then === undefined) return now === then;
  if (now.kind !== then.kind) return false;
  if (now.kind === 'dir') return true;
  if (now.kind === 'symlink') return now.hash === then.hash;
  if (now.size !== then.size) return false;
  if (now.mtime === then.mtime) {
    now.hash ??= then.hash;
    return true;
  }
  return hash(now) && now.hash === then.hash;
}

/** True when both sides hold the same thing (both absent included); hashes files as needed. */
export function sameContent(a: Entry | undefined, hashA: Hasher, b: Entry | undefined, hashB: Hasher): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.kind !== b.kind) return false;
  if (a.kind === 'dir') return true;
  if (a.kind === 'symlink') return a.hash === b.hash;
  if (a.size !== b.size) return false;
  return hashA(a) && hashB(b) && a.hash === b.hash;
}

/** The entry as a short string (`f size mtime hash`, `d`, `l target`), or '' for absent. */
export function encodeEntry(entry: Entry | undefined): string {
  if (entry === undefined) return '';
  if (entry.kind === 'dir') return 'd';
  if (entry.kind === 'symlink') return `l ${entry.hash ?? ''}`;
  return `f ${entry.size} ${entry.mtime} ${entry.hash ?? ''}`;
}

/** The inverse of {@link encodeEntry}. */
export function decodeEntry(text: string): Entry | undefined {
  if (text === '') return undefined;
  if (text === 'd') return { kind: 'dir', size: 0, mtime: '0' };
  if (text.startsWith('l ')) return { kind: 'symlink', size: 0, mtime: '0', hash: text.slice(2) };
  const [, size, mtime, hash] = text.split(' ');
  return { kind: 'file', size: Number(size), mtime: mtime ?? '0', hash: hash === '' ? undefined : hash };
}
