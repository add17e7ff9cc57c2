/**
 * Mirror: keeps a destination (a local directory, or `[user@]host:path` over
 * ssh) equal to a source directory, or, with `twoWay`, two directories (the
 * second one local or over ssh) equal to each other (two-way.ts). It watches the source first, then
 * reconciles the whole tree with rsync, then replays each change as it
 * happens: complete files by rsync (a burst in one run), renames as renames,
 * deletes as deletes. When the destination cannot be reached, changes wait
 * (in order, bounded) and are retried with backoff. See docs/mirror.md.
 */
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { invalidArgType, invalidArgValue, isCodedError, outOfRange, systemError, type CodedError } from '../errors.js';
import { Notifier } from '../notifier.js';
import { TRANSFER_EVENTS } from '../transfer/types.js';
import { validateOptions } from '../validate.js';
import { watchTree } from '../watch-tree.js';
import { runTreeOps, sendPaths, type TreeOp, type TreeOpStatus } from './apply.js';
import { ChangeQueue, type SendBatch, type Work } from './change-queue.js';
import type { MirrorContext } from './context.js';
import { describeDestination, parseDestination, rsyncShellArgs, rsyncTarget } from './destination.js';
import { compileMirrorExcludes } from './excludes.js';
import { ChangeFollower } from './follow.js';
import type { MirrorProgress } from './progress.js';
import { reconcile, type ReconcileReason } from './reconcile.js';
import type { RelPath } from './rel-path.js';
import { checkStateDir, defaultStateDir } from './state-dir.js';
import { LocalSide } from './local-side.js';
import type { SyncSide } from './side.js';
import { SshSide } from './ssh-side.js';
import { TwoWaySync, type MirrorConflict } from './two-way.js';

/** Options of {@link Mirror}. */
export interface MirrorOptions {
  /** Paths neither sent nor deleted, as strings of the pattern language (docs/patterns.md); see docs/mirror.md. */
  exclude?: readonly string[];
  /**
   * Let a reconcile delete what the source lacks on the destination (rsync
   * --delete). Default false: the initial reconcile only adds and updates.
   * Deletes seen while following are always replayed.
   */
  delete?: boolean;
  /** Say what would be done ('reconcile' with `changes`, 'sync' events), change nothing. */
  dryRun?: boolean;
  /** The ssh command as an argv, for a `host:path` destination (default `['ssh']`). */
  ssh?: readonly string[];
  /** The rsync program (default 'rsync'). */
  rsync?: string;
  /** How long (ms) the first change of a burst waits for the rest before rsync runs. Default 200. */
  batchDelay?: number;
  /** How many changes may wait before the backlog becomes one reconcile. Default 100000. */
  maxPending?: number;
  /** The first wait (ms) before retrying an unreachable destination; doubled each time. Default 1000. */
  retryDelay?: number;
  /** The longest wait (ms) between retries. Default 30000. */
  maxRetryDelay?: number;
  /** The transfer tracker's quiet period (ms), see TransferTrackerOptions. Default 2000. */
  quietPeriod?: number;
  /** The transfer tracker's settle time (ms), see TransferTrackerOptions. Default 500. */
  settleTime?: number;
  /** Keep the process alive while mirroring (default true). */
  ref?: boolean;
  /**
   * Sync both ways: each side's changes go to the other, conflicts keep both
   * versions (see docs/mirror.md, "Two-way"). The destination may be a
   * `host:path`: `inotify-mirror --serve` is then started there over ssh
   * (see `remoteCommand`). Default false.
   */
  twoWay?: boolean;
  /**
   * With `twoWay` and a `host:path` destination: the command that starts
   * the serving end on the host, as words before `--serve ROOT` (default
   * `['inotify-mirror']`), e.g. `['node', '/opt/inotify-native/lib/cli/inotify-mirror.js']`.
   * Each word is quoted for the remote shell.
   */
  remoteCommand?: readonly string[];
  /**
   * With `twoWay`: the directory of the sync state (default: one per pair of
   * roots under `$XDG_STATE_HOME/inotify-mirror/`, see defaultStateDir).
   */
  state?: string;
}

