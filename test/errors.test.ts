/**
 * Error shapes: system errors look like Node's fs errors (message
 * `CODE: text, syscall 'path'`, errno, code, syscall, path); argument errors
 * carry Node's ERR_* codes and are thrown before anything reaches the kernel.
 */
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Inotify, IN_CREATE, IN_MODIFY, IN_ONESHOT, IN_ONLYDIR } from '../src/index.js';
import { systemError } from '../src/errors.js';
import { ensureLib } from './helpers/child.js';
import { openInotify, repoRoot, tempDir } from './helpers/index.js';

/** The error `run` throws (fails the test if it returns). */
function thrownBy(run: () => unknown): NodeJS.ErrnoException {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as NodeJS.ErrnoException;
  }
  throw new Error('expected a throw, but the call returned');
}

describe('system errors from inotify_add_watch', () => {
  test('ENOENT: fs-shaped message, errno -2, code, syscall, path', () => {
    const ino = openInotify();
    const missing = `/nope-${process.pid}-${Date.now()}`;
    const error = thrownBy(() => ino.addWatch(missing, IN_CREATE));
    expect(error.message.startsWith(`ENOENT: no such file or directory, inotify_add_watch '${missing}'`)).toBe(true);
    expect(error.errno).toBe(-2);
    expect(error.code).toBe('ENOENT');
    expect(error.syscall).toBe('inotify_add_watch');
    expect(error.path).toBe(missing);
  });

  test('the shape matches what fs itself throws for the same path', () => {
    const ino = openInotify();
    const missing = path.join(tempDir(), 'missing');
    const ours = thrownBy(() => ino.addWatch(missing, IN_CREATE));
    const theirs = thrownBy(() => fs.statSync(missing));
    expect(ours.message).toBe(theirs.message.replace('stat', 'inotify_add_watch'));
    expect({ errno: ours.errno, code: ours.code, path: ours.path }).toStrictEqual({ errno: theirs.errno, code: theirs.code, path: theirs.path });
  });

  test('a Buffer path is reported as given', () => {
    const ino = openInotify();
    const missing = Buffer.from(path.join(tempDir(), 'gone'));
    const error = thrownBy(() => ino.addWatch(missing, IN_CREATE));
    expect(error.code).toBe('ENOENT');
    expect(Buffer.isBuffer(error.path) && error.path.equals(missing)).toBe(true);
    expect(error.message).toBe(`ENOENT: no such file or directory, inotify_add_watch '${missing.toString()}'`);
  });

  test('ENOTDIR for a path under a regular file, and for IN_ONLYDIR on a file', () => {
    const dir = tempDir();
    const file = path.join(dir, 'regular');
    fs.writeFileSync(file, '');
    const ino = openInotify();
    const under = thrownBy(() => ino.addWatch(`${file}/child`, IN_CREATE));
    expect(under.message).toBe(`ENOTDIR: not a directory, inotify_add_watch '${file}/child'`);
    expect(under).toMatchObject({ errno: -20, code: 'ENOTDIR', syscall: 'inotify_add_watch', path: `${file}/child` });
    const onlydir = thrownBy(() => ino.addWatch(file, (IN_CREATE | IN_ONLYDIR) >>> 0));
    expect(onlydir).toMatchObject({ errno: -20, code: 'ENOTDIR', syscall: 'inotify_add_watch', path: file });
  });

  test('EINVAL for a mask with no events (0)', () => {
    const dir = tempDir();
    const ino = openInotify();
    const error = thrownBy(() => ino.addWatch(dir, 0));
    expect(error.message).toBe(`EINVAL: invalid argument, inotify_add_watch '${dir}'`);
    expect(error).toMatchObject({ errno: -22, code: 'EINVAL', syscall: 'inotify_add_watch', path: dir });
  });

  // The limit is lowered only inside a child user namespace (its own inotify
  // watch count, /proc/sys/user/max_inotify_watches): nothing else on the
  // machine is affected, unlike writing fs.inotify.max_user_watches.
  const userNamespaces = spawnSync('unshare', ['--user', '--map-root-user', 'sh', '-c', 'echo 0 > /proc/sys/user/max_inotify_watches'], { encoding: 'utf8' }).status === 0;

  test.skipIf(!userNamespaces)('ENOSPC names fs.inotify.max_user_watches', () => {
    ensureLib();
    const dir = tempDir();
    const script = `
      const fs = require('node:fs');
      const { Inotify, IN_CREATE } = require(process.argv[1]);
      fs.writeFileSync('/proc/sys/user/max_inotify_watches', '0');
      const ino = new Inotify();
      try { ino.addWatch(process.argv[2], IN_CREATE); console.log('{}'); }
      catch (e) { console.log(JSON.stringify({ message: e.message, errno: e.errno, code: e.code, syscall: e.syscall, path: e.path })); }
      ino.close();`;
    const run = spawnSync('unshare', ['--user', '--map-root-user', process.execPath, '-e', script, path.join(repoRoot, 'lib', 'index.js'), dir], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status, run.stderr).toBe(0);
    const error = JSON.parse(run.stdout) as NodeJS.ErrnoException;
    expect(error.message.startsWith(`ENOSPC: no space left on device, inotify_add_watch '${dir}'`)).toBe(true);
    expect(error.message).toContain('fs.inotify.max_user_watches');
    expect(error).toMatchObject({ errno: -28, code: 'ENOSPC', syscall: 'inotify_add_watch', path: dir });
  });
});

