/**
 * The scanner: everything that reads watched directories. The recursive
 * walk of addWatch (arm, then list), the scan of a directory that appeared
 * (arm, drain, list, probe writers, drain, then one synthetic event per entry
 * the kernel will not report itself: exactly once), and the kernel probe
 * that tells whether a path still leads to a given watch. Every directory
 * read is bracketed by drains that drop the events the read itself caused.
 * See docs/ARCHITECTURE.md, "Auto-add without loss or duplicates".
 * @internal
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import {
  IN_ACCESS, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_CREATE, IN_DONT_FOLLOW, IN_ISDIR, IN_MASK_ADD, IN_MASK_CREATE,
  IN_MODIFY, IN_MOVED_TO, IN_ONLYDIR, IN_OPEN,
} from '../constants.js';
import type { RawRecord } from '../decode.js';
import { isCodedError, type CodedError } from '../errors.js';
import { joinPath } from '../event.js';
import type { Inotify } from '../inotify.js';
import { limits } from '../limits.js';
import { readDirectory, TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK, type Listing, type ReadDirectoryOptions } from '../readdir.js';
import { ScanNoise } from '../scan-noise.js';
import type { WatchFailure } from '../watch-error.js';
import { probeOpenForWrite } from '../writers.js';
import type { WatchRegistry } from './watch-registry.js';
import type { ArmGuard, ArmResult, ArmSettings, PathIdentity, SyntheticEntry, Watch, WatchRecord } from './watch-record.js';

/** @internal Errors that mean "nothing (or no directory) is at that path any more". */
export const GONE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP']);

/** Bounds Scanner.unlisted: each entry is a directory renamed in the instant between its arming and its listing. */
const MAX_UNLISTED = 1024;

// How each caller lists directories (see readdir.ts).
/** @internal */
export const SORTED: ReadDirectoryOptions = { sorted: true };
const DIRECTORIES: ReadDirectoryOptions = { directoriesOnly: true };

/** What reading a watched directory makes the kernel report, when asked. */
const SCAN_EVENTS = (IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE) >>> 0;

/** @internal The watch table's two operations that touch the kernel, which the scanner needs. */
export interface WatchTable {
  /** Arms `path` (a child of a watched directory, found or created) and records the watch. */
  arm(path: string, bytes: Buffer | undefined, mask: number, settings: ArmSettings, root: boolean, knownDir: boolean | undefined): ArmResult;
  /** Removes one watch from the table and the kernel. */
  remove(watch: WatchRecord): void;
}

/** @internal What a scan keeps of each directory it lists, for an overflow rescan (see rescan.ts). */
export interface ListingStore {
  remember(watch: WatchRecord, listing: Listing): void;
  /** Whether `dir`'s listing is kept (then a walk lists it in name order). */
  keeps(dir: WatchRecord): boolean;
}

/** A symbolic link a walk found, followed once every real directory is armed. */
interface FoundLink {
  parent: WatchRecord;
  name: string;
  bytes: Buffer | undefined;
}

/** @internal */
export class Scanner {
  readonly #inotify: Inotify;
  readonly #watches: WatchRegistry;
  readonly #table: WatchTable;
  #drainInterval: number | undefined;
  /** Set while listings are kept for rescans. */
  listings: ListingStore | undefined;

  constructor(inotify: Inotify, watches: WatchRegistry, table: WatchTable) {
    this.#inotify = inotify;
    this.#watches = watches;
    this.#table = table;
  }

