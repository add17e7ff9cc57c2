/**
 * One scheduled watch's source of watchdog events (watchdog's
 * `InotifyEmitter`): a WatchManager + Notifier of its own, whose events
 * are turned into watchdog's, in kernel order.
 *
 * Moves: an IN_MOVED_FROM waits for its IN_MOVED_TO, and the events after it
 * wait with it, so the order is kept. The kernel queues both halves of a
 * rename together, so the wait ends with the next event: the TO makes a
 * `moved` event, anything else (or the directory's own IN_MOVE_SELF, which
 * the Notifier delivers when a watched directory leaves the tree) makes it
 * `deleted`. Only a FROM that ends a read batch waits a little longer
 * (MOVE_GRACE_MS) for a TO read in the next batch. There is no fixed hold on
 * every rename (watchdog holds each one 0.5 s).
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import {
  IN_ATTRIB, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_MODIFY, IN_MOVE, IN_MOVE_SELF,
  IN_MOVED_FROM, IN_MOVED_TO, IN_OPEN,
} from '../../constants.js';
import type { InotifyEvent } from '../../event.js';
import { Notifier } from '../../notifier.js';
import { WatchError } from '../../watch-error.js';
import { WatchManager } from '../../watch-manager.js';
import {
  DirCreatedEvent, DirDeletedEvent, DirModifiedEvent, DirMovedEvent, FileClosedEvent, FileClosedNoWriteEvent, FileCreatedEvent,
  FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileOpenedEvent, type FileSystemEvent, type FileSystemEventClass, type PathBytes,
} from './events.js';
import type { ObservedWatch } from './observed-watch.js';

/** How long (ms) an IN_MOVED_FROM that ends a read batch waits for its IN_MOVED_TO in the next one. */
export const MOVE_GRACE_MS = 150;

/** The kernel events watchdog asks for (its WATCHDOG_ALL_EVENTS), plus IN_MOVE_SELF: a root or directory moved away. */
const ALL_EVENTS = (IN_MODIFY | IN_ATTRIB | IN_MOVE | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_CLOSE_WRITE
  | IN_CLOSE_NOWRITE | IN_OPEN) >>> 0;

/** The kernel events each event class needs (watchdog's get_event_mask_from_filter, with IN_DELETE and IN_MOVE where it forgot them). */
const EVENTS_FOR = new Map<FileSystemEventClass, number>([
  [FileMovedEvent, IN_MOVE], [DirMovedEvent, IN_MOVE],
  [FileCreatedEvent, IN_MOVE | IN_CREATE], [DirCreatedEvent, IN_MOVE | IN_CREATE],
  [FileDeletedEvent, IN_MOVE | IN_DELETE], [DirDeletedEvent, IN_MOVE | IN_DELETE],
  [DirModifiedEvent, IN_MOVE | IN_ATTRIB | IN_MODIFY | IN_CREATE | IN_DELETE | IN_CLOSE_WRITE],
  [FileModifiedEvent, IN_ATTRIB | IN_MODIFY],
  [FileClosedEvent, IN_CLOSE_WRITE], [FileClosedNoWriteEvent, IN_CLOSE_NOWRITE], [FileOpenedEvent, IN_OPEN],
]);

/** Where an emitter's output goes (the Observer). */
export interface EmitterSink {
  event(event: FileSystemEvent): void;
  overflow(): void;
  error(error: Error): void;
}

/** An IN_MOVED_FROM waiting for the rest of its rename; `events` is set once settled. */
interface PendingMove {
  readonly from: InotifyEvent;
  followed: boolean;
  events: FileSystemEvent[] | undefined;
}

/** @internal One watch's Notifier and the translation of its events. */
export class Emitter {
  readonly watch: ObservedWatch;
  readonly #sink: EmitterSink;
  readonly #notifier: Notifier;
  readonly #rootWd: number;
  // Events waiting behind an unsettled IN_MOVED_FROM, in order.
  readonly #queue: Array<FileSystemEvent | PendingMove> = [];
  readonly #pending: PendingMove[] = [];
  #batchEndScheduled = false;
  #graceTimer: NodeJS.Timeout | undefined;
  #ended = false;

