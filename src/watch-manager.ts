/**
 * The WatchManager: the one owner of wd <-> path. It arms watches (one or a
 * whole tree), keeps both maps exact across moves and removals, and scans
 * new directories without losing or duplicating what is in them.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import {
  IN_ACCESS, IN_ALL_EVENTS, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_DONT_FOLLOW,
  IN_IGNORED, IN_ISDIR, IN_MASK_ADD, IN_MASK_CREATE, IN_MODIFY, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO, IN_ONESHOT,
  IN_ONLYDIR, IN_OPEN,
} from './constants.js';
import type { RawRecord } from './decode.js';
import { isCodedError, systemError, type CodedError } from './errors.js';
import { joinPath } from './event.js';
import { toExcludePredicate, type ExcludeFilterLike, type ExcludePredicate } from './exclude-filter.js';
import { expandGlob } from './glob.js';
import { Inotify } from './inotify.js';
import { limits, type InotifyLimits } from './limits.js';
import { toHook, type ChainedProcessor, type EventHook } from './process-event.js';
import { readDirectory, TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK, type Listing, type ReadDirectoryOptions } from './readdir.js';
import { entryKey, ScanNoise } from './scan-noise.js';
import { WatchRegistry } from './core/watch-registry.js';
import { WatchError, type WatchFailure } from './watch-error.js';
import { probeOpenForWrite } from './writers.js';
import { validateMask, validateOptions, validatePath, validateWd, type PathLike } from './validate.js';

/** Options of {@link WatchManager.addWatch}. */
export interface AddWatchOptions {
  /** Also watch every directory below the path (pyinotify's `rec`). */
  rec?: boolean;
  /** Watch directories created or moved in later, and report what they already hold (pyinotify's `auto_add`). */
  autoAdd?: boolean;
  /** Paths neither watched nor reported; overrides the manager's filter for these watches. */
  excludeFilter?: ExcludeFilterLike;
  /** Expand `*`, `?` and `[...]` in the path(s) (pyinotify's `do_glob`). */
  doGlob?: boolean;
  /** Descend into symbolic links to directories during recursive walks (loops are detected). Default false. */
  followSymlinks?: boolean;
  /** Receives this watch's events (and its auto-added children's) instead of the Notifier's processor (pyinotify's `proc_fun`). */
  procFun?: ChainedProcessor;
}

/** What the manager knows of one watch. */
export interface Watch {
  /** The kernel's watch descriptor. */
  readonly wd: number;
  /** The watched path; kept current when the directory (or one above it) is moved inside the watched tree. */
  readonly path: string;
  /** The exact bytes of `path` when it is not valid UTF-8. */
  readonly pathBytes: Buffer | undefined;
  /** The events the user asked for (IN_* event bits only). */
  readonly mask: number;
  /** The mask given to the kernel: `mask`, the user's watch flags and the bits the library needs itself. */
  readonly kernelMask: number;
  /** Whether new subdirectories are watched automatically. */
  readonly autoAdd: boolean;
  /** Whether the watched path was a directory when the watch was added. */
  readonly dir: boolean;
  /** True for a path given to addWatch (not found by a walk or auto-add). */
  readonly root: boolean;
}

/** @internal A mutable watch record; users see it through the readonly {@link Watch}. */
export interface WatchRecord extends Watch {
  path: string;
  pathBytes: Buffer | undefined;
  mask: number;
  flags: number;
  kernelMask: number;
  autoAdd: boolean;
  root: boolean;
  exclude: ExcludePredicate | undefined;
  followSymlinks: boolean;
  procFun: EventHook | undefined;
  /** Set when a paired move re-pathed this watch, until its IN_MOVE_SELF arrives. */
  repathed: boolean;
  /**
   * Set when the directory left the watched tree: the watch is out of the
   * path map (and everything below it is gone) but kept until its own
   * IN_MOVE_SELF is delivered, which then releases it.
   */
  leaving: boolean;
}

/** @internal An event the library synthesizes for an entry found in a newly armed directory. */
export interface SyntheticEntry {
  readonly watch: WatchRecord;
  readonly name: string;
  readonly nameBytes: Buffer | undefined;
  readonly mask: number;
}

/**
 * @internal What the Notifier's bookkeeping checks when a record makes the
 * manager arm a directory by path, long after the fact: a path names
 * whatever is there now, which may not be the directory the record was about.
 */
