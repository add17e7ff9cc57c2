/**
 * Poller: watches a tree by snapshots instead of inotify, for filesystems
 * where inotify cannot see other machines' writes (NFS, SMB, FUSE). Emits
 * the same InotifyEvent objects as a Notifier.
 */
import { EventEmitter } from 'node:events';
import { basename, dirname, resolve } from 'node:path';
import { IN_ISDIR } from '../constants.js';
import { InotifyEvent } from '../event.js';
import { diffSnapshots } from './diff.js';
import { takeSnapshot, takeSnapshotSync, type SnapshotEntry } from './snapshot.js';

/** Options of polling (`poll: { ... }` of trackTransfers and inotifyd watches). */
export interface PollOptions {
  /** Time between the end of one poll and the start of the next, ms (default 1000). */
  interval?: number;
  /** Poll only this many entries (default 10000); beyond it, a 'warning' and the rest are not watched. */
  maxEntries?: number;
  /** Poll even where inotify works (default false: only paths on network or FUSE filesystems). */
  force?: boolean;
}

/** Events of a {@link Poller}. */
export interface PollerEvents {
  event: [event: InotifyEvent];
  /** The tree holds more than `maxEntries` entries (once per crossing). */
  warning: [warning: Error];
  /** The root cannot be read: polling stops. */
  error: [error: Error];
  close: [];
}

/** Validates {@link PollOptions} (TypeError/RangeError with `code`). */
export function validatePollOptions(value: unknown, name = 'poll'): Required<PollOptions> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw Object.assign(new TypeError(`The "${name}" option must be an object { interval, maxEntries, force }. Received ${JSON.stringify(value)}`), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!['interval', 'maxEntries', 'force'].includes(key)) {
      throw Object.assign(new TypeError(`The "${name}.${key}" option is not a polling option (interval, maxEntries, force)`), { code: 'ERR_INVALID_ARG_VALUE' });
    }
  }
  const int = (key: string, min: number, fallback: number): number => {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw Object.assign(new RangeError(`The "${name}.${key}" option must be an integer >= ${min}. Received ${JSON.stringify(v)}`), { code: 'ERR_OUT_OF_RANGE' });
    return v;
  };
  if (o.force !== undefined && typeof o.force !== 'boolean') throw Object.assign(new TypeError(`The "${name}.force" option must be a boolean`), { code: 'ERR_INVALID_ARG_TYPE' });
  return { interval: int('interval', 10, 1000), maxEntries: int('maxEntries', 1, 10_000), force: o.force === true };
}

/**
 * Polls `root` every `interval` ms: one readdir per directory and one lstat
 * per entry each time (at most `maxEntries`), never two polls at once. The
 * baseline (no events) is taken in the constructor, synchronously, as
 * inotify's watches are set: every change after it returns is reported. An
 * unreadable root is thrown there (ENOENT, EACCES, ENOTDIR: fs's error).
 */
export class Poller extends EventEmitter<PollerEvents> {
  /** The polled directory. */
  readonly root: string;
  readonly interval: number;
  readonly maxEntries: number;
  /** Resolved: the baseline is taken in the constructor (kept for code that awaits it). */
  readonly ready: Promise<void> = Promise.resolve();
  readonly #recursive: boolean;
  readonly #exclude: ((pathname: string) => boolean) | undefined;
  readonly #ref: boolean;
  #entries: ReadonlyMap<string, SnapshotEntry> = new Map();
  #changing = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #truncated = false;
  #tornInARow = 0;
  #cookie = 0;

  constructor(root: string, options: PollOptions & { recursive?: boolean; exclude?: ((pathname: string) => boolean) | undefined; ref?: boolean } = {}) {
    super();
    const poll = validatePollOptions({ interval: options.interval, maxEntries: options.maxEntries, force: options.force });
    this.root = resolve(root);
    this.interval = poll.interval;
    this.maxEntries = poll.maxEntries;
    this.#recursive = options.recursive !== false;
    this.#exclude = options.exclude;
    this.#ref = options.ref !== false;
    const baseline = takeSnapshotSync(this.root, { recursive: this.#recursive, maxEntries: this.maxEntries, exclude: this.#exclude });
    this.#entries = baseline.entries;
    this.#truncated = baseline.truncated;
    if (baseline.truncated) setImmediate(() => this.#warnTruncated());
    this.#schedule();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => void this.#poll(), this.interval);
    if (!this.#ref) this.#timer.unref();
  }

  #warnTruncated(): void {
    if (this.#closed) return;
    this.emit('warning', Object.assign(new Error(`${this.root}: more than ${this.maxEntries} entries: polling sees only the first ${this.maxEntries} (raise poll.maxEntries)`), { code: 'INOTIFY_POLL_TRUNCATED', path: this.root }));
  }

  async #poll(): Promise<void> {
    this.#timer = undefined;
    if (this.#closed) return;
    let snapshot;
    try {
      snapshot = await takeSnapshot(this.root, { recursive: this.#recursive, maxEntries: this.maxEntries, exclude: this.#exclude });
    } catch (error) {
      if (this.#closed) return;
      this.emit('error', error as Error);
      this.close();
      return;
    }
    if (this.#closed) return;
    // A torn snapshot (the tree changed mid-walk) is taken again at once, up to 3 times in a row.
    if (snapshot.torn && this.#tornInARow < 3) {
      this.#tornInARow++;
      void this.#poll();
      return;
    }
    this.#tornInARow = 0;
    if (snapshot.truncated !== this.#truncated) {
      this.#truncated = snapshot.truncated;
      if (snapshot.truncated) this.#warnTruncated();
    }
    const diff = diffSnapshots(this.#entries, snapshot.entries, this.#changing, () => ++this.#cookie);
    this.#changing = diff.changing;
    this.#entries = snapshot.entries;
    for (const change of diff.changes) {
      if (this.#closed) return;
      const dir = dirname(change.pathname);
      const event = new InotifyEvent(0, (change.mask | (change.dir ? IN_ISDIR : 0)) >>> 0, basename(change.pathname), dir, change.pathname, change.dir, change.cookie, change.srcPathname);
      this.emit('event', event);
    }
    this.#schedule();
  }

  /** Stops polling (idempotent); emits 'close'. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.emit('close');
  }
}
