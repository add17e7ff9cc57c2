/**
 * The mirror's --exclude: patterns of docs/patterns.md, applied twice: to
 * events (compileExclude) and to rsync's walks (--exclude rules), so that a
 * reconcile and the following of events skip the same paths. Only string
 * patterns translate to rsync rules, so only those are accepted here.
 */
import * as nodePath from 'node:path';
import { invalidArgType, invalidArgValue } from '../errors.js';
import { compileExclude } from '../pattern.js';

/** The compiled excludes: a predicate of absolute pathnames and rsync's equivalent rules. */
export interface MirrorExcludes {
  /** True for an absolute pathname under the source that is excluded. */
  readonly matches: ((pathname: string) => boolean) | undefined;
  /** `--exclude=RULE` arguments for rsync. */
  readonly rsyncArgs: readonly string[];
}

/**
 * Compiles `patterns` for the source `root`. A pattern without `/` is a name
 * at any depth (`*.tmp`, `node_modules`): rsync's unanchored rule; one with a
 * `/` is relative to the root (`build/out`, `./x`) and an absolute one must
 * lie under the root: both become rsync rules anchored at the root (`/build/out`).
 * Throws ERR_INVALID_ARG_VALUE for `{a,b}` alternatives (rsync has none:
 * give one --exclude each) and for an absolute pattern outside the root.
 */
export function compileMirrorExcludes(patterns: readonly string[] | undefined, root: string): MirrorExcludes {
  if (patterns === undefined || patterns.length === 0) return { matches: undefined, rsyncArgs: [] };
  if (!Array.isArray(patterns)) throw invalidArgType('options.exclude', 'an array of strings', patterns);
  const rules: string[] = [];
  for (const pattern of patterns) {
    if (typeof pattern !== 'string') throw invalidArgType('options.exclude', 'an array of strings', patterns);
    rules.push(`--exclude=${rsyncRule(pattern, root)}`);
  }
  return { matches: compileExclude(patterns, { roots: [root], name: 'options.exclude' }), rsyncArgs: rules };
}

function rsyncRule(pattern: string, root: string): string {
  if (pattern === '' || /(?<!\\)[{}]/.test(pattern)) {
    throw invalidArgValue('exclude', pattern, 'must be a non-empty pattern without {a,b} alternatives (give one --exclude for each)');
  }
  const trimmed = pattern.length > 1 ? pattern.replace(/\/+$/, '') : pattern;
  if (trimmed.startsWith('/')) {
    const relative = nodePath.posix.relative(root, trimmed);
    if (relative === '' || relative.startsWith('..')) throw invalidArgValue('exclude', pattern, `must lie under the source ${root}`);
    return `/${relative}`;
  }
  if (!trimmed.includes('/')) return trimmed;
  return `/${trimmed.replace(/^(\.\/)+/, '')}`;
}