  /**
   * Watches `given` (ENOENT, EACCES... are thrown). A recursive watch whose
   * walk failed on some directories keeps the others and reports each
   * failure to `sink.error` (on the next turn of the loop, so that an
   * 'error' listener added right after `await observer.start()` gets them).
   */
  constructor(watch: ObservedWatch, given: string | Buffer, sink: EmitterSink, options: { rescan: boolean; ref: boolean }) {
    this.watch = watch;
    this.#sink = sink;
    const wm = new WatchManager();
    this.#notifier = new Notifier(wm, (event) => this.#onEvent(event), { rescan: options.rescan, ref: options.ref });
    this.#notifier.on('error', (error) => sink.error(error));
    const recursive = watch.is_recursive;
    let armed: Map<string, number>;
    try {
      armed = wm.addWatch(given, maskFor(watch), { rec: recursive, autoAdd: recursive, followSymlinks: watch.follow_symlink });
    } catch (error) {
      if (!(error instanceof WatchError) || error.armed.size === 0) {
        this.#notifier.stop();
        throw error;
      }
      armed = error.armed;
      const failures = error.failed;
      setImmediate(() => {
        for (const failure of failures) if (!this.#ended) sink.error(failure.error);
      });
    }
    this.#rootWd = armed.values().next().value as number;
  }

  /** Stops watching (the inotify fd is closed); events not delivered yet are dropped. */
  stop(): void {
    this.#ended = true;
    clearTimeout(this.#graceTimer);
    this.#queue.length = 0;
    this.#pending.length = 0;
    this.#notifier.stop();
  }

  /** True once stopped (by {@link Emitter.stop}, or because the watched root was deleted or moved away). */
  get ended(): boolean {
    return this.#ended;
  }

  ref(): void {
    this.#notifier.ref();
  }

  unref(): void {
    this.#notifier.unref();
  }

  // ---- kernel event -> watchdog events ----------------------------------

  #onEvent(event: InotifyEvent): void {
    if (this.#ended) return;
    for (const pending of this.#pending) pending.followed = true;
    this.#scheduleBatchEnd();
    const mask = event.mask;
    if (event.wd === -1) {
      // Whatever was in flight is lost: a waiting FROM will not be paired.
      this.#settleAll();
      this.#flush();
      this.#sink.overflow();
      return;
    }
    if (mask & IN_IGNORED) {
      if (event.wd === this.#rootWd) this.#end(); // removed under us (unmounted, or deleted unseen)
      return;
    }
    if (mask & IN_MOVED_FROM) {
      const pending: PendingMove = { from: event, followed: false, events: undefined };
      this.#pending.push(pending);
      this.#queue.push(pending);
      return;
    }
    if (mask & IN_MOVED_TO) {
      const index = this.#pending.findIndex((p) => p.from.cookie === event.cookie);
      const pending = index < 0 ? undefined : this.#pending.splice(index, 1)[0];
      if (pending !== undefined) {
        pending.events = this.#moved(pending.from, event);
        this.#flush();
      } else {
        this.#out(...this.#created(event));
      }
      return;
    }
    if (mask & IN_MOVE_SELF) {
      if (event.wd === this.#rootWd && event.name === '') {
        this.#rootGone(event);
        return;
      }
      // A watched directory left the tree: its IN_MOVED_FROM is settled as a deletion.
      const index = this.#pending.findIndex((p) => p.from.dir && p.from.pathname === event.pathname);
      if (index >= 0) this.#settle(this.#pending.splice(index, 1)[0] as PendingMove);
      this.#flush();
      return;
    }
    if (mask & IN_DELETE_SELF) {
      if (event.wd === this.#rootWd) this.#rootGone(event);
      return; // a directory below: its parent's IN_DELETE reported it
    }
    this.#out(...this.#translate(event));
  }

  #translate(event: InotifyEvent): FileSystemEvent[] {
    const mask = event.mask;
    const path = event.pathname;
    const bytes = bytesOf(event);
    const synthetic = event.synthetic;
    const dir = event.dir;
    if (mask & IN_CREATE) return this.#created(event);
    if (mask & IN_DELETE) {
      const deleted = new (dir ? DirDeletedEvent : FileDeletedEvent)(path, '', synthetic, bytes);
      return synthetic ? [deleted] : [deleted, parentModified(path, bytes)];
    }
    if (mask & (IN_MODIFY | IN_ATTRIB)) return [new (dir ? DirModifiedEvent : FileModifiedEvent)(path, '', synthetic, bytes)];
    if (dir) return []; // watchdog reports opens and closes of files only
    if (mask & IN_OPEN) return [new FileOpenedEvent(path, '', synthetic, bytes)];
    if (mask & IN_CLOSE_WRITE) {
      const closed = new FileClosedEvent(path, '', synthetic, bytes);
      return synthetic ? [closed] : [closed, parentModified(path, bytes)];
    }
    if (mask & IN_CLOSE_NOWRITE) return [new FileClosedNoWriteEvent(path, '', synthetic, bytes)];
    return [];
  }

  // IN_CREATE, or an IN_MOVED_TO from outside the tree. A directory's contents
  // follow as the Notifier's synthetic events (recursive watches only).
  #created(event: InotifyEvent): FileSystemEvent[] {
    const bytes = bytesOf(event);
    const created = new (event.dir ? DirCreatedEvent : FileCreatedEvent)(event.pathname, '', event.synthetic, bytes);
    return event.synthetic ? [created] : [created, parentModified(event.pathname, bytes)];
  }

  // A paired rename; for a directory of a recursive watch, also each entry
  // it holds (watchdog's generate_sub_moved_events), as synthetic moves.
  #moved(from: InotifyEvent, to: InotifyEvent): FileSystemEvent[] {
    const src = from.pathname;
    const dest = to.pathname;
    const srcBytes = bytesOf(from)?.src;
    const destBytes = bytesOf(to)?.src;
    const bytes = srcBytes === undefined && destBytes === undefined ? undefined : { src: srcBytes, dest: destBytes };
    const events: FileSystemEvent[] = [
      new (to.dir ? DirMovedEvent : FileMovedEvent)(src, dest, false, bytes),
      parentModified(src, srcBytes === undefined ? undefined : { src: srcBytes }),
      parentModified(dest, destBytes === undefined ? undefined : { src: destBytes }),
    ];
    if (to.dir && this.watch.is_recursive) {
      walk(destBytes ?? Buffer.from(dest), (entry, isDir) => {
        const destPath = entry.toString();
        const srcPath = src + destPath.slice(dest.length);
        events.push(new (isDir ? DirMovedEvent : FileMovedEvent)(srcPath, destPath, true, exactBytes(entry, destPath)));
      });
    }
    return events;
  }

  #rootGone(event: InotifyEvent): void {
    this.#settleAll();
    this.#out(new (event.dir ? DirDeletedEvent : FileDeletedEvent)(event.pathname, '', false, bytesOf(event)));
    this.#end();
  }

  #end(): void {
    this.#flush();
    this.stop();
  }