export interface ArmGuard {
  /**
   * Called after the directory was armed and the kernel's queue read: true
   * when the directory now at the path may be a later one by that name (the
   * watch is then removed again and nothing is scanned).
   */
  reused(): boolean;
  /** The kernel returned the wd of a watch the table holds at another path. */
  watchedElsewhere(watch: WatchRecord): void;
}

/** A symbolic link a walk found, followed once every real directory is armed. */
interface FoundLink {
  parent: WatchRecord;
  name: string;
  bytes: Buffer | undefined;
}

interface ArmResult {
  watch: WatchRecord;
  created: boolean;
}

/** Options of the {@link WatchManager} constructor. */
export interface WatchManagerOptions {
  /** Default exclusion for every addWatch (pyinotify's `exclude_filter`). */
  excludeFilter?: ExcludeFilterLike;
  /** @internal An Inotify instance to use (tests). */
  inotify?: Inotify;
  /** @internal Keep a listing of every watched directory from the start (see {@link WatchManager._trackEntries}). */
  trackEntries?: boolean;
}

/** What a directory watch must report for its listing to stay exact. */
const LISTING_EVENTS = (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO) >>> 0;
const GONE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP']);

/**
 * Owns one inotify instance and every watch on it.
 *
 * @example
 * ```ts
 * const wm = new WatchManager();
 * wm.addWatch('/srv/incoming', IN_CLOSE_WRITE | IN_MOVED_TO, { rec: true, autoAdd: true });
 * const notifier = new Notifier(wm, new MyHandler());
 * ```
 */
export class WatchManager {
  /** @internal */
  readonly inotify: Inotify;
  readonly #watches = new WatchRegistry();
  readonly #exclude: ExcludePredicate | undefined;
  #drainInterval: number | undefined;
  // The names in each watched directory (true for a directory), kept only
  // for an overflow rescan: see _trackEntries.
  #entries: Map<number, Map<string, boolean>> | undefined;

  constructor(options?: WatchManagerOptions) {
    const opts = validateOptions<WatchManagerOptions>(options);
    this.#exclude = toExcludePredicate(opts.excludeFilter);
    this.inotify = opts.inotify ?? new Inotify();
    if (opts.trackEntries === true) this.#entries = new Map();
  }

  /** Every watch by wd (a live view). */
  get watches(): ReadonlyMap<number, Watch> {
    return this.#watches.byWd;
  }

  /** The wd watching `path`, in O(1); undefined when it is not watched. */
  getWd(path: PathLike): number | undefined {
    return this.#watches.at(this.#normalize(validatePath(path)).path)?.wd;
  }

  /** The path watched by `wd`, in O(1); undefined for an unknown wd. */
  getPath(wd: number): string | undefined {
    return this.#watches.get(wd)?.path;
  }

  /** The watch record for `wd`. */
  getWatch(wd: number): Watch | undefined {
    return this.#watches.get(wd);
  }

  /** The kernel's inotify limits (fs.inotify.* sysctls). */
  limits(): InotifyLimits {
    return limits();
  }

  /** True once closed (by {@link WatchManager.close}, or by a Notifier over it stopping). */
  get closed(): boolean {
    return this.inotify.closed;
  }

  /** `using wm = new WatchManager()`: closes on scope exit. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Watches `path` (or each of a list) for the events in `mask`, and with
   * `rec` every directory below it. Returns the armed paths and their wds
   * (a walk visits directories in the kernel's order, not by name).
   *
   * Re-adding a watched path keeps its wd and replaces its mask and options
   * (`autoAdd`, `excludeFilter`), as the kernel replaces its mask; with
   * IN_MASK_ADD in `mask` the events are added to the mask instead and
   * `autoAdd` stays on if it was.
   * Excluded paths are skipped and absent from the result.
   *
   * Throws a Node-style error (ENOENT, ENOTDIR, EACCES, ENOSPC naming
   * fs.inotify.max_user_watches, EINVAL) when nothing could be watched, and a
   * {@link WatchError} listing what was and was not armed when a walk fails
   * part-way; what was armed stays watched and consistent.
   */
  addWatch(path: PathLike | readonly PathLike[], mask: number, options?: AddWatchOptions): Map<string, number> {
    const opts = validateOptions<AddWatchOptions>(options);
    const userMask = validateMask(mask);
    const exclude = opts.excludeFilter !== undefined ? toExcludePredicate(opts.excludeFilter) : this.#exclude;
    const settings = { autoAdd: opts.autoAdd === true, exclude, followSymlinks: opts.followSymlinks === true, procFun: toHook(opts.procFun, 'options.procFun') };
    let paths = (Array.isArray(path) ? path : [path]).map((p) => validatePath(p));
    if (opts.doGlob === true) paths = paths.flatMap((p): Array<string | Buffer> => (typeof p === 'string' ? expandGlob(p) : [p]));

    const armed = new Map<string, number>();
    const failed: WatchFailure[] = [];
    const noise = new ScanNoise();
    this.#drain();
    for (const given of paths) {
      const { path: resolved, bytes } = this.#normalize(given);
      if (exclude?.(resolved)) continue;
      try {
        const { watch } = this.#arm(resolved, bytes, userMask, settings, true, undefined);
        armed.set(watch.path, watch.wd);
        if (opts.rec === true && watch.dir) this.#walk(watch, noise, armed, failed);
      } catch (error) {
        if (!isCodedError(error)) throw error;
        failed.push({ path: resolved, error });
      }
    }
    this.#drain(noise);

    if (failed.length === 0) return armed;
    const first = failed[0];
    if (failed.length === 1 && armed.size === 0 && first !== undefined) {
      throw Object.assign(first.error, { armed, failed });
    }
    throw new WatchError(armed, failed);
  }

