/**
 * watchdog's filtering handlers: `PatternMatchingEventHandler` (globs, see
 * patterns.ts) and `RegexMatchingEventHandler`. Both test `dest_path` (for
 * moves) and `src_path`; the event is handled when either path is selected.
 */
import { invalidArgType } from '../../errors.js';
import { validateOptions } from '../../validate.js';
import type { FileSystemEvent } from './events.js';
import { FileSystemEventHandler, type HandlerResult } from './handlers.js';
import { PathMatcher } from './patterns.js';

/** Options of {@link PatternMatchingEventHandler}, with watchdog's keyword names. */
export interface PatternMatchingOptions {
  /** Globs a path must match (default: every path). */
  patterns?: readonly string[] | undefined;
  /** Globs whose paths are left out. */
  ignore_patterns?: readonly string[] | undefined;
  /** Leave out every directory event (default false). */
  ignore_directories?: boolean | undefined;
  /** Match case-sensitively (default false, as in watchdog). */
  case_sensitive?: boolean | undefined;
}

/**
 * Handles only events whose `src_path` or `dest_path` matches one of
 * `patterns` and none of `ignore_patterns` (watchdog's glob rules: see
 * docs/watchdog.md). Throws a TypeError (ERR_INVALID_ARG_VALUE) for an
 * empty pattern or a pattern both in `patterns` and `ignore_patterns`.
 *
 * @example
 * ```ts
 * class PyChanges extends PatternMatchingEventHandler {
 *   override on_modified(event: FileSystemEvent): void { console.log(event.src_path); }
 * }
 * observer.schedule(new PyChanges({ patterns: ['*.py'], ignore_directories: true }), dir, { recursive: true });
 * ```
 */
export class PatternMatchingEventHandler extends FileSystemEventHandler {
  /** The patterns a path must match (`undefined`: all). */
  readonly patterns: readonly string[] | undefined;
  /** The patterns that leave a path out. */
  readonly ignore_patterns: readonly string[] | undefined;
  /** Whether directory events are left out. */
  readonly ignore_directories: boolean;
  /** Whether matching is case-sensitive. */
  readonly case_sensitive: boolean;
  readonly #matcher: PathMatcher;

  constructor(options: PatternMatchingOptions = {}) {
    super();
    const opts = validateOptions<PatternMatchingOptions>(options);
    this.patterns = opts.patterns === undefined ? undefined : [...opts.patterns];
    this.ignore_patterns = opts.ignore_patterns === undefined ? undefined : [...opts.ignore_patterns];
    this.ignore_directories = opts.ignore_directories === true;
    this.case_sensitive = opts.case_sensitive === true;
    this.#matcher = new PathMatcher({
      included_patterns: this.patterns, excluded_patterns: this.ignore_patterns, case_sensitive: this.case_sensitive,
      names: { include: 'options.patterns', exclude: 'options.ignore_patterns' },
    });
  }

  /** Dispatches (see {@link FileSystemEventHandler.dispatch}) only the events the patterns select. */
  override dispatch(event: FileSystemEvent): HandlerResult {
    if (this.ignore_directories && event.is_directory) return undefined;
    if (!pathsOf(event).some((path) => this.#matcher.matches(path))) return undefined;
    return super.dispatch(event);
  }
}

/** Options of {@link RegexMatchingEventHandler}, with watchdog's keyword names. */
export interface RegexMatchingOptions {
  /** Regexes a path must match (default `['.*']`): strings in Python's syntax, or RegExps. */
  regexes?: string | RegExp | ReadonlyArray<string | RegExp> | undefined;
  /** Regexes whose paths are left out. */
  ignore_regexes?: string | RegExp | ReadonlyArray<string | RegExp> | undefined;
  /** Leave out every directory event (default false). */
  ignore_directories?: boolean | undefined;
  /** Match case-sensitively (default false, as in watchdog). */
  case_sensitive?: boolean | undefined;
}

/**
 * Handles only events whose `src_path` or `dest_path` matches one of
 * `regexes` and none of `ignore_regexes`. As Python's `re.match`, a regex
 * is tried at the start of the path only (`.*\.py$` for "ends in .py");
 * Python's `(?P<name>…)`, `(?P=name)`, `\A` and `\Z` are accepted.
 * A regex that does not compile throws a SyntaxError at construction.
 */
export class RegexMatchingEventHandler extends FileSystemEventHandler {
  /** The compiled regexes a path must match. */
  readonly regexes: readonly RegExp[];
  /** The compiled regexes that leave a path out. */
  readonly ignore_regexes: readonly RegExp[];
  /** Whether directory events are left out. */
  readonly ignore_directories: boolean;
  /** Whether matching is case-sensitive. */
  readonly case_sensitive: boolean;

  constructor(options: RegexMatchingOptions = {}) {
    super();
    const opts = validateOptions<RegexMatchingOptions>(options);
    this.case_sensitive = opts.case_sensitive === true;
    this.ignore_directories = opts.ignore_directories === true;
    this.regexes = compileRegexes(opts.regexes ?? ['.*'], 'options.regexes', this.case_sensitive);
    this.ignore_regexes = compileRegexes(opts.ignore_regexes ?? [], 'options.ignore_regexes', this.case_sensitive);
  }

  /** Dispatches (see {@link FileSystemEventHandler.dispatch}) only the events the regexes select. */
  override dispatch(event: FileSystemEvent): HandlerResult {
    if (this.ignore_directories && event.is_directory) return undefined;
    const paths = pathsOf(event);
    if (this.ignore_regexes.some((regex) => paths.some((path) => matchAtStart(regex, path)))) return undefined;
    if (!this.regexes.some((regex) => paths.some((path) => matchAtStart(regex, path)))) return undefined;
    return super.dispatch(event);
  }
}

/** What watchdog tests: `dest_path` (set on moves), then `src_path`. */
function pathsOf(event: FileSystemEvent): string[] {
  const paths: string[] = [];
  if (event.dest_path !== '') paths.push(event.dest_path);
  if (event.src_path !== '') paths.push(event.src_path);
  return paths;
}

// Sticky ('y') at index 0: Python's re.match, which anchors at the start only.
function matchAtStart(regex: RegExp, path: string): boolean {
  regex.lastIndex = 0;
  return regex.test(path);
}

function compileRegexes(value: unknown, name: string, caseSensitive: boolean): RegExp[] {
  const list: unknown[] = Array.isArray(value) ? value : [value];
  return list.map((item, i) => {
    const label = Array.isArray(value) ? `${name}[${i}]` : name;
    let source: string;
    let flags: string;
    if (item instanceof RegExp) {
      source = item.source;
      flags = item.flags.replace(/[gy]/g, '');
    } else if (typeof item === 'string') {
      source = fromPython(item);
      flags = ''; // as Python's default: `.` does not match a newline
    } else {
      throw invalidArgType(label, 'a string or a RegExp', item);
    }
    if (!caseSensitive && !flags.includes('i')) flags += 'i';
    return new RegExp(source, `${flags}y`);
  });
}

/** The few spellings where Python's `re` and JavaScript differ and a path regex may use them. */
function fromPython(source: string): string {
  return source
    .replace(/\(\?P</g, '(?<')
    .replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
    .replace(/(?<!\\)\\A/g, '^')
    .replace(/(?<!\\)\\Z/g, '$');
}
