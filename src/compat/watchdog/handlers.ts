/**
 * watchdog's `FileSystemEventHandler` and `LoggingEventHandler`: override the
 * `on_*` methods you need, with watchdog's snake_case names, so that a
 * Python handler ports line for line.
 */
import { isPromiseLike } from '../../fan-out.js';
import type {
  DirCreatedEvent, DirDeletedEvent, DirModifiedEvent, DirMovedEvent, FileClosedEvent, FileClosedNoWriteEvent, FileCreatedEvent,
  FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileOpenedEvent, FileSystemEvent,
} from './events.js';
import type { ObservedWatch } from './observed-watch.js';

/** What a handler method may return: nothing, or a promise the observer waits for on `stop()` (a rejection is an error). */
export type HandlerResult = void | Promise<void>;

/** The one method the Observer calls: any object with `dispatch(event)` can be scheduled. */
export interface EventHandlerLike {
  dispatch(event: FileSystemEvent): unknown;
  /** Optional: the kernel's event queue overflowed for this watch (see {@link FileSystemEventHandler.on_overflow}). */
  on_overflow?(watch: ObservedWatch): unknown;
}

/**
 * The base handler: `dispatch(event)` calls `on_any_event(event)`, then
 * `on_<event.event_type>(event)`. Every method does nothing by default.
 * A method may be `async`: the Observer does not wait for it before the next
 * event, tracks it until `stop()` settles, and reports a rejection as an
 * error (see the Observer's 'error' event).
 *
 * @example
 * ```ts
 * class MyEventHandler extends FileSystemEventHandler {
 *   override on_any_event(event: FileSystemEvent): void {
 *     console.log(String(event));
 *   }
 * }
 * ```
 */
export class FileSystemEventHandler implements EventHandlerLike {
  /** Calls `on_any_event(event)`, then `on_<event_type>(event)`; returns a promise when either did. */
  dispatch(event: FileSystemEvent): HandlerResult {
    const any = this.on_any_event(event);
    const method = (this as unknown as Record<string, unknown>)[`on_${event.event_type}`];
    const specific = typeof method === 'function' ? (method as (event: FileSystemEvent) => unknown).call(this, event) : undefined;
    if (!isPromiseLike(any) && !isPromiseLike(specific)) return undefined;
    return Promise.all([any, specific]).then(() => undefined);
  }

  /** Every event, before its specific method. */
  on_any_event(_event: FileSystemEvent): HandlerResult {}

  /** A file or directory was renamed inside the watched tree (`src_path` → `dest_path`). */
  on_moved(_event: DirMovedEvent | FileMovedEvent): HandlerResult {}

  /** A file or directory was created, or moved in from outside the watched tree. */
  on_created(_event: DirCreatedEvent | FileCreatedEvent): HandlerResult {}

  /** A file or directory was deleted, or moved out of the watched tree. */
  on_deleted(_event: DirDeletedEvent | FileDeletedEvent): HandlerResult {}

  /** A file was written or its attributes changed; a directory's entries or attributes changed. */
  on_modified(_event: DirModifiedEvent | FileModifiedEvent): HandlerResult {}

  /** A file opened for writing was closed. */
  on_closed(_event: FileClosedEvent): HandlerResult {}

  /** A file opened read-only was closed. */
  on_closed_no_write(_event: FileClosedNoWriteEvent): HandlerResult {}

  /** A file was opened. */
  on_opened(_event: FileOpenedEvent): HandlerResult {}

  /**
   * Not in watchdog (which drops the kernel's IN_Q_OVERFLOW silently): the
   * kernel's event queue overflowed for `watch`, so events were lost. The
   * Observer then re-reads the watched tree (unless `rescan: false`) and
   * reports what it finds created or deleted as synthetic events; changes to
   * existing files are not recoverable. Override it to resynchronise.
   */
  on_overflow(_watch: ObservedWatch): HandlerResult {}
}

/** Where {@link LoggingEventHandler} writes: anything with `info(message)` (`console`, a pino or winston logger). */
export interface InfoLogger {
  info(message: string): void;
}

/**
 * Logs every event with watchdog's messages (`Created file: /w/a`,
 * `Moved directory: from /w/a to /w/b`, ...) to `logger.info`
 * (default: `console`).
 */
export class LoggingEventHandler extends FileSystemEventHandler {
  /** Where the lines go. */
  readonly logger: InfoLogger;

  constructor(options: { logger?: InfoLogger } = {}) {
    super();
    this.logger = options.logger ?? console;
  }

  override on_moved(event: DirMovedEvent | FileMovedEvent): void {
    this.logger.info(`Moved ${what(event)}: from ${event.src_path} to ${event.dest_path}`);
  }

  override on_created(event: DirCreatedEvent | FileCreatedEvent): void {
    this.logger.info(`Created ${what(event)}: ${event.src_path}`);
  }

  override on_deleted(event: DirDeletedEvent | FileDeletedEvent): void {
    this.logger.info(`Deleted ${what(event)}: ${event.src_path}`);
  }

  override on_modified(event: DirModifiedEvent | FileModifiedEvent): void {
    this.logger.info(`Modified ${what(event)}: ${event.src_path}`);
  }

  override on_closed(event: FileClosedEvent): void {
    this.logger.info(`Closed modified file: ${event.src_path}`);
  }

  override on_closed_no_write(event: FileClosedNoWriteEvent): void {
    this.logger.info(`Closed read file: ${event.src_path}`);
  }

  override on_opened(event: FileOpenedEvent): void {
    this.logger.info(`Opened file: ${event.src_path}`);
  }
}

function what(event: FileSystemEvent): string {
  return event.is_directory ? 'directory' : 'file';
}
