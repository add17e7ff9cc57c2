/**
 * The WatchManager: the one owner of wd <-> path. It arms watches (one or a
 * whole tree), keeps both maps exact across moves and removals, and scans
 * new directories without losing or duplicating what is in them.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import * as nodePath from 'node:path';
import {
  IN_ALL_EVENTS, IN_CREATE, IN_DELETE_SELF, IN_DONT_FOLLOW, IN_MASK_ADD, IN_MASK_CREATE, IN_MOVE_SELF, IN_MOVED_FROM,
  IN_MOVED_TO, IN_ONESHOT, IN_ONLYDIR,
} from './constants.js';
import type { RawRecord } from './decode.js';
import { isCodedError, systemError, type CodedError } from './errors.js';
import { joinPath } from './event.js';
import { toExcludePredicate, type ExcludeFilterLike, type ExcludePredicate } from './exclude-filter.js';
import { expandGlob } from './glob.js';
import { Inotify } from './inotify.js';
import { limits, type InotifyLimits } from './limits.js';
import { toHook, type ChainedProcessor } from './process-event.js';
import { ScanNoise } from './scan-noise.js';
import { LISTING_EVENTS, Rescan } from './core/rescan.js';
import { childBytes, isDirectory, Scanner, type WatchTable } from './core/scanner.js';
import { WatchRecord, type ArmGuard, type ArmResult, type ArmSettings, type SyntheticEntry, type Watch } from './core/watch-record.js';
import { WatchRegistry } from './core/watch-registry.js';
import { WatchError, type WatchFailure } from './watch-error.js';
import { rejectNodeSpellings, validateMask, validateOptions, validatePath, validateWd, type PathLike } from './validate.js';

export type { Watch } from './core/watch-record.js';

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

/** Options of the {@link WatchManager} constructor. */
export interface WatchManagerOptions {
  /** Default exclusion for every addWatch (pyinotify's `exclude_filter`). */
  excludeFilter?: ExcludeFilterLike;
  /** @internal An Inotify instance to use (tests). */
  inotify?: Inotify;
  /** @internal Keep a listing of every watched directory from the start (see {@link WatchManager._trackEntries}). */
  trackEntries?: boolean;
}

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
  readonly #table: WatchTable;
  readonly #scanner: Scanner;
  // The listings of watched directories and the overflow rescan: only when asked for (see _trackEntries).
  #rescan: Rescan | undefined;

  constructor(options?: WatchManagerOptions) {
    const opts = validateOptions<WatchManagerOptions>(options);
    this.#exclude = toExcludePredicate(opts.excludeFilter);
    this.inotify = opts.inotify ?? new Inotify();
    // Explicit parameters, not (...args): the walk calls arm() once per directory.
    this.#table = {
      arm: (path, bytes, mask, settings, root, knownDir) => this.#arm(path, bytes, mask, settings, root, knownDir),
      remove: (watch) => this.#remove(watch),
    };
    this.#scanner = new Scanner(this.inotify, this.#watches, this.#table);
    if (opts.trackEntries === true) this.#startRescan();
  }

  /** Every watch by wd (a live view, in wd order: the order the kernel made them in). */
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
    rejectNodeSpellings(opts, 'addWatch()');
    const userMask = validateMask(mask);
    const exclude = opts.excludeFilter !== undefined ? toExcludePredicate(opts.excludeFilter) : this.#exclude;
    const settings = { autoAdd: opts.autoAdd === true, exclude, followSymlinks: opts.followSymlinks === true, procFun: toHook(opts.procFun, 'options.procFun') };
    let paths = (Array.isArray(path) ? path : [path]).map((p) => validatePath(p));
    if (opts.doGlob === true) paths = paths.flatMap((p): Array<string | Buffer> => (typeof p === 'string' ? expandGlob(p) : [p]));

    const armed = new Map<string, number>();
    const failed: WatchFailure[] = [];
    const noise = new ScanNoise();
    this.#scanner.drain();
    for (const given of paths) {
      const { path: resolved, bytes } = this.#normalize(given);
      if (exclude?.(resolved)) continue;
      try {
        const { watch } = this.#arm(resolved, bytes, userMask, settings, true, undefined);
        armed.set(watch.path, watch.wd);
        if (opts.rec === true && watch.dir) this.#scanner.walk(watch, noise, armed, failed);
      } catch (error) {
        if (!isCodedError(error)) throw error;
        failed.push({ path: resolved, error });
      }
    }
    this.#scanner.drain(noise);

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
    rejectNodeSpellings(opts, 'updateWatch()');
    const mask = opts.mask === undefined ? undefined : validateMask(opts.mask);
    const exclude = opts.excludeFilter === undefined ? undefined : toExcludePredicate(opts.excludeFilter);
    const track = this.#rescan !== undefined;
    for (const target of opts.rec === true ? this.#watches.subtree(watch.path) : [watch]) {
      // Copy-on-write: the target gets settings of its own (or shared with
      // the targets updated alike); the watches it shared its old ones with keep them.
      const old = target.settings;
      const events = mask === undefined ? old.mask : (mask & IN_ALL_EVENTS) >>> 0;
      const flags = mask === undefined ? old.flags : (mask & ~IN_ALL_EVENTS & ~IN_MASK_ADD & ~IN_MASK_CREATE) >>> 0;
      const autoAdd = opts.autoAdd ?? old.autoAdd;
      const excludeNow = exclude ?? old.exclude;
      target.settings = this.#watches.share(old, events, flags, old.kernelMask, autoAdd, excludeNow, old.followSymlinks, old.procFun);
      const kernelMask = kernelMaskFor(events, flags, autoAdd, target.dir, old.followSymlinks, !target.root, track);
      // Only where the path still leads to this wd (checked without changing anything).
      if (this.#scanner.probe(target, target.path, target.pathBytes, target.kernelMask) !== 'same') continue;
      target.settings = this.#watches.share(old, events, flags, kernelMask, autoAdd, excludeNow, old.followSymlinks, old.procFun);
      this.inotify.addWatch(target.pathBytes ?? target.path, (kernelMask & ~IN_MASK_CREATE) >>> 0);
    }
  }

  /** Closes the inotify instance; every watch is gone. */
  close(): void {
    this.inotify.close();
    this.#watches.clear();
    this.#rescan?.listings.clear();
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
    this.#rescan?.listings.delete(wd);
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

  /** @internal Directories a scan armed but could not list (a rename above them came in between): see Scanner.unlisted. */
  _unlisted(): ReadonlyMap<WatchRecord, Set<string>> {
    return this.#scanner.unlisted;
  }

  /** @internal Scans the unlisted directories now at or below `path` (a re-path just put them there). */
  _scanUnlisted(path: string, out: SyntheticEntry[], errors: CodedError[]): void {
    this.#scanner.scanUnlisted(path, out, errors);
  }

  /** @internal A watched directory that is not recursive moved under the recursive `parent`: see Scanner.adopt. */
  _adopt(parent: WatchRecord, watch: WatchRecord, errors: CodedError[]): SyntheticEntry[] {
    const out: SyntheticEntry[] = [];
    this.#scanner.adopt(parent, watch, out, errors);
    return out;
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
    const found = this.#scanner.probe(watch, path, bytes, watch.kernelMask);
    return found === 'same' ? true : found === 'other' ? false : undefined;
  }

  /**
   * @internal Keeps the names of every watched directory from now on, so an
   * overflow can be answered by {@link WatchManager._rescan}. Directory
   * watches also ask the kernel for IN_CREATE, IN_DELETE and IN_MOVED_* (not
   * delivered unless asked for), which keep the listings exact. Watches that
   * exist already are read once now. Memory: about a byte per character of
   * the names (see Listings), a Map entry per name, about 80-100 bytes plus
   * the name, for a directory an event changed (a million entries: ~15 MB
   * packed, ~100 MB as Maps).
   */
  _trackEntries(): void {
    if (this.#rescan !== undefined) return;
    this.#startRescan().trackExisting();
  }

  /** @internal Keeps a tracked directory's listing current with an event the Notifier processes. */
  _noteRecord(record: RawRecord): void {
    this.#rescan?.listings.note(record);
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
    return this.#rescan?.run(pending, errors) ?? [];
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
    this.#scanner.armAndScan(parent, path, bytes, entries, errors, guard);
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

  #startRescan(): Rescan {
    const rescan = new Rescan(this.#scanner, this.#watches, this.#table);
    this.#rescan = rescan;
    this.#scanner.listings = rescan.listings;
    return rescan;
  }

  // Arms `path` with the kernel and records the watch (or updates the one the kernel returned).
  #arm(path: string, bytes: Buffer | undefined, mask: number, settings: ArmSettings, root: boolean, knownDir: boolean | undefined): ArmResult {
    const events = (mask & IN_ALL_EVENTS) >>> 0;
    const given = (mask & ~IN_ALL_EVENTS) >>> 0;
    const flags = (given & ~IN_MASK_ADD & ~IN_MASK_CREATE) >>> 0;
    const dir = knownDir ?? isDirectory(bytes ?? path);
    const { autoAdd, exclude, followSymlinks, procFun } = settings;
    const kernelMask = (kernelMaskFor(events, flags, autoAdd, dir, followSymlinks, !root, this.#rescan !== undefined)
      | (given & (IN_MASK_ADD | IN_MASK_CREATE))) >>> 0;
    // Paths made here are checked already (a validated root joined with names the kernel listed).
    const wd = this.inotify._addWatchChecked(bytes ?? path, kernelMask);
    // The kernel hands out wds in increasing order (cyclically), so a wd
    // above every one seen is a new watch: a walk skips one Map look-up per
    // directory. After a wrap-around the look-up decides, as before.
    const existing = this.#watches.existing(wd);
    if (existing !== undefined) {
      const old = existing.settings;
      const adding = (given & IN_MASK_ADD) !== 0;
      existing.settings = this.#watches.share(
        old, adding ? (old.mask | events) >>> 0 : events, flags, adding ? (old.kernelMask | kernelMask) >>> 0 : kernelMask,
        // IN_MASK_ADD adds: it never turns off the auto-add the kernel mask still serves.
        autoAdd || ((!root || adding) && old.autoAdd), exclude, followSymlinks, procFun,
      );
      if (root) existing.makeRoot();
      return { watch: existing, created: false };
    }
    // A walk's (or an auto-add's) directories share their parent's settings
    // object, or the one made for its first child (see WatchRegistry.share).
    const parent = settings instanceof WatchRecord ? settings.settings : undefined;
    const shared = this.#watches.share(parent, events, flags, kernelMask, autoAdd, exclude, followSymlinks, procFun);
    const watch = new WatchRecord(wd, path, bytes, shared, dir, root);
    this.#watches.add(watch);
    return { watch, created: true };
  }

  #remove(watch: WatchRecord): void {
    this.#watches.delete(watch);
    this.#rescan?.listings.delete(watch.wd);
    try {
      this.inotify.rmWatch(watch.wd);
    } catch {
      // EINVAL: the kernel already dropped it (its IN_IGNORED is queued); nothing left to release.
    }
  }
}

/**
 * The kernel mask for a watch: what the user asked plus what the bookkeeping
 * needs (with `track`, for listings). A path given to addWatch keeps the
 * user's IN_ONLYDIR / IN_DONT_FOLLOW; a directory found by a walk must still
 * be a directory, and not a symlink unless links are followed, when the
 * kernel resolves its path (the tree may change under the walk).
 */
function kernelMaskFor(
  events: number, flags: number, autoAdd: boolean, dir: boolean, followSymlinks: boolean, child: boolean, track: boolean,
): number {
  let mask = (events | flags) >>> 0;
  if (child) mask = ((mask & ~IN_DONT_FOLLOW) | IN_ONLYDIR | (followSymlinks ? 0 : IN_DONT_FOLLOW)) >>> 0;
  if (flags & IN_ONESHOT) return mask >>> 0; // one event was asked for: add nothing that could spend it
  mask |= IN_MOVE_SELF | IN_DELETE_SELF;
  if (dir) mask |= IN_MOVED_FROM | IN_MOVED_TO;
  if (dir && autoAdd) mask |= IN_CREATE;
  if (dir && track) mask |= LISTING_EVENTS;
  return mask >>> 0;
}