  // ---- ordering behind unsettled moves -----------------------------------

  #out(...events: FileSystemEvent[]): void {
    if (this.#queue.length === 0) {
      for (const event of events) this.#sink.event(event);
    } else {
      this.#queue.push(...events);
    }
  }

  // Delivers from the head of the queue up to the first unsettled move.
  #flush(): void {
    const queue = this.#queue;
    let taken = 0;
    for (; taken < queue.length; taken++) {
      const item = queue[taken] as FileSystemEvent | PendingMove;
      if (!('from' in item)) continue;
      if (item.events === undefined) break;
    }
    const ready = queue.splice(0, taken);
    for (const item of ready) {
      if ('from' in item) for (const event of item.events ?? []) this.#sink.event(event);
      else this.#sink.event(item);
      if (this.#ended) return;
    }
  }

  // An IN_MOVED_FROM whose TO never came: the entry left the tree (watchdog: deleted).
  #settle(pending: PendingMove): void {
    const from = pending.from;
    const bytes = bytesOf(from);
    pending.events = [new (from.dir ? DirDeletedEvent : FileDeletedEvent)(from.pathname, '', false, bytes), parentModified(from.pathname, bytes)];
  }

  #settleAll(): void {
    for (const pending of this.#pending.splice(0)) this.#settle(pending);
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
  }

  // After the Notifier's current run (one read batch): a FROM followed by
  // other events in it has no TO coming; one that ended the batch gets a
  // short grace for a TO read in the next batch.
  #scheduleBatchEnd(): void {
    if (this.#batchEndScheduled) return;
    this.#batchEndScheduled = true;
    queueMicrotask(() => {
      this.#batchEndScheduled = false;
      if (this.#ended || this.#pending.length === 0) return;
      const [followed, waiting] = partition(this.#pending, (p) => p.followed);
      for (const pending of followed) this.#settle(pending);
      this.#pending.splice(0, this.#pending.length, ...waiting);
      this.#flush();
      if (waiting.length > 0 && this.#graceTimer === undefined) {
        this.#graceTimer = setTimeout(() => {
          this.#graceTimer = undefined;
          if (this.#ended) return;
          this.#settleAll();
          this.#flush();
        }, MOVE_GRACE_MS);
        if (!this.#notifier.watchManager.inotify.hasRef()) this.#graceTimer.unref();
      }
    });
  }
}

/** The kernel mask for a watch: everything watchdog reports, or what its event_filter needs. */
function maskFor(watch: ObservedWatch): number {
  if (watch.event_filter === undefined) return ALL_EVENTS;
  let mask = IN_DELETE_SELF | IN_MOVE_SELF;
  for (const kind of watch.event_filter) {
    for (const [known, bits] of EVENTS_FOR) if (kind === known || known.prototype instanceof kind) mask |= bits;
  }
  return mask >>> 0;
}

function parentModified(path: string, bytes: PathBytes | undefined): DirModifiedEvent {
  const src = bytes?.src;
  return new DirModifiedEvent(nodePath.posix.dirname(path), '', false, src === undefined ? undefined : { src: src.subarray(0, Math.max(1, src.lastIndexOf(0x2f))) });
}

/** The exact bytes of an event's pathname, when they are not its string's UTF-8. */
function bytesOf(event: InotifyEvent): PathBytes | undefined {
  return event.nameBytes === undefined && event.pathBytes === undefined ? undefined : { src: event.pathnameBytes() };
}

function exactBytes(bytes: Buffer, text: string): PathBytes | undefined {
  return Buffer.byteLength(text) === bytes.length && Buffer.from(text).equals(bytes) ? undefined : { src: bytes };
}

/** os.walk, top-down: each directory's subdirectories, then its other entries, then the subdirectories' contents. Symlinks are not followed. */
function walk(dir: Buffer, visit: (path: Buffer, isDir: boolean) => void): void {
  let entries: fs.Dirent<Buffer>[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch {
    return; // gone or unreadable since the rename: nothing to report below it
  }
  const slash = Buffer.from('/');
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => Buffer.concat([dir, slash, e.name]));
  for (const sub of dirs) visit(sub, true);
  for (const entry of entries) if (!entry.isDirectory()) visit(Buffer.concat([dir, slash, entry.name]), false);
  for (const sub of dirs) walk(sub, visit);
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}
