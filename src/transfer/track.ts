/**
 * trackTransfers(dir): the whole setup in one call: a recursive WatchManager
 * with auto-add and the mask the tracker needs, a Notifier, a TransferTracker.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { IN_CLOSE_WRITE } from '../constants.js';
import { invalidArgType, invalidArgValue, isCodedError } from '../errors.js';
import { InotifyEvent } from '../event.js';
import { Notifier } from '../notifier.js';
import { compileExclude, type ExcludeOption } from '../pattern.js';
import { choosePolling, Poller, validatePollOption, type PollOption, type PollOptions } from '../poll/index.js';
import { rejectPyinotifySpellings, validateOptions, validatePath, type PathLike } from '../validate.js';
import type { WatchManager } from '../watch-manager.js';
import { watchTree } from '../watch-tree.js';
import { compileFilter } from './names.js';
import { TransferTracker } from './tracker.js';
import { TRANSFER_EVENTS, type TransferTrackerOptions } from './types.js';

/** Options of {@link trackTransfers}: the tracker's, plus how to watch. */
export interface TrackTransfersOptions extends TransferTrackerOptions {
  /** Watch the whole tree, including directories created later (default true). */
  recursive?: boolean;
  /**
   * Paths neither watched nor reported (directories excluded here cost no
   * watch), in the pattern language of docs/patterns.md (relative patterns
   * are relative to `dir`).
   */
  exclude?: ExcludeOption;
  /** Follow symbolic links to directories while walking (default false). */
  followSymlinks?: boolean;
  /** Closes the tracker (and stops watching) when aborted. */
  signal?: AbortSignal;
  /** Keep the process alive while watching (default true). */
  ref?: boolean;
  /**
   * After a kernel queue overflow, re-read the tree so that nothing that
   * arrived in the blind spot is lost (default true; see docs/transfers.md
   * and `NotifierOptions.rescan` for what it costs). With false, arrivals in
   * the blind spot are missed; the 'overflow' event is emitted either way.
   */
  rescan?: boolean;
  /**
   * Also report the files already in the tree when watching starts: each
   * once, as `found`, after `quietPeriod` with no event on it (a file still
   * being written waits for its writer). Default false: only what arrives.
   */
  reportExisting?: boolean;
  /**
   * Poll instead of inotify: `'auto'` (or `{ interval, maxEntries }`) polls
   * `dir` only when it is on a network or FUSE filesystem, where inotify
   * misses other machines' writes; `true` (or `{ force: true }`) always.
   * Default false. Polling sees no closes: a file is closed for the tracker
   * once a poll finds it unchanged. Not with `reportExisting` or
   * `followSymlinks`. Cost and limits: docs/RELIABILITY.md.
   */
  poll?: PollOption;
}

/**
 * Watches `dir` (recursively by default) and reports each file that arrives
 * in it once, complete, under its final name. Returns the tracker: listen to
 * 'complete' (and 'start', 'abandoned', 'error', 'warning'), or iterate over it;
 * `close()` stops watching. Setup errors (ENOENT, ENOSPC, ...) are thrown.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * const incoming = trackTransfers('/srv/incoming', { filter: '*.raw', signal: ac.signal });
 * for await (const file of incoming) {
 *   console.log(`${file.pathname}: ${file.size} bytes via ${file.via}`);
 * }
 * ```
 */
