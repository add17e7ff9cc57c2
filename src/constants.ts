/**
 * The inotify flags, with values read from <sys/inotify.h> by the addon, and
 * pyinotify's `maskname()`.
 */
import { binding } from './binding.js';
import type { NativeConstants } from './native.js';

const native: NativeConstants = binding.constants;

/** File was accessed (read). */
export const IN_ACCESS = native.IN_ACCESS;
/** File was modified (write, truncate). */
export const IN_MODIFY = native.IN_MODIFY;
/** Metadata changed: permissions, timestamps, extended attributes, link count, owner. */
export const IN_ATTRIB = native.IN_ATTRIB;
/** File opened for writing was closed. */
export const IN_CLOSE_WRITE = native.IN_CLOSE_WRITE;
/** File or directory not opened for writing was closed. */
export const IN_CLOSE_NOWRITE = native.IN_CLOSE_NOWRITE;
/** File or directory was opened. */
export const IN_OPEN = native.IN_OPEN;
/** A name was moved out of the watched directory. */
export const IN_MOVED_FROM = native.IN_MOVED_FROM;
/** A name was moved into the watched directory. */
export const IN_MOVED_TO = native.IN_MOVED_TO;
/** A file or directory was created in the watched directory. */
export const IN_CREATE = native.IN_CREATE;
/** A file or directory was deleted from the watched directory. */
export const IN_DELETE = native.IN_DELETE;
/** The watched file or directory itself was deleted. */
export const IN_DELETE_SELF = native.IN_DELETE_SELF;
/** The watched file or directory itself was moved. */
export const IN_MOVE_SELF = native.IN_MOVE_SELF;
/** The filesystem holding the watched object was unmounted. */
export const IN_UNMOUNT = native.IN_UNMOUNT;
/** The kernel event queue overflowed: events were lost (wd is -1). */
export const IN_Q_OVERFLOW = native.IN_Q_OVERFLOW;
/** The watch was removed (rm, IN_ONESHOT, deletion, unmount). */
export const IN_IGNORED = native.IN_IGNORED;
/** Only watch the path if it is a directory. */
export const IN_ONLYDIR = native.IN_ONLYDIR;
/** Do not follow a symbolic link at the end of the path. */
export const IN_DONT_FOLLOW = native.IN_DONT_FOLLOW;
/** Stop reporting events for children once they are unlinked. */
export const IN_EXCL_UNLINK = native.IN_EXCL_UNLINK;
/** Fail with EEXIST if the path is already watched (Linux 4.18). */
export const IN_MASK_CREATE = native.IN_MASK_CREATE;
/** Add to an existing watch's mask instead of replacing it. */
export const IN_MASK_ADD = native.IN_MASK_ADD;
/** Set in an event's mask when its subject is a directory. */
export const IN_ISDIR = native.IN_ISDIR;
/** Report one event, then remove the watch. */
export const IN_ONESHOT = native.IN_ONESHOT;
/** IN_CLOSE_WRITE | IN_CLOSE_NOWRITE. */
export const IN_CLOSE = native.IN_CLOSE;
/** IN_MOVED_FROM | IN_MOVED_TO. */
export const IN_MOVE = native.IN_MOVE;
/** Every event a watch can ask for (IN_ACCESS ... IN_MOVE_SELF); pyinotify's ALL_EVENTS. */
export const IN_ALL_EVENTS = native.IN_ALL_EVENTS;

/** The single-bit event flags, lowest bit first: the order `maskname()` lists them in. */
export const EVENT_FLAGS: ReadonlyArray<readonly [name: string, value: number]> = (
  [
    'IN_ACCESS', 'IN_MODIFY', 'IN_ATTRIB', 'IN_CLOSE_WRITE', 'IN_CLOSE_NOWRITE', 'IN_OPEN',
    'IN_MOVED_FROM', 'IN_MOVED_TO', 'IN_CREATE', 'IN_DELETE', 'IN_DELETE_SELF', 'IN_MOVE_SELF',
    'IN_UNMOUNT', 'IN_Q_OVERFLOW', 'IN_IGNORED',
  ] as const
).map((name) => [name, native[name]] as const);

/**
 * Every flag by name, for parsing user input such as `-e IN_CREATE,IN_CLOSE`:
 * the event flags, the combinations (IN_CLOSE, IN_MOVE, IN_ALL_EVENTS and
 * pyinotify's alias ALL_EVENTS) and the watch flags (IN_ONLYDIR ...).
 */
export const FLAGS_BY_NAME: ReadonlyMap<string, number> = new Map<string, number>([
  ...EVENT_FLAGS,
  ['IN_ONLYDIR', IN_ONLYDIR], ['IN_DONT_FOLLOW', IN_DONT_FOLLOW], ['IN_EXCL_UNLINK', IN_EXCL_UNLINK],
  ['IN_MASK_CREATE', IN_MASK_CREATE], ['IN_MASK_ADD', IN_MASK_ADD], ['IN_ISDIR', IN_ISDIR],
  ['IN_ONESHOT', IN_ONESHOT], ['IN_CLOSE', IN_CLOSE], ['IN_MOVE', IN_MOVE],
  ['IN_ALL_EVENTS', IN_ALL_EVENTS], ['ALL_EVENTS', IN_ALL_EVENTS],
]);

// The kernel produces a handful of distinct masks; naming each once keeps
// maskname() off the per-event cost.
const masknameCache = new Map<number, string>();

/**
 * pyinotify's name for an event mask: the event flag names joined by `|`,
 * with `|IN_ISDIR` last when set, e.g. `IN_CREATE|IN_ISDIR`. Unlike
 * pyinotify it never throws: a mask with several event bits names them all.
 */
export function maskname(mask: number): string {
  let name = masknameCache.get(mask);
  if (name === undefined) {
    const parts: string[] = [];
    for (const [flag, value] of EVENT_FLAGS) if (mask & value) parts.push(flag);
    if (mask & IN_ISDIR) parts.push('IN_ISDIR');
    name = parts.join('|');
    if (masknameCache.size < 4096) masknameCache.set(mask, name);
  }
  return name;
}

/**
 * Parses a comma-separated list of flag names (`IN_CREATE,IN_CLOSE_WRITE`)
 * into a mask. Unknown names throw a TypeError with code `ERR_INVALID_ARG_VALUE`.
 */
export function parseMask(list: string): number {
  let mask = 0;
  for (const raw of list.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    const value = FLAGS_BY_NAME.get(name);
    if (value === undefined) {
      const error = new TypeError(`The event '${name}' is not a valid inotify flag name`) as NodeJS.ErrnoException;
      error.code = 'ERR_INVALID_ARG_VALUE';
      throw error;
    }
    mask = (mask | value) >>> 0;
  }
  return mask;
}