  /**
   * Stops watching `wd` (or each of a list); with `rec`, also every watch
   * below its path. Returns the removed wds. Throws EINVAL for an unknown wd.
   * No IN_IGNORED is reported for watches removed this way.
   */
  rmWatch(wd: number | readonly number[], options?: { rec?: boolean }): number[] {
    const opts = validateOptions<{ rec?: boolean }>(options);
    const wds = (Array.isArray(wd) ? wd : [wd]).map((w) => validateWd(w));
    for (const w of wds) {
      if (!this.#watches.has(w)) throw systemError('EINVAL', 'inotify_rm_watch', undefined, `wd ${w} is not watched by this WatchManager`);
    }
    const removed: number[] = [];
    for (const w of wds) {
      const watch = this.#watches.get(w);
      if (watch === undefined) continue; // removed with an earlier subtree
      const targets = opts.rec === true ? this.#watches.subtree(watch.path) : [watch];
      for (const target of targets) {
        this.#remove(target);
        removed.push(target.wd);
      }
    }
    return removed;
  }

  /**
   * Changes a watch (and with `rec` every watch below it): a new `mask`
   * (replacing the old one), `autoAdd` on or off, a new `excludeFilter`.
   *
   * The kernel changes a watch's mask only through a path. Each watch is
   * updated by its wd: its path is first checked to still name the watched
   * directory (the kernel returns the same wd); when it names another one,
   * or nothing (moved or deleted, with the events not processed yet), no
   * watch is armed there and that watch keeps its kernel mask (its pending
   * events re-path or release it).
   */
  updateWatch(wd: number, changes: { mask?: number; autoAdd?: boolean; rec?: boolean; excludeFilter?: ExcludeFilterLike }): void {
    const watch = this.#watches.get(validateWd(wd));
    if (watch === undefined) throw systemError('EINVAL', 'inotify_add_watch', undefined, `wd ${wd} is not watched by this WatchManager`);
    const opts = validateOptions<typeof changes>(changes, 'changes');
    const mask = opts.mask === undefined ? undefined : validateMask(opts.mask);
    const exclude = opts.excludeFilter === undefined ? undefined : toExcludePredicate(opts.excludeFilter);
    for (const target of opts.rec === true ? this.#watches.subtree(watch.path) : [watch]) {
      if (opts.autoAdd !== undefined) target.autoAdd = opts.autoAdd;
      if (exclude !== undefined) target.exclude = exclude;
      if (mask !== undefined) {
        target.mask = (mask & IN_ALL_EVENTS) >>> 0;
        target.flags = (mask & ~IN_ALL_EVENTS & ~IN_MASK_ADD & ~IN_MASK_CREATE) >>> 0;
      }
      const kernelMask = kernelMaskFor(target, !target.root, this.#entries !== undefined);
      // Only where the path still leads to this wd (checked without changing anything).
      if (this.#probe(target, target.path, target.pathBytes, target.kernelMask) !== 'same') continue;
      target.kernelMask = kernelMask;
      this.inotify.addWatch(target.pathBytes ?? target.path, (kernelMask & ~IN_MASK_CREATE) >>> 0);
    }
  }

  /** Closes the inotify instance; every watch is gone. */
  close(): void {
    this.inotify.close();
    this.#watches.clear();
    this.#entries?.clear();
  }

  // ---- used by the Notifier's bookkeeping -------------------------------

  /** @internal */
  _record(wd: number): WatchRecord | undefined {
    return this.#watches.get(wd);
  }

  /** @internal */
  _recordAt(path: string): WatchRecord | undefined {
    return this.#watches.at(path);
  }

  /** @internal The watch removed by the kernel (IN_IGNORED). */
  _forget(wd: number): void {
    const watch = this.#watches.get(wd);
    if (watch === undefined) return;
    this.#watches.delete(watch);
    this.#entries?.delete(wd);
  }

  /**
   * @internal A directory left the watched tree: remove its watch and all
   * below. With `keepSelf`, the directory's own watch stays (out of the path
   * map, marked `leaving`) until its IN_MOVE_SELF is delivered: see
   * {@link WatchManager._release}.
   */
  _dropSubtree(path: string, keepSelf = false): void {
    const self = keepSelf ? this.#watches.at(path) : undefined;
    for (const watch of this.#watches.subtree(path)) {
      if (watch !== self) this.#remove(watch);
    }
    if (self !== undefined) {
      self.leaving = true;
      this.#watches.unpath(self);
    }
  }

  /** @internal Removes one watch (a leaving directory's, once its IN_MOVE_SELF was delivered). */
  _release(watch: WatchRecord): void {
    if (this.#watches.get(watch.wd) === watch) this.#remove(watch);
  }

  /** @internal A watched directory moved inside the tree: rewrite its path and every path below it. */
  _repath(from: string, to: string, toBytes: Buffer | undefined): WatchRecord | undefined {
    return this.#watches.repath(from, to, toBytes);
  }

  /**
   * @internal Whether the directory now at `path` is the one `watch` watches
   * (undefined when nothing is there to tell). Events are processed after the
   * fact: by then a path may name a newer directory (`mkdir d; mv d e; mkdir d`
   * arms the second d when the first d's IN_CREATE is processed), so a path
   * alone cannot say which directory a rename moved. The kernel can:
   * inotify_add_watch with IN_MASK_ADD and the watch's own bits returns the
   * wd of an inode already watched and changes nothing. A watch the probe
   * creates on another inode is removed again (its IN_IGNORED is dropped as
   * an unknown wd). One syscall per directory rename.
   */
  _isAt(watch: WatchRecord, path: string, bytes: Buffer | undefined): boolean | undefined {
    const found = this.#probe(watch, path, bytes, watch.kernelMask);
    return found === 'same' ? true : found === 'other' ? false : undefined;
  }

  /**
   * @internal Keeps the names of every watched directory from now on, so an
   * overflow can be answered by {@link WatchManager._rescan}. Directory
   * watches also ask the kernel for IN_CREATE, IN_DELETE and IN_MOVED_* (not
   * delivered unless asked for), which keep the listings exact. Watches that
   * exist already are read once now. Memory: one Map entry per name in a
   * watched directory, about 80-100 bytes plus the name (~100 MB for a
   * million entries).
   */
  _trackEntries(): void {
    if (this.#entries !== undefined) return;
    const entries = new Map<number, Map<string, boolean>>();
    this.#entries = entries;
    const noise = new ScanNoise();
    this.#drain();
    for (const watch of [...this.#watches.values()]) {
      if (!tracks(watch)) continue;
      if (this.#probe(watch, watch.path, watch.pathBytes, LISTING_EVENTS) !== 'same') continue; // moved meanwhile: its events will tell
      watch.kernelMask = (watch.kernelMask | LISTING_EVENTS) >>> 0;
      try {
        this.#remember(watch, this.#readdir(watch, noise, SORTED));
      } catch {
        // Gone already: its IN_DELETE_SELF / IN_IGNORED are on their way.
      } finally {
        this.#drain(noise);
        noise.clear();
      }
    }
  }

  /** @internal Keeps a tracked directory's listing current with an event the Notifier processes. */
  _noteRecord(record: RawRecord): void {
    if (record.name === '' || !(record.mask & LISTING_EVENTS)) return;
    const names = this.#entries?.get(record.wd);
    if (names === undefined) return;
    if (record.mask & (IN_CREATE | IN_MOVED_TO)) names.set(record.name, (record.mask & IN_ISDIR) !== 0);
    else names.delete(record.name);
  }

  /**
   * @internal After IN_Q_OVERFLOW: re-reads every tracked directory and
   * returns what changed unseen, as synthetic events in path order (for each
   * directory its deletions, then its creations, a new directory before its
   * contents). New directories under autoAdd watches are armed and scanned;
   * watches whose directory is gone or was replaced are removed (a root gets
   * IN_DELETE_SELF and IN_IGNORED, as from the kernel). Changes that
   * `pending` (records queued after the overflow, not processed yet) or the
   * kernel queue will report themselves are left to those events.
   * Modifications of files that existed before are not detected.
   */
  _rescan(pending: readonly RawRecord[], errors: CodedError[]): SyntheticEntry[] {
    const entries = this.#entries;
    const out: SyntheticEntry[] = [];
    if (entries === undefined) return out;
    // Records read during passes 1 and 2 (handed to the Notifier's queue behind `pending`).
    const drained: RawRecord[] = [];
    this.#drain(undefined, drained);
    // Pass 1: is each directory still the one watched, and what does it hold now?
    const listings = new Map<WatchRecord, Listing>();
    const stale: WatchRecord[] = [];
    const noise = new ScanNoise();
    const tracked = [...this.#watches.values()].filter((watch) => entries.has(watch.wd)).sort(byPath);
    for (const watch of tracked) {
      const found = this.#probe(watch, watch.path, watch.pathBytes, watch.kernelMask);
      if (found === 'gone' || found === 'other') {
        stale.push(watch);
        continue;
      }
      try {
        listings.set(watch, this.#readdir(watch, noise, SORTED));
      } catch (error) {
        if (isCodedError(error) && GONE.has(error.code ?? '')) stale.push(watch);
      } finally {
        this.#drain(noise, drained);
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
      if (!this.#watches.has(watch.wd)) continue; // removed with a stale directory above it
      const parent = this.#watches.at(nodePath.dirname(watch.path));
      const parentListing = parent === undefined ? undefined : listings.get(parent);
      for (const below of this.#watches.subtree(watch.path)) {
        listings.delete(below);
        this.#remove(below);
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
      const known = entries.get(watch.wd);
      writing.set(watch, this.#filesBeingWritten(watch, listing, noise, known));
    }
    this.#drain(noise);
    noise.clear();
    // Pass 3: the difference between what was known and what is there.
    for (const [watch, listing] of [...listings].sort(([a], [b]) => byPath(a, b))) {
      if (!this.#watches.has(watch.wd)) continue;
      const known = entries.get(watch.wd) ?? new Map<string, boolean>();
      const now = new Map<string, boolean>();
      const { names, types, bytes } = listing;
      for (let i = 0; i < names.length; i++) now.set(names[i] as string, types.charCodeAt(i) === TYPE_DIRECTORY);
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
        const isDir = this.#isWalkableDir(watch, name, nameBytes, type, undefined);
        out.push({ watch, name, nameBytes, mask: isDir ? (IN_CREATE | IN_ISDIR) >>> 0 : IN_CREATE });
        if (isDir) {
          if (watch.autoAdd) this.#armAndScan(watch, path, childBytes(watch, name, nameBytes), out, errors);
        } else if (type === TYPE_FILE && writing.get(watch)?.has(name) !== true
          && !((queued.get(entryKey(watch.wd, name)) ?? 0) & IN_CLOSE_WRITE)) {
          out.push({ watch, name, nameBytes, mask: IN_CLOSE_WRITE });
        }
      }
      entries.set(watch.wd, now);
    }
    return out;
  }

  /**
   * @internal A directory appeared under `parent` (created, or moved in):
   * watch it first, then scan it, recursively. Returns one synthetic entry
   * for everything found that the kernel will not report itself, in tree
   * order (a directory before its contents). Failures other than "already
   * gone" are returned for the Notifier to emit.
   */
  _armNew(
    parent: WatchRecord, name: string, nameBytes: Buffer | undefined, errors: CodedError[], guard?: ArmGuard,
  ): SyntheticEntry[] {
    const entries: SyntheticEntry[] = [];
    const path = joinPath(parent.path, name);
    if (parent.exclude?.(path)) return entries;
    const bytes = childBytes(parent, name, nameBytes);
    this.#armAndScan(parent, path, bytes, entries, errors, guard);
    return entries;
  }

  // ---- internals -----------------------------------------------------------

  #normalize(given: string | Buffer): { path: string; bytes: Buffer | undefined } {
    if (typeof given === 'string') return { path: nodePath.resolve(given), bytes: undefined };
    let bytes = given;
    if (bytes[0] !== 0x2f) bytes = Buffer.concat([Buffer.from(process.cwd()), Buffer.from('/'), bytes]);
    while (bytes.length > 1 && bytes[bytes.length - 1] === 0x2f) bytes = bytes.subarray(0, bytes.length - 1);
    const path = bytes.toString('utf8');
    return isUtf8(bytes) ? { path: nodePath.resolve(path), bytes: undefined } : { path, bytes };
  }

  #arm(
    path: string, bytes: Buffer | undefined, mask: number,
    settings: { autoAdd: boolean; exclude: ExcludePredicate | undefined; followSymlinks: boolean; procFun: EventHook | undefined },
    root: boolean, knownDir: boolean | undefined,
  ): ArmResult {
    const events = (mask & IN_ALL_EVENTS) >>> 0;
    const flags = (mask & ~IN_ALL_EVENTS) >>> 0;
    const draft = {
      mask: events, flags: (flags & ~IN_MASK_ADD & ~IN_MASK_CREATE) >>> 0, autoAdd: settings.autoAdd,
      dir: knownDir ?? true, followSymlinks: settings.followSymlinks,
    };
    const track = this.#entries !== undefined;
    let kernelMask = (kernelMaskFor(draft, !root, track) | (flags & (IN_MASK_ADD | IN_MASK_CREATE))) >>> 0;
    let dir = knownDir;
    if (dir === undefined) {
      dir = isDirectory(bytes ?? path);
      draft.dir = dir;
      kernelMask = (kernelMaskFor(draft, !root, track) | (flags & (IN_MASK_ADD | IN_MASK_CREATE))) >>> 0;
    }
    const wd = this.inotify.addWatch(bytes ?? path, kernelMask);
    // The kernel hands out wds in increasing order (cyclically), so a wd
    // above every one seen is a new watch: a walk skips one Map look-up per
    // directory. After a wrap-around the look-up decides, as before.
    const existing = this.#watches.existing(wd);
    if (existing !== undefined) {
      existing.mask = flags & IN_MASK_ADD ? (existing.mask | events) >>> 0 : events;
      existing.flags = draft.flags;
      // IN_MASK_ADD adds: it never turns off the auto-add the kernel mask still serves.
      existing.autoAdd = settings.autoAdd || ((!root || (flags & IN_MASK_ADD) !== 0) && existing.autoAdd);
      existing.exclude = settings.exclude;
      existing.followSymlinks = settings.followSymlinks;
      existing.procFun = settings.procFun;
      existing.root ||= root;
      existing.kernelMask = flags & IN_MASK_ADD ? (existing.kernelMask | kernelMask) >>> 0 : kernelMask;
      return { watch: existing, created: false };
    }
    const watch: WatchRecord = {
      wd, path, pathBytes: bytes, mask: draft.mask, flags: draft.flags, kernelMask, autoAdd: settings.autoAdd,
      dir, root, exclude: settings.exclude, followSymlinks: settings.followSymlinks, procFun: settings.procFun,
      repathed: false, leaving: false,
    };
    this.#watches.add(watch);
    return { watch, created: true };
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

  // Recursive add at addWatch time: each directory is armed before it is read,
  // so a subdirectory created meanwhile is caught by its parent's IN_CREATE.
  // With followSymlinks, links are followed only after every real directory
  // is armed, so a directory reachable both ways is known by its real path;
  // `visited` (device:inode) ends loops and second visits.
  #walk(root: WatchRecord, noise: ScanNoise, armed: Map<string, number>, failed: WatchFailure[]): void {
    const visited = root.followSymlinks ? new Set<string>([identity(root.pathBytes ?? root.path)]) : undefined;
    const stack: WatchRecord[] = [root];
    const links: FoundLink[] = [];
    let readSinceDrain = 0;
    for (;;) {
      const dir = stack.pop();
      if (dir === undefined) {
        const link = links.shift();
        if (link === undefined) return;
        if (!this.#isWalkableDir(link.parent, link.name, link.bytes, TYPE_SYMLINK, visited)) continue;
        const watch = this.#armFound(link.parent, link.name, link.bytes, armed, failed);
        if (watch !== undefined) stack.push(watch);
        continue;
      }
      let listing: Listing;
      try {
        // Without a listing to keep, only directories (and links) matter, in
        // any order. A kept listing is in name order, as a rescan reports it.
        listing = this.#readdir(dir, noise, this.#entries !== undefined && tracks(dir) ? SORTED : DIRECTORIES, dir !== root);
        this.#remember(dir, listing);
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
          this.#drain(noise);
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
      const { watch } = this.#arm(path, childBytes(parent, name, nameBytes), parent.mask | parent.flags, parent, false, true);
      armed.set(watch.path, watch.wd);
      return watch;
    } catch (error) {
      if (!isCodedError(error)) throw error;
      if (!GONE.has(error.code ?? '')) failed.push({ path, error });
      return undefined;
    }
  }

  #armAndScan(
    parent: WatchRecord, path: string, bytes: Buffer | undefined, out: SyntheticEntry[], errors: CodedError[], guard?: ArmGuard,
  ): void {
    let result: ArmResult;
    try {
      result = this.#arm(path, bytes, parent.mask | parent.flags, parent, false, true);
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
        this.#drain();
        guard.watchedElsewhere(result.watch);
      }
      return;
    }
    const watch = result.watch;
    const noise = new ScanNoise();
    const before = this.#drain();
    // Everything the kernel queued up to the arming is read now: the guard
    // can tell whether the directory armed may be a later one by that name.
    if (guard?.reused() === true) {
      this.#remove(watch);
      return;
    }
    let listing: Listing;
    try {
      listing = this.#readdir(watch, noise, SORTED);
    } catch {
      return; // removed again already: its IN_DELETE_SELF / IN_IGNORED are on their way
    }
    this.#remember(watch, listing);
    const writing = this.#filesBeingWritten(watch, listing, noise, undefined);
    const after = this.#drain(noise);
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
      // A followed symlink loop ends by itself: the kernel returns the existing wd.
      const isDir = this.#isWalkableDir(watch, name, nameBytes, type, undefined);
      const childPath = joinPath(path, name);
      if (watch.exclude?.(childPath)) continue;
      out.push({ watch, name, nameBytes, mask: isDir ? (IN_CREATE | IN_ISDIR) >>> 0 : IN_CREATE });
      if (isDir) {
        this.#armAndScan(watch, childPath, childBytes(watch, name, nameBytes), out, errors);
      } else if (type === TYPE_FILE && !(seen & (IN_MODIFY | IN_CLOSE_WRITE)) && !writing.has(name)) {
        // Written and closed before the watch existed. A file still open for
        // writing gets its real IN_CLOSE_WRITE from the kernel instead.
        out.push({ watch, name, nameBytes, mask: IN_CLOSE_WRITE });
      }
    }
  }

  // Asks the kernel which watch the directory now at `path` has (see
  // _isAt), adding `mask` to it when it is `watch`'s: 'same', 'other' (a
  // watch the probe itself made is removed again), 'gone' (nothing, or not a
  // directory), 'unknown' (any other error, e.g. EACCES).
  #probe(watch: WatchRecord, path: string, bytes: Buffer | undefined, mask: number): 'same' | 'other' | 'gone' | 'unknown' {
    const follow = watch.root ? watch.flags & IN_DONT_FOLLOW : watch.followSymlinks ? 0 : IN_DONT_FOLLOW;
    let wd: number;
    try {
      wd = this.inotify.addWatch(bytes ?? path, ((mask & ~IN_MASK_CREATE) | IN_MASK_ADD | (watch.dir ? IN_ONLYDIR : 0) | follow) >>> 0);
    } catch (error) {
      if (!isCodedError(error)) throw error;
      return GONE.has(error.code ?? '') ? 'gone' : 'unknown';
    }
    if (wd === watch.wd) return 'same';
    if (!this.#watches.has(wd)) {
      try {
        this.inotify.rmWatch(wd);
      } catch {
        // Already gone with its inode.
      }
    }
    return 'other';
  }

  #remember(watch: WatchRecord, listing: Listing): void {
    if (this.#entries === undefined || !tracks(watch)) return;
    const known = new Map<string, boolean>();
    const { names, types } = listing;
    for (let i = 0; i < names.length; i++) known.set(names[i] as string, types.charCodeAt(i) === TYPE_DIRECTORY);
    this.#entries.set(watch.wd, known);
  }

  // `type` is the entry's code in its listing (a TYPE_* constant).
  #isWalkableDir(parent: WatchRecord, name: string, nameBytes: Buffer | undefined, type: number, visited: Set<string> | undefined): boolean {
    if (type === TYPE_DIRECTORY) return true;
    if (!parent.followSymlinks || type !== TYPE_SYMLINK) return false;
    const target = childBytes(parent, name, nameBytes) ?? joinPath(parent.path, name);
    if (!isDirectory(target)) return false;
    return visited === undefined || firstVisit(visited, target); // else a symlink loop, or a directory reached twice
  }

  // The regular files of a fresh listing that a process still has open for
  // writing. Probed between the readdir and the drain after it: the kernel
  // queues IN_CLOSE_WRITE before it drops the writer count, so a file that
  // is not open here either had its close drained already or closed before
  // the watch existed. The probe's own open/close are recorded as noise.
  // Names in `known` (listed before) are not probed.
  #filesBeingWritten(watch: WatchRecord, listing: Listing, noise: ScanNoise, known: ReadonlyMap<string, boolean> | undefined): Set<string> {
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

  // Lists a watched directory (names that are not UTF-8 kept exact, see
  // readdir.ts), and records the OPEN/ACCESS/CLOSE_NOWRITE the read itself
  // causes, so they are not reported. Only a watch whose user mask asks for
  // those can report them (the Notifier drops bits the user did not ask for).
  // `walked`: `dir` was armed by a walk from its parent's watch, so that
  // watch's mask is a subset of `dir`'s and needs no look-up when `dir`'s
  // has none of those bits.
  #readdir(dir: WatchRecord, noise: ScanNoise, options: ReadDirectoryOptions, walked = false): Listing {
    const scanned = (dir.mask & SCAN_EVENTS) !== 0;
    if (scanned) noise.directoryRead(dir.wd, '');
    if (scanned || !walked) {
      const parent = this.#watches.at(nodePath.dirname(dir.path));
      if (parent !== undefined && parent !== dir && parent.mask & SCAN_EVENTS) noise.directoryRead(parent.wd, nodePath.basename(dir.path));
    }
    return readDirectory(dir.pathBytes ?? dir.path, options);
  }

  // Asks the instance's one reader to read what the kernel queued so far (it
  // hands the records to the Notifier's queue); with `noise`, the scan's own
  // directory open/read/close events are dropped. Returns the records kept
  // (appended to `into` too).
  #drain(noise?: ScanNoise, into?: RawRecord[]): RawRecord[] {
    const kept = this.inotify._drain(noise === undefined || noise.empty ? undefined : (record) => noise.matches(record));
    if (into !== undefined) for (const record of kept) into.push(record);
    return kept;
  }

  #remove(watch: WatchRecord): void {
    this.#watches.delete(watch);
    this.#entries?.delete(watch.wd);
    try {
      this.inotify.rmWatch(watch.wd);
    } catch {
      // EINVAL: the kernel already dropped it (its IN_IGNORED is queued); nothing left to release.
    }
  }
}

// How each caller lists directories (see readdir.ts).
const SORTED: ReadDirectoryOptions = { sorted: true };
const DIRECTORIES: ReadDirectoryOptions = { directoriesOnly: true };

/** What reading a watched directory makes the kernel report, when asked. */
const SCAN_EVENTS = (IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE) >>> 0;



/**
 * The kernel mask for a watch: what the user asked plus what the bookkeeping
 * needs (with `track`, for listings). A path given to addWatch keeps the
 * user's IN_ONLYDIR / IN_DONT_FOLLOW; a directory found by a walk must still
 * be a directory, and not a symlink unless links are followed, when the
 * kernel resolves its path (the tree may change under the walk).
 */
function kernelMaskFor(
  watch: { mask: number; flags: number; autoAdd: boolean; dir: boolean; followSymlinks: boolean }, child: boolean, track: boolean,
): number {
  let mask = (watch.mask | watch.flags) >>> 0;
  if (child) mask = ((mask & ~IN_DONT_FOLLOW) | IN_ONLYDIR | (watch.followSymlinks ? 0 : IN_DONT_FOLLOW)) >>> 0;
  if (watch.flags & IN_ONESHOT) return mask >>> 0; // one event was asked for: add nothing that could spend it
  mask |= IN_MOVE_SELF | IN_DELETE_SELF;
  if (watch.dir) mask |= IN_MOVED_FROM | IN_MOVED_TO;
  if (watch.dir && watch.autoAdd) mask |= IN_CREATE;
  if (watch.dir && track) mask |= LISTING_EVENTS;
  return mask >>> 0;
}

/** Whether a watch's listing is kept for rescans: directories, except one-shot watches. */
function tracks(watch: WatchRecord): boolean {
  return watch.dir && !(watch.flags & IN_ONESHOT);
}

function byPath(a: WatchRecord, b: WatchRecord): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function childBytes(parent: Watch, name: string, nameBytes: Buffer | undefined): Buffer | undefined {
  if (parent.pathBytes === undefined && nameBytes === undefined) return undefined;
  return Buffer.concat([parent.pathBytes ?? Buffer.from(parent.path), Buffer.from('/'), nameBytes ?? Buffer.from(name)]);
}

function isDirectory(path: string | Buffer): boolean {
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
