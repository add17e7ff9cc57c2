/**
 * Record -> events, with every watch-table change done first: pyinotify's
 * `_SysProcessEvent`. For one kernel record this step auto-adds (watch, then
 * scan) a new directory, pairs and settles moves, re-paths moved watches,
 * releases watches that are gone, rescans after an overflow, and returns the
 * events users may see (the kernel's, then the synthetic ones it caused),
 * already filtered by each watch's mask and exclusion. Only then does the
 * Notifier deliver them, so no user code ever runs while the tables are
 * half-updated, and a consumer's throw cannot skip any of this.
 * @internal
 */
import { Buffer } from 'node:buffer';
import { debuglog } from 'node:util';
import {
  IN_ALL_EVENTS, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_ISDIR, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO,
  IN_Q_OVERFLOW, IN_UNMOUNT,
} from './constants.js';
import type { RawRecord } from './decode.js';
import type { CodedError } from './errors.js';
import { InotifyEvent, joinPath, PathJoiner } from './event.js';
import { EchoFilter } from './echo-filter.js';
import { MoveTracker } from './move-tracker.js';
import type { EventHook } from './process-event.js';
import type { RecordQueue } from './record-queue.js';
import { entryKey } from './scan-noise.js';
import type { SyntheticEntry, WatchManager, WatchRecord } from './watch-manager.js';

const debug = debuglog('inotify');

/** Events the kernel sends whatever the mask: always reported. */
const ALWAYS = (IN_IGNORED | IN_UNMOUNT | IN_Q_OVERFLOW) >>> 0;

/** How long (ms) a directory whose arming found nothing waits for a rename that explains it. */
const UNARMED_FOR = 5000;
const MAX_UNARMED = 65_536;

interface Hold {
  readonly cookie: number;
  readonly path: string;
  readonly wd: number;
  readonly timer: NodeJS.Timeout;
}

/**
 * One record's events, reused from record to record: truncating an array
 * (`length = 0`) for every record cost more than the rest of the bookkeeping.
 * @internal
 */
export class EventList {
  readonly items: InotifyEvent[] = [];
  /** Each item's per-watch processor (addWatch's `procFun`), where its watch has one. */
  readonly procFuns: Array<EventHook | undefined> = [];
  length = 0;

  push(event: InotifyEvent, procFun?: EventHook): void {
    this.procFuns[this.length] = procFun;
    this.items[this.length++] = event;
  }

  /** Empties the list, dropping the references it held. */
  clear(): void {
    for (let i = 0; i < this.length; i++) {
      this.items[i] = EMPTY_EVENT;
      this.procFuns[i] = undefined;
    }
    this.length = 0;
  }
}

const EMPTY_EVENT = new InotifyEvent(0, 0, '', '', '', false);

/** Options of {@link RecordEvents}. */
export interface RecordEventsOptions {
  coalesce: boolean;
  moveTimeout: number;
  rescan: boolean;
  /** Called when a held directory move timed out and processing may go on. */
  onHoldExpired: () => void;
}

/** @internal */
export class RecordEvents {
  readonly #wm: WatchManager;
  readonly #queue: RecordQueue;
  readonly #options: RecordEventsOptions;
  readonly #moves = new MoveTracker();
  readonly #echoes = new EchoFilter();
  readonly #paths = new PathJoiner();
  #seen: Set<string> | undefined;
  #hold: Hold | undefined;
  // New directories whose arming found nothing at their path (ENOENT: a
  // directory above was renamed before the record was processed), by
  // (parent wd, name). When a rename pairs, each is tried again at its
  // parent's new path: armed, and what it holds reported.
  readonly #unarmed = new Map<string, { wd: number; name: string; nameBytes: Buffer | undefined; since: number }>();

  /** @param queue the records not handled yet: looked ahead into to settle directory moves. */
  constructor(watchManager: WatchManager, queue: RecordQueue, options: RecordEventsOptions) {
    this.#wm = watchManager;
    this.#queue = queue;
    this.#options = options;
  }

