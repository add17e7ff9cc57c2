/** watchdog's `ObservedWatch`: the handle `Observer.schedule()` returns. */
import type { FileSystemEventClass } from './events.js';

/**
 * One scheduled watch: a path, whether it is recursive, and which event
 * classes it reports. Scheduling the same (path, recursive, event_filter)
 * again returns an equal watch and adds the handler to it, as in watchdog.
 */
export class ObservedWatch {
  /** The watched path, as given (resolved to an absolute path). */
  readonly path: string;
  /** Whether subdirectories (and those created or moved in later) are watched. */
  readonly is_recursive: boolean;
  /** The event classes reported (`undefined`: all of them). */
  readonly event_filter: ReadonlySet<FileSystemEventClass> | undefined;
  /** Whether symbolic links to directories are followed (the root and, when recursive, the walk). */
  readonly follow_symlink: boolean;

  constructor(path: string, options: { recursive: boolean; event_filter?: readonly FileSystemEventClass[] | undefined; follow_symlink?: boolean }) {
    this.path = path;
    this.is_recursive = options.recursive;
    this.event_filter = options.event_filter === undefined ? undefined : new Set(options.event_filter);
    this.follow_symlink = options.follow_symlink === true;
    Object.freeze(this);
  }

  /** Identifies the watch: equal keys are the same watch (watchdog's `(path, recursive, event_filter)`). */
  get key(): string {
    const filter = this.event_filter === undefined ? '' : [...this.event_filter].map((c) => c.name).sort().join('|');
    return JSON.stringify([this.path, this.is_recursive, filter, this.follow_symlink]);
  }

  /** watchdog's repr: `<ObservedWatch: path='/w', is_recursive=True>`. */
  toString(): string {
    const filter = this.event_filter === undefined ? '' : `, event_filter=${[...this.event_filter].map((c) => c.name).sort().join('|')}`;
    return `<ObservedWatch: path='${this.path}', is_recursive=${this.is_recursive ? 'True' : 'False'}${filter}>`;
  }
}