describe('errors after close and from inotify_rm_watch', () => {
  test('addWatch after close throws EBADF', () => {
    const dir = tempDir();
    const ino = new Inotify();
    ino.close();
    const error = thrownBy(() => ino.addWatch(dir, IN_CREATE));
    expect(error.message.startsWith(`EBADF: bad file descriptor, inotify_add_watch '${dir}'`)).toBe(true);
    expect(error).toMatchObject({ errno: -9, code: 'EBADF', syscall: 'inotify_add_watch', path: dir });
  });

  test('rmWatch after close throws EBADF', () => {
    const dir = tempDir();
    const ino = new Inotify();
    const wd = ino.addWatch(dir, IN_CREATE);
    ino.close();
    const error = thrownBy(() => ino.rmWatch(wd));
    expect(error.message.startsWith('EBADF: bad file descriptor, inotify_rm_watch')).toBe(true);
    expect(error).toMatchObject({ errno: -9, code: 'EBADF', syscall: 'inotify_rm_watch' });
  });

  test('rmWatch of an unknown wd throws EINVAL', () => {
    const dir = tempDir();
    const ino = openInotify();
    const wd = ino.addWatch(dir, IN_CREATE);
    const error = thrownBy(() => ino.rmWatch(wd + 1000));
    expect(error.message).toBe('EINVAL: invalid argument, inotify_rm_watch');
    expect(error).toMatchObject({ errno: -22, code: 'EINVAL', syscall: 'inotify_rm_watch' });
    // Removing the real one works once, then it is unknown too.
    ino.rmWatch(wd);
    expect(thrownBy(() => ino.rmWatch(wd))).toMatchObject({ code: 'EINVAL', syscall: 'inotify_rm_watch' });
  });
});

describe('argument errors (thrown in JS, Node codes)', () => {
  test('path of the wrong type: TypeError ERR_INVALID_ARG_TYPE', () => {
    const ino = openInotify();
    // @ts-expect-error a number is not a path
    const error = thrownBy(() => ino.addWatch(42, IN_CREATE));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(error.message).toContain('"path"');
    // @ts-expect-error undefined is not a path
    expect(thrownBy(() => ino.addWatch(undefined, IN_CREATE))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  test('mask of the wrong type: TypeError ERR_INVALID_ARG_TYPE', () => {
    const dir = tempDir();
    const ino = openInotify();
    // @ts-expect-error a string is not a mask
    const error = thrownBy(() => ino.addWatch(dir, '1'));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(error.message).toContain('"mask"');
  });

  test('a path with a NUL byte: TypeError ERR_INVALID_ARG_VALUE (string and Buffer)', () => {
    const dir = tempDir();
    const ino = openInotify();
    const error = thrownBy(() => ino.addWatch(`${dir}\0/etc`, IN_CREATE));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrownBy(() => ino.addWatch(Buffer.from(`${dir}\0x`), IN_CREATE))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(thrownBy(() => ino.addWatch('', IN_CREATE))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });

  test('a mask out of range: RangeError ERR_OUT_OF_RANGE', () => {
    const dir = tempDir();
    const ino = openInotify();
    for (const mask of [-(2 ** 31) - 1, 1.5, 2 ** 32, Number.NaN]) {
      const error = thrownBy(() => ino.addWatch(dir, mask));
      expect(error, String(mask)).toBeInstanceOf(RangeError);
      expect(error.code, String(mask)).toBe('ERR_OUT_OF_RANGE');
    }
  });

  test('a mask with IN_ONESHOT is negative in JavaScript and still accepted', () => {
    const dir = tempDir();
    const ino = openInotify();
    expect(IN_MODIFY | IN_ONESHOT).toBeLessThan(0);
    expect(ino.addWatch(dir, IN_MODIFY | IN_ONESHOT)).toBeGreaterThan(0);
  });

  test('rmWatch validates the wd', () => {
    const ino = openInotify();
    // @ts-expect-error a string is not a wd
    expect(thrownBy(() => ino.rmWatch('1'))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrownBy(() => ino.rmWatch(0))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrownBy(() => ino.rmWatch(-1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  });
});

describe('system errors built in JS', () => {
  test("their text is libuv's, exactly as Node's own fs errors print it, for any errno (no hand table)", () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'file'), '');
    const cases: Array<[() => unknown, string, string]> = [
      [() => fs.openSync(path.join(dir, 'missing'), 'r'), 'open', path.join(dir, 'missing')],
      [() => fs.openSync(dir, 'w'), 'open', dir], // EISDIR
      [() => fs.openSync(path.join(dir, 'file', 'below'), 'r'), 'open', path.join(dir, 'file', 'below')], // ENOTDIR
      [() => fs.mkdirSync(dir), 'mkdir', dir], // EEXIST
      [() => fs.rmdirSync(path.join(dir, 'file')), 'rmdir', path.join(dir, 'file')], // ENOTDIR
    ];
    for (const [call, syscall, target] of cases) {
      let real: NodeJS.ErrnoException | undefined;
      try {
        call();
      } catch (error) {
        real = error as NodeJS.ErrnoException;
      }
      expect(real).toBeDefined();
      const ours = systemError(real?.code ?? '', syscall, target);
      expect(ours.message).toBe(real?.message);
      expect(ours.errno).toBe(real?.errno);
    }
  });
});
