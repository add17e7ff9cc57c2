/**
 * pyinotify's ExcludeFilter: which paths the library neither watches nor
 * reports. Applied when adding watches (an excluded directory is not watched
 * and not descended into, which saves watches) and to every event's pathname.
 */
import * as fs from 'node:fs';
import { invalidArgType } from './errors.js';

/** Returns true for a path that must be excluded. */
export type ExcludePredicate = (pathname: string) => boolean;

/**
 * What an `excludeFilter` option accepts: a predicate, a list of RegExp or
 * pattern strings, or an {@link ExcludeFilter}.
 */
export type ExcludeFilterLike = ExcludePredicate | ReadonlyArray<RegExp | string> | ExcludeFilter;

/**
 * A list of regular expressions; a path is excluded when any of them
 * matches. String patterns match at the start of the path, as Python's
 * `re.match` does in pyinotify; RegExp objects are used as given.
 *
 * @example
 * ```ts
 * new ExcludeFilter([/\/node_modules(\/|$)/, '^/srv/www/cache'])
 * ExcludeFilter.fromFile('/etc/myapp/exclude.lst') // one pattern per line, # comments
 * ```
 */
export class ExcludeFilter {
  readonly patterns: readonly RegExp[];

  /**
   * @param patterns the patterns, or the path of a file of patterns (as
   * pyinotify's `ExcludeFilter(filename)`; see {@link ExcludeFilter.fromFile}).
   */
  constructor(patterns: ReadonlyArray<RegExp | string> | string) {
    const list = typeof patterns === 'string' ? readPatterns(patterns) : patterns;
    if (!Array.isArray(list)) throw invalidArgType('patterns', 'an array of RegExp or string, or a file name', patterns);
    this.patterns = list.map((pattern) => {
      if (pattern instanceof RegExp) return pattern;
      if (typeof pattern === 'string') return new RegExp(`^(?:${pattern})`);
      throw invalidArgType('patterns[]', 'a RegExp or a string', pattern);
    });
  }

  /** Reads patterns from a file: one per line; blank lines and lines starting with `#` are skipped. */
  static fromFile(file: string): ExcludeFilter {
    return new ExcludeFilter(readPatterns(file));
  }

  /** True when `pathname` matches one of the patterns. */
  matches(pathname: string): boolean {
    for (const pattern of this.patterns) {
      pattern.lastIndex = 0;
      if (pattern.test(pathname)) return true;
    }
    return false;
  }
}

function readPatterns(file: string): string[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  return lines.map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

/** Turns any accepted form into one predicate (undefined when nothing is excluded). */
export function toExcludePredicate(filter: ExcludeFilterLike | undefined, name = 'excludeFilter'): ExcludePredicate | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter === 'function') return filter;
  if (filter instanceof ExcludeFilter) return (pathname) => filter.matches(pathname);
  if (Array.isArray(filter)) {
    if (filter.length === 0) return undefined;
    const compiled = new ExcludeFilter(filter);
    return (pathname) => compiled.matches(pathname);
  }
  throw invalidArgType(name, 'a function, an array of RegExp or string, or an ExcludeFilter', filter);
}
