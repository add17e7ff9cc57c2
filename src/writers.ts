/** Whether a file is still being written, asked of the kernel. */
import type { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { binding } from './binding.js';
import { validatePath, type PathLike } from './validate.js';

/**
 * Whether some process has the regular file at `path` open for writing right
 * now: true or false, or undefined when it cannot be told (the caller is
 * neither root nor the file's owner, leases are disabled, the filesystem has
 * no leases, or the file is gone). The kernel is asked for a read lease,
 * which it refuses exactly while a writer has the file open; the lease is
 * released at once. The check opens the file read-only, which watchers see as
 * IN_OPEN and IN_CLOSE_NOWRITE.
 *
 * Throws a TypeError with `code` 'ERR_INVALID_ARG_TYPE' for an argument
 * that is not a string, Buffer or file: URL, and 'ERR_INVALID_ARG_VALUE'
 * for an empty path or one with a null byte (as Node's fs does).
 */
export function isOpenForWrite(path: PathLike): boolean | undefined {
  const answer = binding.isOpenForWrite(validatePath(path));
  return answer === 1 ? true : answer === 0 ? false : undefined;
}

/**
 * @internal The probe for the library's scans: the answer, and whether the
 * file was opened (so IN_OPEN and IN_CLOSE_NOWRITE were queued for it).
 */
export function probeOpenForWrite(path: string | Buffer): { writing: boolean | undefined; opened: boolean } {
  const answer = binding.isOpenForWrite(path);
  if (answer >= 0) return { writing: answer === 1, opened: true };
  // The open itself failed for these; a lease refused (EACCES from F_SETLEASE when not the owner) still opened it.
  const code = -answer;
  const opened = code === EACCES ? canRead(path) : !OPEN_FAILURES.has(code);
  return { writing: undefined, opened };
}

const { EACCES, ENOENT, ENOTDIR, ELOOP, ENXIO, EPERM, ENAMETOOLONG, EMFILE, ENFILE, ENOMEM, ETXTBSY, EWOULDBLOCK } = os.constants.errno;
const OPEN_FAILURES = new Set([ENOENT, ENOTDIR, ELOOP, ENXIO, EPERM, ENAMETOOLONG, EMFILE, ENFILE, ENOMEM, ETXTBSY, EWOULDBLOCK]);

function canRead(path: string | Buffer): boolean {
  try {
    fs.accessSync(path, fs.constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