/** One change applied to the destination (or, with dryRun, that would be); two-way: to the side `target`. */
export type MirrorSync = (
  | {
    readonly type: 'send';
    /** The paths of the batch, relative to the roots (UTF-8 rendering). */
    readonly paths: readonly string[];
    /** Regular files rsync transferred (unchanged ones are not counted). */
    readonly files: number;
    /** Bytes that crossed (rsync's literal data). */
    readonly bytes: number;
  }
  | { readonly type: 'rename'; readonly from: string; readonly to: string }
  | { readonly type: 'delete'; readonly path: string }
) & {
  /** Two-way only: the side the change was applied to. */
  readonly target?: 'source' | 'destination';
};

/** What a reconcile did. */
export interface MirrorReconcile {
  readonly reason: ReconcileReason;
  /** Regular files transferred (with dryRun: to transfer). */
  readonly files: number;
  /** Their total size. */
  readonly bytes: number;
  /** Bytes that crossed. */
  readonly literalBytes: number;
  /** With dryRun: rsync's itemized list of what would change. */
  readonly changes: readonly string[];
}

/** Events of a {@link Mirror}. */
export interface MirrorEvents {
  /** A reconcile's progress (at most every 250 ms, and once at its end). */
  progress: [progress: MirrorProgress, reason: ReconcileReason];
  /** A reconcile finished. */
  reconcile: [result: MirrorReconcile];
  /** The initial reconcile is done: the destination matches and changes are followed. */
  ready: [];
  /** A change reached the destination. */
  sync: [change: MirrorSync];
  /** Two-way: a conflict was resolved keeping both versions (or the edit over a delete). */
  conflict: [conflict: MirrorConflict];
  /** The destination cannot be reached: changes wait; the next try is in `retryIn` ms. */
  offline: [error: Error, retryIn: number];
  /** The destination is reachable again (waiting changes are being sent). */
  online: [];
  /** A change that could not be applied (rsync or the shell failed; the message says why). Mirroring goes on. */
  warning: [error: Error];
  /** Watching the source failed: the mirror closes. */
  error: [error: Error];
  close: [];
}

/** The counts of a mirror's work since it started. */
export interface MirrorStats {
  /** rsync runs (a reconcile counts two: its dry run and its transfer). */
  rsyncRuns: number;
  /** Regular files transferred. */
  files: number;
  renames: number;
  deletes: number;
  reconciles: number;
  /** Two-way: conflicts resolved. */
  conflicts: number;
  /** Two-way: paths examined (after an event or in a reconcile) and found in sync, the echoes of its own writes among them. */
  inSync: number;
}

/** At most this many vanished paths are remembered (see Mirror.#vanished). */
const MAX_VANISHED = 10_000;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw outOfRange(`options.${name}`, 'a finite number >= 0', value);
  return value;
}

/**
 * A one-way mirror of `source` onto `destination`.
 *
 * @example
 * ```ts
 * const mirror = new Mirror('/srv/data', 'backup@nas:/volume1/data', { exclude: ['*.tmp'] });
 * mirror.on('sync', (change) => console.log(change));
 * await mirror.start(); // resolves once the destination matches
 * // ... later
 * await mirror.close();
 * ```
 */
export class Mirror extends EventEmitter<MirrorEvents> {
  /** The source root (absolute). */
  readonly source: string;
  /** The destination as given (`/path` or `host:path`). */
  readonly destination: string;
  /** The counts so far. */
  readonly stats: MirrorStats = { rsyncRuns: 0, files: 0, renames: 0, deletes: 0, reconciles: 0, conflicts: 0, inSync: 0 };
  /** With `twoWay`: the directory of the sync state. */
  readonly stateDir: string | undefined;
  readonly #ctx: MirrorContext;
  readonly #options: MirrorOptions;
  readonly #excluded: ((pathname: string) => boolean) | undefined;
  readonly #queue: ChangeQueue;
  readonly #batchDelay: number;
  readonly #retryDelay: number;
  readonly #maxRetryDelay: number;
  #follower: ChangeFollower | undefined;
  #notifier: Notifier | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #offlineSince: number | undefined;
  #nextRetry = 0;
  #failures = 0;
  #ready = false;
  #closed = false;
  #started = false;
  readonly #idleWaiters = new Set<() => void>();
  /**
   * Paths a batch listed that were gone from the source by the time rsync
   * ran (renamed or deleted meanwhile): their rename or delete is further
   * down the line. A rename of a directory holding one of them sends the
   * new name whole, or the file would be missing under it.
   */
  readonly #vanished = new Map<string, RelPath>();
  readonly #sourceBytes: Buffer;
  /** Stops a running rsync on close (a long reconcile must not hold Ctrl-C). */
  readonly #abort = new AbortController();
  readonly #readyWaiters = new Set<{ resolve: () => void; reject: (error: Error) => void }>();
  readonly #twoWay: TwoWaySync | undefined;

