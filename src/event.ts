/** The event users receive: pyinotify's Event, with Node conventions. */
import { Buffer } from 'node:buffer';
import { maskname } from './constants.js';

// The fields most events leave at their defaults, kept apart so the common
// event is 7 slots (80 bytes: Node's V8 has 8-byte fields) instead of 11
// (112 bytes). Allocation per event is time on a long drain: scavenges, and
// page faults on fresh young-generation pages.
interface Rare {
  readonly cookie: number;
  readonly srcPathname: string | undefined;
  readonly synthetic: boolean;
  readonly nameBytes: Buffer | undefined;
  readonly pathBytes: Buffer | undefined;
}

/**
 * One inotify event resolved to paths. Field names follow pyinotify
 * (`pathname`, `maskname`, `dir`, `cookie`); `srcPathname` is pyinotify's
 * `src_pathname`.
 *
 * `wd`, `mask`, `name`, `path`, `pathname` and `dir` are own properties;
 * `cookie`, `srcPathname`, `synthetic`, `nameBytes`, `pathBytes` and
 * `maskname` are getters on the prototype (same values, but `{ ...event }`
 * and `Object.keys(event)` do not include them: use {@link InotifyEvent.toJSON}
 * for a plain object).
 */
export class InotifyEvent {
  /** The watch descriptor the event arrived on (-1 for IN_Q_OVERFLOW). */
  readonly wd: number;
  /** The raw event mask, IN_ISDIR included. */
  readonly mask: number;
  /** The entry's name in the watched directory; '' for events on the watched path itself. */
  readonly name: string;
  /** The path of the watch the event arrived on. */
  readonly path: string;
  /** The full path of the event's subject: `path` + '/' + `name`, or `path` when `name` is ''. */
  readonly pathname: string;
  /** True when the subject is a directory (for *_SELF events: whether the watched path was one). */
  readonly dir: boolean;
  readonly #rare: Rare | undefined;

  constructor(
    wd: number, mask: number, name: string, path: string, pathname: string, dir: boolean,
    cookie = 0, srcPathname?: string, synthetic = false, nameBytes?: Buffer, pathBytes?: Buffer,
  ) {
    this.wd = wd;
    this.mask = mask;
    this.name = name;
    this.path = path;
    this.pathname = pathname;
    this.dir = dir;
    this.#rare = cookie !== 0 || srcPathname !== undefined || synthetic || nameBytes !== undefined || pathBytes !== undefined
      ? { cookie, srcPathname, synthetic, nameBytes, pathBytes }
      : undefined;
  }

  /** Links IN_MOVED_FROM and IN_MOVED_TO of one rename; 0 for other events. */
  get cookie(): number {
    return this.#rare?.cookie ?? 0;
  }

  /** On an IN_MOVED_TO paired with its IN_MOVED_FROM: where the entry came from. */
  get srcPathname(): string | undefined {
    return this.#rare?.srcPathname;
  }

  /** True for events the library made up (entries found by scanning a new directory), never seen from the kernel. */
  get synthetic(): boolean {
    return this.#rare?.synthetic ?? false;
  }

  /** The exact bytes of `name` when they are not valid UTF-8 (then `name` shows U+FFFD for the bad bytes). */
  get nameBytes(): Buffer | undefined {
    return this.#rare?.nameBytes;
  }

  /** The exact bytes of `path` when they are not valid UTF-8. */
  get pathBytes(): Buffer | undefined {
    return this.#rare?.pathBytes;
  }

  /**
   * The exact bytes of `pathname`, for names that are not valid UTF-8:
   * `fs.readFileSync(event.pathnameBytes())` opens the file whatever its name.
   */
  pathnameBytes(): Buffer {
    if (this.nameBytes === undefined && this.pathBytes === undefined) return Buffer.from(this.pathname);
    const path = this.pathBytes ?? Buffer.from(this.path);
    if (this.name === '') return path;
    const separator = this.path === '/' ? [] : [Buffer.from('/')];
    return Buffer.concat([path, ...separator, this.nameBytes ?? Buffer.from(this.name)]);
  }

  /** pyinotify's name for the mask, e.g. `IN_CREATE|IN_ISDIR`. */
  get maskname(): string {
    return maskname(this.mask);
  }

  /**
   * pyinotify's line for this event, byte for byte:
   * `<Event dir=False mask=0x100 maskname=IN_CREATE name=a.txt path=/w pathname=/w/a.txt wd=1 >`.
   * Keys are sorted; `cookie` appears on moves and `src_pathname` on a paired IN_MOVED_TO.
   */
  toString(): string {
    if (this.wd === -1) return `<Event mask=0x${this.mask.toString(16)} maskname=${this.maskname} >`;
    const fields: string[] = [];
    if (this.cookie !== 0) fields.push(`cookie=${this.cookie}`);
    fields.push(
      `dir=${this.dir ? 'True' : 'False'}`,
      `mask=0x${this.mask.toString(16)}`,
      `maskname=${this.maskname}`,
      `name=${this.name === '' ? "''" : this.name}`,
      `path=${this.path}`,
      `pathname=${this.pathname}`,
    );
    if (this.srcPathname !== undefined) fields.push(`src_pathname=${this.srcPathname}`);
    fields.push(`wd=${this.wd}`);
    return `<Event ${fields.join(' ')} >`;
  }

  /** A plain object for JSON output (`JSON.stringify(event)`). */
  toJSON(): Record<string, unknown> {
    return {
      wd: this.wd, mask: this.mask, maskname: this.maskname, name: this.name, path: this.path,
      pathname: this.pathname, dir: this.dir, cookie: this.cookie, srcPathname: this.srcPathname,
      synthetic: this.synthetic,
    };
  }
}

/**
 * {@link joinPath} for a run of events, most of them on the same watch:
 * `path + '/'` is made once per path, so each pathname is one string
 * concatenation (one ConsString) instead of two. Less garbage per event
 * means fewer scavenges on a long drain.
 */
export class PathJoiner {
  #path = '';
  #prefix = '';

  join(path: string, name: string): string {
    if (name === '') return path;
    // Same string object: a pointer comparison. A re-pathed watch has a new one.
    if (path !== this.#path) {
      this.#path = path;
      this.#prefix = path === '/' ? '/' : `${path}/`;
    }
    return this.#prefix + name;
  }
}

/** Joins a watch path and an entry name the way every event pathname is built. */
export function joinPath(path: string, name: string): string {
  if (name === '') return path;
  return path === '/' ? `/${name}` : `${path}/${name}`;
}
