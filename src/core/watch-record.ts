/**
 * What the watch table holds for one watch, and the small types the
 * WatchManager, its scanner and its rescan pass between them.
 */
import type { Buffer } from 'node:buffer';
import type { ExcludePredicate } from '../exclude-filter.js';
import type { EventHook } from '../process-event.js';

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
  /**
   * Set when a scan armed this directory but could not list it (it was gone
   * from its path: a rename above it, not processed yet): the names the
   * kernel has reported through this watch since, so that the scan it still
   * owes (made once a re-path covers it) reports only the others.
   */
  unlisted?: Set<string>;
}

/** @internal The options a watch is armed with (a child found by a walk or a scan takes its parent's). */
export interface WatchSettings {
  autoAdd: boolean;
  exclude: ExcludePredicate | undefined;
  followSymlinks: boolean;
  procFun: EventHook | undefined;
}

/** @internal What arming a path gave: its watch, and whether the kernel made a new one. */
export interface ArmResult {
  watch: WatchRecord;
  created: boolean;
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
  /**
   * A directory the scan found in `parent` could not be armed: nothing was
   * at its path any more (a rename above it, not processed yet, or a
   * removal). Its creation was reported; what it holds was not.
   */
  missed(parent: WatchRecord, name: string, nameBytes: Buffer | undefined): void;
}

/** @internal What asking the kernel which watch a path has found: see WatchManager._isAt. */
export type PathIdentity = 'same' | 'other' | 'gone' | 'unknown';
