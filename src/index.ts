/**
 * inotify-native: Linux inotify for Node.js.
 * @packageDocumentation
 */
export * from './constants.js';
export { decodeRecords, encodeRecords, MalformedBatchError, type RawRecord } from './decode.js';
export { InotifyEvent } from './event.js';
export { ExcludeFilter, type ExcludeFilterLike, type ExcludePredicate } from './exclude-filter.js';
export { globToRegExp, type ExcludeOption, type PathPattern, type PathPatterns } from './pattern.js';
export { Inotify, type InotifyEvents, type InotifyOptions } from './inotify.js';
export { limits, type InotifyLimits } from './limits.js';
export { Notifier, type NotifierEvents, type NotifierOptions, type Processor } from './notifier.js';
export {
  ChainIfTrue, HOOK_NAMES, PrintAllEvents, ProcessEvent, Stats, type ChainedProcessor, type EventHook, type KnownProcessEventHooks,
  type ProcessEventHooks,
} from './process-event.js';
export type { PathLike } from './validate.js';
export type { CoalesceOptions, EventBatch, PathChange } from './coalesce.js';
export {
  CHANGE_EVENTS, watch, type BatchStream, type CoalescedWatchOptions, type EventStream, type PolledCoalescedWatchOptions, type PolledStream, type PolledWatchOptions, type WatchOptions,
} from './watch.js';
export { WatchError, type WatchFailure } from './watch-error.js';
export { WatchManager, type AddWatchOptions, type Watch, type WatchManagerOptions } from './watch-manager.js';
export * from './transfer/index.js';
export { isOpenForWrite } from './writers.js';
export * from './tasks/index.js';
export * from './daemon/index.js';
export * from './compat/index.js';
export * from './mirror/index.js';
export * from './forward/index.js';
export { REMOTE_FS_TYPES, fsKind, fsTypeName, remoteFsWarning, type FsKind, type RemoteFsWarning } from './core/fs-kind.js';
export * from './poll/index.js';
