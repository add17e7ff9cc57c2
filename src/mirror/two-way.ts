/**
 * Two-way sync of two directories, each a {@link SyncSide}: local
 * (local-side.ts) or on an ssh host (ssh-side.ts). Both are watched; each change (a
 * complete file, a rename, a delete) queues its path, and a path is synced
 * by comparing each side now with what the state recorded at the last sync:
 *
 * - changed on one side only: that side's version goes to the other (rsync
 *   for data, a rename replayed as a rename, a delete as a delete);
 * - changed on both, to the same content: nothing to copy;
 * - deleted on one, changed on the other: the edit wins (restored where it
 *   was deleted), reported as a 'delete-edit' conflict;
 * - changed on both, differently: both kept: the older version is renamed
 *   to `name.conflict-<label>-<time>.ext` on its side, then both names are
 *   synced, reported as a 'both-changed' conflict.
 *
 * No echo: what the mirror writes is recorded in the state as soon as it is
 * written, so the events of its own writes find the path in sync. No lost
 * write: rsync moves every file it replaces into a parking directory, and a
 * parked file that is not the version the decision saw (a user wrote it
 * meanwhile) is kept under a conflict name. A side that cannot be reached
 * (gone, remounted, its ssh channel closed) makes changes wait; once it is
 * back, everything is merged. See docs/mirror.md.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { debuglog } from 'node:util';
import { systemError, type CodedError } from '../errors.js';
import { sendPaths } from './apply.js';
import { mapBatched } from './batched.js';
import { ChangeQueue, type Work } from './change-queue.js';
import { conflictLabel, conflictPath } from './conflict-name.js';
import type { MirrorContext } from './context.js';
import { sameContent, unchanged, type Entry } from './entry.js';
import { withHashes } from './lazy-hash.js';
import type { ReconcileReason } from './reconcile.js';
import { RelPath } from './rel-path.js';
import type { SideSink, SyncSide } from './side.js';
import { StateStore } from './state-store.js';
import { decide, decodeRecord, encodeRecord, other, type SideIndex, type SidePair } from './verdict.js';
import { REPLACED_DIR } from './walk.js';

const debug = debuglog('inotify-mirror');

/** The side names used in events. */
export const SIDE_NAMES = ['source', 'destination'] as const;

/** A conflict two-way sync resolved (data is never dropped: this says where it went). */
export interface MirrorConflict {
  /**
   * 'both-changed': both sides changed the path differently; the older version lost its name.
   * 'delete-edit': one side deleted what the other changed; the edit was kept (restored on the deleting side).
   * 'overwritten': a write on a side raced the mirror's own write there; that write was kept under a conflict name.
   */
  readonly kind: 'both-changed' | 'delete-edit' | 'overwritten';
  /** The path (UTF-8 rendering). */
  readonly path: string;
  /** Where the losing version now is (on both sides once synced), for 'both-changed' and 'overwritten'. */
  readonly conflictPath?: string;
  /** The side whose version lost its name ('both-changed', 'overwritten') or that deleted ('delete-edit'). */
  readonly side: 'source' | 'destination';
}

/** What two-way sync reports to the Mirror that owns it. */
export interface TwoWayReporter {
  sync(change: { type: 'send'; paths: string[]; files: number; bytes: number; target: 'source' | 'destination' }
    | { type: 'rename'; from: string; to: string; target: 'source' | 'destination' }
    | { type: 'delete'; path: string; target: 'source' | 'destination' }): void;
  conflict(conflict: MirrorConflict): void;
  reconcile(reason: ReconcileReason, files: number, bytes: number): void;
  /** A root is gone or is not the directory it was (unmounted, replaced): changes wait; retry in `retryIn` ms. */
  offline(error: Error, retryIn: number): void;
  online(): void;
  warning(error: Error): void;
  fail(error: Error): void;
}

/** Settings of {@link TwoWaySync}. */
export interface TwoWaySettings {
  /** The two roots (the first one is the 'source'). */
  readonly sides: readonly [SyncSide, SyncSide];
  readonly stateDir: string;
  /** rsync --exclude arguments. */
  readonly rsyncExcludes: readonly string[];
  readonly rsync: string;
  readonly maxPending: number;
  readonly batchDelay: number;
  readonly ref: boolean;
  /** The first wait (ms) before checking an unreachable root again; doubled each time up to maxRetryDelay. */
  readonly retryDelay: number;
  readonly maxRetryDelay: number;
}

