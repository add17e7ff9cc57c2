/**
 * TransferTracker: turns the raw event stream of a directory tree into one
 * "file arrived" event per file, whatever wrote it: rsync in any mode (temp
 * file + rename, --inplace, --temp-dir, --delay-updates, --partial-dir), cp,
 * scp/SFTP, editors' atomic saves, files moved in. Temporary names never
 * reach the user as complete files; interrupted transfers are reported as
 * abandoned. See docs/transfers.md for the exact rules.
 */
import type { Buffer } from 'node:buffer';
import type { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { debuglog } from 'node:util';
import {
  IN_ATTRIB, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO,
  IN_OPEN, IN_Q_OVERFLOW,
} from '../constants.js';
import { invalidArgType, outOfRange } from '../errors.js';
import type { InotifyEvent } from '../event.js';
import { ProcessEvent, type ChainedProcessor } from '../process-event.js';
import { validateOptions } from '../validate.js';
import { probeOpenForWrite } from '../writers.js';
import { FanOut } from '../fan-out.js';
import { RecentCreates } from './recent-creates.js';
import { TransferRegistry, type Transfer } from './registry.js';
import { compileFilter, DEFAULT_TEMP_DIRS, DEFAULT_TEMP_PATTERNS, NameClassifier } from './names.js';
import type {
  AbandonReason, ArrivalKind, TransferAbandoned, TransferComplete, TransferEvents, TransferInProgress,
  TransferNotification, TransferStart, TransferTrackerOptions,
} from './types.js';

const debug = debuglog('inotify');

const TRANSFER_HOOKS: ReadonlySet<string> = new Set(['process_transfer_start', 'process_transfer_complete', 'process_transfer_abandoned']);

/**
 * How long a file that is not a temp waits, once renamed away or found
 * missing, for the events that explain it (a rename's second half, a
 * delete): they are already queued, so they come within a batch or two.
 */
const MOVE_WINDOW = 1000;
/** Bounds the holding directories remembered (see #holdingDirs): past it, all are forgotten (a label, not data, is at stake). */
const MAX_HOLDING_DIRS = 4096;

/**
 * Reports each file arriving in a watched tree once, complete, under its
 * final name. Use it as a processor (it is a {@link ProcessEvent}), or
 * through {@link trackTransfers}, which builds the WatchManager and Notifier.
 *
 * Three ways to consume it:
 * - pyinotify style: subclass and override `process_transfer_start`,
 *   `process_transfer_complete`, `process_transfer_abandoned` (they may
 *   return promises; a rejection is emitted as 'error'; `close()` awaits them);
 * - events: `tracker.on('complete', (t) => ...)`, also 'start', 'abandoned',
 *   'overflow', 'error';
 * - `for await (const file of tracker)`: every completion, until closed.
 *
 * The raw `process_IN_*` hooks of a subclass still receive every event (the
 * tracker sees each event first).
 *
 * @example
 * ```ts
 * class Incoming extends TransferTracker {
 *   override process_transfer_complete(file: TransferComplete) {
 *     console.log(file.via, file.pathname, file.size);
 *   }
 * }
 * const wm = new WatchManager();
 * wm.addWatch('/srv/incoming', TRANSFER_EVENTS, { rec: true, autoAdd: true });
 * const tracker = new Incoming({ filter: '*.raw' });
 * new Notifier(wm, tracker);
 * ```
 */
export class TransferTracker extends ProcessEvent<TransferEvents> {
  /** The effective quiet period (ms). */
  readonly quietPeriod: number;
  /** The effective settle time (ms). */
  readonly settleTime: number;
  /** The effective abandon timeout (ms). */
  readonly abandonAfter: number;
  /** The effective bound on transfers in progress. */
  readonly maxTransfers: number;
  readonly #matches: (pathname: string) => boolean;
  readonly #names: NameClassifier;
  /** The tracker itself: its events are emitted on it. */
  get #emitter(): EventEmitter<TransferEvents> {
    return this;
  }
  readonly #registry = new TransferRegistry();
  readonly #created = new RecentCreates();
  // Listeners, `for await` loops and hooks: one consumer's throw takes a notification from no other.
  // A listener's throw is rethrown to dispatch()'s caller once every notification was delivered (see #flush).
  readonly #fan = new FanOut<TransferComplete>((error) => this.#fail(error), (error) => {
    throw error;
  });
  #outbox: TransferNotification[] = [];
  // The exact bytes of pathnames that are not UTF-8 (their strings hold
  // U+FFFD and name no file): what is stat-ed. Only such paths are here.
  readonly #pathBytes = new Map<string, Buffer>();
  /** How files reported by the scan that follows a directory event arrived. */
  #scanVia: 'found' | 'moved-in' = 'found';
  /**
   * Holding directories (`.~tmp~`) seen in the tree and not yet removed. An
   * unpaired IN_MOVED_TO beside one is rsync's delayed update from it, made
   * before its watch existed (the tracker lagged behind the whole transfer).
   */
  readonly #holdingDirs = new Set<string>();
  /** An overflow was just handled: the synthetic events that follow it are the rescan's report of the blind spot. */
  #rescanning = false;
  /** rsync transfers whose temp the rescan found gone: renamed to their final name (reported next) or deleted. */
  readonly #lostTemps = new Set<Transfer>();
  /** Its Notifier rescans after an overflow (trackTransfers' default), so the blind spot is recovered. */
  #rescans = false;
  #closed = false;
  #onClose: (() => Promise<void>) | undefined;

  /**
   * @param options see {@link TransferTrackerOptions}; also passed to `my_init` (pyinotify's `**kargs`).
   * @param pevent a processor to chain before this one's raw hooks (pyinotify's `pevent`).
   */
  constructor(options?: TransferTrackerOptions, pevent?: ChainedProcessor) {
    const opts = validateOptions<TransferTrackerOptions>(options);
    super(pevent, opts as Record<string, unknown>);
    this.quietPeriod = duration(opts.quietPeriod, 'quietPeriod', 2000);
    this.settleTime = duration(opts.settleTime, 'settleTime', 500);
    this.abandonAfter = duration(opts.abandonAfter, 'abandonAfter', 600_000);
    this.maxTransfers = duration(opts.maxTransfers, 'maxTransfers', 10_000);
    if (this.maxTransfers < 1 || !Number.isInteger(this.maxTransfers)) throw outOfRange('options.maxTransfers', 'an integer >= 1', this.maxTransfers);
    const extra = opts.tempPatterns ?? [];
    if (!Array.isArray(extra) || !extra.every((p) => p instanceof RegExp)) {
      throw invalidArgType('options.tempPatterns', 'an array of RegExp', extra);
    }
    const dirs = opts.tempDirs ?? [];
    if (!Array.isArray(dirs) || !dirs.every((d) => typeof d === 'string' && d !== '' && !d.includes('/'))) {
      throw invalidArgType('options.tempDirs', 'an array of directory names (no "/")', dirs);
    }
    const patterns = opts.defaultTempPatterns === false ? extra : [...DEFAULT_TEMP_PATTERNS, ...extra];
    this.#names = new NameClassifier(patterns, [...DEFAULT_TEMP_DIRS, ...dirs]);
    this.#matches = compileFilter(opts.filter) ?? (() => true);
  }

  // ---- hooks (pyinotify style) ------------------------------------------------

  /** A transfer began. Override in a subclass; the default does nothing. */
  process_transfer_start(_transfer: TransferStart): unknown {
    return undefined;
  }

  /** A file arrived, complete. Override in a subclass; the default does nothing. */
  process_transfer_complete(_transfer: TransferComplete): unknown {
    return undefined;
  }

  /** A started transfer will not complete. Override in a subclass; the default does nothing. */
  process_transfer_abandoned(_transfer: TransferAbandoned): unknown {
    return undefined;
  }

  /**
   * The kernel queue overflowed ('overflow' was emitted just before). Default:
   * with no 'overflow' listener, a 'warning' (a process warning when nobody
   * listens to that either) saying whether the tree was rescanned.
   */
  override process_IN_Q_OVERFLOW(_event: InotifyEvent): unknown {
    if (this.#closed || this.#emitter.listenerCount('overflow') > 0) return undefined;
    const warning = new Error(this.#rescans
      ? 'The inotify event queue overflowed: the tree was rescanned, files that arrived meanwhile are reported as found'
      : 'The inotify event queue overflowed: arrivals may have been missed, unless the Notifier rescans (rescan: true)');
    warning.name = 'InotifyOverflowWarning';
    this.#warn(warning);
    return undefined;
  }

  /** The tracker's own hooks are hooks too (not reported as misspelled). */
  protected override _isHookName(name: string): boolean {
    return TRANSFER_HOOKS.has(name) || super._isHookName(name);
  }

  // ---- EventEmitter surface ------------------------------------------------------

  // The EventEmitter surface ('start', 'complete', 'abandoned', 'overflow', 'warning', 'error') is inherited:
  // ProcessEvent is an EventEmitter, so events.getEventListeners(), prependListener() ... work.

  /** Every completion from now on, until the tracker is closed; an 'error' rejects the iteration. */
  [Symbol.asyncIterator](): AsyncIterableIterator<TransferComplete> {
    return this.#fan.iterator();
  }

  // ---- lifetime -------------------------------------------------------------------

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The transfers in progress (a snapshot, oldest first). */
  inProgress(): TransferInProgress[] {
    return [...this.#registry.values()].map((t) => ({
      id: t.id, pathname: t.locations.size > 0 ? t.lastPath : undefined, finalPathname: t.final, state: t.state,
      startedAt: t.startedAt,
    }));
  }

  /**
   * Stops tracking: timers are cleared, transfers in progress are forgotten
   * without events, iterations end. With {@link trackTransfers}, also stops
   * watching. Resolves once every pending asynchronous hook has settled.
   * Idempotent.
   */
  async close(): Promise<void> {
    this.#shutdown();
    const onClose = this.#onClose;
    this.#onClose = undefined;
    if (onClose !== undefined) await onClose();
    await this.#fan.settled();
  }

  /** `await using tracker = trackTransfers(dir)`: closes on scope exit. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal Used by trackTransfers' `reportExisting`: a file there at start, complete as `found` after the quiet period. */
  _existing(event: InotifyEvent): void {
    if (this.#closed) return;
    this.#scanVia = 'found';
    try {
      this.#handle(event);
    } finally {
      this.#flush();
    }
  }

  /** @internal Used by trackTransfers: what close() must also do, whether its Notifier rescans, and where watcher errors go. */
  _own(onClose: () => Promise<void>, rescans: boolean): { fail: (error: Error) => void; warn: (error: Error) => void; shutdown: () => void } {
    this.#onClose = onClose;
    this.#rescans = rescans;
    return { fail: (error) => this.#fail(error), warn: (error) => this.#warn(error), shutdown: () => this.#shutdown() };
  }

  // Watching goes on: 'warning' listeners, else a process warning.
  #warn(error: Error): void {
    if (!this.#fan.emit(this.#emitter, 'warning', error)) process.emitWarning(error);
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#registry.clear();
    this.#created.clear();
    this.#pathBytes.clear();
    this.#lostTemps.clear();
    this.#holdingDirs.clear();
    this.#rescanning = false;
    this.#outbox = [];
    this.#fan.end();
  }

  // ---- the event stream ---------------------------------------------------------------

  /**
   * Takes one event (the Notifier calls this), then runs the chained
   * processor and the raw `process_IN_*` hooks as {@link ProcessEvent} does.
   * Feed events in kernel order; `notifier.on('event', (e) => tracker.dispatch(e))` works too.
   */
  override dispatch(event: InotifyEvent): unknown {
    if (!this.#closed) {
      try {
        this.#handle(event);
      } finally {
        this.#flush();
      }
    }
    return super.dispatch(event);
  }

  #handle(event: InotifyEvent): void {
    const mask = event.mask;
    if (this.#rescanning && !event.synthetic) this.#endRescan();
    if (mask & IN_Q_OVERFLOW) {
      this.#fan.emit(this.#emitter, 'overflow', event);
      this.#overflowed();
      return;
    }
    if (event.name === '') return; // the watched path itself (its *_SELF events, IN_IGNORED)
    if (event.dir) {
      this.#directory(event);
      return;
    }
    const path = event.pathname;
    if (event.nameBytes !== undefined || event.pathBytes !== undefined) this.#keepBytes(path, event.pathnameBytes());
    if (mask & IN_CREATE) this.#create(path, event.synthetic);
    else if (mask & IN_OPEN) this.#open(path);
    else if (mask & IN_MODIFY) this.#modify(path);
    else if (mask & IN_CLOSE_WRITE) this.#closeWrite(path, event.synthetic);
    else if (mask & (IN_ATTRIB | IN_CLOSE_NOWRITE)) this.#touch(path);
    else if (mask & IN_MOVED_FROM) this.#movedAway(path);
    else if (mask & IN_MOVED_TO) this.#movedIn(path, event.srcPathname);
    else if (mask & IN_DELETE) this.#deleted(path, event.synthetic);
  }

  #directory(event: InotifyEvent): void {
    const mask = event.mask;
    if (mask & (IN_DELETE | IN_MOVED_FROM)) this.#forgetHoldingDirs(event.pathname);
    else if (mask & (IN_CREATE | IN_MOVED_TO) && this.#names.isHoldingDir(event.name)) {
      if (this.#holdingDirs.size >= MAX_HOLDING_DIRS) this.#holdingDirs.clear(); // bound: entries whose removal went unseen
      this.#holdingDirs.add(event.pathname);
    }
    // The scan's synthetic events follow the real directory event that caused them (nested directories included).
    if (mask & IN_CREATE) {
      if (!event.synthetic) this.#scanVia = 'found';
    } else if (mask & IN_MOVED_TO) {
      this.#scanVia = 'moved-in';
      if (event.srcPathname !== undefined) this.#repath(event.srcPathname, event.pathname);
    } else if (mask & IN_DELETE) {
      for (const { transfer, path } of this.#registry.below(event.pathname)) this.#lose(transfer, path, 'deleted');
    }
  }

  #create(path: string, synthetic: boolean): void {
    const cls = this.#names.classify(path);
    if (cls.kind === 'temp') return;
    if (cls.kind === 'final') {
      if (!this.#matches(path)) return;
      const there = this.#registry.at(path);
      if (there?.state === 'vanished') this.#abandon(there, 'replaced'); // a new file at the name it was last seen at
      else if (there !== undefined) return;
      this.#created.add(path);
      return;
    }
    if (!this.#matches(cls.final)) return;
    const t = this.#registry.at(path) ?? this.#registry.rsyncTransferFor(cls.final, false) ?? this.#start(path, cls.final, true, synthetic, true);
    this.#locate(t, path);
    if (t.state === 'moved') t.state = 'writing';
    this.#activity(t);
  }

  #open(path: string): void {
    const t = this.#registry.at(path);
    if (t === undefined) {
      // OPEN right after CREATE: a regular file being written (a symlink or fifo gets no OPEN).
      if (this.#created.take(path)) this.#activity(this.#start(path, path, false, false, true));
      return;
    }
    if (t.state === 'settling') {
      // Re-opened after its close (rsync --inplace does so to set attributes): wait for quiet.
      t.reopened = true;
      t.state = 'quiet';
    }
    this.#activity(t);
  }

  #modify(path: string): void {
    const t = this.#registry.at(path) ?? this.#begin(path, false);
    if (t === undefined) return;
    if (!t.temp && t.state !== 'vanished') {
      // A second write session (a scan's synthetic close is no close: the writer may have been at work all along).
      if ((t.state === 'settling' || t.state === 'quiet') && !t.found) t.reopened = true;
      t.state = 'writing';
      t.found = false;
    }
    this.#activity(t);
  }

  #closeWrite(path: string, synthetic: boolean): void {
    if (synthetic && this.#rescanning && this.#registry.at(path) === undefined) {
      const lost = this.#registry.rsyncTransferFor(path, true);
      if (lost !== undefined && this.#lostTemps.delete(lost)) {
        // Its temp vanished in the blind spot and its final name appeared, closed: rsync's rename.
        this.#created.take(path);
        this.#complete(lost, path, 'rsync', lost.lastPath);
        return;
      }
    }
    if (synthetic && this.#scanVia === 'moved-in' && this.#registry.at(path) === undefined) {
      // A regular file inside a directory that was moved in: it arrived whole with it.
      this.#created.take(path);
      if (this.#names.classify(path).kind === 'final' && this.#matches(path)) this.#complete(undefined, path, 'moved-in', undefined);
      return;
    }
    const t = this.#registry.at(path) ?? this.#begin(path, synthetic);
    if (t === undefined) return;
    if (!t.temp && t.state !== 'vanished') {
      t.found = synthetic;
      // A new file closed once settles quickly; a rewrite of an existing file, a
      // re-opened one or one found by a scan waits for the quiet period.
      t.state = t.reopened || t.found || !t.created ? 'quiet' : 'settling';
    }
    this.#activity(t);
  }

  #touch(path: string): void {
    const t = this.#registry.at(path);
    if (t !== undefined) this.#activity(t);
  }

  #movedAway(path: string): void {
    this.#created.take(path);
    const t = this.#registry.at(path);
    if (t === undefined) return;
    this.#registry.movedAway(t, path);
    if (t.locations.size === 0) t.state = 'moved';
    this.#activity(t);
  }

  #movedIn(path: string, source: string | undefined): void {
    let from = source === undefined ? undefined : this.#registry.takeMovedFrom(source);
    const cls = this.#names.classify(path);
    if (cls.kind === 'temp' || !this.#matches(cls.kind === 'final' ? path : cls.final)) {
      // Renamed to another program's temporary name (x -> x~), or to a name
      // that does not matter: the data is out of sight.
      if (from !== undefined && from.locations.size === 0) this.#abandon(from, 'renamed');
      return;
    }
    if (cls.kind !== 'final') {
      // Into a temporary name (rsync --delay-updates: `.x.XXXXXX` -> `.~tmp~/x`): still on its way.
      const t = from ?? this.#registry.at(path) ?? this.#registry.rsyncTransferFor(cls.final, false)
        ?? this.#start(path, cls.final, true, false, true);
      this.#locate(t, path);
      this.#registry.setFinal(t, cls.final);
      t.temp = true;
      t.state = 'writing';
      this.#activity(t);
      return;
    }

    this.#created.take(path);
    const sourceClass = source === undefined ? undefined : this.#names.classify(source);
    const fromRsync = sourceClass !== undefined && this.#names.isRsyncSourceOf(sourceClass, path);
    // The rename of an rsync temp we lost track of (seen under another of its
    // names), or, for a rename from outside the tree, the rsync transfer of
    // this name whose data went out of sight (`.~tmp~` not watched in time).
    if (from === undefined && fromRsync) from = this.#registry.rsyncTransferFor(path, false);
    if (from === undefined && source === undefined) from = this.#registry.rsyncTransferFor(path, true) ?? this.#renamedUnseen(path);

    // A transfer at this very name (a file being written there, or one
    // followed after it vanished): the rename replaces its data. When the
    // rename's source is untracked, the name's transfer is the one that
    // completes (start -> complete by id); otherwise it is 'replaced'.
    let there = this.#registry.at(path);
    if (there !== undefined && from !== undefined && there !== from) {
      this.#abandon(there, 'replaced');
      there = undefined;
    }

    if (from !== undefined) {
      const via = from.due?.via ?? (fromRsync || source === undefined ? 'rsync' : 'atomic-rename');
      this.#complete(from, path, via, from.due?.tempPathname ?? source ?? from.lastPath);
    } else if (sourceClass !== undefined) {
      if (sourceClass.kind !== 'final') {
        this.#complete(there, path, fromRsync ? 'rsync' : 'atomic-rename', source);
      } else if (!this.#matches(source as string)) {
        this.#complete(there, path, 'atomic-rename', source); // renamed into the set of files that matter
      } else {
        // A rename between two names that matter, of a file already complete (or there before): not an arrival.
        if (there !== undefined) this.#abandon(there, 'replaced');
        debug('transfer: %s renamed to %s: a rename, not an arrival', source, path);
      }
    } else if (this.#besideHoldingDir(path)) {
      this.#complete(there, path, 'rsync', undefined); // rsync --delay-updates, its holding directory never watched in time
    } else {
      this.#complete(there, path, 'moved-in', undefined); // from outside the tree (or rsync --temp-dir)
    }
  }

  /**
   * For an IN_MOVED_TO with no source: the rsync transfer on its way to
   * `path` whose file is no longer where it was seen. Its rename came before
   * its directory's watch (a scan listed a holding directory, and the rename
   * beat the arming), so the kernel reported no IN_MOVED_FROM.
   */
  #renamedUnseen(path: string): Transfer | undefined {
    const t = this.#registry.rsyncTransferFor(path, false);
    if (t === undefined) return undefined;
    for (const location of t.locations) {
      if (fs.existsSync(this.#pathBytes.get(location) ?? location)) return undefined;
    }
    return t;
  }

  /** `dir` (and all below it) is gone from its path: so are the holding directories there. */
  #forgetHoldingDirs(dir: string): void {
    if (this.#holdingDirs.size === 0) return;
    const prefix = `${dir}/`;
    for (const holding of this.#holdingDirs) if (holding === dir || holding.startsWith(prefix)) this.#holdingDirs.delete(holding);
  }

  /** Whether a holding directory (`.~tmp~`) seen and not removed is in `path`'s directory. */
  #besideHoldingDir(path: string): boolean {
    if (this.#holdingDirs.size === 0) return false;
    const dir = nodePath.dirname(path);
    for (const holding of this.#holdingDirs) if (nodePath.dirname(holding) === dir) return true;
    return false;
  }

  #deleted(path: string, synthetic: boolean): void {
    this.#created.take(path);
    const t = this.#registry.at(path);
    if (t === undefined) return;
    if (synthetic && this.#rescanning && t.temp) {
      // Gone in the blind spot: renamed to its final name (the rescan reports that next) or deleted (see #endRescan).
      this.#registry.unlocate(t, path);
      if (t.locations.size === 0) {
        t.state = 'moved';
        this.#lostTemps.add(t);
      }
      return;
    }
    this.#lose(t, path, 'deleted');
  }

  // ---- after a queue overflow ----------------------------------------------------------------

  /**
   * The kernel dropped events. A rescanning Notifier (trackTransfers' default)
   * reports what changed in the tree unseen as synthetic events right after
   * this one: new files are found (as a new directory's are), vanished ones
   * deleted. What a listing cannot tell is settled here: a file being written
   * whose close may be among the lost events, a name created whose open may be.
   */
  #overflowed(): void {
    this.#scanVia = 'found';
    this.#rescanning = true;
    setImmediate(() => {
      if (!this.#rescanning || this.#closed) return;
      this.#endRescan();
      this.#flush();
    });
    for (const path of this.#created.takeAll()) {
      const writing = this.#openForWrite(path);
      if (writing === undefined) continue; // gone, or no regular file (a symlink, a fifo): not a transfer
      const t = this.#start(path, path, false, !writing, true);
      if (!writing) t.state = 'quiet';
      this.#activity(t);
    }
    for (const t of [...this.#registry.values()]) {
      if (t.temp || t.state !== 'writing' || t.locations.size === 0) continue;
      // Still open: its close is still to come from the kernel. Gone: its delete or rename follows.
      if (this.#openForWrite(t.lastPath) !== false) continue;
      t.state = 'quiet';
      t.found = true;
      this.#activity(t);
    }
  }

  /** The rescan's events were handled: a temp it found gone whose final name did not appear was deleted. */
  #endRescan(): void {
    this.#rescanning = false;
    for (const t of this.#lostTemps) if (this.#registry.isLive(t) && t.state === 'moved') this.#abandon(t, 'deleted');
    this.#lostTemps.clear();
  }

  /**
   * Whether a writer has the regular file at `path` open now (asked of the
   * kernel, see isOpenForWrite; false when that cannot be told); undefined
   * when no regular file is there. The kernel queues a writer's IN_CLOSE_WRITE
   * before it lets go of the file, so for a file open now that event is still
   * to come. The probe's own IN_OPEN and IN_CLOSE_NOWRITE only touch the file.
   */
  #openForWrite(path: string): boolean | undefined {
    const target = this.#pathBytes.get(path) ?? path;
    try {
      if (fs.statSync(target, { throwIfNoEntry: false })?.isFile() !== true) return undefined;
    } catch {
      return undefined;
    }
    return probeOpenForWrite(target).writing === true;
  }

  // ---- transfers --------------------------------------------------------------------------

  /**
   * A write to a name with no transfer: start one when the name can hold a
   * file that matters and the file is there (a descriptor still open on a
   * deleted file keeps reporting writes and closes under its old name).
   */
  #begin(path: string, found: boolean): Transfer | undefined {
    const cls = this.#names.classify(path);
    if (cls.kind === 'temp') return undefined;
    const final = cls.kind === 'final' ? path : cls.final;
    if (!this.#matches(final)) return undefined;
    const created = this.#created.take(path);
    if (!created && !fs.existsSync(path)) return undefined;
    if (cls.kind === 'final') return this.#start(path, path, false, found, created);
    const t = this.#registry.rsyncTransferFor(final, false) ?? this.#start(path, final, true, found, true);
    this.#locate(t, path);
    return t;
  }

  #start(path: string, final: string, temp: boolean, found: boolean, created: boolean): Transfer {
    const now = Date.now();
    const t = this.#newTransfer(path, final, temp, true, created, now);
    t.found = found;
    this.#outbox.push({ type: 'start', id: t.id, pathname: path, finalPathname: final, time: now });
    return t;
  }

  #newTransfer(path: string, final: string, temp: boolean, announced: boolean, created: boolean, now: number): Transfer {
    const { transfer, displaced } = this.#registry.add(path, final, temp, announced, created, now);
    if (displaced !== undefined) this.#lose(displaced.transfer, displaced.path, 'replaced');
    if (this.#registry.size > this.maxTransfers) {
      const oldest = this.#registry.oldest();
      if (oldest !== undefined && oldest !== transfer) this.#abandon(oldest, 'evicted');
    }
    return transfer;
  }

  #locate(t: Transfer, path: string): void {
    const displaced = this.#registry.locate(t, path);
    if (displaced !== undefined) this.#lose(displaced.transfer, displaced.path, 'replaced');
  }

  /** One of its names is gone: when it was the last, the transfer is abandoned. */
  #lose(t: Transfer, path: string, reason: AbandonReason): void {
    this.#registry.unlocate(t, path);
    if (t.locations.size === 0 && t.state !== 'moved') {
      t.lastPath = path;
      this.#abandon(t, reason);
    } else {
      this.#activity(t);
    }
  }

  #keepBytes(path: string, bytes: Buffer): void {
    this.#pathBytes.delete(path); // newest last: the oldest go first beyond the bound
    this.#pathBytes.set(path, bytes);
    if (this.#pathBytes.size > 2 * this.maxTransfers) {
      const oldest = this.#pathBytes.keys().next().value;
      if (oldest !== undefined) this.#pathBytes.delete(oldest);
    }
  }

  #complete(t: Transfer | undefined, path: string, via: ArrivalKind, tempPathname: string | undefined): void {
    let size: number | undefined;
    try {
      const stat = fs.statSync(this.#pathBytes.get(path) ?? path, { throwIfNoEntry: false });
      if (stat === undefined || !stat.isFile()) {
        this.#vanished(t, path, via, tempPathname);
        return;
      }
      size = stat.size;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') {
        this.#vanished(t, path, via, tempPathname);
        return;
      }
      debug('transfer: stat %s failed: %s', path, code);
    }
    const id = t?.id ?? this.#registry.nextId();
    const startedAt = t?.announced === true ? t.startedAt : undefined;
    if (t !== undefined) this.#registry.end(t);
    this.#pathBytes.delete(path);
    this.#outbox.push({ type: 'complete', id, pathname: path, via, tempPathname, size, startedAt, time: Date.now() });
  }

  /**
   * The file was gone (or not a regular file) when it was due: keep following
   * it at its name. The events that explain it are already queued: a rename
   * completes it at the new name, a delete abandons it.
   */
  #vanished(t: Transfer | undefined, path: string, via: ArrivalKind, tempPathname: string | undefined): void {
    debug('transfer: %s was complete but is gone; following it', path);
    const target = t ?? this.#newTransfer(path, path, false, false, false, Date.now());
    for (const old of [...target.locations]) this.#registry.unlocate(target, old);
    this.#locate(target, path);
    this.#registry.setFinal(target, path);
    target.temp = false;
    target.state = 'vanished';
    target.due = { via, tempPathname };
    this.#activity(target);
  }

  #abandon(t: Transfer, reason: AbandonReason): void {
    const pathname = t.lastPath;
    this.#registry.end(t);
    if (!t.announced) return;
    this.#outbox.push({
      type: 'abandoned', id: t.id, pathname, finalPathname: t.final, reason, startedAt: t.startedAt, time: Date.now(),
    });
  }

  /** A watched directory was renamed inside the tree: transfers below it move with it. */
  #repath(from: string, to: string): void {
    for (const { transfer, path } of this.#registry.repath(from, to)) this.#lose(transfer, path, 'replaced');
    this.#created.repath(from, to);
  }

  // ---- timers ----------------------------------------------------------------------------

  /** Something happened to `t`: (re)start the timer its state calls for. */
  #activity(t: Transfer): void {
    const ms = t.state === 'settling' ? this.settleTime
      : t.state === 'quiet' ? this.quietPeriod
      : t.state === 'vanished' || (t.state === 'moved' && !t.temp) ? Math.max(this.settleTime, MOVE_WINDOW)
      : this.abandonAfter;
    if (t.timer !== undefined && t.timerMs === ms) {
      t.timer.refresh();
      return;
    }
    clearTimeout(t.timer);
    t.timerMs = ms;
    t.timer = setTimeout(() => this.#expired(t), ms);
    // The watcher keeps the process alive while it is open; a pending transfer alone does not.
    t.timer.unref();
  }

  #expired(t: Transfer): void {
    if (this.#closed || !this.#registry.isLive(t)) return;
    t.timer = undefined;
    try {
      if (t.state === 'settling') this.#complete(t, t.lastPath, 'close-write', undefined);
      else if (t.state === 'quiet' && t.found && this.#openForWrite(t.lastPath) === true) {
        // Found by a scan while a writer still holds it: its IN_CLOSE_WRITE is still to come.
        t.state = 'writing';
        t.found = false;
        this.#activity(t);
      } else if (t.state === 'quiet') this.#complete(t, t.lastPath, t.found && !t.reopened ? 'found' : 'inplace', undefined);
      else this.#abandon(t, t.state === 'moved' && !t.temp ? 'renamed' : 'timeout');
    } finally {
      this.#flush();
    }
  }

  // ---- delivery ----------------------------------------------------------------------------

  /** Delivers what the last step decided, after the state is consistent again. */
  #flush(): void {
    if (this.#outbox.length === 0) return;
    const outbox = this.#outbox;
    this.#outbox = [];
    let failed = false;
    let failure: unknown;
    for (const notification of outbox) {
      try {
        this.#deliver(notification);
      } catch (error) {
        // An 'error' nobody listens to (emit throws): surfaces once every notification was delivered.
        if (!failed) failure = error;
        failed = true;
      }
    }
    if (failed) throw failure;
  }

  // Hooks, loops, then listeners; a listener's throw comes out after the others ran.
  #deliver(n: TransferNotification): void {
    if (n.type === 'start') this.#fan.call(() => this.process_transfer_start(n));
    else if (n.type === 'complete') this.#fan.call(() => this.process_transfer_complete(n));
    else this.#fan.call(() => this.process_transfer_abandoned(n));
    if (n.type === 'complete') this.#fan.push(n);
    this.#fan.emit(this.#emitter, n.type === 'start' ? 'start' : n.type === 'complete' ? 'complete' : 'abandoned', n);
  }

  #fail(reason: unknown): void {
    const error = reason instanceof Error ? reason : new Error(String(reason));
    const iterating = this.#fan.iterating;
    this.#fan.fail(error);
    // With no listener, emit() throws, as an EventEmitter does; an iteration counts as a listener.
    if (this.#emitter.listenerCount('error') > 0 || !iterating) this.#emitter.emit('error', error);
  }
}

function duration(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw invalidArgType(`options.${name}`, 'of type number', value);
  if (!Number.isFinite(value) || value < 0 || value > 0x7fffffff) throw outOfRange(`options.${name}`, '>= 0 and <= 2147483647', value);
  return value;
}
