/** Whether a file is still being written, asked of the kernel. */
import type { Buffer } from 'node:buffer';
import { binding } from './binding.js';

/**
 * Whether some process has the regular file at `path` open for writing right
 * now: true or false, or undefined when it cannot be told (the caller is
 * neither root nor the file's owner, leases are disabled, the filesystem has
 * no leases, or the file is gone). The kernel is asked for a read lease,
 * which it refuses exactly while a writer has the file open; the lease is
 * released at once. The check opens the file read-only, which watchers see as
 * IN_OPEN and IN_CLOSE_NOWRITE.
 */
export function isOpenForWrite(path: string | Buffer): boolean | undefined {
  const answer = binding.isOpenForWrite(path);
  return answer === 1 ? true : answer === 0 ? false : undefined;
}
