/**
 * Overflow recovery: the listing of every watched directory, kept current
 * from the events the Notifier processes, and the rescan that compares it
 * with what the directories hold after IN_Q_OVERFLOW. See
 * docs/ARCHITECTURE.md, "Overflow recovery".
 * @internal
 */
import * as nodePath from 'node:path';
import { IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_ISDIR, IN_MOVED_FROM, IN_MOVED_TO, IN_ONESHOT } from '../constants.js';
import type { RawRecord } from '../decode.js';
import { isCodedError, type CodedError } from '../errors.js';
import { joinPath } from '../event.js';
import { parsePacked, TYPE_DIRECTORY, TYPE_FILE, type Listing } from '../readdir.js';
import { entryKey, ScanNoise } from '../scan-noise.js';
import { childBytes, GONE, SORTED, type ListingStore, type Scanner, type WatchTable } from './scanner.js';
import type { WatchRegistry } from './watch-registry.js';
import type { SyntheticEntry, WatchRecord } from './watch-record.js';

/** @internal What a directory watch must report for its listing to stay exact. */
export const LISTING_EVENTS = (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO) >>> 0;

/** Whether a watch's listing is kept for rescans: directories, except one-shot watches. */
function tracks(watch: WatchRecord): boolean {
  return watch.dir && !(watch.flags & IN_ONESHOT);
}

function byPath(a: WatchRecord, b: WatchRecord): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** One directory's names (true for a directory), or the same packed in one string until it first changes. */
type Known = Map<string, boolean> | string;

/**
 * The names in each watched directory (true for a directory), by wd. A
 * listing is kept as the walk read it, one packed string (`Listing.packed`:
 * about one byte per character of the names), and becomes a Map, about
 * 80-100 bytes plus the name per entry, only when an event changes that
 * directory. Most directories of a large tree never change while watched:
 * the packed form took watch()'s memory for a tree of 5,000 directories of
 * 10 files from 7.6 MB above the Notifier's to about 1 MB.
 * @internal
 */
export class Listings implements ListingStore {
  readonly #byWd = new Map<number, Known>();

  keeps(dir: WatchRecord): boolean {
    return tracks(dir);
  }

  remember(watch: WatchRecord, listing: Listing): void {
    if (!tracks(watch)) return;
    if (listing.packed !== undefined) {
      this.#byWd.set(watch.wd, listing.packed);
      return;
    }
    this.#byWd.set(watch.wd, toMap(listing.names, listing.types));
  }

  /** Keeps a listing current with an event the Notifier processes. */
  note(record: RawRecord): void {
    if (record.name === '' || !(record.mask & LISTING_EVENTS)) return;
    const names = this.get(record.wd);
    if (names === undefined) return;
    if (record.mask & (IN_CREATE | IN_MOVED_TO)) names.set(record.name, (record.mask & IN_ISDIR) !== 0);
    else names.delete(record.name);
  }

  /** The names in `wd`'s directory (unpacked from now on: the caller may change them). */
  get(wd: number): Map<string, boolean> | undefined {
    const known = this.#byWd.get(wd);
    if (typeof known !== 'string') return known;
    const { names, types } = parsePacked(known);
    const map = toMap(names, types);
    this.#byWd.set(wd, map);
    return map;
  }

  /** The names in `wd`'s directory, to read only: a packed listing stays packed. */
  peek(wd: number): ReadonlyMap<string, boolean> | undefined {
    const known = this.#byWd.get(wd);
    if (typeof known !== 'string') return known;
    const { names, types } = parsePacked(known);
    return toMap(names, types);
  }

  has(wd: number): boolean {
    return this.#byWd.has(wd);
  }

  delete(wd: number): void {
    this.#byWd.delete(wd);
  }

  clear(): void {
    this.#byWd.clear();
  }
}

function toMap(names: readonly string[], types: string): Map<string, boolean> {
  const known = new Map<string, boolean>();
  for (let i = 0; i < names.length; i++) known.set(names[i] as string, types.charCodeAt(i) === TYPE_DIRECTORY);
  return known;
}

/** @internal */
export class Rescan {
  readonly listings = new Listings();
  readonly #scanner: Scanner;
  readonly #watches: WatchRegistry;
  readonly #table: WatchTable;

  constructor(scanner: Scanner, watches: WatchRegistry, table: WatchTable) {
    this.#scanner = scanner;
    this.#watches = watches;
    this.#table = table;
  }

  /**
   * Lists every directory watched already (each first checked to still be
   * at its path), adding LISTING_EVENTS to its kernel mask.
   */
  trackExisting(): void {
    const scanner = this.#scanner;
    const noise = new ScanNoise();
    scanner.drain();
    for (const watch of [...this.#watches.values()]) {
      if (!tracks(watch)) continue;
      if (scanner.probe(watch, watch.path, watch.pathBytes, LISTING_EVENTS) !== 'same') continue; // moved meanwhile: its events will tell
      const old = watch.settings; // shared: replaced, not changed (see WatchSettings)
      watch.settings = this.#watches.share(
        undefined, old.mask, old.flags, (old.kernelMask | LISTING_EVENTS) >>> 0, old.autoAdd, old.exclude, old.followSymlinks, old.procFun,
      );
      try {
        this.listings.remember(watch, scanner.readdir(watch, noise, SORTED));
      } catch {
        // Gone already: its IN_DELETE_SELF / IN_IGNORED are on their way.
      } finally {
        scanner.drain(noise);
        noise.clear();
      }
    }
  }

