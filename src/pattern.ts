/**
 * The one pattern language of `exclude` (watch(), trackTransfers()), the
 * tracker's `filter` and the CLI's `--exclude`, and the one glob compiler
 * (also behind `doGlob`). The rules are documented once, in docs/patterns.md:
 *
 * - a function gets the absolute pathname;
 * - a RegExp is tested against the absolute pathname;
 * - a string starting with `/` is an absolute path or glob: it matches that
 *   path and everything below it;
 * - a string with a `/` elsewhere (`build/out`, `src/**\/*.o`, `./x`) is a
 *   path or glob relative to the watched root, and matches everything below too;
 * - a string without `/` (`node_modules`, `*.tmp`) matches that name at any
 *   depth below the root, and everything below it (as in .gitignore).
 *
 * pyinotify's regex strings (ExcludeFilter, addWatch's `excludeFilter`) are
 * not this language and stay in exclude-filter.ts.
 */
import * as nodePath from 'node:path';
import { invalidArgType, invalidArgValue } from './errors.js';
import { ExcludeFilter } from './exclude-filter.js';

/** One pattern: a path or glob string, a RegExp on the absolute pathname, or a predicate of it. */
export type PathPattern = string | RegExp | ((pathname: string) => boolean);

/** One pattern or a list of them (a path matches when any does). */
export type PathPatterns = PathPattern | readonly PathPattern[];

/** Options of {@link globToRegExp}. */
export interface GlobOptions {
  /** The option name used in error messages (default 'pattern'). */
  readonly name?: string;
}

/**
 * Compiles a glob into a RegExp matching a whole `/`-separated path:
 * `*` any run of characters but `/`, `?` one character but `/`, `[abc]`,
 * `[a-z]`, `[!abc]` one character of (not of) a set, a `]` right after `[`
 * or `[!` being a member and `^` literal (as fnmatch), `{a,b}` either alternative
 * (nestable), `**` as a whole segment any number of segments (zero
 * included), `\x` the character x. A `[` without its `]` is literal.
 * Throws a TypeError with code ERR_INVALID_ARG_VALUE for an unbalanced `{`
 * or `}`, or a trailing `\`.
 */
export function globToRegExp(glob: string, options: GlobOptions = {}): RegExp {
  return new RegExp(`^${globSource(glob, options.name ?? 'pattern')}$`, 's');
}

