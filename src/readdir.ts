/**
 * A directory listing for the recursive walk, read by the addon: unsorted
 * names and their types, without a Dirent object per entry. libuv's scandir
 * (fs.readdirSync) sorts every listing and Node builds a Dirent per entry;
 * the walk needs neither, and on a large tree that was most of its time.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { binding } from './binding.js';
import { validatePath } from './validate.js';

// Type codes, one char per entry (native/readdir.h).
/** @internal A directory. */
export const TYPE_DIRECTORY = 0x64; // 'd'
/** @internal A regular file. */
export const TYPE_FILE = 0x66; // 'f'
/** @internal A symbolic link (not followed). */
export const TYPE_SYMLINK = 0x6c; // 'l'

/** @internal One directory's entries, index by index. */
export interface Listing {
  /** The names, decoded as UTF-8 (an invalid sequence becomes U+FFFD). */
  readonly names: readonly string[];
  /** One type code per name: `types.charCodeAt(i)` is TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK or another code. */
  readonly types: string;
  /** The exact bytes of `names[i]` when it is not valid UTF-8; undefined when every name is. */
  readonly bytes: ReadonlyArray<Buffer | undefined> | undefined;
  /**
   * The whole listing as one string, `"a\0b\0" + types` (see {@link parsePacked}),
   * when every name is valid UTF-8: a listing kept for long is kept in this
   * form, one flat string instead of a Map entry and a string per name.
   */
  readonly packed?: string;
}

/** @internal Options of {@link readDirectory}. */
export interface ReadDirectoryOptions {
  /** By name bytes, as fs.readdirSync sorts; else in the kernel's order (cheaper). */
  readonly sorted?: boolean;
  /** Only directories, symbolic links and entries of unknown type (a walk that keeps no listing needs no more). */
  readonly directoriesOnly?: boolean;
}

const EMPTY: Listing = { names: [], types: '', bytes: undefined, packed: '' };

/**
 * @internal Lists the directory at `path` (without `.` and `..`). Throws
 * Node's fs errors (ENOENT, ENOTDIR, EACCES... with syscall 'scandir'), and
 * a TypeError for a path that is not a string or Buffer.
 */
export function readDirectory(path: string | Buffer, options: ReadDirectoryOptions = {}): Listing {
  const raw = binding.readdir(validatePath(path), options.sorted === true, options.directoriesOnly === true);
  return typeof raw === 'string' ? fromString(raw) : fromBytes(raw);
}

// "a\0b\0" + "fd": the last part is the type codes.
function fromString(raw: string): Listing {
  if (raw === '') return EMPTY;
  const { names, types } = parsePacked(raw);
  return { names, types, bytes: undefined, packed: raw };
}

/** @internal The names and type codes of a packed listing (`Listing.packed`). */
export function parsePacked(packed: string): { names: string[]; types: string } {
  if (packed === '') return { names: [], types: '' };
  const names = packed.split('\0');
  const types = names.pop() ?? '';
  return { names, types };
}

// The same layout as bytes, when some name is not UTF-8.
function fromBytes(raw: Buffer): Listing {
  const names: string[] = [];
  const bytes: Array<Buffer | undefined> = [];
  let start = 0;
  for (let end = raw.indexOf(0); end !== -1; end = raw.indexOf(0, start)) {
    const name = raw.subarray(start, end);
    names.push(name.toString('utf8'));
    bytes.push(isUtf8(name) ? undefined : Buffer.from(name));
    start = end + 1;
  }
  return { names, types: raw.toString('latin1', start), bytes };
}
