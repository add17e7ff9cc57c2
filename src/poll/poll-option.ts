/**
 * The `poll` option of watch(), trackTransfers() and inotifyd watches: when
 * to poll a path instead of watching it with inotify, and how.
 */
import { remoteFsWarning, type RemoteFsWarning } from '../core/fs-kind.js';
import { validatePollOptions, type PollOptions } from './poller.js';

/**
 * `true`: always poll (default interval). `'auto'`: poll only a path on a
 * network or FUSE filesystem (NFS, CIFS/SMB, sshfs...: fs-kind), inotify
 * elsewhere. An object: the same as `'auto'` with these settings, or always
 * with `force: true`. `false` (the default): inotify.
 */
export type PollOption = boolean | 'auto' | PollOptions;

/** What {@link choosePolling} decided for a path. */
export interface PollingChoice {
  /** The polling settings when the path is to be polled, else undefined (inotify). */
  readonly poll: Required<PollOptions> | undefined;
  /** Set when the path is on a network or FUSE filesystem. */
  readonly remote: RemoteFsWarning | undefined;
}

/** Validates a {@link PollOption} (TypeError/RangeError with `code`, naming `name`); undefined for `false`/undefined. */
export function validatePollOption(value: unknown, name = 'options.poll'): Required<PollOptions> | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return validatePollOptions({ force: true }, name);
  if (value === 'auto') return validatePollOptions({}, name);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw Object.assign(new TypeError(`The "${name}" option must be true, false, 'auto' or an object { interval, maxEntries, force }. Received ${JSON.stringify(value) ?? String(value)}`), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  return validatePollOptions(value, name);
}

/** Decides whether `path` (absolute) is polled under `poll` (validated), and whether it is on a remote filesystem. */
export function choosePolling(path: string, poll: Required<PollOptions> | undefined): PollingChoice {
  const remote = remoteFsWarning(path);
  return { poll: poll !== undefined && (poll.force || remote !== undefined) ? poll : undefined, remote };
}
