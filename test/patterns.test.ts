/**
 * The one pattern language (docs/patterns.md) as users write it: `exclude`
 * on watch() and trackTransfers(), the tracker's `filter`, and doGlob share
 * one glob compiler. Unit checks of the compiled predicate, then the
 * options on the real kernel: what is excluded is neither watched nor
 * reported.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { ExcludeFilter, trackTransfers, watch, type InotifyEvent, type TransferComplete } from '../src/index.js';
import { expandGlob } from '../src/glob.js';
import { compilePatterns, globToRegExp } from '../src/pattern.js';
import { tempDir } from './helpers/index.js';

describe('compilePatterns', () => {
  const root = '/srv/w';
  const matcher = (patterns: Parameters<typeof compilePatterns>[0]): ((p: string) => boolean) => {
    const f = compilePatterns(patterns, { roots: [root] });
    if (f === undefined) throw new Error('no predicate');
    return f;
  };

  test('a bare name matches that name at any depth below the root, and everything under it', () => {
    const f = matcher(['node_modules']);
    expect(f('/srv/w/node_modules')).toBe(true);
    expect(f('/srv/w/node_modules/x/y.js')).toBe(true);
    expect(f('/srv/w/a/b/node_modules')).toBe(true);
    expect(f('/srv/w/a/node_modules_old')).toBe(false);
    expect(f('/srv/w/src/index.js')).toBe(false);
  });

  test('a name glob (*.tmp) matches basenames anywhere; the root itself is never excluded', () => {
    const f = matcher('*.tmp');
    expect(f('/srv/w/x.tmp')).toBe(true);
    expect(f('/srv/w/a/b/.y.tmp')).toBe(true);
    expect(f('/srv/w/x.tmpl')).toBe(false);
    expect(matcher('w')('/srv/w')).toBe(false);
    expect(matcher('*')('/srv/w')).toBe(false);
  });

  test('a path with a slash is relative to the root; ** spans segments; absolute paths and globs', () => {
    const rel = matcher(['build/out', './cache', 'src/**/*.o']);
    expect(rel('/srv/w/build/out')).toBe(true);
    expect(rel('/srv/w/build/out/a')).toBe(true);
    expect(rel('/srv/w/x/build/out')).toBe(false);
    expect(rel('/srv/w/cache/1')).toBe(true);
    expect(rel('/srv/w/a/cache')).toBe(false); // './' anchors at the root, as documented
    expect(rel('/srv/w/src/a.o')).toBe(true);
    expect(rel('/srv/w/src/a/b/c.o')).toBe(true);
    expect(rel('/srv/w/lib/a.o')).toBe(false);
    const any = matcher('**/node_modules');
    expect(any('/srv/w/node_modules')).toBe(true);
    expect(any('/srv/w/a/node_modules/b')).toBe(true);
    const abs = matcher(['/srv/w/private/', '/srv/*/logs']);
    expect(abs('/srv/w/private')).toBe(true);
    expect(abs('/srv/w/private/key')).toBe(true);
    expect(abs('/srv/w/privateer')).toBe(false);
    expect(abs('/srv/w/logs/today')).toBe(true);
  });

  test('RegExps and functions get the absolute pathname', () => {
    const f = matcher([/\.log$/, (p: string) => p.endsWith('/skip')]);
    expect(f('/srv/w/a.log')).toBe(true);
    expect(f('/srv/w/a/skip')).toBe(true);
    expect(f('/srv/w/a')).toBe(false);
  });

  test('several roots: relative patterns are relative to the root that holds the path', () => {
    const f = compilePatterns(['out'], { roots: ['/a', '/a/b', '/c'] });
    expect(f?.('/a/out')).toBe(true);
    expect(f?.('/a/b/out/x')).toBe(true);
    expect(f?.('/c/d/out')).toBe(true);
    const rel = compilePatterns(['x/y'], { roots: ['/a', '/a/b'] });
    expect(rel?.('/a/b/x/y')).toBe(true); // relative to /a/b, the longest root
    expect(rel?.('/a/x/y')).toBe(true);
  });

  test('invalid patterns: TypeError with Node codes, never a bare SyntaxError', () => {
    const codeOf = (patterns: unknown): string | undefined => {
      try {
        compilePatterns(patterns as string, { roots: [root] });
      } catch (error) {
        expect(error).toBeInstanceOf(TypeError);
        return (error as NodeJS.ErrnoException).code;
      }
      return undefined;
    };
    expect(codeOf('*.{tmp')).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf('a}')).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf('')).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf('!keep')).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(['ok', 42])).toBe('ERR_INVALID_ARG_TYPE');
    expect(() => compilePatterns(['a', '{b'], { name: 'options.exclude' })).toThrow(/options\.exclude\[1\]/);
  });

  test('one glob dialect: classes, negation, braces, escapes', () => {
    expect(globToRegExp('*.{csv,tsv}').test('a.tsv')).toBe(true);
    expect(globToRegExp('data-??.raw').test('data-01.raw')).toBe(true);
    expect(globToRegExp('[!.]*').test('.hidden')).toBe(false);
    expect(globToRegExp('[^.]').test('^')).toBe(true); // fnmatch: '^' is literal
    expect(globToRegExp('[]a]').test(']')).toBe(true);
    expect(globToRegExp('a[').test('a[')).toBe(true);
    expect(globToRegExp('\\*').test('*')).toBe(true);
    expect(globToRegExp('\\*').test('x')).toBe(false);
    expect(globToRegExp('*').test('a/b')).toBe(false);
  });

  test('doGlob expansion uses the same compiler (braces included)', () => {
    const dir = tempDir();
    for (const name of ['a.csv', 'b.tsv', 'c.txt', '.d.csv']) fs.writeFileSync(path.join(dir, name), '');
    expect(expandGlob(path.join(dir, '*.{csv,tsv}'))).toEqual([path.join(dir, 'a.csv'), path.join(dir, 'b.tsv')]);
  });
});

