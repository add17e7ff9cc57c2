/**
 * pollTransfers: trackTransfers() over a Poller instead of inotify, for a
 * directory on a network or FUSE filesystem. The same tracker, the same
 * 'start' / 'complete' / 'abandoned' events.
 */
import { resolve } from 'node:path';
import { remoteFsWarning } from '../core/fs-kind.js';
import { invalidArgValue } from '../errors.js';
import { compileExclude } from '../pattern.js';
import { TransferTracker, trackTransfers, type TrackTransfersOptions } from '../transfer/index.js';
import { compileFilter } from '../transfer/names.js';
import { Poller, validatePollOptions, type PollOptions } from './poller.js';

/** Options of {@link pollTransfers}: trackTransfers' (but `reportExisting`, `followSymlinks`), and polling's. */
export interface PollTransfersOptions extends Omit<TrackTransfersOptions, 'reportExisting' | 'followSymlinks'> {
  poll?: PollOptions;
}

/**
 * Tracks transfers into `dir` by polling when `dir` is on a network or FUSE
 * filesystem (or `poll.force`), and with inotify otherwise. Polling cannot
 * see closes: a file is closed (IN_CLOSE_WRITE) for the tracker once one
 * poll found it unchanged, then complete after `settleTime`.
 */
export function pollTransfers(dir: string, options: PollTransfersOptions = {}): TransferTracker {
  const { poll: pollOption, ...trackOptions } = options;
  const poll = validatePollOptions(pollOption ?? {}, 'options.poll');
  const root = resolve(dir);
  const remote = remoteFsWarning(root);
  if (!poll.force && remote === undefined) return trackTransfers(root, trackOptions);
  if ((options as TrackTransfersOptions).reportExisting === true) throw invalidArgValue('options.reportExisting', true, 'cannot be used with polling (the first poll is the baseline)');
  const filter = compileFilter(trackOptions.filter, [root]);
  const tracker = new TransferTracker(filter === undefined ? trackOptions : { ...trackOptions, filter });
  const exclude = compileExclude(trackOptions.exclude, { roots: [root], name: 'options.exclude' });
  const poller = new Poller(root, { ...poll, recursive: trackOptions.recursive !== false, exclude, ref: trackOptions.ref });
  poller.on('event', (event) => tracker.dispatch(event));
  const signal = trackOptions.signal;
  const onAbort = (): void => {
    void tracker.close();
  };
  const owner = tracker._own(async () => {
    signal?.removeEventListener('abort', onAbort);
    poller.close();
    await poller.ready.catch(() => undefined);
  }, true); // every poll is a whole snapshot: nothing is left unseen after a gap
  poller.ready.catch((error: Error) => owner.fail(error));
  poller.on('warning', (warning) => owner.warn(warning));
  poller.on('error', (error) => owner.fail(error));
  poller.once('close', () => owner.shutdown());
  if (remote !== undefined) setImmediate(() => owner.warn(remote));
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return tracker;
}
