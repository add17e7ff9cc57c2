/** watchdog's API (Observer, handlers, events, patterns) on the Notifier. See docs/watchdog.md. */
export {
  DirCreatedEvent, DirDeletedEvent, DirModifiedEvent, DirMovedEvent, EVENT_TYPE_CLOSED, EVENT_TYPE_CLOSED_NO_WRITE, EVENT_TYPE_CREATED,
  EVENT_TYPE_DELETED, EVENT_TYPE_MODIFIED, EVENT_TYPE_MOVED, EVENT_TYPE_OPENED, FileClosedEvent, FileClosedNoWriteEvent, FileCreatedEvent,
  FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileOpenedEvent, FileSystemEvent, FileSystemMovedEvent, type FileSystemEventClass,
  type PathBytes,
} from './events.js';
export { FileSystemEventHandler, LoggingEventHandler, type EventHandlerLike, type HandlerResult, type InfoLogger } from './handlers.js';
export {
  PatternMatchingEventHandler, RegexMatchingEventHandler, type PatternMatchingOptions, type RegexMatchingOptions,
} from './matching-handlers.js';
export { ObservedWatch } from './observed-watch.js';
export { Observer, type ObserverEvents, type ObserverOptions, type ScheduleOptions } from './observer.js';
export { filter_paths, match_any_paths, type PathFilterOptions } from './patterns.js';
