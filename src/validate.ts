/** Argument checks shared by the public classes (Node's own error codes). */
import { Buffer } from 'node:buffer';
import { fileURLToPath } from 'node:url';
import { invalidArgType, invalidArgValue, outOfRange } from './errors.js';

/** A path as the library accepts it: a string, a Buffer (for names that are not UTF-8) or a file: URL. */
export type PathLike = string | Buffer | URL;

/** Checks a path argument and returns it as a string or Buffer. */
export function validatePath(path: unknown, name = 'path'): string | Buffer {
  let value: unknown = path;
  if (value instanceof URL) value = fileURLToPath(value);
  if (typeof value === 'string') {
    if (value.includes('\0')) throw invalidArgValue(name, value, 'must be a string without null bytes');
    if (value === '') throw invalidArgValue(name, value, 'must not be empty');
    return value;
  }
  if (Buffer.isBuffer(value)) {
    if (value.includes(0)) throw invalidArgValue(name, value, 'must be a Buffer without null bytes');
    if (value.length === 0) throw invalidArgValue(name, value, 'must not be empty');
    return value;
  }
  throw invalidArgType(name, 'of type string or an instance of Buffer or URL', path);
}

/**
 * Checks a watch mask: a 32-bit integer, signed or unsigned, because
 * `IN_MODIFY | IN_ONESHOT` is negative in JavaScript (IN_ONESHOT is bit 31).
 * Returns it unsigned.
 */
export function validateMask(mask: unknown, name = 'mask'): number {
  if (typeof mask !== 'number') throw invalidArgType(name, 'of type number', mask);
  if (!Number.isInteger(mask) || mask < -0x80000000 || mask > 0xffffffff) {
    throw outOfRange(name, 'a 32-bit integer (>= -2147483648 and <= 4294967295)', mask);
  }
  return mask >>> 0;
}

/** Checks a watch descriptor: a positive 32-bit integer. */
export function validateWd(wd: unknown, name = 'wd'): number {
  if (typeof wd !== 'number') throw invalidArgType(name, 'of type number', wd);
  if (!Number.isInteger(wd) || wd < 1 || wd > 0x7fffffff) throw outOfRange(name, 'an integer >= 1', wd);
  return wd;
}

/** Checks an optional function argument. */
export function validateFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
}

/** Checks an optional object argument (undefined allowed). */
export function validateOptions<T extends object>(value: unknown, name = 'options'): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object') throw invalidArgType(name, 'of type object', value);
  return value as Partial<T>;
}

/**
 * addWatch() keeps pyinotify's option names; watch() and trackTransfers()
 * take Node's. An option given under the other API's name would otherwise be
 * ignored silently (`watch(dir, { rec: false })` watching the whole tree):
 * it is an ERR_INVALID_ARG_VALUE naming the spelling to use.
 */
const PYINOTIFY_SPELLINGS: ReadonlyMap<string, string> = new Map([
  ['rec', 'recursive'], ['autoAdd', 'recursive'], ['auto_add', 'recursive'], ['excludeFilter', 'exclude'],
  ['exclude_filter', 'exclude'],
]);

/** Throws for an option of `opts` that is addWatch()'s (pyinotify's) spelling of one `fn` takes under Node's name. */
export function rejectPyinotifySpellings(opts: object, fn: string): void {
  for (const key of Object.keys(opts)) {
    const node = PYINOTIFY_SPELLINGS.get(key);
    if (node !== undefined) {
      throw invalidArgValue(`options.${key}`, (opts as Record<string, unknown>)[key],
        `is addWatch()'s (pyinotify's) spelling; ${fn} takes options.${node}`);
    }
  }
}

/** The reverse: Node's names given to addWatch() (or updateWatch(), rmWatch()), which keeps pyinotify's. */
const NODE_SPELLINGS: ReadonlyMap<string, string> = new Map([
  ['recursive', 'rec (and autoAdd for new subdirectories)'], ['exclude', 'excludeFilter'], ['ignore', 'excludeFilter'],
]);

/** Throws for an option of `opts` that is Node's spelling (watch()'s) of one `fn` takes under pyinotify's name. */
export function rejectNodeSpellings(opts: object, fn: string): void {
  for (const key of Object.keys(opts)) {
    const pyinotify = NODE_SPELLINGS.get(key);
    if (pyinotify !== undefined) {
      throw invalidArgValue(`options.${key}`, (opts as Record<string, unknown>)[key],
        `is watch()'s spelling; ${fn} keeps pyinotify's: options.${pyinotify}`);
    }
  }
}
