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
import * as nodePath from 'node:path';
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
import type { ArmGuard, SyntheticEntry, WatchRecord } from './core/watch-record.js';
import type { WatchManager } from './watch-manager.js';

const debug = debuglog('inotify');

/** Events the kernel sends whatever the mask: always reported. */
const ALWAYS = (IN_IGNORED | IN_UNMOUNT | IN_Q_OVERFLOW) >>> 0;

/** How long (ms) a directory whose arming found nothing waits for a rename that explains it. */
const UNARMED_FOR = 5000;
const MAX_UNARMED = 65_536;

/** Records that change a directory's path: its own, or an entry's in its parent. */
const SELF_CHANGES = (IN_MOVE_SELF | IN_DELETE_SELF) >>> 0;
const REMOVALS = (SELF_CHANGES | IN_DELETE | IN_MOVED_FROM) >>> 0;
/** Records the watch table acts on whatever the user's mask: moves, a watch's own end, directories. */
const BOOKKEEPING = (IN_MOVED_FROM | IN_MOVED_TO | SELF_CHANGES | IN_ISDIR) >>> 0;

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
  // Each item's per-watch processor (addWatch's `procFun`), where its watch
  // has one: written only then, so a list without any costs nothing per event.
  readonly #procFuns: Array<EventHook | undefined> = [];
  #withProcFuns = false;
  length = 0;

  push(event: InotifyEvent, procFun?: EventHook): void {
    if (procFun !== undefined) {
      // Slots before this one may hold nothing yet: fill them before the first write.
      if (!this.#withProcFuns) {
        this.#withProcFuns = true;
        for (let i = this.#procFuns.length; i < this.length; i++) this.#procFuns.push(undefined);
      }
      this.#procFuns[this.length] = procFun;
    } else if (this.#withProcFuns) {
      this.#procFuns[this.length] = undefined;
    }
    this.items[this.length++] = event;
  }

  /** The per-watch processor of item `index`, if its watch has one. */
  procFun(index: number): EventHook | undefined {
    return this.#withProcFuns ? this.#procFuns[index] : undefined;
  }

  /** Empties the list, dropping the references it held. */
  clear(): void {
    for (let i = 0; i < this.length; i++) this.items[i] = EMPTY_EVENT;
    if (this.#withProcFuns) {
      this.#procFuns.fill(undefined);
      this.#withProcFuns = false;
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
  // Set by an arming that found the directory watched at another path (see #guard).
  #lostTrack: WatchRecord | undefined;

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
    // A directory armed but not yet listed: what the kernel reports through it is not synthesized later.
    if (mask & (IN_CREATE | IN_MOVED_TO) && this.#wm._unlisted().size !== 0) this.#wm._unlisted().get(watch)?.add(record.name);
    // A record only the library asked for (IN_CREATE of a file under autoAdd, say), that changes no
    // watch: nothing to join, nothing to allocate.
    if (!(mask & (watch.mask | ALWAYS | BOOKKEEPING)) && !(this.#unarmed.size !== 0 && mask & IN_DELETE)) return;
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
    if (this.#lostTrack !== undefined) this.#recoverLostTrack(watch, record, events, errors);
  }

  // Arms (and scans) a new directory; remembers it when nothing was at its
  // path, or when what is there may be a later directory by that name.
  #armNew(parent: WatchRecord, name: string, nameBytes: Buffer | undefined, path: string, errors: CodedError[]): SyntheticEntry[] {
    const failures = errors.length;
    const found = this.#wm._armNew(parent, name, nameBytes, errors, this.#guard(parent, name, nameBytes));
    if (errors.length === failures && this.#wm._recordAt(path) === undefined && parent.exclude?.(path) !== true) {
      this.#rememberUnarmed(parent, name, nameBytes);
    }
    return found;
  }

  #rememberUnarmed(parent: WatchRecord, name: string, nameBytes: Buffer | undefined): void {
    if (this.#unarmed.size >= MAX_UNARMED) this.#unarmed.delete(this.#unarmed.keys().next().value as string);
    this.#unarmed.set(entryKey(parent.wd, name), { wd: parent.wd, name, nameBytes, since: Date.now() });
  }

  // A rename paired and re-pathed `path`: directories below it that were
  // armed but could not be listed (this rename came between) are scanned now.
  // Records already read but not handled yet report some names themselves.
  #scanUnlisted(path: string, errors: CodedError[]): SyntheticEntry[] | undefined {
    const pending = this.#wm._unlisted();
    if (pending.size === 0) return undefined;
    const reported = new Map<number, Set<string>>();
    for (const [watch, names] of pending) reported.set(watch.wd, names);
    this.#queue.scanRecords((record) => {
      if (record.mask & (IN_CREATE | IN_MOVED_TO)) reported.get(record.wd)?.add(record.name);
      return undefined;
    });
    const out: SyntheticEntry[] = [];
    this.#wm._scanUnlisted(path, out, errors);
    return out.length === 0 ? undefined : out;
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
      const found = wm._armNew(parent, entry.name, entry.nameBytes, errors, this.#guard(parent, entry.name, entry.nameBytes));
      if (wm._recordAt(path) !== undefined || errors.length !== failures) this.#unarmed.delete(key);
      if (found.length !== 0) (out ??= []).push(...found);
    }
    return out;
  }

  // Name reuse under lag. A record is handled after the fact, and a path
  // names whatever is there now: with `mkdir a; mv a a2; mkdir a` queued,
  // the first IN_CREATE of `a` arms the second `a` (and then the rename of
  // the first would re-path that watch to a2), so later events would be
  // reported at another directory's path. The kernel's queue tells when that
  // can be: after arming (everything up to it is read by then), a later
  // record removes the name and another brings it back, or a directory above
  // is moved or deleted (its path is stale). Then the watch is dropped: the
  // directory's own IN_CREATE / IN_MOVED_TO, later in the queue, arms it
  // (a rename of this one arms it at its new name). A watch the kernel names
  // for the path that the table holds elsewhere, with no queued record that
  // explains it, means the table is wrong: that is reported as an overflow.
  #guard(parent: WatchRecord, name: string, nameBytes: Buffer | undefined): ArmGuard {
    return {
      reused: () => this.#mayBeReused(parent, name, nameBytes),
      watchedElsewhere: (watch) => {
        if (!watch.leaving && !this.#pathsPending(watch)) this.#lostTrack ??= watch;
      },
      // Found by the scan, gone before it could be armed: tried again when a rename pairs, like the directory itself.
      missed: (below, childName, childBytes) => this.#rememberUnarmed(below, childName, childBytes),
    };
  }

  #mayBeReused(parent: WatchRecord, name: string, nameBytes: Buffer | undefined): boolean {
    const queue = this.#queue;
    if (!queue.holdsAny(REMOVALS)) return false;
    if (this.#pathsPending(parent)) return true;
    // Decoding names is the costly part: only where the parent lost an entry.
    if (queue.scan((wd, mask) => (wd === parent.wd && mask & (IN_DELETE | IN_MOVED_FROM) ? true : undefined)) !== true) return false;
    let removed = false;
    return queue.scanRecords((record) => {
      if (record.wd !== parent.wd || record.name !== name) return undefined;
      if (nameBytes !== undefined && (record.nameBytes === undefined || !nameBytes.equals(record.nameBytes))) return undefined;
      if (record.mask & (IN_DELETE | IN_MOVED_FROM)) removed = true;
      else if (removed && record.mask & (IN_CREATE | IN_MOVED_TO)) return true;
      return undefined;
    }) === true;
  }

  // Whether a queued IN_MOVE_SELF / IN_DELETE_SELF of `watch` or of a watch
  // above it will change its path (so the path names something else now).
  // A re-pathed watch's next IN_MOVE_SELF is its rename's own, already
  // handled: not a change to come.
  #pathsPending(watch: WatchRecord): boolean {
    if (!this.#queue.holdsAny(SELF_CHANGES)) return false;
    const handled = new Map<number, boolean>(); // wd -> its rename's IN_MOVE_SELF is still to be passed over
    for (let above: WatchRecord | undefined = watch; above !== undefined && !handled.has(above.wd);) {
      handled.set(above.wd, above.repathed);
      if (above.root) break;
      const parentPath = nodePath.dirname(above.path);
      above = parentPath === above.path ? undefined : this.#wm._recordAt(parentPath);
    }
    return this.#queue.scan((wd, mask) => {
      if (!(mask & SELF_CHANGES)) return undefined;
      const skip = handled.get(wd);
      if (skip === undefined) return undefined;
      if (skip && mask & IN_MOVE_SELF) {
        handled.set(wd, false);
        return undefined;
      }
      return true;
    }) === true;
  }

  // The table held at another path the directory a record armed: whatever
  // was reported below that path may have been another directory's. Its
  // watches are dropped, the directory is armed afresh at its real path (what
  // it holds reported as synthetic events) and an IN_Q_OVERFLOW tells users
  // the view was wrong (with `rescan`, followed by the rescan's report).
  #recoverLostTrack(parent: WatchRecord, record: RawRecord, events: EventList, errors: CodedError[]): void {
    const stale = this.#lostTrack;
    if (stale === undefined) return;
    this.#lostTrack = undefined;
    debug('the watch of wd=%d is at %s, not at %s: rescanning', stale.wd, joinPath(parent.path, record.name), stale.path);
    this.#wm._dropSubtree(stale.path);
    const found = parent.autoAdd && this.#wm._record(parent.wd) === parent
      ? this.#wm._armNew(parent, record.name, record.nameBytes, errors) : [];
    events.push(new InotifyEvent(-1, IN_Q_OVERFLOW, '', '', '', false));
    this.#synthetic(found, events);
    if (this.#options.rescan) this.#rescanAfterOverflow(events, errors);
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
      // From a part that is not recursive (another root, a single watch) into a recursive tree: it becomes recursive.
      const adopted = parent.autoAdd && !moved.autoAdd && !parent.exclude?.(pathname) ? wm._adopt(parent, moved, errors) : undefined;
      const unlisted = this.#scanUnlisted(pathname, errors);
      const found = this.#reconcile(errors);
      const all = [adopted, unlisted, found].filter((list) => list !== undefined && list.length > 0) as SyntheticEntry[][];
      return all.length === 0 ? undefined : all.length === 1 ? all[0] : all.flat();
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
