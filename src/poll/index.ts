/** Polling: the same events as inotify, from directory snapshots, for filesystems inotify cannot fully see. */
export { Poller, validatePollOptions, type PollOptions, type PollerEvents } from './poller.js';
export { choosePolling, validatePollOption, type PollOption, type PollingChoice } from './poll-option.js';
export { diffSnapshots, type PollChange, type PollDiff } from './diff.js';
export { takeSnapshot, type Snapshot, type SnapshotEntry, type SnapshotOptions } from './snapshot.js';