/** Iterates `stream` until an event on `sentinel`; returns every event before it. */
async function until(stream: AsyncIterable<InotifyEvent>, sentinel: string): Promise<InotifyEvent[]> {
  const seen: InotifyEvent[] = [];
  for await (const event of stream) {
    if (event.pathname === sentinel) break;
    seen.push(event);
  }
  return seen;
}

describe('watch({ exclude })', () => {
  test("exclude: ['node_modules', '*.tmp'] is neither watched nor reported", async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'node_modules', 'pkg'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'src', 'node_modules'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'src', 'lib'));
    const stream = watch(dir, { exclude: ['node_modules', '*.tmp'], events: ['IN_CREATE'] });
    try {
      // root, src, src/lib: the two node_modules trees cost no watch.
      expect([...stream.notifier.watchManager.watches.values()].map((w) => path.relative(dir, w.path)).sort()).toEqual(['', 'src', 'src/lib']);
      fs.writeFileSync(path.join(dir, 'node_modules', 'pkg', 'a.js'), '');
      fs.writeFileSync(path.join(dir, 'x.tmp'), '');
      fs.writeFileSync(path.join(dir, 'src', 'lib', 'y.tmp'), '');
      fs.mkdirSync(path.join(dir, 'src', 'lib', 'node_modules')); // created later: excluded too
      fs.writeFileSync(path.join(dir, 'src', 'lib', 'node_modules', 'b.js'), '');
      fs.writeFileSync(path.join(dir, 'src', 'lib', 'kept.js'), '');
      fs.writeFileSync(path.join(dir, 'done'), '');
      const seen = await until(stream, path.join(dir, 'done'));
      expect(seen.map((e) => path.relative(dir, e.pathname))).toEqual(['src/lib/kept.js']);
    } finally {
      await stream.close();
    }
  });

  test('a relative path excludes that subtree of the root only; a RegExp and a function work as before', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'build', 'out'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'src', 'build', 'out'), { recursive: true });
    const stream = watch(dir, {
      exclude: ['build/out', /\.log$/, (p: string) => p.endsWith('.bak')], events: ['IN_CREATE'],
    });
    try {
      for (const name of ['build/out/a', 'build/b', 'src/build/out/c', 'x.log', 'y.bak', 'done']) {
        fs.writeFileSync(path.join(dir, name), '');
      }
      const seen = await until(stream, path.join(dir, 'done'));
      expect(seen.map((e) => path.relative(dir, e.pathname))).toEqual(['build/b', 'src/build/out/c']);
    } finally {
      await stream.close();
    }
  });

  test('an ExcludeFilter keeps its pyinotify regex semantics', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'cache'));
    const stream = watch(dir, { exclude: new ExcludeFilter([`^${dir}/cache`]), events: ['IN_CREATE'] });
    try {
      fs.writeFileSync(path.join(dir, 'cache', 'a'), '');
      fs.writeFileSync(path.join(dir, 'cachet'), ''); // the regex is a prefix match: excluded too
      fs.writeFileSync(path.join(dir, 'kept'), '');
      fs.writeFileSync(path.join(dir, 'done'), '');
      const seen = await until(stream, path.join(dir, 'done'));
      expect(seen.map((e) => e.name)).toEqual(['kept']);
    } finally {
      await stream.close();
    }
  });

  test("a bad pattern throws ERR_INVALID_ARG_VALUE synchronously ('*.{tmp')", () => {
    const dir = tempDir();
    expect(() => watch(dir, { exclude: ['*.{tmp'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', name: 'TypeError' }));
    expect(() => watch(dir, { exclude: [42 as unknown as string] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('trackTransfers({ exclude, filter })', () => {
  test('filter and exclude use the same language, relative to the watched directory', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'in', 'sub'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'in', 'node_modules'), { recursive: true });
    const outside = tempDir();
    const tracker = trackTransfers(dir, { filter: ['in/**/*.raw', 'done'], exclude: 'node_modules', settleTime: 0 });
    try {
      const done = new Promise<TransferComplete[]>((resolve) => {
        const seen: TransferComplete[] = [];
        tracker.on('complete', (c) => {
          if (c.pathname.endsWith('/done')) resolve(seen);
          else seen.push(c);
        });
      });
      // Moves in complete at once, in kernel order.
      for (const name of ['in/a.raw', 'in/sub/b.raw', 'in/node_modules/c.raw', 'd.raw', 'in/e.txt', 'done']) {
        const from = path.join(outside, path.basename(name));
        fs.writeFileSync(from, 'x');
        fs.renameSync(from, path.join(dir, name));
      }
      const seen = await done;
      expect(seen.map((c) => path.relative(dir, c.pathname))).toEqual(['in/a.raw', 'in/sub/b.raw']);
      expect(seen.every((c) => c.via === 'moved-in')).toBe(true);
    } finally {
      await tracker.close();
    }
  });

  test("a bad filter throws ERR_INVALID_ARG_VALUE, not a SyntaxError ('*.{raw')", () => {
    const dir = tempDir();
    expect(() => trackTransfers(dir, { filter: '*.{raw' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});
