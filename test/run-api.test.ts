/**
 * runOnChange() as a library user calls it, on real files: a function job
 * gets the changed paths (bytes included), an --ignore-file-style file is
 * honoured (last line wins, `!` re-includes, anchored lines), and bad
 * arguments throw Node-style errors before anything is watched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { compileIgnoreFile, runOnChange, type RunBatch } from '../src/index.js';
import { tempDir } from './daemon-helpers.js';
import { until } from './run-helpers.js';

describe('runOnChange()', () => {
  test('a function job gets each change once, a non-UTF-8 name as its exact bytes; close() ends watching', async () => {
    const dir = tempDir('run-api-');
    const batches: RunBatch[] = [];
    const runner = runOnChange(dir, (batch) => {
      batches.push(batch);
    });
    const odd = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x66, 0xff, 0x2e, 0x74])]);
    fs.writeFileSync(odd, 'x');
    fs.writeFileSync(path.join(dir, 'plain.txt'), 'x');
    await until(() => batches.flatMap((b) => b.paths).includes(path.join(dir, 'plain.txt')), 'plain.txt to reach a run');
    const all = batches.flatMap((b) => b.pathBytes.map((bytes) => bytes.toString('hex')));
    expect(all).toContain(odd.toString('hex'));
    expect(new Set(all).size).toBe(2);
    await runner.close();
    expect(runner.closed).toBe(true);
    const runs = runner.runner.runs;
    fs.writeFileSync(path.join(dir, 'after.txt'), 'x');
    await runner.close(); // idempotent
    expect(runner.runner.runs).toBe(runs);
  });

  test('an ignore file: names at any depth, anchored paths, and ! re-includes (the last matching line decides)', async () => {
    const dir = tempDir('run-api-');
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'a', 'build'), { recursive: true });
    fs.mkdirSync(path.join(src, 'out'));
    const ignore = path.join(src, '.runignore');
    fs.writeFileSync(ignore, '# comment\n\n*.log\n!keep.log\n/out/\nbuild\n');
    const predicate = compileIgnoreFile(ignore);
    const cases: Array<[string, boolean]> = [
      ['x.log', true], ['a/deep.log', true], ['keep.log', false], ['a/keep.log', false], ['out', true], ['out/f', true],
      ['a/out', false], ['a/build/f', true], ['build', true], ['main.c', false],
    ];
    expect(cases.map(([p]) => [p, predicate(path.join(src, p))])).toEqual(cases);
    expect(predicate(path.join(dir, 'x.log'))).toBe(false); // outside the file's directory

    const seen: string[] = [];
    const runner = runOnChange(src, (batch) => {
      seen.push(...batch.paths);
    }, { ignoreFile: ignore });
    for (const [p] of cases.filter(([p]) => !['out', 'build', 'a/out'].includes(p) && !p.endsWith('/'))) {
      fs.mkdirSync(path.dirname(path.join(src, p)), { recursive: true });
      if (!fs.existsSync(path.join(src, p))) fs.writeFileSync(path.join(src, p), 'x');
      else fs.appendFileSync(path.join(src, p), 'x');
    }
    fs.writeFileSync(path.join(src, 'last.c'), 'x');
    await until(() => seen.includes(path.join(src, 'last.c')), 'last.c to reach a run');
    await runner.close();
    expect(new Set(seen)).toEqual(new Set(['keep.log', 'a/keep.log', 'main.c', 'last.c'].map((p) => path.join(src, p))));
  });

  test('bad arguments throw before anything is watched, in Node\'s shapes', () => {
    const dir = tempDir('run-api-');
    const missing = path.join(dir, 'missing');
    expect(() => runOnChange(missing, ['true'])).toThrow(expect.objectContaining({ code: 'ENOENT', path: missing }));
    expect(() => runOnChange(dir, [])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => runOnChange([], ['true'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => runOnChange(dir, ['true'], { onBusy: 'later' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => runOnChange(dir, ['true'], { debounce: 'soon' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => runOnChange(dir, ['a', 'b'], { shell: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => runOnChange(dir, ['true'], { stopSignal: 'SIGNOPE' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => runOnChange(dir, ['true'], { exclude: '*.{x' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});
