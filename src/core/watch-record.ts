/**
 * What the watch table holds for one watch, and the small types the
 * WatchManager, its scanner and its rescan pass between them.
 */
import type { Buffer } from 'node:buffer';
import { inspect, type InspectOptionsStylized } from 'node:util';
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

/**
 * @internal The settings a watch shares with every watch armed the same way
 * (a walk's directories, an auto-add's): one object for all of them, never
 * changed. A watch whose settings change gets another one (see
 * {@link WatchRecord.settings}), so its siblings keep theirs.
 */
export interface WatchSettings {
  /** The events the user asked for (IN_* event bits only). */
  readonly mask: number;
  /** The user's watch flags (IN_ONLYDIR, IN_DONT_FOLLOW, IN_EXCL_UNLINK, IN_ONESHOT). */
  readonly flags: number;
  /** The mask given to the kernel. */
  readonly kernelMask: number;
  readonly autoAdd: boolean;
  readonly exclude: ExcludePredicate | undefined;
  readonly followSymlinks: boolean;
  readonly procFun: EventHook | undefined;
}

/** @internal The options a watch is armed with (a child found by a walk or a scan takes its parent's). */
export type ArmSettings = Pick<WatchSettings, 'autoAdd' | 'exclude' | 'followSymlinks' | 'procFun'>;

// WatchRecord's booleans, in one small integer.
const DIR = 1;
const ROOT = 2;
const REPATHED = 4;
const LEAVING = 8;

/** A path that is not valid UTF-8: its string form and its exact bytes. */
interface ExactPath {
  readonly path: string;
  readonly bytes: Buffer;
}

/**
 * @internal A watch as the table holds it; users see it through the
 * readonly {@link Watch}. Four fields (56 bytes on a 64-bit Node): what is
 * the same for many watches is in the shared {@link WatchSettings}, read
 * through getters (on the prototype: no memory per watch); the booleans are
 * bits of one integer; a path's exact bytes, needed only when it is not
 * UTF-8, share the path's field. Every instance is built by the one
 * constructor, so V8 keeps them all in one hidden class.
 */
export class WatchRecord implements Watch {
  readonly wd: number;
  #where: string | ExactPath;
  /** Shared with the watches armed the same way: replaced, never changed in place (copy-on-write). */
  settings: WatchSettings;
  #bits: number;

  constructor(wd: number, path: string, pathBytes: Buffer | undefined, settings: WatchSettings, dir: boolean, root: boolean) {
    this.wd = wd;
    this.#where = pathBytes === undefined ? path : { path, bytes: pathBytes };
    this.settings = settings;
    this.#bits = (dir ? DIR : 0) | (root ? ROOT : 0);
  }

  get path(): string {
    const where = this.#where;
    return typeof where === 'string' ? where : where.path;
  }

  get pathBytes(): Buffer | undefined {
    const where = this.#where;
    return typeof where === 'string' ? undefined : where.bytes;
  }

  /** The watched directory is now at `path` (`bytes`: its exact bytes when not UTF-8). */
  moveTo(path: string, bytes: Buffer | undefined): void {
    this.#where = bytes === undefined ? path : { path, bytes };
  }

  get mask(): number {
    return this.settings.mask;
  }

  get flags(): number {
    return this.settings.flags;
  }

  get kernelMask(): number {
    return this.settings.kernelMask;
  }

  get autoAdd(): boolean {
    return this.settings.autoAdd;
  }

  get exclude(): ExcludePredicate | undefined {
    return this.settings.exclude;
  }

  get followSymlinks(): boolean {
    return this.settings.followSymlinks;
  }

  get procFun(): EventHook | undefined {
    return this.settings.procFun;
  }

  get dir(): boolean {
    return (this.#bits & DIR) !== 0;
  }

  /** True for a path given to addWatch (not found by a walk or auto-add); once a root, always one. */
  get root(): boolean {
    return (this.#bits & ROOT) !== 0;
  }

  makeRoot(): void {
    this.#bits |= ROOT;
  }

  /** Set when a paired move re-pathed this watch, until its IN_MOVE_SELF arrives. */
  get repathed(): boolean {
    return (this.#bits & REPATHED) !== 0;
  }

  set repathed(value: boolean) {
    this.#bits = value ? this.#bits | REPATHED : this.#bits & ~REPATHED;
  }

  /**
   * Set when the directory left the watched tree: the watch is out of the
   * path map (and everything below it is gone) but kept until its own
   * IN_MOVE_SELF is delivered, which then releases it.
   */
  get leaving(): boolean {
    return (this.#bits & LEAVING) !== 0;
  }

  set leaving(value: boolean) {
    this.#bits = value ? this.#bits | LEAVING : this.#bits & ~LEAVING;
  }

  /** What JSON.stringify shows: the public {@link Watch} fields. */
  toJSON(): Watch {
    return {
      wd: this.wd, path: this.path, pathBytes: this.pathBytes, mask: this.mask, kernelMask: this.kernelMask,
      autoAdd: this.autoAdd, dir: this.dir, root: this.root,
    };
  }

  /** What console.log and util.inspect show: the same fields (the getters are on the prototype). */
  [inspect.custom](depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
    return `Watch ${show(this.toJSON(), { ...options, depth: options.depth === null ? null : depth })}`;
  }
}

/** @internal Two settings are the same (the registry then shares one object). */
export function sameSettings(
  a: WatchSettings, mask: number, flags: number, kernelMask: number, autoAdd: boolean,
  exclude: ExcludePredicate | undefined, followSymlinks: boolean, procFun: EventHook | undefined,
): boolean {
  return a.mask === mask && a.flags === flags && a.kernelMask === kernelMask && a.autoAdd === autoAdd
    && a.exclude === exclude && a.followSymlinks === followSymlinks && a.procFun === procFun;
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
