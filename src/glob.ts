/** Minimal glob expansion for `doGlob` (`*`, `?`, `[...]` within one path segment). */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';

const MAGIC = /[*?[]/;

function segmentPattern(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      // As fnmatch: a leading '!' negates, and a ']' right after '[' or '[!' is a member.
      const first = segment[i + 1] === '!' ? i + 2 : i + 1;
      const end = segment.indexOf(']', first + 1);
      if (end < 0) source += '\\[';
      else {
        // RegExp reads a leading '^' as negation and '[]' as an empty class: escape both, and '\\'.
        const body = segment.slice(first, end).replace(/[\\\]]/g, '\\$&').replace(/^\^/, '\\^');
        source += `[${first === i + 2 ? '^' : ''}${body}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

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
      const regex = segmentPattern(segment);
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