export function trackTransfers(dir: PathLike, options?: TrackTransfersOptions): TransferTracker {
  const target = validatePath(dir, 'dir');
  const opts = validateOptions<TrackTransfersOptions>(options);
  rejectPyinotifySpellings(opts, 'trackTransfers()');
  const signal = opts.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  if (opts.ref !== undefined && typeof opts.ref !== 'boolean') throw invalidArgType('options.ref', 'of type boolean', opts.ref);
  // The filter's relative patterns are relative to the watched directory.
  const root = nodePath.resolve(typeof target === 'string' ? target : target.toString('utf8'));
  const filter = compileFilter(opts.filter, [root]);
  const tracker = new TransferTracker(filter === undefined ? opts : { ...opts, filter });
  const recursive = opts.recursive !== false;
  if (opts.rescan !== undefined && typeof opts.rescan !== 'boolean') throw invalidArgType('options.rescan', 'of type boolean', opts.rescan);
  const rescan = opts.rescan !== false;
  const { poll, remote } = choosePolling(root, validatePollOption(opts.poll));
  if (poll !== undefined) return pollTree(tracker, root, poll, opts, remote);
  // Listings are kept from the first walk on, so the rescan costs no second walk.
  const wm = watchTree(target, TRANSFER_EVENTS, { recursive, exclude: opts.exclude, followSymlinks: opts.followSymlinks, trackEntries: rescan });
  const notifier = new Notifier(wm, tracker, { ref: opts.ref, rescan });
  const onAbort = (): void => {
    void tracker.close();
  };
  const owner = tracker._own(async () => {
    signal?.removeEventListener('abort', onAbort);
    await notifier.close();
  }, rescan);
  // A directory that could not be watched leaves the rest watched: a 'warning'.
  // A failed read, or anything else: the tracker's 'error' (ends iterations).
  notifier.on('error', (error) => {
    const syscall = isCodedError(error) ? error.syscall : undefined;
    if (syscall !== undefined && syscall !== 'read') owner.warn(error);
    else owner.fail(error);
  });
  notifier.once('close', () => owner.shutdown());
  // On NFS, CIFS, FUSE...: inotify misses changes made elsewhere; say so (next turn, once listeners exist).
  if (remote !== undefined) setImmediate(() => owner.warn(remote));
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.reportExisting === true) {
    // On the next turn: listeners added right after this call see the 'start's too.
    const exclude = compileExclude(opts.exclude, { roots: [root], name: 'options.exclude' });
    setImmediate(() => reportExisting(tracker, wm, exclude));
  }
  return tracker;
}

/** trackTransfers over a {@link Poller}: the same tracker, fed from snapshots. */
function pollTree(tracker: TransferTracker, root: string, poll: Required<PollOptions>, opts: TrackTransfersOptions, remote: Error | undefined): TransferTracker {
  for (const key of ['reportExisting', 'followSymlinks'] as const) {
    if (opts[key] === true) throw invalidArgValue(`options.${key}`, true, `cannot be used while polling ${root} (the first poll is the baseline, and polling does not follow links)`);
  }
  const exclude = compileExclude(opts.exclude, { roots: [root], name: 'options.exclude' });
  // The baseline is taken here: ENOENT, EACCES... are thrown at setup, as with inotify.
  const poller = new Poller(root, { ...poll, recursive: opts.recursive !== false, exclude, ref: opts.ref });
  poller.on('event', (event) => tracker.dispatch(event));
  const signal = opts.signal;
  const onAbort = (): void => {
    void tracker.close();
  };
  const owner = tracker._own(async () => {
    signal?.removeEventListener('abort', onAbort);
    poller.close();
  }, true); // every poll is a whole snapshot: nothing is left unseen after a gap
  poller.on('warning', (warning) => owner.warn(warning));
  poller.on('error', (error) => owner.fail(error));
  poller.once('close', () => owner.shutdown());
  if (remote !== undefined) setImmediate(() => owner.warn(remote));
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return tracker;
}

/**
 * @deprecated `trackTransfers(dir, { poll: options.poll ?? 'auto', ...options })`: the same thing.
 */
export function pollTransfers(dir: PathLike, options: TrackTransfersOptions = {}): TransferTracker {
  return trackTransfers(dir, { ...options, poll: options.poll ?? 'auto' });
}

/** Feeds the tracker one synthetic close for each regular file in the watched directories. */
function reportExisting(tracker: TransferTracker, wm: WatchManager, exclude: ((pathname: string) => boolean) | undefined): void {
  for (const watch of [...wm.watches.values()]) {
    if (tracker.closed) return;
    if (!watch.dir || watch.pathBytes !== undefined) continue;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(watch.path, { withFileTypes: true });
    } catch {
      continue; // gone since it was watched: its events say so
    }
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const pathname = watch.path === '/' ? `/${entry.name}` : `${watch.path}/${entry.name}`;
      if (exclude?.(pathname) === true) continue;
      tracker._existing(new InotifyEvent(watch.wd, IN_CLOSE_WRITE, entry.name, watch.path, pathname, false, 0, undefined, true));
    }
  }
}