  /**
   * After IN_Q_OVERFLOW: re-reads every tracked directory and returns what
   * changed unseen, as synthetic events in path order (for each directory
   * its deletions, then its creations, a new directory before its contents).
   * New directories under autoAdd watches are armed and scanned; watches
   * whose directory is gone or was replaced are removed (a root gets
   * IN_DELETE_SELF and IN_IGNORED, as from the kernel). Changes that
   * `pending` (records queued after the overflow, not processed yet) or the
   * kernel queue will report themselves are left to those events.
   * Modifications of files that existed before are not detected.
   */
  run(pending: readonly RawRecord[], errors: CodedError[]): SyntheticEntry[] {
    const scanner = this.#scanner;
    const watches = this.#watches;
    const entries = this.listings;
    const out: SyntheticEntry[] = [];
    // Records read during passes 1 and 2 (handed to the Notifier's queue behind `pending`).
    const drained: RawRecord[] = [];
    scanner.drain(undefined, drained);
    // Pass 1: is each directory still the one watched, and what does it hold now?
    const listings = new Map<WatchRecord, Listing>();
    const stale: WatchRecord[] = [];
    const noise = new ScanNoise();
    const tracked = [...watches.values()].filter((watch) => entries.has(watch.wd)).sort(byPath);
    for (const watch of tracked) {
      const found = scanner.probe(watch, watch.path, watch.pathBytes, watch.kernelMask);
      if (found === 'gone' || found === 'other') {
        stale.push(watch);
        continue;
      }
      try {
        listings.set(watch, scanner.readdir(watch, noise, SORTED));
      } catch (error) {
        if (isCodedError(error) && GONE.has(error.code ?? '')) stale.push(watch);
      } finally {
        scanner.drain(noise, drained);
        noise.clear();
      }
    }
    // What the queued events will report themselves.
    const queued = new Map<string, number>();
    for (const records of [pending, drained]) {
      for (const record of records) {
        const key = entryKey(record.wd, record.name);
        queued.set(key, (queued.get(key) ?? 0) | record.mask);
      }
    }
    // Pass 2: watches of directories that are gone, or whose path names another directory now.
    const replaced = new Set<string>();
    for (const watch of stale) {
      if (!watches.has(watch.wd)) continue; // removed with a stale directory above it
      const parent = watches.at(nodePath.dirname(watch.path));
      const parentListing = parent === undefined ? undefined : listings.get(parent);
      for (const below of watches.subtree(watch.path)) {
        listings.delete(below);
        this.#table.remove(below);
      }
      if (parent === undefined || !entries.has(parent.wd)) {
        out.push({ watch, name: '', nameBytes: undefined, mask: IN_DELETE_SELF });
        out.push({ watch, name: '', nameBytes: undefined, mask: IN_IGNORED });
      } else if (parentListing?.names.some((name) => joinPath(parent.path, name) === watch.path) === true) {
        replaced.add(watch.path);
      }
    }
    // Files still being written get their real IN_CLOSE_WRITE from the kernel.
    const writing = new Map<WatchRecord, Set<string>>();
    for (const [watch, listing] of listings) {
      const known = entries.peek(watch.wd);
      writing.set(watch, scanner.filesBeingWritten(watch, listing, noise, known));
    }
    scanner.drain(noise);
    noise.clear();
    // Pass 3: the difference between what was known and what is there.
    for (const [watch, listing] of [...listings].sort(([a], [b]) => byPath(a, b))) {
      if (!watches.has(watch.wd)) continue;
      const known = entries.peek(watch.wd) ?? new Map<string, boolean>();
      const { names, types, bytes } = listing;
      const now = toMap(names, types);
      for (const [name, isDir] of known) {
        const path = joinPath(watch.path, name);
        if (now.has(name) && !replaced.has(path)) continue;
        if ((queued.get(entryKey(watch.wd, name)) ?? 0) & (IN_DELETE | IN_MOVED_FROM)) continue;
        if (watch.exclude?.(path)) continue;
        out.push({ watch, name, nameBytes: undefined, mask: isDir ? (IN_DELETE | IN_ISDIR) >>> 0 : IN_DELETE });
      }
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as string;
        const nameBytes = bytes?.[i];
        const type = types.charCodeAt(i);
        const path = joinPath(watch.path, name);
        if (known.has(name) && !replaced.has(path)) continue;
        if ((queued.get(entryKey(watch.wd, name)) ?? 0) & (IN_CREATE | IN_MOVED_TO)) continue;
        if (watch.exclude?.(path)) continue;
        const isDir = scanner.isWalkableDir(watch, name, nameBytes, type, undefined);
        out.push({ watch, name, nameBytes, mask: isDir ? (IN_CREATE | IN_ISDIR) >>> 0 : IN_CREATE });
        if (isDir) {
          if (watch.autoAdd) scanner.armAndScan(watch, path, childBytes(watch, name, nameBytes), out, errors);
        } else if (type === TYPE_FILE && writing.get(watch)?.has(name) !== true
          && !((queued.get(entryKey(watch.wd, name)) ?? 0) & IN_CLOSE_WRITE)) {
          out.push({ watch, name, nameBytes, mask: IN_CLOSE_WRITE });
        }
      }
      entries.remember(watch, listing);
    }
    return out;
  }
}
