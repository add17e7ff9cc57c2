/**
 * The events the library's own scans cause, so they are never reported:
 * reading a directory queues IN_OPEN, IN_ACCESS and IN_CLOSE_NOWRITE (with
 * IN_ISDIR) on its own watch and on its parent's; asking whether a file is
 * open for writing queues IN_OPEN and IN_CLOSE_NOWRITE on its directory's.
 * Only records drained right after the scan are matched against this.
 */
import { IN_ACCESS, IN_CLOSE_NOWRITE, IN_ISDIR, IN_OPEN } from './constants.js';
import type { RawRecord } from './decode.js';

const DIRECTORY_READ = (IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE) >>> 0;

/** A key for an entry of a watched directory: (wd, name). */
export function entryKey(wd: number, name: string): string {
  return `${wd}\0${name}`;
}

/** @internal */
export class ScanNoise {
  readonly #directories = new Set<string>();
  readonly #files = new Set<string>();

  /** A directory read: `name` is '' on the directory's own watch, its name on its parent's. */
  directoryRead(wd: number, name: string): void {
    this.#directories.add(entryKey(wd, name));
  }

  /** A file opened read-only to probe it. */
  fileProbed(wd: number, name: string): void {
    this.#files.add(entryKey(wd, name));
  }

  /** Whether `record` is one of the events those scans caused. */
  matches(record: RawRecord): boolean {
    if (record.mask & IN_ISDIR) {
      const kind = record.mask & ~IN_ISDIR;
      return (kind & DIRECTORY_READ) === kind && this.#directories.has(entryKey(record.wd, record.name));
    }
    return (record.mask === IN_OPEN || record.mask === IN_CLOSE_NOWRITE) && this.#files.has(entryKey(record.wd, record.name));
  }

  get empty(): boolean {
    return this.#directories.size === 0 && this.#files.size === 0;
  }

  clear(): void {
    this.#directories.clear();
    this.#files.clear();
  }
}