  /**
   * Whether the next queued record may be handled: false while a watched
   * directory's IN_MOVED_FROM waits for the rest of its rename.
   */
  ready(): boolean {
    const hold = this.#hold;
    if (hold === undefined) return true;
    const outcome = this.#lookAhead(hold.cookie, hold.wd);
    if (outcome === 'unknown') return false;
    clearTimeout(hold.timer);
    this.#hold = undefined;
    if (outcome !== 'paired') this.#wm._dropSubtree(hold.path, outcome === 'out');
    return true;
  }

  /** The queue is empty: forget what only mattered within a batch, expire old entries. */
  idle(): void {
    this.#seen = undefined;
    this.#moves.expire();
    this.#echoes.expire();
    if (this.#unarmed.size !== 0) {
      // A rename that explains a failed arming is queued right behind it: after a few seconds there is none.
      const old = Date.now() - UNARMED_FOR;
      for (const [key, entry] of this.#unarmed) if (entry.since < old) this.#unarmed.delete(key);
    }
  }

  /** Stops: a pending hold's timer is cleared. */
  stop(): void {
    if (this.#hold !== undefined) clearTimeout(this.#hold.timer);
    this.#hold = undefined;
  }

  /**
   * Does every watch-table change `record` calls for, then appends to
   * `events` what users may see of it, in order, and to `errors` what could
   * not be armed. `record` is not kept.
   */
  process(record: RawRecord, events: EventList, errors: CodedError[]): void {
    if (this.#options.coalesce && this.#isRepeat(record)) return;
    if (record.wd === -1) {
      events.push(new InotifyEvent(-1, record.mask, '', '', '', false));
      if (this.#options.rescan) this.#rescanAfterOverflow(events, errors);
      return;
    }
    const wm = this.#wm;
    const watch = wm._record(record.wd);
    if (watch === undefined) {
      debug('dropped an event for a removed watch: wd=%d mask=%s name=%s', record.wd, record.mask, record.name);
      return;
    }
    const mask = record.mask;
    if (this.#options.rescan) wm._noteRecord(record);
    if (this.#echoes.isEcho(record)) return; // already reported by a scan, as synthetic
    if (mask & IN_IGNORED) {
      this.#offer(watch, events, new InotifyEvent(
        watch.wd, mask, '', watch.path, watch.path, false, 0, undefined, false, undefined, watch.pathBytes,
      ));
      wm._forget(watch.wd);
      return;
    }
    const pathname = this.#paths.join(watch.path, record.name);

    // Allocated only where a watch may be armed: this runs for every event.
    let synthetic: SyntheticEntry[] | undefined;
    let source: string | undefined;
    if (this.#unarmed.size !== 0 && mask & (IN_DELETE | IN_MOVED_FROM)) this.#unarmed.delete(entryKey(watch.wd, record.name));
    if (mask & IN_MOVED_FROM) {
      this.#moves.remember(record.cookie, pathname, (mask & IN_ISDIR) !== 0);
    } else if (mask & IN_MOVED_TO) {
      source = this.#moves.take(record.cookie)?.pathname;
      if (mask & IN_ISDIR) synthetic = this.#directoryMovedIn(watch, record, pathname, source, errors);
    } else if ((mask & IN_CREATE) && (mask & IN_ISDIR) && watch.autoAdd) {
      synthetic = this.#armNew(watch, record.name, record.nameBytes, pathname, errors);
    }

    const selfEvent = (mask & (IN_DELETE_SELF | IN_MOVE_SELF)) !== 0;
    const dir = (mask & IN_ISDIR) !== 0 || (selfEvent && watch.dir);
    this.#offer(watch, events, new InotifyEvent(
      watch.wd, mask, record.name, watch.path, pathname, dir, record.cookie, source, false, record.nameBytes, watch.pathBytes,
    ));

    if (mask & IN_MOVED_FROM && mask & IN_ISDIR) this.#settleDirectoryMove(record.cookie, pathname);
    if (mask & IN_MOVE_SELF) this.#selfMoved(watch);
    if (synthetic !== undefined) this.#synthetic(synthetic, events);
  }

  // Arms (and scans) a new directory; remembers it when nothing was at its path.
  #armNew(parent: WatchRecord, name: string, nameBytes: Buffer | undefined, path: string, errors: CodedError[]): SyntheticEntry[] {
    const failures = errors.length;
    const found = this.#wm._armNew(parent, name, nameBytes, errors);
    if (errors.length === failures && this.#wm._recordAt(path) === undefined && parent.exclude?.(path) !== true) {
      if (this.#unarmed.size >= MAX_UNARMED) this.#unarmed.delete(this.#unarmed.keys().next().value as string);
      this.#unarmed.set(entryKey(parent.wd, name), { wd: parent.wd, name, nameBytes, since: Date.now() });
    }
    return found;
  }

  // A rename paired: directories whose arming found nothing may be at their
  // parent's new path. Each found is armed and scanned (what it holds is
  // reported; its own creation already was, at its path then).
  #reconcile(errors: CodedError[]): SyntheticEntry[] | undefined {
    if (this.#unarmed.size === 0) return undefined;
    const wm = this.#wm;
    let out: SyntheticEntry[] | undefined;
    for (const [key, entry] of this.#unarmed) {
      const parent = wm._record(entry.wd);
      if (parent === undefined || parent.leaving || !parent.autoAdd) {
        this.#unarmed.delete(key);
        continue;
      }
      const path = joinPath(parent.path, entry.name);
      if (wm._recordAt(path) !== undefined) {
        this.#unarmed.delete(key);
        continue;
      }
      const failures = errors.length;
      const found = wm._armNew(parent, entry.name, entry.nameBytes, errors);
      if (wm._recordAt(path) !== undefined || errors.length !== failures) this.#unarmed.delete(key);
      if (found.length !== 0) (out ??= []).push(...found);
    }
    return out;
  }

  #synthetic(synthetic: readonly SyntheticEntry[], events: EventList): void {
    for (const entry of synthetic) {
      if (entry.mask & IN_CREATE) this.#echoes.expect(entry.watch.wd, entry.name);
      const entryPath = joinPath(entry.watch.path, entry.name);
      const dir = (entry.mask & IN_ISDIR) !== 0 || ((entry.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) !== 0 && entry.watch.dir);
      this.#offer(entry.watch, events, new InotifyEvent(
        entry.watch.wd, entry.mask, entry.name, entry.watch.path, entryPath, dir, 0, undefined, true, entry.nameBytes,
        entry.watch.pathBytes,
      ));
    }
  }

