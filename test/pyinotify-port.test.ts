// The README's "Coming from pyinotify" port, run for real.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../examples/pyinotify-port/watcher.mjs';
import { tempDir } from './helpers/index.js';

function waitForLine(lines: string[], stream: PassThrough, wanted: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${wanted}"; got:\n${lines.join('\n')}`)), timeoutMs);
    const check = (): void => {
      if (lines.includes(wanted)) {
        clearTimeout(timer);
        stream.off('data', check);
        resolve();
      }
    };
    stream.on('data', check);
    check();
  });
}

describe('pyinotify port (examples/pyinotify-port)', () => {
  it('reports create, write, move and delete exactly as the pyinotify script would', async () => {
    const dir = fs.realpathSync(tempDir());
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter((l) => l !== '')));
    const controller = new AbortController();
    const running = main(dir, out, controller.signal);

    fs.mkdirSync(path.join(dir, 'sub'));
    // Everything below happens in `sub`: let its watch exist first, as any real
    // producer's pace would (everything done before that is gone by then).
    await waitForLine(lines, out, `created dir ${dir}/sub`, 10_000);
    fs.writeFileSync(path.join(dir, 'sub', 'a.txt'), 'hello');
    fs.renameSync(path.join(dir, 'sub', 'a.txt'), path.join(dir, 'sub', 'b.txt'));
    fs.unlinkSync(path.join(dir, 'sub', 'b.txt'));
    await waitForLine(lines, out, `deleted ${dir}/sub/b.txt`, 10_000);
    controller.abort();
    await running;

    expect(lines).toEqual([
      `created dir ${dir}/sub`,
      `created file ${dir}/sub/a.txt`,
      `written ${dir}/sub/a.txt`,
      `moved ${dir}/sub/a.txt -> ${dir}/sub/b.txt`,
      `deleted ${dir}/sub/b.txt`,
    ]);
  });
});
