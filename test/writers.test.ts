// isOpenForWrite asks the kernel (a read lease is refused while a writer has the file open).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { IN_CREATE, IN_DELETE, IN_MODIFY } from '../src/constants.js';
import { EchoFilter } from '../src/echo-filter.js';
import { isOpenForWrite } from '../src/writers.js';
import { tempDir } from './helpers/index.js';

describe('isOpenForWrite', () => {
  test("a path with a null byte, an empty path or a non-path throws a TypeError with Node's fs codes", () => {
    const dir = tempDir();
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'x');
    const writer = fs.openSync(file, 'a'); // '/f' is open for writing: a truncated '/f\0x' would answer true
    try {
      for (const [value, code] of [
        [`${file}\0x`, 'ERR_INVALID_ARG_VALUE'], [Buffer.from(`${file}\0x`), 'ERR_INVALID_ARG_VALUE'], ['', 'ERR_INVALID_ARG_VALUE'],
        [42, 'ERR_INVALID_ARG_TYPE'], [undefined, 'ERR_INVALID_ARG_TYPE'], [{ path: file }, 'ERR_INVALID_ARG_TYPE'],
      ] as const) {
        let error: unknown;
        try {
          isOpenForWrite(value as unknown as string);
        } catch (caught) {
          error = caught;
        }
        expect(error, String(value)).toBeInstanceOf(TypeError);
        expect((error as NodeJS.ErrnoException).code, String(value)).toBe(code);
      }
      expect(isOpenForWrite(new URL(`file://${file}`))).toBe(true);
    } finally {
      fs.closeSync(writer);
    }
  });

  test('false when closed or only read, true while a writer holds it, undefined when it cannot tell', () => {
    const file = path.join(tempDir(), 'f');
    fs.writeFileSync(file, 'x');
    expect(isOpenForWrite(file)).toBe(false);
    const reader = fs.openSync(file, 'r');
    expect(isOpenForWrite(file)).toBe(false);
    fs.closeSync(reader);
    const writer = fs.openSync(file, 'a');
    expect(isOpenForWrite(file)).toBe(true);
    expect(isOpenForWrite(Buffer.from(file))).toBe(true);
    fs.closeSync(writer);
    expect(isOpenForWrite(file)).toBe(false);
    expect(isOpenForWrite(`${file}.missing`)).toBeUndefined();
  });
});

describe('EchoFilter', () => {
  const record = (mask: number, name = 'a', wd = 1) => ({ wd, mask, cookie: 0, name });

  test('the kernel IN_CREATE after a synthesized one is an echo, once', () => {
    const echoes = new EchoFilter();
    expect(echoes.isEcho(record(IN_CREATE))).toBe(false);
    echoes.expect(1, 'a');
    expect(echoes.isEcho(record(IN_CREATE, 'a', 2))).toBe(false); // another directory
    expect(echoes.isEcho(record(IN_MODIFY))).toBe(false);
    expect(echoes.isEcho(record(IN_CREATE))).toBe(true);
    expect(echoes.isEcho(record(IN_CREATE))).toBe(false); // a second creation is real
  });

  test('a deletion in between makes the next IN_CREATE real; expectations expire', () => {
    const echoes = new EchoFilter(1_000);
    echoes.expect(1, 'a', 0);
    expect(echoes.isEcho(record(IN_DELETE), 10)).toBe(false);
    expect(echoes.isEcho(record(IN_CREATE), 20)).toBe(false);
    echoes.expect(1, 'b', 0);
    expect(echoes.isEcho(record(IN_CREATE, 'b'), 5_000)).toBe(false);
    echoes.expect(1, 'c', 0);
    echoes.expire(5_000);
    expect(echoes.size).toBe(0);
  });
});
