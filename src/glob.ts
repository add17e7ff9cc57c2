/**
 * Glob expansion for `doGlob`: each segment is compiled by the one glob
 * compiler (src/pattern.ts: `*`, `?`, `[...]`, `{a,b}`), matched against
 * directory listings as the shell does (hidden names only by a segment that
 * starts with `.`).
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { globToRegExp } from './pattern.js';

/** A segment with glob magic; `{` counts too, as the one glob compiler reads `{a,b}`. */
const MAGIC = /[*?[{]/;

/** Paths matching `pattern` (absolute or relative to the cwd), sorted; hidden names only match a pattern starting with `.`. */
export function expandGlob(pattern: string): string[] {
  const absolute = nodePath.resolve(pattern);
  if (!MAGIC.test(absolute)) return [absolute];
  const segments = absolute.split('/').filter((s) => s !== '');
  let bases = ['/'];
  for (const segment of segments) {
    const next: string[] = [];
    if (!MAGIC.test(segment)) {
      for (const base of bases) {
        const candidate = nodePath.join(base, segment);
        if (fs.existsSync(candidate)) next.push(candidate);
      }
    } else {
      const regex = globToRegExp(segment, { name: 'path' });
      for (const base of bases) {
        let names: string[];
        try {
          names = fs.readdirSync(base);
        } catch {
          continue;
        }
        for (const name of names) {
          if (name.startsWith('.') && !segment.startsWith('.')) continue;
          if (regex.test(name)) next.push(nodePath.join(base, name));
        }
      }
    }
    bases = next;
  }
  return bases.sort();
}
