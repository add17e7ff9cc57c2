/**
 * The exact bytes of a pathname that reached us as a lossy string: names
 * that are not UTF-8 hold U+FFFD where their bad bytes were, so the string
 * cannot open the file. Each such component is found again by reading its
 * directory as bytes.
 */
import { Buffer } from 'node:buffer';
import { readdirSync } from 'node:fs';
import { systemError } from '../errors.js';

const REPLACEMENT = '\uFFFD';

/**
 * Returns the pathname's exact bytes. A component holding U+FFFD is matched
 * against its directory's entries read as bytes; exactly one entry must
 * decode to it, otherwise ENOENT (none) or EEXIST-like ambiguity is thrown
 * as ENOTUNIQ. Paths without U+FFFD are returned as their UTF-8 bytes.
 */
export function recoverPathBytes(pathname: string): Buffer {
  if (!pathname.includes(REPLACEMENT)) return Buffer.from(pathname, 'utf8');
  const parts = pathname.split('/');
  let dir: Buffer = Buffer.from(parts[0] ?? '', 'utf8'); // '' for an absolute path
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as string;
    let name: Buffer = Buffer.from(part, 'utf8');
    if (part.includes(REPLACEMENT)) {
      const listing = dir.length === 0 ? Buffer.from('/') : dir;
      const matches = readdirSync(listing, { encoding: 'buffer' }).filter((entry) => entry.toString('utf8') === part);
      if (matches.length !== 1) {
        throw systemError(matches.length === 0 ? 'ENOENT' : 'ENOTUNIQ', 'readdir', pathname,
          matches.length === 0 ? 'no entry has these bytes' : `${matches.length} names decode to the same text`);
      }
      name = matches[0] as Buffer;
    }
    dir = Buffer.concat([dir, Buffer.from('/'), name]);
  }
  return dir;
}
