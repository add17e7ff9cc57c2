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

  constructor(patterns: ReadonlyArray<RegExp | string>) {
    if (!Array.isArray(patterns)) throw invalidArgType('patterns', 'an array of RegExp or string', patterns);
    this.patterns = patterns.map((pattern) => {
      if (pattern instanceof RegExp) return pattern;
      if (typeof pattern === 'string') return new RegExp(`^(?:${pattern})`);
      throw invalidArgType('patterns[]', 'a RegExp or a string', pattern);
    });
  }

  /** Reads patterns from a file: one per line; blank lines and lines starting with `#` are skipped. */
  static fromFile(file: string): ExcludeFilter {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    return new ExcludeFilter(lines.map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#')));
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