  // Directories a walk reads between two drains: each read queues up to six
  // records, kept well below the kernel's queue limit (at most 256).
  #drainEvery(): number {
    if (this.#drainInterval === undefined) {
      let queued = 16_384;
      try {
        queued = limits().maxQueuedEvents;
      } catch {
        // /proc not mounted: assume the kernel's default.
      }
      this.#drainInterval = Math.max(1, Math.min(256, Math.floor(queued / 24)));
    }
    return this.#drainInterval;
  }

  /**
   * Recursive add at addWatch time: each directory is armed before it is read,
   * so a subdirectory created meanwhile is caught by its parent's IN_CREATE.
   * With followSymlinks, links are followed only after every real directory
   * is armed, so a directory reachable both ways is known by its real path;
   * `visited` (device:inode) ends loops and second visits.
   */
  walk(root: WatchRecord, noise: ScanNoise, armed: Map<string, number>, failed: WatchFailure[]): void {
    const visited = root.followSymlinks ? new Set<string>([identity(root.pathBytes ?? root.path)]) : undefined;
    const stack: WatchRecord[] = [root];
    const links: FoundLink[] = [];
    let readSinceDrain = 0;
    for (;;) {
      const dir = stack.pop();
      if (dir === undefined) {
        const link = links.shift();
        if (link === undefined) return;
        if (!this.isWalkableDir(link.parent, link.name, link.bytes, TYPE_SYMLINK, visited)) continue;
        const watch = this.#armFound(link.parent, link.name, link.bytes, armed, failed);
        if (watch !== undefined) stack.push(watch);
        continue;
      }
      let listing: Listing;
      try {
        // Without a listing to keep, only directories (and links) matter, in
        // any order. A kept listing is in name order, as a rescan reports it.
        listing = this.readdir(dir, noise, this.listings?.keeps(dir) === true ? SORTED : DIRECTORIES, dir !== root);
        this.listings?.remember(dir, listing);
      } catch (error) {
        if (isCodedError(error) && !GONE.has(error.code ?? '')) failed.push({ path: dir.path, error });
        continue;
      } finally {
        // Each readdir of an armed directory queues its OPEN/ACCESS/CLOSE_NOWRITE
        // (when the mask asks for them) on two watches, up to six records: left
        // in the kernel until the walk ends they overflow the queue
        // (max_queued_events, 16384 by default, is ~2,700 directories), so
        // drop them every DRAIN_EVERY directories (one read(2) each time).
        if (dir.mask & SCAN_EVENTS && ++readSinceDrain >= this.#drainEvery()) {
          readSinceDrain = 0;
          this.drain(noise);
          noise.clear();
        }
      }
      // Indexed, and only directories (and links to follow) are looked at:
      // most entries are files, for which the walk has nothing to do.
      const { names, types, bytes } = listing;
      for (let i = 0; i < names.length; i++) {
        const type = types.charCodeAt(i);
        if (type === TYPE_DIRECTORY) {
          const name = names[i] as string;
          if (visited !== undefined && !firstVisit(visited, childBytes(dir, name, bytes?.[i]) ?? joinPath(dir.path, name))) continue;
          const watch = this.#armFound(dir, name, bytes?.[i], armed, failed);
          if (watch !== undefined) stack.push(watch);
        } else if (visited !== undefined && type === TYPE_SYMLINK) {
          links.push({ parent: dir, name: names[i] as string, bytes: bytes?.[i] });
        }
      }
    }
  }

  // Arms a directory a walk found; failures other than "already gone" are recorded.
  #armFound(
    parent: WatchRecord, name: string, nameBytes: Buffer | undefined, armed: Map<string, number>, failed: WatchFailure[],
  ): WatchRecord | undefined {
    const path = joinPath(parent.path, name);
    if (parent.exclude?.(path)) return undefined;
    try {
      const { watch } = this.#table.arm(path, childBytes(parent, name, nameBytes), parent.mask | parent.flags, parent, false, true);
      armed.set(watch.path, watch.wd);
      return watch;
    } catch (error) {
      if (!isCodedError(error)) throw error;
      if (!GONE.has(error.code ?? '')) failed.push({ path, error });
      return undefined;
    }
  }

  /**
   * A directory appeared under `parent` at `path`: arm it, then scan it,
   * recursively, appending to `out` one synthetic entry for everything found
   * that the kernel will not report itself, in tree order (a directory
   * before its contents). Failures other than "already gone" go to `errors`.
   * `guard` checks the arming of `path` itself (not of what the scan finds);
   * its `missed` hears of each directory the scan found but could not arm
   * because nothing was at its path any more.
   */
  armAndScan(
    parent: WatchRecord, path: string, bytes: Buffer | undefined, out: SyntheticEntry[], errors: CodedError[], guard?: ArmGuard,
  ): void {
    this.#armAndScan(parent, path, bytes, out, errors, guard, guard?.missed);
  }

  #armAndScan(
    parent: WatchRecord, path: string, bytes: Buffer | undefined, out: SyntheticEntry[], errors: CodedError[],
    guard: ArmGuard | undefined, missed: ArmGuard['missed'] | undefined,
  ): void {
    let result: ArmResult;
    try {
      result = this.#table.arm(path, bytes, parent.mask | parent.flags, parent, false, true);
    } catch (error) {
      if (!isCodedError(error)) throw error;
      if (!GONE.has(error.code ?? '')) errors.push(error);
      return;
    }
    if (!result.created) {
      // Already watched, so already scanned. At another path, the table and
      // the tree disagree, unless a queued rename explains it: read the
      // kernel's queue first, so the guard sees every record up to now.
      if (guard !== undefined && result.watch.path !== path) {
        this.drain();
        guard.watchedElsewhere(result.watch);
      }
      return;
    }
    const watch = result.watch;
    const noise = new ScanNoise();
    const before = this.drain();
    // Everything the kernel queued up to the arming is read now: the guard
    // can tell whether the directory armed may be a later one by that name.
    if (guard?.reused() === true) {
      this.#table.remove(watch);
      return;
    }
    this.#list(watch, path, before, noise, out, errors, missed, undefined);
  }

  /**
   * A watched directory that is not recursive (another root's, or a single
   * watch) was moved under `parent`, a recursive (auto-add) watch: it becomes
   * recursive too. Its mask widens by `parent`'s (one kernel watch per
   * directory serves both), its own handler and exclusions stay; each
   * directory below it that is not watched is armed and scanned as a new one
   * (appended to `out`), and each watched one that is not recursive is adopted
   * the same way.
   */
  adopt(parent: WatchRecord, watch: WatchRecord, out: SyntheticEntry[], errors: CodedError[]): void {
    const settings: ArmSettings = {
      autoAdd: true, exclude: watch.exclude ?? parent.exclude, followSymlinks: watch.followSymlinks || parent.followSymlinks,
      procFun: watch.procFun ?? parent.procFun,
    };
    const noise = new ScanNoise();
    let listing: Listing;
    try {
      this.#table.arm(watch.path, watch.pathBytes, (parent.mask | watch.mask | watch.flags | IN_MASK_ADD) >>> 0, settings, watch.root, true);
      listing = this.readdir(watch, noise, DIRECTORIES);
    } catch (error) {
      if (!isCodedError(error)) throw error;
      if (!GONE.has(error.code ?? '')) errors.push(error);
      return;
    } finally {
      this.drain(noise);
    }
    const { names, types, bytes } = listing;
    for (let i = 0; i < names.length; i++) {
      if (types.charCodeAt(i) !== TYPE_DIRECTORY) continue;
      const name = names[i] as string;
      const childPath = joinPath(watch.path, name);
      if (watch.exclude?.(childPath)) continue;
      const child = this.#watches.at(childPath);
      if (child !== undefined) {
        if (!child.autoAdd) this.adopt(watch, child, out, errors);
        continue;
      }
      out.push({ watch, name, nameBytes: bytes?.[i], mask: (IN_CREATE | IN_ISDIR) >>> 0 });
      this.#armAndScan(watch, childPath, childBytes(watch, name, bytes?.[i]), out, errors, undefined, undefined);
    }
  }

  /**
   * The directories armed by a scan that could not be listed (it was gone
   * from its path: a rename above it, not processed yet), oldest first: each
   * owes a scan once a re-path covers it ({@link scanUnlisted}). With each,
   * the names the kernel has reported through its watch since, which that
   * scan does not report again. Kept here, not on the watch: a few entries
   * at most, against a field on every watch.
   */
  readonly unlisted = new Map<WatchRecord, Set<string>>();

  /**
   * Scans each unlisted directory at or below `path` that is still watched
   * there: what it holds is appended to `out` as for a new directory, except
   * the names the kernel already reported through its watch.
   */
  scanUnlisted(path: string, out: SyntheticEntry[], errors: CodedError[]): void {
    for (const [watch, names] of this.unlisted) {
      if (watch.leaving || this.#watches.get(watch.wd) !== watch) {
        this.unlisted.delete(watch);
        continue;
      }
      if (watch.path !== path && !watch.path.startsWith(path === '/' ? '/' : `${path}/`)) continue;
      this.unlisted.delete(watch);
      const noise = new ScanNoise();
      this.#list(watch, watch.path, this.drain(), noise, out, errors, undefined, names);
    }
  }

  // Lists a freshly armed directory and appends what it holds (minus what
  // the kernel reports itself, or reported already: `skip`), recursing into
  // subdirectories.
  #list(
    watch: WatchRecord, path: string, before: RawRecord[], noise: ScanNoise, out: SyntheticEntry[], errors: CodedError[],
    missed: ArmGuard['missed'] | undefined, skip: ReadonlySet<string> | undefined,
  ): void {
    let listing: Listing;
    try {
      listing = this.readdir(watch, noise, SORTED);
    } catch (error) {
      // Removed again already: its IN_DELETE_SELF / IN_IGNORED are on their
      // way. Or renamed with a directory above it: dropping the watch would
      // also drop its queued events (a removal's IN_DELETE_SELF cannot be
      // told from a rename in time), so it stays, marked: the re-path that
      // the rename brings scans it (WatchManager._scanUnlisted).
      if (isCodedError(error) && GONE.has(error.code ?? '') && !this.unlisted.has(watch)) {
        if (this.unlisted.size >= MAX_UNLISTED) this.unlisted.delete(this.unlisted.keys().next().value as WatchRecord);
        this.unlisted.set(watch, new Set());
      }
      return;
    }
    this.listings?.remember(watch, listing);
    const writing = this.filesBeingWritten(watch, listing, noise, undefined);
    const after = this.drain(noise);
    // What the kernel itself reports for this new watch: those entries are not synthesized.
    const reported = new Map<string, number>();
    for (const records of [before, after]) {
      for (const record of records) {
        if (record.wd === watch.wd) reported.set(record.name, (reported.get(record.name) ?? 0) | record.mask);
      }
    }
    const { names, types } = listing;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const nameBytes = listing.bytes?.[i];
      const type = types.charCodeAt(i);
      const seen = reported.get(name) ?? 0;
      if (seen & (IN_CREATE | IN_MOVED_TO)) continue; // the kernel's own IN_CREATE/IN_MOVED_TO reports it, in order
      if (skip?.has(name)) continue; // reported through this watch before its scan
      // A followed symlink loop ends by itself: the kernel returns the existing wd.
      const isDir = this.isWalkableDir(watch, name, nameBytes, type, undefined);
      const childPath = joinPath(path, name);
      if (watch.exclude?.(childPath)) continue;
      out.push({ watch, name, nameBytes, mask: isDir ? (IN_CREATE | IN_ISDIR) >>> 0 : IN_CREATE });
      if (isDir) {
        const failures = errors.length;
        this.#armAndScan(watch, childPath, childBytes(watch, name, nameBytes), out, errors, undefined, missed);
        // Listed a moment ago, gone now: a directory above was renamed (or it
        // was removed). Its creation is reported; what it holds is not yet.
        if (missed !== undefined && errors.length === failures && this.#watches.at(childPath) === undefined) missed(watch, name, nameBytes);
      } else if (type === TYPE_FILE && !(seen & (IN_MODIFY | IN_CLOSE_WRITE)) && !writing.has(name)) {
        // Written and closed before the watch existed. A file still open for
        // writing gets its real IN_CLOSE_WRITE from the kernel instead.
        out.push({ watch, name, nameBytes, mask: IN_CLOSE_WRITE });
      }
    }
  }

  /**
   * Asks the kernel which watch the directory now at `path` has (see
   * WatchManager._isAt), adding `mask` to it when it is `watch`'s: 'same',
   * 'other' (a watch the probe itself made is removed again), 'gone'
   * (nothing, or not a directory), 'unknown' (any other error, e.g. EACCES).
   */
  probe(watch: WatchRecord, path: string, bytes: Buffer | undefined, mask: number): PathIdentity {
    const follow = watch.root ? watch.flags & IN_DONT_FOLLOW : watch.followSymlinks ? 0 : IN_DONT_FOLLOW;
    let wd: number;
    try {
      wd = this.#inotify.addWatch(bytes ?? path, ((mask & ~IN_MASK_CREATE) | IN_MASK_ADD | (watch.dir ? IN_ONLYDIR : 0) | follow) >>> 0);
    } catch (error) {
      if (!isCodedError(error)) throw error;
      return GONE.has(error.code ?? '') ? 'gone' : 'unknown';
    }
    if (wd === watch.wd) return 'same';
    if (!this.#watches.has(wd)) {
      try {
        this.#inotify.rmWatch(wd);
      } catch {
        // Already gone with its inode.
      }
    }
    return 'other';
  }

  /** Whether an entry of a listing (`type`: its TYPE_* code) is a directory a walk or scan descends into. */
  isWalkableDir(parent: WatchRecord, name: string, nameBytes: Buffer | undefined, type: number, visited: Set<string> | undefined): boolean {
    if (type === TYPE_DIRECTORY) return true;
    if (!parent.followSymlinks || type !== TYPE_SYMLINK) return false;
    const target = childBytes(parent, name, nameBytes) ?? joinPath(parent.path, name);
    if (!isDirectory(target)) return false;
    return visited === undefined || firstVisit(visited, target); // else a symlink loop, or a directory reached twice
  }

  /**
   * The regular files of a fresh listing that a process still has open for
   * writing. Probed between the readdir and the drain after it: the kernel
   * queues IN_CLOSE_WRITE before it drops the writer count, so a file that
   * is not open here either had its close drained already or closed before
   * the watch existed. The probe's own open/close are recorded as noise.
   * Names in `known` (listed before) are not probed.
   */
  filesBeingWritten(watch: WatchRecord, listing: Listing, noise: ScanNoise, known: ReadonlyMap<string, boolean> | undefined): Set<string> {
    const writing = new Set<string>();
    if (!(watch.mask & IN_CLOSE_WRITE)) return writing; // no synthetic close would be delivered
    const { names, types, bytes } = listing;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      if (types.charCodeAt(i) !== TYPE_FILE || known?.has(name) === true) continue;
      const path = childBytes(watch, name, bytes?.[i]) ?? joinPath(watch.path, name);
      const probe = probeOpenForWrite(path);
      if (probe.opened) noise.fileProbed(watch.wd, name);
      if (probe.writing === true) writing.add(name);
    }
    return writing;
  }

  /**
   * Lists a watched directory (names that are not UTF-8 kept exact, see
   * readdir.ts), and records the OPEN/ACCESS/CLOSE_NOWRITE the read itself
   * causes, so they are not reported. Only a watch whose user mask asks for
   * those can report them (the Notifier drops bits the user did not ask for).
   * `walked`: `dir` was armed by a walk from its parent's watch, so that
   * watch's mask is a subset of `dir`'s and needs no look-up when `dir`'s
   * has none of those bits.
   */
  readdir(dir: WatchRecord, noise: ScanNoise, options: ReadDirectoryOptions, walked = false): Listing {
    const scanned = (dir.mask & SCAN_EVENTS) !== 0;
    if (scanned) noise.directoryRead(dir.wd, '');
    if (scanned || !walked) {
      const parent = this.#watches.at(nodePath.dirname(dir.path));
      if (parent !== undefined && parent !== dir && parent.mask & SCAN_EVENTS) noise.directoryRead(parent.wd, nodePath.basename(dir.path));
    }
    return readDirectory(dir.pathBytes ?? dir.path, options);
  }

  /**
   * Asks the instance's one reader to read what the kernel queued so far (it
   * hands the records to the Notifier's queue); with `noise`, the scan's own
   * directory open/read/close events are dropped. Returns the records kept
   * (appended to `into` too).
   */
  drain(noise?: ScanNoise, into?: RawRecord[]): RawRecord[] {
    const kept = this.#inotify._drain(noise === undefined || noise.empty ? undefined : (record) => noise.matches(record));
    if (into !== undefined) for (const record of kept) into.push(record);
    return kept;
  }
}

/** @internal The exact bytes of `parent`'s child `name`, or undefined when the path string says it exactly. */
export function childBytes(parent: Watch, name: string, nameBytes: Buffer | undefined): Buffer | undefined {
  if (parent.pathBytes === undefined && nameBytes === undefined) return undefined;
  return Buffer.concat([parent.pathBytes ?? Buffer.from(parent.path), Buffer.from('/'), nameBytes ?? Buffer.from(name)]);
}

/** @internal Whether `path` is a directory now (following links); false when it cannot be told. */
export function isDirectory(path: string | Buffer): boolean {
  try {
    return fs.statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Records the directory at `path` as visited; false when it already was (or is gone). */
function firstVisit(visited: Set<string>, path: string | Buffer): boolean {
  let id: string;
  try {
    id = identity(path);
  } catch {
    return false;
  }
  if (visited.has(id)) return false;
  visited.add(id);
  return true;
}

function identity(path: string | Buffer): string {
  const stat = fs.statSync(path, { bigint: true });
  return `${stat.dev}:${stat.ino}`;
}
