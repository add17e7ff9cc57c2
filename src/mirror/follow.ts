/**
 * Turning the source's events into changes for the destination. A
 * TransferTracker subclass: the tracker says when a file is complete (never
 * a half-written file, never a temporary name), and its raw hooks give what
 * completion does not: new directories and symlinks, renames (both halves,
 * paired by cookie), deletes. Excluded paths and temporary names are dropped
 * here, so nothing below sees them.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import { IN_ISDIR } from '../constants.js';
import type { InotifyEvent } from '../event.js';
import { DEFAULT_TEMP_DIRS, DEFAULT_TEMP_PATTERNS, RSYNC_TEMP } from '../transfer/names.js';
import { TransferTracker } from '../transfer/tracker.js';
import type { TransferComplete, TransferTrackerOptions } from '../transfer/types.js';
import { RelPath } from './rel-path.js';

/** Where the follower puts the changes it sees. */
export interface ChangeSink {
  send(path: RelPath, deep: boolean): void;
  delete(path: RelPath): void;
  movedFrom(cookie: number, path: RelPath): void;
  /** False when no first half with this cookie is waiting. */
  movedTo(cookie: number, path: RelPath): boolean;
  /** The first half with this cookie never got its second: the entry left the tree. */
  movedAway(cookie: number): void;
  overflow(): void;
}

/** How long (ms) a rename's first half waits for its second before the entry is taken as gone from the tree. */
const MOVE_WINDOW = 1000;

/** At most this many names that are not UTF-8 are remembered (their bytes, for the tracker's string pathnames). */
const MAX_BYTE_NAMES = 10_000;

function isTemporary(pathname: string): boolean {
  const slash = pathname.lastIndexOf('/');
  const base = pathname.slice(slash + 1);
  if (RSYNC_TEMP.test(base) || DEFAULT_TEMP_PATTERNS.some((pattern) => pattern.test(base))) return true;
  return pathname.split('/').some((segment) => DEFAULT_TEMP_DIRS.includes(segment));
}

/** The source side of a mirror: a TransferTracker that reports changes to a {@link ChangeSink}. */
export class ChangeFollower extends TransferTracker {
  readonly #root: Buffer;
  readonly #sink: ChangeSink;
  readonly #excluded: ((pathname: string) => boolean) | undefined;
  /** Bytes of recently seen names that are not UTF-8, by their (lossy) string pathname. */
  readonly #bytes = new Map<string, Buffer>();
  readonly #moveTimers = new Map<number, NodeJS.Timeout>();

  constructor(root: string, sink: ChangeSink, excluded: ((pathname: string) => boolean) | undefined, options: TransferTrackerOptions) {
    super(options);
    this.#root = Buffer.from(root);
    this.#sink = sink;
    this.#excluded = excluded;
    this.on('overflow', () => sink.overflow());
  }

  /** Forgets the rename halves still waiting (the mirror is closing). */
  stopWaiting(): void {
    for (const timer of this.#moveTimers.values()) clearTimeout(timer);
    this.#moveTimers.clear();
  }

  /** The path below the root, or undefined when it is the root, excluded or outside. */
  #relative(pathname: string, bytes?: Buffer): RelPath | undefined {
    if (this.#excluded?.(pathname) === true) return undefined;
    return RelPath.below(this.#root, bytes ?? this.#bytes.get(pathname) ?? Buffer.from(pathname));
  }

  #eventPath(event: InotifyEvent): RelPath | undefined {
    let bytes: Buffer | undefined;
    if (event.nameBytes !== undefined || event.pathBytes !== undefined) {
      bytes = event.pathnameBytes();
      this.#bytes.delete(event.pathname);
      this.#bytes.set(event.pathname, bytes);
      if (this.#bytes.size > MAX_BYTE_NAMES) this.#bytes.delete(this.#bytes.keys().next().value as string);
    }
    return this.#relative(event.pathname, bytes);
  }

  override process_transfer_complete(file: TransferComplete): void {
    const path = this.#relative(file.pathname);
    if (path !== undefined) this.#sink.send(path, false);
  }

  process_IN_CREATE(event: InotifyEvent): void {
    const path = this.#eventPath(event);
    if (path === undefined) return;
    // Files arrive through 'complete'; a directory (created empty) and a symlink (never written) do not.
    if (event.dir) {
      this.#sink.send(path, false);
      return;
    }
    const stat = fs.lstatSync(path.under(this.#root), { throwIfNoEntry: false });
    if (stat?.isSymbolicLink() === true) this.#sink.send(path, false);
  }

  process_IN_DELETE(event: InotifyEvent): void {
    const path = this.#eventPath(event);
    if (path !== undefined) this.#sink.delete(path);
  }

  process_IN_MOVED_FROM(event: InotifyEvent): void {
    const path = this.#eventPath(event);
    // A temporary name renamed into place is an arrival: 'complete' reports it.
    if (path === undefined || isTemporary(event.pathname)) return;
    this.#sink.movedFrom(event.cookie, path);
    const timer = setTimeout(() => {
      this.#moveTimers.delete(event.cookie);
      this.#sink.movedAway(event.cookie);
    }, MOVE_WINDOW);
    timer.unref();
    this.#moveTimers.set(event.cookie, timer);
  }

  process_IN_MOVED_TO(event: InotifyEvent): void {
    const path = this.#eventPath(event);
    const timer = this.#moveTimers.get(event.cookie);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#moveTimers.delete(event.cookie);
    }
    if (path === undefined) return;
    const source = event.srcPathname;
    if (source !== undefined && isTemporary(source)) return; // an arrival: 'complete' reports it
    if (this.#sink.movedTo(event.cookie, path)) return;
    // Moved in from outside (or from an excluded place): its content is new here.
    this.#sink.send(path, (event.mask & IN_ISDIR) !== 0);
  }
}
