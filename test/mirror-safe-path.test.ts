/**
 * The serving end's path check (src/mirror/safe-path.ts) against a real
 * tree: plain relative paths inside the root pass; `..`, absolute paths,
 * empty and `.` segments, NUL bytes, text that is not base64, and any path
 * whose way passes through a symlink (to a directory outside, to one
 * inside, or dangling) are refused with ERR_PATH_ESCAPE.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { insideRoot } from '../src/mirror/safe-path.js';
import { tempDir } from './helpers/index.js';

const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');

function tree(): Buffer {
  const root = tempDir('safe-path-');
  fs.mkdirSync(path.join(root, 'dir', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'file'), 'x');
  fs.symlinkSync('/', path.join(root, 'link'));
  fs.symlinkSync('dir', path.join(root, 'inner-link'));
  fs.symlinkSync('nowhere', path.join(root, 'dangling'));
  fs.symlinkSync('/', path.join(root, 'dir', 'sub', 'deep-link'));
  return Buffer.from(root);
}

describe('insideRoot', () => {
  it('accepts plain relative paths, existing or not, a symlink as the last segment, and names that are not UTF-8', () => {
    const root = tree();
    for (const ok of ['file', 'dir/sub', 'dir/sub/new', 'new/deeper/name', 'link', 'dir/sub/deep-link', '..x', 'a..', '.hidden']) {
      expect(insideRoot(root, b64(ok)).text).toBe(ok);
    }
    const bytes = Buffer.from([0x64, 0x69, 0x72, 0x2f, 0xff, 0xfe]);
    expect(insideRoot(root, bytes.toString('base64')).bytes.equals(bytes)).toBe(true);
    // A file on the way is not an escape: the fs call fails with ENOTDIR inside the root.
    expect(insideRoot(root, b64('file/x')).text).toBe('file/x');
  });

  it.each([
    ['..', 'a parent'], ['../x', 'a parent'], ['a/../../x', 'a parent inside'], ['dir/..', 'a trailing parent'],
    ['/etc/passwd', 'absolute'], ['', 'empty'], ['.', 'the root itself'], ['./x', 'a dot segment'], ['a//b', 'an empty segment'],
    ['a/', 'a trailing slash'], ['a\0b', 'a NUL byte'], ['x\0/../../etc', 'a NUL byte before a parent'],
  ])('refuses %j (%s)', (bad) => {
    const root = tree();
    expect(() => insideRoot(root, b64(bad))).toThrow(expect.objectContaining({ code: 'ERR_PATH_ESCAPE' }));
  });

  it.each([
    ['link/etc/passwd', 'a symlink to / at the top'], ['link/tmp/x', 'a symlink to / leading to a new name'],
    ['inner-link/sub', 'a symlink to a directory inside'], ['dangling/x', 'a dangling symlink'],
    ['dir/sub/deep-link/etc/passwd', 'a symlink deeper down'],
  ])('refuses %j (%s)', (bad) => {
    const root = tree();
    const error = ((): unknown => {
      try {
        insideRoot(root, b64(bad));
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ code: 'ERR_PATH_ESCAPE', path: bad, message: expect.stringMatching(/is a symlink/) });
  });

  it.each([[42], [null], [['YQ==']], ['not base64!'], ['YQ']])('refuses %j, which is not a base64 string', (bad) => {
    expect(() => insideRoot(tree(), bad)).toThrow(expect.objectContaining({ code: 'ERR_PATH_ESCAPE' }));
  });
});