  /**
   * Checks the arguments; nothing runs before {@link start}. Throws
   * ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE / ERR_OUT_OF_RANGE for bad options.
   */
  constructor(source: string, destination: string, options?: MirrorOptions) {
    super();
    if (typeof source !== 'string' || source === '') throw invalidArgType('source', 'a non-empty string', source);
    const opts = validateOptions<MirrorOptions>(options);
    this.#options = opts;
    this.source = nodePath.resolve(source);
    this.destination = destination;
    const dest = parseDestination(destination, opts.ssh);
    if (dest.kind === 'local' && (dest.root === this.source || dest.root.startsWith(`${this.source}/`) || this.source.startsWith(`${dest.root}/`))) {
      throw systemError('EINVAL', 'mirror', dest.root, 'the source and the destination must not contain each other');
    }
    const excludes = compileMirrorExcludes(opts.exclude, this.source);
    this.#excluded = excludes.matches;
    if (opts.rsync !== undefined && typeof opts.rsync !== 'string') throw invalidArgType('options.rsync', 'of type string', opts.rsync);
    this.#ctx = {
      source: this.source,
      destination: dest,
      endpoints: [`${this.source === '/' ? '' : this.source}/`, rsyncTarget(dest)],
      rsyncArgs: [...excludes.rsyncArgs, ...rsyncShellArgs(dest)],
      rsync: opts.rsync ?? 'rsync',
      delete: opts.delete === true,
      dryRun: opts.dryRun === true,
    };
    this.#sourceBytes = Buffer.from(this.source);
    this.#queue = new ChangeQueue(positive('maxPending', opts.maxPending, 100_000));
    this.#batchDelay = positive('batchDelay', opts.batchDelay, 200);
    this.#retryDelay = positive('retryDelay', opts.retryDelay, 1000);
    this.#maxRetryDelay = positive('maxRetryDelay', opts.maxRetryDelay, 30_000);
    if (opts.twoWay !== undefined && typeof opts.twoWay !== 'boolean') throw invalidArgType('options.twoWay', 'of type boolean', opts.twoWay);
    if (opts.state !== undefined && (typeof opts.state !== 'string' || opts.state === '')) throw invalidArgType('options.state', 'a non-empty string', opts.state);
    if (opts.remoteCommand !== undefined && (!Array.isArray(opts.remoteCommand) || opts.remoteCommand.length === 0
      || opts.remoteCommand.some((word) => typeof word !== 'string' || word === '' || word.includes('\0')))) {
      throw invalidArgType('options.remoteCommand', 'a non-empty array of non-empty strings', opts.remoteCommand);
    }
    if (opts.twoWay === true) {
      this.stateDir = nodePath.resolve(opts.state ?? defaultStateDir(this.source, describeDestination(dest)));
      this.#twoWay = this.#twoWaySync(dest, excludes.rsyncArgs, this.stateDir);
    } else if (opts.state !== undefined) {
      throw invalidArgValue('options.state', opts.state, 'is for twoWay only');
    } else if (opts.remoteCommand !== undefined) {
      throw invalidArgValue('options.remoteCommand', opts.remoteCommand, 'is for twoWay with a host:path destination only');
    }
  }

  #twoWaySync(dest: ReturnType<typeof parseDestination>, rsyncExcludes: readonly string[], stateDir: string): TwoWaySync {
    const opts = this.#options;
    if (opts.dryRun === true) throw invalidArgValue('options.dryRun', true, 'is not available with twoWay');
    if (opts.delete === true) throw invalidArgValue('options.delete', true, 'does not apply to twoWay (deletes follow the sync state)');
    if (opts.remoteCommand !== undefined && dest.kind === 'local') throw invalidArgValue('options.remoteCommand', opts.remoteCommand, 'is for a host:path destination only');
    const local = (root: string): LocalSide => {
      const excluded = compileMirrorExcludes(opts.exclude, root).matches ?? ((): boolean => false);
      checkStateDir(stateDir, [root], [excluded]);
      return new LocalSide({ root, exclude: opts.exclude, excluded, quietPeriod: opts.quietPeriod, settleTime: opts.settleTime, ref: opts.ref !== false });
    };
    const second: SyncSide = dest.kind === 'local' ? local(dest.root) : new SshSide({ destination: dest, remoteCommand: opts.remoteCommand, exclude: opts.exclude });
    return new TwoWaySync({
      sides: [local(this.source), second], stateDir, rsyncExcludes,
      rsync: this.#ctx.rsync, maxPending: positive('maxPending', opts.maxPending, 100_000), batchDelay: this.#batchDelay,
      ref: opts.ref !== false, retryDelay: this.#retryDelay, maxRetryDelay: this.#maxRetryDelay,
    }, {
      sync: (change) => {
        if (change.type === 'send') {
          this.stats.rsyncRuns += 1;
          this.stats.files += change.files;
        } else if (change.type === 'rename') this.stats.renames += 1;
        else this.stats.deletes += 1;
        this.emit('sync', change);
      },
      conflict: (conflict) => {
        this.stats.conflicts += 1;
        this.emit('conflict', conflict);
      },
      reconcile: (reason, files, bytes) => {
        this.stats.reconciles += 1;
        this.emit('reconcile', { reason, files, bytes, literalBytes: bytes, changes: [] });
      },
      offline: (error, retryIn) => this.emit('offline', error, retryIn),
      online: () => this.emit('online'),
      warning: (error) => this.emit('warning', error),
      fail: (error) => this.#fail(error),
    }, this.stats);
  }

  /** Changes waiting to be applied. */
  get pending(): number {
    return this.#twoWay?.pending ?? this.#queue.size;
  }

  /** True while the destination is unreachable. */
  get offline(): boolean {
    return this.#twoWay?.offline ?? this.#offlineSince !== undefined;
  }

  /**
   * Starts watching the source, then reconciles. Resolves once the initial
   * reconcile is done (while the destination is unreachable it keeps
   * retrying, with 'offline' events). Rejects with ENOENT / ENOTDIR for a
   * source that is not a directory, ENOSPC when watches run out, and when
   * the mirror is closed first.
   */
  start(): Promise<void> {
    try {
      return this.#start();
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  #start(): Promise<void> {
    if (this.#follower !== undefined || this.#closed || this.#started) throw systemError('EINVAL', 'start', this.source, 'a mirror starts once');
    this.#started = true;
    if (this.#twoWay !== undefined) return this.#startTwoWay(this.#twoWay);
    const stat = fs.statSync(this.source, { throwIfNoEntry: false });
    if (stat === undefined) throw systemError('ENOENT', 'stat', this.source);
    if (!stat.isDirectory()) throw systemError('ENOTDIR', 'mirror', this.source);
    const sink = {
      send: (path: RelPath, deep: boolean) => this.#enqueue(() => this.#queue.send(path, deep), this.#batchDelay),
      delete: (path: RelPath) => this.#enqueue(() => this.#queue.delete(path), 0),
      movedFrom: (cookie: number, path: RelPath) => this.#enqueue(() => this.#queue.movedFrom(cookie, path), 0),
      movedTo: (cookie: number, path: RelPath) => {
        const paired = this.#queue.movedTo(cookie, path);
        if (paired) this.#schedule(0);
        return paired;
      },
      movedAway: (cookie: number) => this.#enqueue(() => this.#queue.movedAway(cookie), 0),
      overflow: () => this.#enqueue(() => this.#queue.reconcile('overflow'), 0),
    };
    const follower = new ChangeFollower(this.source, sink, this.#excluded, {
      quietPeriod: this.#options.quietPeriod, settleTime: this.#options.settleTime,
    });
    follower.on('warning', (error) => this.emit('warning', error));
    follower.on('error', (error) => this.#fail(error));
    const wm = watchTree(this.source, TRANSFER_EVENTS, {
      recursive: true, exclude: this.#options.exclude, followSymlinks: false,
    });
    this.#follower = follower;
    this.#notifier = new Notifier(wm, follower, { ref: this.#options.ref });
    this.#notifier.on('error', (error) => {
      const syscall = isCodedError(error) ? error.syscall : undefined;
      if (syscall !== undefined && syscall !== 'read') this.emit('warning', error);
      else this.#fail(error);
    });
    const ready = new Promise<void>((resolve, reject) => {
      this.#readyWaiters.add({ resolve, reject });
    });
    this.#enqueue(() => this.#queue.reconcile('initial'), 0);
    return ready;
  }

  #startTwoWay(sync: TwoWaySync): Promise<void> {
    const started = sync.start(); // throws for a bad root or a state in use: start() rejects with it
    const ready = new Promise<void>((resolve, reject) => {
      this.#readyWaiters.add({ resolve, reject });
    });
    started.then(() => {
      this.#ready = true;
      this.emit('ready');
      for (const waiter of this.#readyWaiters) waiter.resolve();
      this.#readyWaiters.clear();
    }, (error: Error) => this.#fail(error));
    return ready;
  }

  /** Resolves when no change waits and none is being applied (e.g. to exit after a burst). */
  idle(): Promise<void> {
    if (this.#twoWay !== undefined) return this.#twoWay.idle();
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.add(resolve));
  }

  /**
   * Stops watching and applying; a running rsync is stopped (SIGTERM: the
   * destination keeps the old copy of the file it was writing). Changes
   * still waiting are dropped: the next start reconciles.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    this.#follower?.stopWaiting();
    await this.#twoWay?.close();
    await this.#notifier?.close();
    await this.#follower?.close();
    await this.#running;
    const closed = systemError('ECANCELED', 'start', this.source, 'the mirror was closed');
    for (const waiter of this.#readyWaiters) waiter.reject(closed);
    this.#readyWaiters.clear();
    for (const resolve of this.#idleWaiters) resolve();
    this.#idleWaiters.clear();
    this.emit('close');
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else if (this.#readyWaiters.size === 0) process.emitWarning(error); // never silent, never an uncaught throw
    for (const waiter of this.#readyWaiters) waiter.reject(error);
    this.#readyWaiters.clear();
    void this.close();
  }

  #isIdle(): boolean {
    return this.#queue.empty && this.#running === undefined && this.#timer === undefined;
  }

  #enqueue(change: () => void, delay: number): void {
    if (this.#closed) return;
    change();
    this.#schedule(delay);
  }

  /** Runs the queue after `delay` ms (unless it runs already, or waits to retry an unreachable destination). */
  #schedule(delay: number): void {
    if (this.#closed || this.#running !== undefined || this.#timer !== undefined) return;
    const wait = this.#offlineSince === undefined ? delay : Math.max(0, this.#nextRetry - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#drain().finally(() => {
        this.#running = undefined;
        // Offline: the retry, after its backoff. (A rename waiting for its second half is scheduled by that half.)
        if (this.#offlineSince !== undefined) this.#schedule(0);
        if (this.#isIdle()) {
          for (const resolve of this.#idleWaiters) resolve();
          this.#idleWaiters.clear();
        }
      });
    }, wait);
    if (this.#options.ref === false) this.#timer.unref();
  }

  async #drain(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const work = this.#queue.take();
      if (work === undefined) return; // empty, or a rename waiting for its second half (its arrival schedules us)
      let unreachable: Error | undefined;
      try {
        unreachable = await this.#apply(work);
      } catch (error) {
        this.#fail(error as Error);
        return;
      }
      if (this.#closed) return; // stopped by close(): nothing to retry
      if (unreachable !== undefined) {
        this.#queue.putBack(work);
        this.#goOffline(unreachable);
        return;
      }
      if (this.#offlineSince !== undefined) {
        this.#offlineSince = undefined;
        this.#failures = 0;
        this.emit('online');
      }
    }
  }

  #goOffline(error: Error): void {
    const now = Date.now();
    this.#offlineSince ??= now;
    const retryIn = Math.min(this.#maxRetryDelay, this.#retryDelay * 2 ** Math.min(this.#failures, 30));
    this.#failures += 1;
    this.#nextRetry = now + retryIn;
    this.emit('offline', error, retryIn);
  }

  /** Applies one piece of work; returns an error when the destination was unreachable (nothing to assume done). */
  async #apply(work: Work): Promise<Error | undefined> {
    if (work.kind === 'send') return this.#send(work);
    if (work.kind === 'tree') return this.#tree(work.ops);
    return this.#reconcile(work.reason);
  }

  async #send(batch: SendBatch): Promise<Error | undefined> {
    for (const [paths, deep] of [[[...batch.shallow.values()], false], [[...batch.deep.values()], true]] as const) {
      if (paths.length === 0) continue;
      this.stats.rsyncRuns += 1;
      const result = await sendPaths(this.#ctx, paths, deep, this.#abort.signal);
      if (this.#closed) return undefined;
      if (result.outcome === 'unreachable') return this.#rsyncError(result.stderr, 'EHOSTUNREACH');
      if (result.outcome === 'failed') this.emit('warning', this.#rsyncError(result.stderr, 'EIO'));
      this.stats.files += result.stats.files;
      this.#noteVanished(paths);
      this.emit('sync', { type: 'send', paths: paths.map((p) => p.text), files: result.stats.files, bytes: result.stats.literalBytes });
    }
    // Whichever of the two ran, the batch is done (a failure was reported as a warning).
    return undefined;
  }

  /** Remembers the paths of a batch that are not in the source any more (bounded: beyond it, a reconcile). */
  #noteVanished(paths: readonly RelPath[]): void {
    for (const path of paths) {
      if (fs.lstatSync(path.under(this.#sourceBytes), { throwIfNoEntry: false }) === undefined) this.#vanished.set(path.key, path);
    }
    if (this.#vanished.size > MAX_VANISHED) {
      this.#vanished.clear();
      this.#queue.reconcile('backlog');
    }
  }

  /** Forgets the vanished paths at or below `path`; true when there were any. */
  #takeVanished(path: RelPath): boolean {
    let found = false;
    for (const [key, vanished] of this.#vanished) {
      if (!path.contains(vanished)) continue;
      this.#vanished.delete(key);
      found = true;
    }
    return found;
  }

  async #tree(ops: readonly TreeOp[]): Promise<Error | undefined> {
    const result = await runTreeOps(this.#ctx, ops);
    if (result.outcome === 'unreachable') return this.#rsyncError(result.stderr, 'EHOSTUNREACH');
    const resend: RelPath[] = [];
    const cleanup: TreeOp[] = [];
    for (const [i, status] of result.statuses.entries()) {
      const op = ops[i] as TreeOp;
      if (op.type === 'delete') {
        if (status !== 'done') {
          this.emit('warning', this.#opError(op, status));
          continue;
        }
        this.stats.deletes += 1;
        this.#takeVanished(op.path);
        this.emit('sync', { type: 'delete', path: op.path.text });
      } else if (status === 'done') {
        this.stats.renames += 1;
        if (this.#takeVanished(op.from)) resend.push(op.to);
        this.emit('sync', { type: 'rename', from: op.from.text, to: op.to.text });
      } else {
        // The renamed thing was never on the destination (it was still on its way), or the rename
        // failed there: send it whole under its new name, and drop a stale copy under the old one.
        resend.push(op.to);
        if (status !== 'missing') cleanup.push({ type: 'delete', path: op.from });
      }
    }
    if (resend.length > 0) {
      const unreachable = await this.#send({ kind: 'send', shallow: new Map(), deep: new Map(resend.map((p) => [p.key, p])) });
      if (unreachable !== undefined) return unreachable;
    }
    if (cleanup.length > 0) return this.#tree(cleanup);
    return undefined;
  }

  async #reconcile(reason: ReconcileReason): Promise<Error | undefined> {
    this.stats.rsyncRuns += this.#ctx.dryRun ? 1 : 2;
    const result = await reconcile(this.#ctx, (progress) => this.emit('progress', progress, reason), this.#abort.signal);
    if (this.#closed) return undefined; // stopped by close(): rsync's status says nothing about the destination
    if (result.outcome === 'unreachable') return this.#rsyncError(result.stderr, 'EHOSTUNREACH');
    if (result.outcome === 'failed') this.emit('warning', this.#rsyncError(result.stderr, 'EIO'));
    this.stats.reconciles += 1;
    this.stats.files += result.stats.files;
    this.emit('reconcile', {
      reason, files: result.stats.files, bytes: result.stats.bytes, literalBytes: result.stats.literalBytes, changes: result.changes,
    });
    if (!this.#ready) {
      this.#ready = true;
      this.emit('ready');
      for (const waiter of this.#readyWaiters) waiter.resolve();
      this.#readyWaiters.clear();
    }
    return undefined;
  }

  #rsyncError(stderr: string, code: string): CodedError {
    const text = stderr.trim().split('\n').slice(-3).join('; ') || 'rsync failed';
    const error: CodedError = new Error(`${describeDestination(this.#ctx.destination)}: ${text}`);
    error.code = code;
    error.path = describeDestination(this.#ctx.destination);
    return error;
  }

  #opError(op: TreeOp & { type: 'delete' }, status: TreeOpStatus): CodedError {
    const why = typeof status === 'string' ? status : `rm exited with status ${status.failed}`;
    const error: CodedError = new Error(`${describeDestination(this.#ctx.destination)}: delete ${op.path.text} failed (${why})`);
    error.code = 'EIO';
    error.path = op.path.text;
    return error;
  }
}
