/**
 * inotify-native: Linux inotify for Node.js.
 * @packageDocumentation
 */
export * from './constants.js';
export { decodeRecords, encodeRecords, MalformedBatchError, type RawRecord } from './decode.js';
export { InotifyEvent } from './event.js';
export { ExcludeFilter, type ExcludeFilterLike, type ExcludePredicate } from './exclude-filter.js';
export { Inotify, type InotifyEvents, type InotifyOptions } from './inotify.js';
export { limits, type InotifyLimits } from './limits.js';
export { Notifier, type NotifierEvents, type NotifierOptions, type Processor } from './notifier.js';
export { ChainIfTrue, PrintAllEvents, ProcessEvent, Stats, type ChainedProcessor, type EventHook } from './process-event.js';
export type { PathLike } from './validate.js';
export { CHANGE_EVENTS, watch, type EventStream, type WatchOptions } from './watch.js';
export { WatchError, type WatchFailure } from './watch-error.js';
export { WatchManager, type AddWatchOptions, type Watch, type WatchManagerOptions } from './watch-manager.js';
export * from './transfer/index.js';
export { isOpenForWrite } from './writers.js';
export * from './tasks/index.js';
export * from './daemon/index.js';
