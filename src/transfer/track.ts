/**
 * trackTransfers(dir): the whole setup in one call: a recursive WatchManager
 * with auto-add and the mask the tracker needs, a Notifier, a TransferTracker.
 */
import { isCodedError } from '../errors.js';
import type { ExcludeFilterLike } from '../exclude-filter.js';
import { Notifier } from '../notifier.js';
import { validateOptions, validatePath, type PathLike } from '../validate.js';
import { watchTree } from '../watch-tree.js';
import { TransferTracker } from './tracker.js';
import { TRANSFER_EVENTS, type TransferTrackerOptions } from './types.js';

/** Options of {@link trackTransfers}: the tracker's, plus how to watch. */
export interface TrackTransfersOptions extends TransferTrackerOptions {
  /** Watch the whole tree, including directories created later (default true). */
  recursive?: boolean;
  /** Paths neither watched nor reported (directories excluded here cost no watch). */
  exclude?: ExcludeFilterLike;
  /** Follow symbolic links to directories while walking (default false). */
  followSymlinks?: boolean;
  /** Closes the tracker (and stops watching) when aborted. */
  signal?: AbortSignal;
  /** Keep the process alive while watching (default true). */
  ref?: boolean;
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
  const signal = opts.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('The "options.signal" property must be an AbortSignal');
  const tracker = new TransferTracker(opts);
  const recursive = opts.recursive !== false;
  const wm = watchTree(target, TRANSFER_EVENTS, { recursive, exclude: opts.exclude, followSymlinks: opts.followSymlinks });
  const notifier = new Notifier(wm, tracker, { ref: opts.ref });
  const onAbort = (): void => {
    void tracker.close();
  };
  const owner = tracker._own(async () => {
    signal?.removeEventListener('abort', onAbort);
    await notifier.close();
  });
  // A directory that could not be watched leaves the rest watched: a 'warning'.
  // A failed read, or anything else: the tracker's 'error' (ends iterations).
  notifier.on('error', (error) => {
    const syscall = isCodedError(error) ? error.syscall : undefined;
    if (syscall !== undefined && syscall !== 'read') owner.warn(error);
    else owner.fail(error);
  });
  notifier.once('close', () => owner.shutdown());
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return tracker;
}
