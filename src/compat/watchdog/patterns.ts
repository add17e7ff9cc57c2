/**
 * watchdog's path patterns (`watchdog.utils.patterns`): fnmatch-style globs
 * matched against a whole path the way pathlib's `PurePath.match` does.
 *
 * - A relative pattern matches from the right: `*.py` matches `/src/a.py`,
 *   `src/*.py` matches `/w/src/a.py`; an absolute pattern (`/w/*.py`) must
 *   match the whole path.
 * - In a part, `*` is any run of characters and `?` one character (neither
 *   crosses `/`), `[seq]` / `[!seq]` one character in (not in) the set;
 *   everything else is literal (no `{a,b}`, no `\` escapes, as in fnmatch).
 * - `**` as a whole part matches any number of parts, zero included, so the
 *   patterns of watchdog 7 (`**\/*.py`, pathlib's `full_match`) mean the same
 *   here as the `*.py` of watchdog 6.
 * - Case-insensitive unless `case_sensitive` (watchdog's handlers default to
 *   insensitive; its `filter_paths`/`match_any_paths` to sensitive).
 */
import { invalidArgType, invalidArgValue } from '../../errors.js';

/** Options of {@link filter_paths} and {@link match_any_paths}, with watchdog's names. */
export interface PathFilterOptions {
  /** Paths must match one of these (default `['**']`: everything). */
  included_patterns?: readonly string[] | undefined;
  /** Paths matching one of these are left out (default none). */
  excluded_patterns?: readonly string[] | undefined;
  /** Match case-sensitively (default true here, as in watchdog's functions). */
  case_sensitive?: boolean | undefined;
}

/**
 * A compiled include/exclude pair. Throws a TypeError (ERR_INVALID_ARG_VALUE)
 * for an empty pattern or a pattern both included and excluded (watchdog's
 * ValueError "conflicting patterns", raised here when compiling, not per event).
 */
export class PathMatcher {
  readonly #include: RegExp;
  readonly #exclude: RegExp | undefined;

  constructor(options: PathFilterOptions & { names?: { include: string; exclude: string } } = {}) {
    const names = options.names ?? { include: 'included_patterns', exclude: 'excluded_patterns' };
    const caseSensitive = options.case_sensitive !== false;
    const include = checkList(options.included_patterns ?? ['**'], names.include);
    const exclude = checkList(options.excluded_patterns ?? [], names.exclude);
    const fold = (p: string): string => (caseSensitive ? p : p.toLowerCase());
    const excluded = new Set(exclude.map(fold));
    const conflicting = include.filter((p) => excluded.has(fold(p)));
    if (conflicting.length > 0) {
      throw invalidArgValue(names.include, conflicting, `holds patterns that '${names.exclude}' excludes too (conflicting patterns)`);
    }
    const flags = caseSensitive ? 's' : 'is';
    this.#include = new RegExp(include.map(patternSource).join('|'), flags);
    this.#exclude = exclude.length === 0 ? undefined : new RegExp(exclude.map(patternSource).join('|'), flags);
  }

  /** True when `path` matches an included pattern and no excluded one. */
  matches(path: string): boolean {
    const normalized = normalize(path);
    return this.#include.test(normalized) && !(this.#exclude?.test(normalized) ?? false);
  }
}

/** The paths that match (watchdog's `filter_paths`). */
export function filter_paths(paths: Iterable<string>, options: PathFilterOptions = {}): string[] {
  const matcher = new PathMatcher(options);
  return [...paths].filter((path) => matcher.matches(path));
}

/** True when any of `paths` matches (watchdog's `match_any_paths`). */
export function match_any_paths(paths: Iterable<string>, options: PathFilterOptions = {}): boolean {
  const matcher = new PathMatcher(options);
  for (const path of paths) if (matcher.matches(path)) return true;
  return false;
}

function checkList(list: unknown, name: string): string[] {
  if (typeof list === 'string') return checkList([list], name);
  if (!Array.isArray(list)) throw invalidArgType(name, 'an array of strings', list);
  return list.map((pattern: unknown, i) => {
    if (typeof pattern !== 'string') throw invalidArgType(`${name}[${i}]`, 'of type string', pattern);
    if (normalize(pattern) === '') throw invalidArgValue(`${name}[${i}]`, pattern, 'must not be an empty pattern');
    return pattern;
  });
}

/** As pathlib: repeated `/` and `.` parts collapse, a trailing `/` goes (`..` stays). */
function normalize(path: string): string {
  const absolute = path.startsWith('/');
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  return (absolute ? '/' : '') + parts.join('/');
}

/** One pattern as a RegExp source over a normalized path, anchored at the end (and at the start when absolute). */
function patternSource(pattern: string): string {
  const normalized = normalize(pattern);
  const absolute = normalized.startsWith('/');
  const parts = (absolute ? normalized.slice(1) : normalized).split('/');
  let source = '';
  parts.forEach((part, i) => {
    if (part !== '**') source += partSource(part) + '/';
    else if (i === 0 && parts.length === 1) source += '[^]*/'; // everything
    else if (i === parts.length - 1) source = `${source.slice(0, -1)}(?:/[^/]+)*/`; // `a/**`: `a` and all below
    else source += '(?:[^/]+/)*'; // zero or more parts, each with its separator
  });
  source = source.slice(0, -1); // the separator after the last part
  return `(?:${absolute ? '^/' : '(?:^|/)'}${source}$)`;
}

/** fnmatch for one part: `*`, `?`, `[seq]`, `[!seq]`; everything else literal. */
function partSource(part: string): string {
  let source = '';
  for (let i = 0; i < part.length; i++) {
    const c = part[i] as string;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const negated = part[i + 1] === '!';
      const first = negated ? i + 2 : i + 1;
      const end = part.indexOf(']', first + 1); // a `]` right after `[` or `[!` is a member
      if (end < 0) {
        source += '\\[';
        continue;
      }
      const body = part.slice(first, end).replace(/[\\\]^]/g, '\\$&');
      source += negated ? `[^/${body}]` : `[${body}]`;
      i = end;
    } else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return source;
}