function globSource(glob: string, name: string): string {
  let source = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**` as a whole segment: any number of segments.
        const startsSegment = i === 0 || glob[i - 1] === '/';
        const end = i + 2;
        if (startsSegment && glob[end] === '/') {
          source += '(?:.*/)?';
          i = end;
          continue;
        }
        if (startsSegment && end === glob.length) {
          source += '.*';
          i = end - 1;
          continue;
        }
      }
      source += '[^/]*';
    } else if (c === '?') {
      source += '[^/]';
    } else if (c === '[') {
      const negated = glob[i + 1] === '!';
      const first = negated ? i + 2 : i + 1;
      const end = glob.indexOf(']', first + 1);
      if (end < 0) {
        source += '\\[';
      } else {
        // RegExp reads a leading '^' as negation and '[]' as an empty class: escape both, and '\'.
        const body = glob.slice(first, end).replace(/[\\\]]/g, '\\$&').replace(/^\^/, '\\^');
        source += `[${negated ? '^/' : ''}${body}]`;
        i = end;
      }
    } else if (c === '{') {
      braces++;
      source += '(?:';
    } else if (c === '}') {
      if (braces === 0) throw invalidArgValue(name, glob, "is not a valid glob: '}' without '{'");
      braces--;
      source += ')';
    } else if (c === ',' && braces > 0) {
      source += '|';
    } else if (c === '\\') {
      const next = glob[++i];
      if (next === undefined) throw invalidArgValue(name, glob, "is not a valid glob: it ends with '\\'");
      source += escape(next);
    } else {
      source += escape(c);
    }
  }
  if (braces > 0) throw invalidArgValue(name, glob, "is not a valid glob: '{' without '}'");
  return source;
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * What an `exclude` option takes: patterns ({@link PathPatterns}), or a
 * pyinotify {@link ExcludeFilter} (its regex semantics).
 */
export type ExcludeOption = PathPatterns | ExcludeFilter;

/** Compiles an `exclude` option (see {@link ExcludeOption}) into a predicate. */
export function compileExclude(exclude: ExcludeOption | undefined, options: CompileOptions = {}): ((pathname: string) => boolean) | undefined {
  if (exclude instanceof ExcludeFilter) return (pathname) => exclude.matches(pathname);
  return compilePatterns(exclude, options);
}

/** Options of {@link compilePatterns}. */
export interface CompileOptions {
  /**
   * The watched roots (absolute): relative patterns and names are matched
   * below the root that contains a path. Default: the current directory.
   */
  readonly roots?: readonly string[];
  /** The option name used in error messages (default 'exclude'). */
  readonly name?: string;
}

/**
 * Compiles patterns into one predicate of an absolute pathname: true when
 * any pattern matches the path or one of its directories below the root.
 * Undefined for `undefined` or an empty list. Throws TypeError with code
 * ERR_INVALID_ARG_TYPE (not a string, RegExp or function) or
 * ERR_INVALID_ARG_VALUE (an empty string, a `!` negation, a bad glob).
 */
export function compilePatterns(patterns: PathPatterns | undefined, options: CompileOptions = {}): ((pathname: string) => boolean) | undefined {
  if (patterns === undefined) return undefined;
  const name = options.name ?? 'exclude';
  const list: readonly unknown[] = Array.isArray(patterns) ? patterns : [patterns];
  const roots = (options.roots ?? [process.cwd()]).map((root) => stripSlash(nodePath.resolve(root)))
    .sort((a, b) => b.length - a.length);
  const relative: string[] = [];
  const absolute: string[] = [];
  const tests: Array<(pathname: string) => boolean> = [];
  list.forEach((pattern, index) => {
    const label = Array.isArray(patterns) ? `${name}[${index}]` : name;
    if (typeof pattern === 'function') {
      tests.push(pattern as (pathname: string) => boolean);
    } else if (pattern instanceof RegExp) {
      tests.push((pathname) => {
        pattern.lastIndex = 0;
        return pattern.test(pathname);
      });
    } else if (typeof pattern === 'string') {
      if (pattern === '') throw invalidArgValue(label, pattern, 'must not be an empty pattern');
      if (pattern.includes('\0')) throw invalidArgValue(label, pattern, 'must be a string without null bytes');
      if (pattern.startsWith('!')) {
        throw invalidArgValue(label, pattern, "is a negation ('!'), which is not supported: use a function to re-include paths");
      }
      let text = stripSlash(pattern);
      if (text.startsWith('/')) {
        absolute.push(globSource(nodePath.posix.normalize(text), label));
        return;
      }
      // A leading './' anchors the pattern at the root, as a '/' inside does.
      const anchored = text.startsWith('./') || text.includes('/');
      while (text.startsWith('./')) text = text.slice(2);
      if (text === '.' || text === '') throw invalidArgValue(label, pattern, 'names the watched root itself');
      // Otherwise a name at any depth, as in .gitignore.
      relative.push(anchored ? globSource(text, label) : `(?:.*/)?${globSource(text, label)}`);
    } else {
      throw invalidArgType(label, 'a string, a RegExp or a function', pattern);
    }
  });
  if (relative.length > 0) {
    const regex = new RegExp(`^(?:${relative.join('|')})(?:/|$)`, 's');
    tests.push((pathname) => {
      const rel = relativeTo(roots, pathname);
      return rel !== '' && regex.test(rel);
    });
  }
  if (absolute.length > 0) {
    const regex = new RegExp(`^(?:${absolute.join('|')})(?:/|$)`, 's');
    tests.push((pathname) => regex.test(pathname));
  }
  if (tests.length === 0) return undefined;
  if (tests.length === 1) return tests[0];
  return (pathname) => tests.some((test) => test(pathname));
}

/** `pathname` relative to the longest root containing it; '' for a root itself; itself (without its leading '/') outside every root. */
function relativeTo(roots: readonly string[], pathname: string): string {
  for (const root of roots) {
    if (pathname === root) return '';
    if (root === '/' && pathname.startsWith('/')) return pathname.slice(1);
    if (pathname.startsWith(root) && pathname.charCodeAt(root.length) === 47) return pathname.slice(root.length + 1);
  }
  return pathname.replace(/^\/+/, '');
}

function stripSlash(text: string): string {
  return text.length > 1 && text.endsWith('/') ? text.replace(/\/+$/, '') || '/' : text;
}