/** The count two-way work keeps in the Mirror's stats. */
export interface TwoWayStats {
  /** Paths examined and found in sync (the echoes of the mirror's own writes among them). */
  inSync: number;
}

/** What one pass decided for one path. */
interface Plan {
  readonly copies: [Map<string, RelPath>, Map<string, RelPath>];
  /** Deletes per side, with the entry seen (a changed one is left alone). */
  readonly deletes: [Map<string, [RelPath, Entry]>, Map<string, [RelPath, Entry]>];
  /** Per side: what a copy into it may replace, as seen by the decision (for the overwrite check). */
  readonly replacing: [Map<string, Entry | undefined>, Map<string, Entry | undefined>];
  /** Entries read by the decision, to reuse their hashes. */
  readonly seen: [Map<string, Entry | undefined>, Map<string, Entry | undefined>];
}

function emptyPlan(): Plan {
  return {
    copies: [new Map(), new Map()], deletes: [new Map(), new Map()],
    replacing: [new Map(), new Map()], seen: [new Map(), new Map()],
  };
}

/** The engine behind `new Mirror(a, b, { twoWay: true })` (see the file comment). */
export class TwoWaySync {
  readonly #stats: TwoWayStats;
  readonly #settings: TwoWaySettings;
  readonly #report: TwoWayReporter;
  readonly #sides: readonly [SyncSide, SyncSide];
  readonly #labels: readonly [string, string];
  readonly #queues: readonly [ChangeQueue, ChangeQueue];
  /** rsync's settings per direction: from side 0 to 1, and from 1 to 0 (built once the sides are open). */
  #ctx: readonly [MirrorContext, MirrorContext] | undefined;
  readonly #opened = new Set<SyncSide>();
  /** While a root is unreachable: how many checks failed, and which sides must be watched anew. */
  #offline: { failures: number; rewatch: Set<SideIndex> } | undefined;
  #store: StateStore | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #turn: SideIndex = 0;
  #closed = false;
  readonly #abort = new AbortController();
  readonly #idleWaiters = new Set<() => void>();
  #onReady: (() => void) | undefined;

  constructor(settings: TwoWaySettings, report: TwoWayReporter, stats: TwoWayStats) {
    this.#settings = settings;
    this.#stats = stats;
    this.#report = report;
    this.#sides = settings.sides;
    const names = settings.sides.map((side) => conflictLabel(side.basename));
    this.#labels = names[0] === names[1] ? [`${names[0]}-1`, `${names[1]}-2`] : [names[0] as string, names[1] as string];
    this.#queues = [new ChangeQueue(settings.maxPending), new ChangeQueue(settings.maxPending)];
  }

  /** Changes waiting on both sides. */
  get pending(): number {
    return this.#queues[0].size + this.#queues[1].size;
  }

  /** True while a root is unreachable. */
  get offline(): boolean {
    return this.#offline !== undefined;
  }