  // What users may see of an event: not the bits the library added for
  // itself, not excluded paths.
  #offer(watch: WatchRecord, events: EventList, event: InotifyEvent): void {
    const mask = event.mask;
    if (!(mask & watch.mask & IN_ALL_EVENTS) && !(mask & ALWAYS)) return;
    if (watch.exclude !== undefined && event.name !== '' && watch.exclude(event.pathname)) return;
    events.push(event, watch.procFun);
  }

  // Events were lost: compare every watched directory with what is known of
  // it. A later overflow already queued will do the same, so only the last
  // one of a run rescans.
  #rescanAfterOverflow(events: EventList, errors: CodedError[]): void {
    if (this.#queue.scan((wd) => (wd === -1 ? true : undefined))) return;
    this.#synthetic(this.#wm._rescan(this.#queue.toArray(), errors), events);
  }

  #isRepeat(record: RawRecord): boolean {
    this.#seen ??= new Set();
    const key = `${record.wd}:${record.mask}:${record.cookie}:${record.name}`;
    if (this.#seen.has(key)) return true;
    this.#seen.add(key);
    return false;
  }

  // A directory arrived by rename: re-path its watches when it came from
  // inside the tree, otherwise watch and scan it like a new directory.
  #directoryMovedIn(
    parent: WatchRecord, record: RawRecord, pathname: string, source: string | undefined, errors: CodedError[],
  ): SyntheticEntry[] | undefined {
    const wm = this.#wm;
    const moved = source === undefined ? undefined : wm._recordAt(source);
    const bytes = record.nameBytes === undefined ? undefined : bytesOf(parent, record.nameBytes);
    // The watch at the source path may be a newer directory than the one
    // renamed (the path was reused before the rename was processed): then it
    // stays where it is, and the renamed one is new to us.
    if (source !== undefined && moved !== undefined && wm._isAt(moved, pathname, bytes) !== false) {
      wm._repath(source, pathname, bytes);
      if (parent.exclude?.(pathname)) wm._dropSubtree(pathname);
      return this.#reconcile(errors);
    }
    return parent.autoAdd ? this.#armNew(parent, record.name, record.nameBytes, pathname, errors) : undefined;
  }

  // After a watched directory's IN_MOVED_FROM: find out, without waiting when
  // the batch holds the answer, whether it stayed in the tree.
  #settleDirectoryMove(cookie: number, path: string): void {
    const wm = this.#wm;
    const moved = wm._recordAt(path);
    if (moved === undefined) return;
    const outcome = this.#lookAhead(cookie, moved.wd);
    // Out: its own IN_MOVE_SELF is queued and will be delivered (then the
    // watch is released). Lost (an overflow): nothing more can be told.
    if (outcome === 'out' || outcome === 'lost') wm._dropSubtree(path, outcome === 'out');
    if (outcome !== 'unknown') return;
    // The watched directory is still at this path: the rename was of an
    // earlier directory by that name (see WatchManager._isAt), nothing to wait for.
    if (wm._isAt(moved, path, moved.pathBytes) === true) return;
    const timer = setTimeout(() => {
      if (this.#hold?.timer !== timer) return;
      this.#hold = undefined;
      // The kernel queues IN_MOVE_SELF with the rename itself: not seen by
      // now, it is not coming (or was read with a queue that overflowed).
      wm._dropSubtree(path);
      this.#options.onHoldExpired();
    }, this.#options.moveTimeout);
    if (!wm.inotify.hasRef()) timer.unref();
    this.#hold = { cookie, path, wd: moved.wd, timer };
  }

  // The kernel queues IN_MOVED_FROM, IN_MOVED_TO, then the directory's own
  // IN_MOVE_SELF: a MOVE_SELF with no TO before it means it left the tree.
  // An overflow before either means the answer was dropped: nothing after it
  // can tell, so waiting is useless (a rescan finds the directory if it
  // stayed in the tree).
  #lookAhead(cookie: number, wd: number): 'paired' | 'out' | 'lost' | 'unknown' {
    return this.#queue.scan<'paired' | 'out' | 'lost'>((nextWd, mask, nextCookie) => {
      if (mask & IN_MOVED_TO && nextCookie === cookie) return 'paired';
      if (nextWd === wd && mask & IN_MOVE_SELF) return 'out';
      if (nextWd === -1) return 'lost';
      return undefined;
    }) ?? 'unknown';
  }

  #selfMoved(watch: WatchRecord): void {
    if (watch.leaving) {
      // Left the tree: its IN_MOVE_SELF was the last thing to report.
      this.#wm._release(watch);
      return;
    }
    if (watch.repathed) {
      watch.repathed = false;
      return;
    }
    // Moved somewhere this manager cannot see (a root, or a directory whose
    // parent's rename was not paired): its path is unknown from now on.
    this.#wm._dropSubtree(watch.path);
  }
}

function bytesOf(parent: WatchRecord, nameBytes: Buffer): Buffer {
  return Buffer.concat([parent.pathBytes ?? Buffer.from(parent.path), Buffer.from('/'), nameBytes]);
}
