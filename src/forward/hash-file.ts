/** The sha256 of a file, streamed (a file of any size, in constant memory). */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Buffer } from 'node:buffer';

/** Resolves with the hex sha256 of the file at `path` (a string or exact bytes). */
export async function sha256File(path: string | Buffer, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash, { signal });
  return hash.digest('hex');
}
