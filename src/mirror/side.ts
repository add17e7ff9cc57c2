/**
 * One root of a two-way mirror as the engine (two-way.ts) sees it: every
 * operation it needs on that root, async, so the root may be a local
 * directory (local-side.ts) or a directory on another machine reached over
 * ssh (ssh-side.ts, through `inotify-mirror --serve`). Data never goes
 * through a side: rsync moves it between the two {@link SyncSide.endpoint}s.
 */
import type { CodedError } from '../errors.js';
import type { Entry } from './entry.js';
import type { ChangeSink } from './follow.js';
import type { RelPath } from './rel-path.js';

/** Where a side puts what it sees: the follower's changes, plus what goes wrong with the side itself. */
export interface SideSink extends ChangeSink {
  /** Something the side could not follow or do (it keeps going). */
  warning(error: Error): void;
  /** The side cannot follow changes any more (e.g. a watch error): the mirror stops. */
  fail(error: Error): void;
  /** The side stopped reaching its root (a remote channel closed): check it, wait, reconnect. */
  lost(error: Error): void;
}

/** One root of a two-way mirror (see the file comment). */
export interface SyncSide {
  /** The root for messages: `/path` or `host:/path`. */
  readonly name: string;
  /** The last name of the root (labels conflict names). */
  readonly basename: string;
  /** rsync's argument for this root: `/path/` or `host:/path/` (valid once opened). */
  readonly endpoint: string;
  /** rsync arguments this side needs (`-e SSH` for a remote one), or none. */
  readonly rsyncArgs: readonly string[];

  /**
   * Reaches the root and records its identity (dev:ino): ENOENT / ENOTDIR
   * when it is not a directory, ERR_MIRROR_CHANNEL / ERR_MIRROR_PROTOCOL
   * when a remote end cannot be started or speaks another version.
   */
  open(): Promise<void>;
  /**
   * Undefined when the root is reachable and still the directory open()
   * found; otherwise why not (a side that lost its channel says so once,
   * then tries to reconnect on each later call).
   */
  unreachable(): Promise<CodedError | undefined>;
  /** True when the root holds anything besides the parking directory. */
  hasEntries(): Promise<boolean>;
  /** The entry at `path` (lstat), or undefined when absent (or a fifo, socket, device). */
  entry(path: RelPath): Promise<Entry | undefined>;
  /** The sha256 (base64) of the file at `path` now, or undefined when it is not a readable file. */
  hash(path: RelPath): Promise<string | undefined>;
  /** Adds every path at and below `under` (the whole tree when undefined), minus excluded ones and the parking directory. */
  walk(under: RelPath | undefined, into: Map<string, RelPath>): Promise<void>;
  /** Renames, never over an existing entry (EEXIST). */
  rename(from: RelPath, to: RelPath): Promise<void>;
  /** Creates a directory and its missing parents. */
  mkdir(path: RelPath): Promise<void>;
  /** Removes a file, a symlink or an empty directory (ENOTEMPTY for one that is not). */
  remove(path: RelPath): Promise<void>;
  /** The files rsync parked (relative to the parking directory), with their entries. */
  parked(): Promise<[RelPath, Entry][]>;
  /** Drops one parked file. */
  dropParked(path: RelPath): Promise<void>;
  /** Moves one parked file to `to` in the tree (never over an existing entry). */
  keepParked(path: RelPath, to: RelPath): Promise<void>;
  /** Removes the parking directory. */
  clearParked(): Promise<void>;
  /** Starts following changes into `sink` (again after {@link unwatch}). */
  watch(sink: SideSink): Promise<void>;
  /** Stops following changes. */
  unwatch(): Promise<void>;
  /** Stops following and lets go of the root (a remote channel is closed). Idempotent. */
  close(): Promise<void>;
}
