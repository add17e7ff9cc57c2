/**
 * The addon's directory listing (native/readdir.cc) and its TS wrapper
 * (src/readdir.ts), on real temp directories: every entry once with its
 * type, in name order when asked, names that are not UTF-8 as exact bytes,
 * and errors in the shape of Node's own fs errors.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { binding } from '../src/binding.js';
import { readDirectory, TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK, type Listing } from '../src/readdir.js';
import { ensureLib } from './helpers/child.js';
import { tempDir } from './helpers/index.js';

/** name -> type letter, from a listing. */
function typesByName(listing: Listing): Map<string, string> {
  expect(listing.types.length).toBe(listing.names.length);
  return new Map(listing.names.map((name, i) => [name, listing.types.charAt(i)]));
}

/** What fs.readdirSync throws for `target`, to compare shapes with. */
function fsError(target: string): NodeJS.ErrnoException {
  try {
    fs.readdirSync(target);
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error(`fs.readdirSync(${target}) did not throw`);
}

function thrownBy(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('did not throw');
}

describe('readDirectory', () => {
  test('an empty directory lists nothing', () => {
    expect(readDirectory(tempDir())).toStrictEqual({ names: [], types: '', bytes: undefined, packed: '' });
    expect(binding.readdir(tempDir(), false, false)).toBe('');
  });

  test('a directory of 5,000 entries: every name once, typed; sorted by name bytes when asked, as fs sorts', () => {
    const root = tempDir();
    const expected: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const name = `entry-${i.toString(36)}-${'x'.repeat(i % 40)}`;
      if (i % 500 === 0) fs.mkdirSync(path.join(root, name));
      else fs.writeFileSync(path.join(root, name), '');
      expected.push(name);
    }
    const unsorted = readDirectory(root);
    expect(unsorted.names.length).toBe(5000);
    expect(new Set(unsorted.names).size).toBe(5000);
    expect([...unsorted.names].sort()).toStrictEqual([...expected].sort());
    const types = typesByName(unsorted);
    for (const [name, type] of types) expect(type, name).toBe(fs.lstatSync(path.join(root, name)).isDirectory() ? 'd' : 'f');
    expect(unsorted.bytes).toBeUndefined();

    const sorted = readDirectory(root, { sorted: true });
    expect(sorted.names).toStrictEqual(fs.readdirSync(root));
    expect(typesByName(sorted)).toStrictEqual(types);

    const dirs = readDirectory(root, { directoriesOnly: true });
    expect([...dirs.names].sort()).toStrictEqual(expected.filter((_, i) => i % 500 === 0).sort());
    expect(dirs.types).toBe('d'.repeat(10));
  });

  test('file, directory, symlink (dangling too), fifo and socket each get their type; links are not followed', () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, 'file'), 'x');
    fs.mkdirSync(path.join(root, 'dir'));
    fs.symlinkSync('dir', path.join(root, 'link-to-dir'));
    fs.symlinkSync('missing', path.join(root, 'dangling'));
    expect(spawnSync('mkfifo', [path.join(root, 'fifo')]).status).toBe(0);
    const socket = spawnSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path.join(root, 'sock'))})`]);
    const hasSocket = socket.status === 0;
    const listing = readDirectory(root);
    const expected = new Map([['file', 'f'], ['dir', 'd'], ['link-to-dir', 'l'], ['dangling', 'l'], ['fifo', 'p']]);
    if (hasSocket) expected.set('sock', 's');
    expect(typesByName(listing)).toStrictEqual(expected);
    expect([TYPE_FILE, TYPE_DIRECTORY, TYPE_SYMLINK]).toStrictEqual(['f', 'd', 'l'].map((c) => c.charCodeAt(0)));
    // Only what a walk looks at: directories and links.
    expect(typesByName(readDirectory(root, { directoriesOnly: true }))).toStrictEqual(
      new Map([['dir', 'd'], ['link-to-dir', 'l'], ['dangling', 'l']]),
    );
  });

  test('names that are not UTF-8 come back as their exact bytes; a Buffer path reaches such a directory', () => {
    const root = tempDir();
    const rootBytes = Buffer.from(root);
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1: 0xE9 alone is not UTF-8
    const overlong = Buffer.from([0x2f + 0x40, 0xc0, 0xaf]); // 'o' then an overlong '/', which must not pass as UTF-8
    const surrogate = Buffer.from([0x73, 0xed, 0xa0, 0x80]); // 's' then an encoded surrogate
    const join = (...parts: Buffer[]): Buffer => Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [part] : [Buffer.from('/'), part])));
    fs.writeFileSync(join(rootBytes, latin1), '');
    fs.mkdirSync(join(rootBytes, overlong));
    fs.writeFileSync(join(rootBytes, surrogate), '');
    fs.writeFileSync(path.join(root, 'plain-ü'), '');

    const raw = binding.readdir(root, true, false);
    expect(Buffer.isBuffer(raw)).toBe(true);
    const listing = readDirectory(root, { sorted: true });
    expect(listing.names.length).toBe(4);
    const byName = new Map(listing.names.map((name, i) => [name, { bytes: listing.bytes?.[i], type: listing.types.charAt(i) }]));
    for (const [bytes, type] of [[latin1, 'f'], [overlong, 'd'], [surrogate, 'f']] as const) {
      const entry = byName.get(bytes.toString('utf8'));
      expect(entry?.bytes, bytes.toString('hex')).toStrictEqual(bytes);
      expect(entry?.type).toBe(type);
    }
    expect(byName.get('plain-ü')).toStrictEqual({ bytes: undefined, type: 'f' });
    // The order is by bytes, as fs sorts (encoding: 'buffer').
    const fsOrder = fs.readdirSync(root, { encoding: 'buffer' });
    expect(listing.names.map((name, i) => listing.bytes?.[i] ?? Buffer.from(name))).toStrictEqual(fsOrder);

    // Each kind of invalid sequence alone in a directory: the addon itself
    // must see that it is not UTF-8 (a JS string would replace it with U+FFFD).
    const truncated = Buffer.from([0x74, 0xe2, 0x82]); // 't' then 2 of the 3 bytes of '€'
    const tooHigh = Buffer.from([0x68, 0xf4, 0x90, 0x80, 0x80]); // 'h' then U+110000
    for (const bad of [latin1, overlong, surrogate, truncated, tooHigh]) {
      const dir = join(rootBytes, Buffer.from(`alone-${bad.toString('hex')}`));
      fs.mkdirSync(dir);
      fs.writeFileSync(join(dir, bad), '');
      fs.writeFileSync(join(dir, Buffer.from('ok-€-😀')), '');
      const alone = readDirectory(dir, { sorted: true });
      expect(Buffer.isBuffer(binding.readdir(dir, false, false)), bad.toString('hex')).toBe(true);
      const expected = [bad, Buffer.from('ok-€-😀')].sort(Buffer.compare);
      expect(alone.bytes, bad.toString('hex')).toStrictEqual(expected.map((b) => (b === bad ? bad : undefined)));
      expect(alone.names).toStrictEqual(expected.map((b) => b.toString('utf8')));
    }

    // Inside the directory whose own name is not UTF-8, reached by its bytes.
    fs.writeFileSync(join(rootBytes, overlong, Buffer.from('inner')), '');
    expect(readDirectory(join(rootBytes, overlong))).toStrictEqual({ names: ['inner'], types: 'f', bytes: undefined, packed: 'inner\0f' });
  });

  test('ENOENT and ENOTDIR are thrown in the shape of fs.readdirSync errors (syscall scandir)', () => {
    const root = tempDir();
    const missing = path.join(root, 'missing');
    const file = path.join(root, 'file');
    fs.writeFileSync(file, '');
    for (const [target, code] of [[missing, 'ENOENT'], [file, 'ENOTDIR'], [path.join(file, 'below'), 'ENOTDIR']] as const) {
      const error = thrownBy(() => readDirectory(target));
      const expected = fsError(target);
      expect(error).toBeInstanceOf(Error);
      expect({ message: error.message, code: error.code, errno: error.errno, syscall: error.syscall, path: error.path }).toStrictEqual({
        message: expected.message, code, errno: expected.errno, syscall: 'scandir', path: target,
      });
    }
    // A Buffer path is kept as given on the error.
    const bytes = Buffer.from(missing);
    expect(thrownBy(() => readDirectory(bytes)).path).toStrictEqual(bytes);
  });

  test('EACCES for a directory the process may not read (run as nobody)', () => {
    if (spawnSync('setpriv', ['--version']).status !== 0) expect.fail('setpriv is needed to run as an unprivileged user');
    const root = tempDir();
    fs.chmodSync(root, 0o755);
    const locked = path.join(root, 'locked');
    fs.mkdirSync(locked, 0o000);
    fs.chmodSync(locked, 0o000);
    const lib = ensureLib();
    const script = `
      const { readDirectory } = require(${JSON.stringify(path.join(path.dirname(lib), 'readdir.js'))});
      const fs = require('node:fs');
      const shape = (e) => ({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path });
      let ours, theirs;
      try { readDirectory(${JSON.stringify(locked)}); } catch (e) { ours = shape(e); }
      try { fs.readdirSync(${JSON.stringify(locked)}); } catch (e) { theirs = shape(e); }
      console.log(JSON.stringify({ ours, theirs, open: readDirectory(${JSON.stringify(root)}).names }));`;
    const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(result).toStrictEqual({
      ours: { message: `EACCES: permission denied, scandir '${locked}'`, code: 'EACCES', errno: -13, syscall: 'scandir', path: locked },
      theirs: { message: `EACCES: permission denied, scandir '${locked}'`, code: 'EACCES', errno: -13, syscall: 'scandir', path: locked },
      open: ['locked'],
    });
  });

  test('a bad argument is a TypeError, from the wrapper and from the addon itself, never a crash', () => {
    for (const bad of [undefined, null, 42, {}, ['/tmp']]) {
      expect(() => readDirectory(bad as unknown as string)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }) as Error);
      const native = binding.readdir as unknown as (...args: unknown[]) => unknown;
      expect(() => native(bad)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }) as Error);
    }
    const native = binding.readdir as unknown as (...args: unknown[]) => unknown;
    expect(() => native()).toThrow(TypeError);
    expect(() => readDirectory('/tmp\0/x')).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }) as Error);
    expect(() => native('/tmp\0/x', false, false)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }) as Error);
    expect(() => native(Buffer.alloc(0), false, false)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }) as Error);
    // Options that are not booleans are read as false, not trusted as anything else.
    expect(native(tempDir(), 'yes', 1)).toBe('');
  });
});