  /**
   * Reaches both roots, opens the state, watches both, then merges them;
   * resolves once merged. Rejects with ENOENT / ENOTDIR for a root that is
   * not a directory (ERR_MIRROR_CHANNEL when a remote one cannot be
   * reached), EBUSY when another mirror uses the state, and ENOENT for a
   * root that is empty while the state says it held files (an unmounted
   * disk must not read as "everything was deleted").
   */
  async start(): Promise<void> {
    let store: StateStore | undefined;
    try {
      for (const side of this.#sides) {
        await side.open();
        this.#opened.add(side);
      }
      store = new StateStore(this.#settings.stateDir, 'two-way');
      for (const side of [0, 1] as const) await this.#checkNotEmptied(side, store);
    } catch (error) {
      store?.close();
      await Promise.all([...this.#opened].map((side) => side.close()));
      throw error;
    }
    if (this.#closed) {
      // close() ran while the sides were being reached: it may have missed one opened since.
      store.close();
      await Promise.all([...this.#opened].map((side) => side.close()));
      return;
    }
    this.#store = store;
    this.#ctx = [this.#context(0), this.#context(1)];
    fs.writeFileSync(nodePath.join(this.#settings.stateDir, 'roots.json'), `${JSON.stringify({ roots: this.#sides.map((side) => side.name) })}\n`);
    for (const side of [0, 1] as const) await this.#watch(side);
    const ready = new Promise<void>((resolve) => {
      this.#onReady = resolve;
    });
    this.#queues[0].reconcile('initial');
    this.#schedule(0);
    return ready;
  }

  /** rsync's settings for copies from side `from` to the other. */
  #context(from: SideIndex): MirrorContext {
    const [source, target] = [this.#sides[from], this.#sides[other(from)]];
    return {
      source: source.name,
      destination: { kind: 'local', root: target.name }, // not used by sendPaths: the endpoints say where
      endpoints: [source.endpoint, target.endpoint],
      // Every file rsync replaces is parked, for the overwrite check (see #checkReplaced). A relative
      // --backup-dir is relative to the destination directory, on whichever host that is.
      rsyncArgs: [`--exclude=/${REPLACED_DIR}`, ...this.#settings.rsyncExcludes, ...source.rsyncArgs, ...target.rsyncArgs,
        '--backup', `--backup-dir=${REPLACED_DIR}`, '--suffix='],
      rsync: this.#settings.rsync,
      delete: false,
      dryRun: false,
    };
  }

  /** Resolves when nothing waits and nothing runs. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.add(resolve));
  }

  /** Stops watching, lets a running step finish its bookkeeping, saves the state. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    await Promise.all(this.#sides.map((side) => side.unwatch()));
    await this.#running;
    await Promise.all([...this.#opened].map((side) => side.close()));
    this.#store?.close();
    for (const resolve of this.#idleWaiters) resolve();
    this.#idleWaiters.clear();
  }

  /** Throws when side `side`'s root has no entries but the state records some there. */
  async #checkNotEmptied(side: SideIndex, store: StateStore): Promise<void> {
    if (await this.#sides[side].hasEntries()) return;
    let recorded = 0;
    for (const key of store.keys()) if (decodeRecord(store.get(key))[side] !== undefined) recorded += 1;
    if (recorded === 0) return;
    const name = this.#sides[side].name;
    throw systemError('ENOENT', 'mirror', name, `${name} is empty but held ${recorded} synced path(s): is it mounted? `
      + `(to sync it as emptied, remove the state ${this.#settings.stateDir})`);
  }

  /** The first root that cannot be reached or is not the directory the mirror started with, with why. */
  async #unreachable(): Promise<{ side: SideIndex; error: CodedError } | undefined> {
    for (const side of [0, 1] as const) {
      const error = await this.#sides[side].unreachable();
      if (error !== undefined) return { side, error };
    }
    return undefined;
  }

  /** Side `side` cannot be reached: changes wait, it is watched anew once back; reported with the backoff. */
  #goOffline(side: SideIndex, error: CodedError): void {
    this.#offline ??= { failures: 0, rewatch: new Set() };
    this.#offline.failures += 1;
    this.#offline.rewatch.add(side);
    this.#report.offline(error, this.#retryIn());
  }

  async #goOnline(): Promise<void> {
    const { rewatch } = this.#offline as { rewatch: Set<SideIndex> };
    this.#offline = undefined;
    for (const side of rewatch) {
      // Its watches may have died with the mount or the channel: watch it anew.
      await this.#sides[side].unwatch();
      await this.#watch(side);
    }
    // What happened meanwhile is not all in the queues (a side away has no events): merge everything.
    this.#queues[0].reconcile('backlog');
    this.#report.online();
  }

  async #watch(side: SideIndex): Promise<void> {
    const queue = this.#queues[side];
    const sink: SideSink = {
      send: (path, deep) => this.#enqueue(() => queue.send(path, deep), this.#settings.batchDelay),
      delete: (path) => this.#enqueue(() => queue.delete(path), 0),
      movedFrom: (cookie, path) => this.#enqueue(() => queue.movedFrom(cookie, path), 0),
      movedTo: (cookie, path) => {
        const paired = queue.movedTo(cookie, path);
        if (paired) this.#schedule(0);
        return paired;
      },
      movedAway: (cookie) => this.#enqueue(() => queue.movedAway(cookie), 0),
      overflow: () => this.#enqueue(() => queue.reconcile('overflow'), 0),
      warning: (error) => this.#report.warning(error),
      fail: (error) => this.#report.fail(error),
      lost: () => this.#schedule(0), // the next run finds the side unreachable: changes wait, reconnects follow
    };
    await this.#sides[side].watch(sink);
  }

  #isIdle(): boolean {
    return this.#queues[0].empty && this.#queues[1].empty && this.#running === undefined && this.#timer === undefined;
  }

  #enqueue(change: () => void, delay: number): void {
    if (this.#closed) return;
    change();
    this.#schedule(delay);
  }

  #schedule(delay: number): void {
    if (this.#closed || this.#running !== undefined || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#drain().finally(() => {
        this.#running = undefined;
        if (this.#offline !== undefined) this.#schedule(this.#retryIn());
        if (this.#isIdle()) {
          for (const resolve of this.#idleWaiters) resolve();
          this.#idleWaiters.clear();
        }
      });
    }, delay);
    if (!this.#settings.ref) this.#timer.unref();
  }

  /** The backoff before the next check of an unreachable root. */
  #retryIn(): number {
    const failures = this.#offline?.failures ?? 0;
    return Math.min(this.#settings.maxRetryDelay, this.#settings.retryDelay * 2 ** Math.min(failures - 1, 30));
  }

  async #drain(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const down = await this.#unreachable();
      if (this.#closed) return;
      if (down !== undefined) {
        this.#goOffline(down.side, down.error);
        return;
      }
      try {
        if (this.#offline !== undefined) await this.#goOnline();
        // Take turns, so that a busy side does not starve the other.
        const first = this.#turn;
        this.#turn = other(first);
        const work = this.#queues[first].take() ?? this.#queues[other(first)].take();
        if (work === undefined) return;
        debug('work %s', work.kind === 'send' ? [...work.shallow.values(), ...work.deep.values()].map((p) => p.text).join(' ') : work.kind === 'tree' ? work.ops.map((op) => (op.type === 'rename' ? `rename ${op.from.text} ${op.to.text}` : `delete ${op.path.text}`)).join(', ') : work.kind);
        await this.#apply(work);
      } catch (error) {
        // A remote side's channel closed mid-way: the check above finds it down; the merge once it is back
        // covers the work dropped here. A path a remote side refuses is skipped (its event brings it back).
        const code = (error as CodedError).code;
        if (this.#offline !== undefined) return; // a side went away mid-way (#runDeletes): retried with backoff
        if (code === 'ERR_MIRROR_CHANNEL' || this.#closed) continue;
        if (code === 'ERR_PATH_ESCAPE') {
          this.#report.warning(error as Error);
          continue;
        }
        this.#report.fail(error as Error);
        return;
      }
    }
  }

  async #apply(work: Work): Promise<void> {
    const paths = new Map<string, RelPath>();
    if (work.kind === 'reconcile') {
      if (work.reason === 'initial') await this.#cleanReplaced();
      for (const side of this.#sides) await side.walk(undefined, paths);
      for (const key of (this.#store as StateStore).keys()) if (!paths.has(key)) paths.set(key, RelPath.from(Buffer.from(key, 'latin1')));
      const done = await this.#syncPaths(paths);
      this.#report.reconcile(work.reason, done.files, done.bytes);
      // The first merge done (the initial one, or the backlog merge that replaced it after an outage).
      this.#onReady?.();
      this.#onReady = undefined;
      return;
    }
    if (work.kind === 'send') {
      for (const path of work.shallow.values()) paths.set(path.key, path);
      for (const path of work.deep.values()) await this.#addTree(path, paths);
    } else {
      // The side the ops were seen on is whichever queue they came from; a rename is tried as a rename on either.
      for (const op of work.ops) {
        if (op.type === 'rename' && await this.#tryRename(op.from, op.to)) {
          await this.#addTree(op.to, paths);
          continue;
        }
        if (op.type === 'rename') {
          await this.#addTree(op.from, paths);
          await this.#addTree(op.to, paths);
        } else {
          await this.#addTree(op.path, paths);
        }
      }
    }
    await this.#syncPaths(paths);
  }

  /** Adds `path` and everything under it on either side or in the state. */
  async #addTree(path: RelPath, into: Map<string, RelPath>): Promise<void> {
    into.set(path.key, path);
    for (const side of this.#sides) await side.walk(path, into);
    for (const key of (this.#store as StateStore).keysUnder(path.key)) if (!into.has(key)) into.set(key, RelPath.from(Buffer.from(key, 'latin1')));
  }

  /** The hashes a decision asks for, from the side that holds the file. */
  readonly #fetchHash = (side: SideIndex, path: RelPath): Promise<string | undefined> => this.#sides[side].hash(path);

  /**
   * A rename seen on one side, replayed as a rename on the other when that is
   * exactly the move: the old name is gone here and there it is still what was
   * last synced, and the new name is free there. Otherwise false: both names
   * are synced path by path. The state's records move with the names.
   */
  async #tryRename(from: RelPath, to: RelPath): Promise<boolean> {
    const store = this.#store as StateStore;
    const record = decodeRecord(store.get(from.key));
    const here = await Promise.all(this.#sides.map((s) => s.entry(from)));
    // The side that renamed has lost `from`; the other still has it as recorded.
    const side: SideIndex | undefined = here[0] === undefined && here[1] !== undefined ? 1 : here[1] === undefined && here[0] !== undefined ? 0 : undefined;
    if (side === undefined) return false;
    const target = this.#sides[side];
    if (!await withHashes(this.#fetchHash, (hasher) => unchanged(hasher(side, from), here[side], record[side]))) return false;
    if (await target.entry(to) !== undefined) return false;
    const parent = to.parent();
    try {
      if (parent !== undefined && (await target.entry(parent))?.kind !== 'dir') await target.mkdir(parent);
      await target.rename(from, to);
    } catch (error) {
      if ((error as CodedError).code === 'ERR_MIRROR_CHANNEL') throw error;
      return false;
    }
    for (const key of store.keysUnder(from.key)) {
      const moved = Buffer.concat([to.bytes, Buffer.from(key, 'latin1').subarray(from.bytes.length)]);
      store.set(moved.toString('latin1'), store.get(key) as string);
      store.delete(key);
    }
    store.flush();
    this.#report.sync({ type: 'rename', from: from.text, to: to.text, target: SIDE_NAMES[side] });
    return true;
  }

  /** Syncs each path (see the file comment); returns the files and bytes copied. */
  async #syncPaths(paths: Map<string, RelPath>): Promise<{ files: number; bytes: number }> {
    const store = this.#store as StateStore;
    const plan = emptyPlan();
    // Parents first: a file that loses its name to a directory in a conflict is renamed away before what goes in it.
    const sorted = [...paths.values()].sort((x, y) => Buffer.compare(x.bytes, y.bytes));
    // Entries are asked for all at once: a remote side answers them in one stream, not one round trip each.
    const seen = await Promise.all(this.#sides.map((side) => mapBatched(sorted, (path) => side.entry(path))));
    for (const [i, path] of sorted.entries()) await this.#decide(path, [seen[0]?.[i], seen[1]?.[i]], plan);
    await this.#runDeletes(plan);
    let files = 0;
    let bytes = 0;
    for (const to of [0, 1] as const) {
      const from = other(to);
      if (plan.copies[to].size === 0 || this.#closed) continue;
      const sent = [...plan.copies[to].values()];
      const result = await sendPaths((this.#ctx as [MirrorContext, MirrorContext])[from], sent, false, this.#abort.signal);
      await this.#checkReplaced(to, plan.replacing[to]);
      if (result.outcome !== 'ok') {
        this.#report.warning(systemError('EIO', 'rsync', this.#sides[to].name, result.stderr.trim().split('\n').slice(-3).join('; ')));
      }
      files += result.stats.files;
      bytes += result.stats.literalBytes;
      await this.#recordCopies(from, sent, plan.seen[from]);
      store.flush();
      this.#report.sync({ type: 'send', paths: sent.map((p) => p.text), files: result.stats.files, bytes: result.stats.literalBytes, target: SIDE_NAMES[to] });
    }
    store.flush();
    return { files, bytes };
  }

  /** Decides one path into `plan` from the entries `now` (a conflict's rename is done at once). */
  async #decide(path: RelPath, now: SidePair, plan: Plan): Promise<void> {
    const store = this.#store as StateStore;
    plan.seen[0].set(path.key, now[0]);
    plan.seen[1].set(path.key, now[1]);
    const record = decodeRecord(store.get(path.key));
    const verdict = await withHashes(this.#fetchHash, (hasher) => decide([hasher(0, path), hasher(1, path)], now, record));
    debug('%s: %o', path.text, verdict);
    switch (verdict.action) {
      case 'in-sync':
        this.#stats.inSync += 1;
        return;
      case 'record':
        if (now[0] === undefined) store.delete(path.key);
        else store.set(path.key, encodeRecord(now));
        this.#stats.inSync += 1;
        return;
      case 'copy':
      case 'delete':
        this.#propagate(path, verdict.from, now, plan);
        return;
      case 'delete-edit':
        this.#report.conflict({ kind: 'delete-edit', path: path.text, side: SIDE_NAMES[other(verdict.kept)] });
        this.#propagate(path, verdict.kept, now, plan);
        return;
      case 'conflict':
        await this.#keepBoth(path, verdict.loser, now, plan);
    }
  }

  /** Plans `from`'s version of `path` onto the other side: a copy, or a delete when it is gone from `from`. */
  #propagate(path: RelPath, from: SideIndex, now: SidePair, plan: Plan): void {
    const to = other(from);
    if (now[from] === undefined) {
      if (now[to] !== undefined) plan.deletes[to].set(path.key, [path, now[to] as Entry]);
      return;
    }
    plan.copies[to].set(path.key, path);
    plan.replacing[to].set(path.key, now[to]);
  }

  /** A free conflict name for `path` on both sides, labelled with `side`. */
  #conflictName(path: RelPath, side: SideIndex): Promise<RelPath> {
    return conflictPath(path, this.#labels[side], async (candidate) =>
      (await Promise.all(this.#sides.map((s) => s.entry(candidate)))).some((entry) => entry !== undefined));
  }

  /**
   * Both sides changed `path` differently: `loser`'s version is renamed to a
   * conflict name on its side, and both names are synced. The loser is never
   * a directory (two directories are no conflict; a directory beats a file).
   */
  async #keepBoth(path: RelPath, loser: SideIndex, now: SidePair, plan: Plan): Promise<void> {
    const winner = other(loser);
    const aside = await this.#conflictName(path, loser);
    try {
      await this.#sides[loser].rename(path, aside);
    } catch (error) {
      if ((error as CodedError).code === 'ERR_MIRROR_CHANNEL') throw error;
      this.#report.warning(error as Error); // it changed again meanwhile: its event brings it back here
      return;
    }
    const store = this.#store as StateStore;
    store.delete(path.key);
    this.#report.conflict({ kind: 'both-changed', path: path.text, conflictPath: aside.text, side: SIDE_NAMES[loser] });
    const lost = now[loser] as Entry;
    plan.copies[winner].set(aside.key, aside);
    plan.replacing[winner].set(aside.key, undefined);
    plan.seen[loser].set(aside.key, lost);
    plan.seen[loser].delete(path.key);
    plan.copies[loser].set(path.key, path);
    plan.replacing[loser].set(path.key, undefined);
  }

  /**
   * Deletes what the plan says, deepest first, each only if it is still what
   * was seen. A delete is planned because the other side lacks the path: that
   * side is checked once more first (a root replaced or unmounted since the
   * last check would otherwise read as "everything deleted"); when it is away,
   * nothing is deleted and the mirror goes offline (this throws its error).
   */
  async #runDeletes(plan: Plan): Promise<void> {
    const store = this.#store as StateStore;
    for (const side of [0, 1] as const) {
      if (plan.deletes[side].size === 0) continue;
      const lacking = other(side);
      const away = await this.#sides[lacking].unreachable();
      if (away !== undefined) {
        this.#goOffline(lacking, away);
        throw away;
      }
      const list = [...plan.deletes[side].values()].sort((x, y) => Buffer.compare(y[0].bytes, x[0].bytes));
      for (const [path, seen] of list) {
        const current = await this.#sides[side].entry(path);
        if (current === undefined) {
          store.delete(path.key);
          continue;
        }
        if (current.kind !== seen.kind || current.size !== seen.size || current.mtime !== seen.mtime) continue; // changed since: its event follows
        try {
          await this.#sides[side].remove(path);
        } catch (error) {
          // A directory that is not empty holds something new (or excluded): it stays, and so does its record.
          const code = (error as CodedError).code;
          if (code === 'ERR_MIRROR_CHANNEL') throw error;
          if (code !== 'ENOTEMPTY' && code !== 'ENOENT') this.#report.warning(error as Error);
          continue;
        }
        store.delete(path.key);
        this.#report.sync({ type: 'delete', path: path.text, target: SIDE_NAMES[side] });
      }
    }
    store.flush();
  }

  /**
   * Records what a copy left: the side written to as it is now, and the side
   * copied from too when it still holds the same (else it changed meanwhile
   * and stays "changed" for the next pass).
   */
  async #recordCopies(from: SideIndex, sent: readonly RelPath[], seen: Map<string, Entry | undefined>): Promise<void> {
    const store = this.#store as StateStore;
    const to = other(from);
    const [sources, copies] = await Promise.all([from, to].map((side) => mapBatched(sent, (path) => this.#sides[side].entry(path))));
    // Fetch the hashes the records will need all at once (the decisions below would ask one by one):
    // the source's, unless its last record vouches for it, and the copy's, unless it can take the source's.
    await mapBatched(sent, async (path, i) => {
      const [source, copy, before] = [sources?.[i], copies?.[i], seen.get(path.key)];
      if (copy?.kind !== 'file') return;
      if (source?.kind === 'file' && source.hash === undefined && (before?.hash === undefined || before.size !== source.size || before.mtime !== source.mtime)) {
        source.hash = await this.#sides[from].hash(path);
      }
      const borrows = source?.kind === 'file' && source.hash !== undefined && copy.size === source.size && copy.mtime === source.mtime;
      if (copy.hash === undefined && !borrows) copy.hash = await this.#sides[to].hash(path);
    });
    for (const [i, path] of sent.entries()) {
      const source = sources?.[i];
      const copy = copies?.[i];
      if (copy === undefined) continue;
      const before = seen.get(path.key);
      const hashed = await withHashes(this.#fetchHash, (hasher) => {
        if (source !== undefined && before?.hash !== undefined && unchanged(hasher(from, path), source, before)) source.hash = before.hash;
        // rsync -a keeps size and mtime: a copy that matches its source's, whose hash is known, has that hash.
        if (copy.kind === 'file' && source?.kind === 'file' && source.hash !== undefined && copy.size === source.size && copy.mtime === source.mtime) {
          copy.hash = source.hash;
        } else if (copy.kind === 'file' && !hasher(to, path)(copy)) {
          return undefined;
        }
        return { same: source !== undefined && sameContent(source, hasher(from, path), copy, hasher(to, path)) };
      });
      if (hashed === undefined) continue;
      const record = decodeRecord(store.get(path.key));
      record[to] = copy;
      if (hashed.same) {
        record[from] = source;
      } else if (before !== undefined && before.kind === copy.kind && before.size === copy.size && before.mtime === copy.mtime
        && (copy.kind !== 'symlink' || before.hash === copy.hash)) {
        // The source was renamed, deleted or changed while rsync copied it: what was synced is the version
        // copied, so that is its record there, and the source side now counts as changed since (its own
        // events say how), rather than as never having had it (which would bring the copy back as an edit).
        record[from] = { ...before, hash: copy.hash };
      }
      store.set(path.key, encodeRecord(record));
    }
  }

  /**
   * rsync parked every file it replaced on side `to` in REPLACED_DIR. One that
   * is what the decision saw there is dropped; anything else was written by
   * someone while rsync ran: it is kept under a conflict name and reported.
   */
  async #checkReplaced(to: SideIndex, replacing: Map<string, Entry | undefined>): Promise<void> {
    const side = this.#sides[to];
    for (const [path, entry] of await side.parked()) {
      const expected = replacing.get(path.key);
      if (expected !== undefined && expected.kind === entry.kind && expected.size === entry.size && expected.mtime === entry.mtime
        && (entry.kind !== 'symlink' || expected.hash === entry.hash)) {
        await side.dropParked(path);
        continue;
      }
      await this.#keepParked(to, path);
    }
    await side.clearParked();
  }

  /** Moves a parked file to a conflict name next to its path on side `to` (its event syncs it to the other side). */
  async #keepParked(to: SideIndex, path: RelPath): Promise<void> {
    const aside = await this.#conflictName(path, to);
    try {
      await this.#sides[to].keepParked(path, aside);
    } catch (error) {
      if ((error as CodedError).code === 'ERR_MIRROR_CHANNEL') throw error;
      this.#report.warning(error as Error);
      return;
    }
    this.#report.conflict({ kind: 'overwritten', path: path.text, conflictPath: aside.text, side: SIDE_NAMES[to] });
    this.#queues[to].send(aside);
  }

  /**
   * After a crash, files rsync parked but nobody checked: the ones that are
   * what the state last recorded there are dropped, the others kept under
   * conflict names.
   */
  async #cleanReplaced(): Promise<void> {
    const store = this.#store as StateStore;
    for (const side of [0, 1] as const) {
      const expected = new Map<string, Entry | undefined>();
      for (const [path] of await this.#sides[side].parked()) expected.set(path.key, decodeRecord(store.get(path.key))[side]);
      if (expected.size > 0) await this.#checkReplaced(side, expected);
      else await this.#sides[side].clearParked();
    }
  }
}
