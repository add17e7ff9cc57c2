/**
 * A .gitignore-style file as one exclude predicate, for `--ignore-file`:
 * each line is a pattern of the library's language (docs/patterns.md) read
 * relative to the file's directory, and the last line that matches a path
 * decides, so `!keep.log` re-includes what `*.log` excluded.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { compilePatterns } from '../pattern.js';

interface Rule {
  readonly negated: boolean;
  readonly test: (pathname: string) => boolean;
}

/**
 * Reads `file` and returns a predicate of an absolute pathname: true when
 * the path (or a directory above it, below the file's directory) is
 * ignored. Paths outside the file's directory are never ignored by it.
 * Lines: blank and `#` lines are skipped; `!` negates; `\#` and `\!` are
 * literal; a leading `/` or a `/` inside anchors the pattern at the file's
 * directory, otherwise it is a name at any depth; a trailing `/` is
 * accepted but also matches a file of that name. Throws fs errors
 * (ENOENT...) and, for a line that is no valid glob, a TypeError with code
 * ERR_INVALID_ARG_VALUE naming `file:line`.
 */
export function compileIgnoreFile(file: string): (pathname: string) => boolean {
  const base = nodePath.dirname(nodePath.resolve(file));
  const rules: Rule[] = [];
  const escapedBase = (base === '/' ? '' : base).replace(/[*?[\]{}\\,]/g, '\\$&');
  fs.readFileSync(file, 'utf8').split('\n').forEach((raw, index) => {
    let line = raw.replace(/\r$/, '').replace(/(?<!\\)\s+$/, '');
    if (line === '' || line.startsWith('#')) return;
    const negated = line.startsWith('!');
    if (negated) line = line.slice(1);
    else if (line.startsWith('\\!') || line.startsWith('\\#')) line = line.slice(1);
    let text = line.replace(/\/+$/, '');
    if (text === '') return;
    // Anchored (a '/' before the end): an absolute glob below the file's directory.
    if (text.includes('/')) text = `${escapedBase}/${text.replace(/^\/+/, '')}`;
    const test = compilePatterns(text, { roots: [base], name: `${file}:${index + 1}` });
    if (test !== undefined) rules.push({ negated, test });
  });
  const inside = base === '/' ? '/' : `${base}/`;
  return (pathname) => {
    if (!pathname.startsWith(inside)) return false;
    for (let i = rules.length - 1; i >= 0; i--) {
      const rule = rules[i] as Rule;
      if (rule.test(pathname)) return !rule.negated;
    }
    return false;
  };
}
