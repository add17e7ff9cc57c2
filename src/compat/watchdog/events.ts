/**
 * watchdog's event classes (`watchdog.events`), with its field names kept in
 * snake_case so that a handler ports line for line: `event.src_path`,
 * `event.dest_path`, `event.event_type`, `event.is_directory`,
 * `event.is_synthetic`.
 */
import { Buffer } from 'node:buffer';

/** watchdog's `EVENT_TYPE_*` values: what `event_type` holds and which `on_<event_type>` method runs. */
export const EVENT_TYPE_MOVED = 'moved';
export const EVENT_TYPE_DELETED = 'deleted';
export const EVENT_TYPE_CREATED = 'created';
export const EVENT_TYPE_MODIFIED = 'modified';
export const EVENT_TYPE_CLOSED = 'closed';
export const EVENT_TYPE_CLOSED_NO_WRITE = 'closed_no_write';
export const EVENT_TYPE_OPENED = 'opened';

/** Exact path bytes, for paths that are not valid UTF-8 (the string form then shows U+FFFD). */
export interface PathBytes {
  readonly src?: Buffer | undefined;
  readonly dest?: Buffer | undefined;
}

/**
 * A file system event, immutable (frozen) like watchdog's dataclass.
 * `String(event)` is watchdog's repr:
 * `FileCreatedEvent(src_path='/w/a', dest_path='', event_type='created', is_directory=False, is_synthetic=False)`.
 */
export class FileSystemEvent {
  /** What the subclass reports: `created`, `deleted`, `modified`, `moved`, `closed`, `closed_no_write`, `opened`. */
  static readonly event_type: string = '';
  /** Whether the subclass is about directories (the `Dir*Event` classes). */
  static readonly is_directory: boolean = false;

  /** The event's path; for a move, where the entry was. */
  readonly src_path: string;
  /** For a move, where the entry went; '' otherwise. */
  readonly dest_path: string;
  /** One of the `EVENT_TYPE_*` values. */
  readonly event_type: string;
  /** True when the event is about a directory. */
  readonly is_directory: boolean;
  /**
   * True for events the library inferred rather than read from the kernel:
   * the contents of a directory created or moved in (found by scanning it),
   * the children of a moved directory, changes found by a rescan after an
   * overflow.
   */
  readonly is_synthetic: boolean;
  readonly #bytes: PathBytes | undefined;

  constructor(src_path: string, dest_path = '', is_synthetic = false, bytes?: PathBytes) {
    const kind = new.target as typeof FileSystemEvent;
    this.src_path = src_path;
    this.dest_path = dest_path;
    this.event_type = kind.event_type;
    this.is_directory = kind.is_directory;
    this.is_synthetic = is_synthetic;
    this.#bytes = bytes?.src !== undefined || bytes?.dest !== undefined ? bytes : undefined;
    Object.freeze(this);
  }

  /** The exact bytes of `src_path` (differs from `Buffer.from(src_path)` only for names that are not valid UTF-8). */
  get src_path_bytes(): Buffer {
    return this.#bytes?.src ?? Buffer.from(this.src_path);
  }

  /** The exact bytes of `dest_path`. */
  get dest_path_bytes(): Buffer {
    return this.#bytes?.dest ?? Buffer.from(this.dest_path);
  }

  /** Same class and same fields: what watchdog's dataclass equality compares. */
  equals(other: FileSystemEvent): boolean {
    return other.constructor === this.constructor && other.src_path === this.src_path && other.dest_path === this.dest_path
      && other.is_synthetic === this.is_synthetic;
  }

  /** watchdog's repr, e.g. `FileMovedEvent(src_path='/w/a', dest_path='/w/b', event_type='moved', is_directory=False, is_synthetic=False)`. */
  toString(): string {
    return `${this.constructor.name}(src_path=${pyRepr(this.src_path)}, dest_path=${pyRepr(this.dest_path)}, `
      + `event_type=${pyRepr(this.event_type)}, is_directory=${pyBool(this.is_directory)}, is_synthetic=${pyBool(this.is_synthetic)})`;
  }

  /** A plain object for JSON output. */
  toJSON(): Record<string, unknown> {
    return {
      event_type: this.event_type, src_path: this.src_path, dest_path: this.dest_path, is_directory: this.is_directory,
      is_synthetic: this.is_synthetic,
    };
  }
}

/** Any movement: `dest_path` is where the entry went. */
export class FileSystemMovedEvent extends FileSystemEvent {
  static override readonly event_type: string = EVENT_TYPE_MOVED;
}

/** A file was deleted (or moved out of the watched tree). */
export class FileDeletedEvent extends FileSystemEvent {
  static override readonly event_type: string = EVENT_TYPE_DELETED;
}

/** A file's contents or attributes changed (IN_MODIFY, IN_ATTRIB). */
export class FileModifiedEvent extends FileSystemEvent {
  static override readonly event_type: string = EVENT_TYPE_MODIFIED;
}

/** A file was created (or moved in from outside the watched tree). */
export class FileCreatedEvent extends FileSystemEvent {
  static override readonly event_type: string = EVENT_TYPE_CREATED;
}

/** A file was renamed inside the watched tree. */
export class FileMovedEvent extends FileSystemMovedEvent {}

/** A file opened for writing was closed (IN_CLOSE_WRITE). */
export class FileClosedEvent extends FileSystemEvent {
  static override readonly event_type: string = EVENT_TYPE_CLOSED;
}

/** A file opened read-only was closed (IN_CLOSE_NOWRITE). */
export class FileClosedNoWriteEvent extends FileSystemEvent {
  static override readonly event_type: string = EVENT_TYPE_CLOSED_NO_WRITE;
}

/** A file was opened (IN_OPEN). */
export class FileOpenedEvent extends FileSystemEvent {
  static override readonly event_type: string = EVENT_TYPE_OPENED;
}

/** A directory was deleted (or moved out of the watched tree; or the watched root itself went away). */
export class DirDeletedEvent extends FileSystemEvent {
  static override readonly event_type: string = EVENT_TYPE_DELETED;
  static override readonly is_directory: boolean = true;
}

/** A directory changed: an entry was added, removed or renamed in it, or its attributes changed. */
export class DirModifiedEvent extends FileSystemEvent {
  static override readonly event_type: string = EVENT_TYPE_MODIFIED;
  static override readonly is_directory: boolean = true;
}

/** A directory was created (or moved in from outside the watched tree). */
export class DirCreatedEvent extends FileSystemEvent {
  static override readonly event_type: string = EVENT_TYPE_CREATED;
  static override readonly is_directory: boolean = true;
}

/** A directory was renamed inside the watched tree. */
export class DirMovedEvent extends FileSystemMovedEvent {
  static override readonly is_directory: boolean = true;
}

/** A constructor of one of the event classes (what `event_filter` lists). */
export type FileSystemEventClass = new (src_path: string, dest_path?: string, is_synthetic?: boolean, bytes?: PathBytes) => FileSystemEvent;

function pyBool(value: boolean): string {
  return value ? 'True' : 'False';
}

/** Python's repr of a str: single quotes unless the text holds one and no double quote. */
function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (char === '\\' || char === quote) out += `\\${char}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return out + quote;
}
