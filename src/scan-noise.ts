/**
 * The events the library's own scans cause, so they are never reported:
 * reading a directory queues IN_OPEN, IN_ACCESS and IN_CLOSE_NOWRITE (with
 * IN_ISDIR) on its own watch and on its parent's; asking whether a file is
 * open for writing queues IN_OPEN and IN_CLOSE_NOWRITE on its directory's.
 * Only records drained right after the scan are matched against this; a
 * probe's events are counted, so only as many are dropped as it caused.
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
  // Per probed file: how many of its IN_OPEN and IN_CLOSE_NOWRITE the probes caused, still to drop.
  readonly #files = new Map<string, { open: number; close: number }>();

  /** A directory read: `name` is '' on the directory's own watch, its name on its parent's. */
  directoryRead(wd: number, name: string): void {
    this.#directories.add(entryKey(wd, name));
  }

  /** A file opened (and closed) read-only to probe it: one IN_OPEN and one IN_CLOSE_NOWRITE to drop. */
  fileProbed(wd: number, name: string): void {
    const key = entryKey(wd, name);
    const counts = this.#files.get(key);
    if (counts === undefined) this.#files.set(key, { open: 1, close: 1 });
    else {
      counts.open += 1;
      counts.close += 1;
    }
  }

  /** Whether `record` is one of the events those scans caused. */
  matches(record: RawRecord): boolean {
    if (record.mask & IN_ISDIR) {
      const kind = record.mask & ~IN_ISDIR;
      return (kind & DIRECTORY_READ) === kind && this.#directories.has(entryKey(record.wd, record.name));
    }
    if (record.mask !== IN_OPEN && record.mask !== IN_CLOSE_NOWRITE) return false;
    // Exactly as many as the probes caused: another process's open of the file in the same read stays.
    const counts = this.#files.get(entryKey(record.wd, record.name));
    if (counts === undefined) return false;
    if (record.mask === IN_OPEN) {
      if (counts.open === 0) return false;
      counts.open -= 1;
    } else {
      if (counts.close === 0) return false;
      counts.close -= 1;
    }
    return true;
  }

  get empty(): boolean {
    return this.#directories.size === 0 && this.#files.size === 0;
  }

  clear(): void {
    this.#directories.clear();
    this.#files.clear();
  }
}
