// watchdog's own tutorial handlers, ported, run on real files: the quickstart
// example (examples/watchdog-port/simple.mts, from watchdog's
// docs/source/examples/simple.py) and LoggingEventHandler (watchdog's README
// example of old, and `watchmedo log`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { main } from '../examples/watchdog-port/simple.mjs';
import { LoggingEventHandler, Observer } from '../src/index.js';
import { ensureLib } from './helpers/child.js';
import { tempDir } from './helpers/index.js';
import { waitUntil } from './helpers/wait.js';

/** Lines written to a stream, awaitable. */
function lineLog(): { stream: PassThrough; lines: string[]; waitFor: (wanted: string) => Promise<void> } {
  const stream = new PassThrough();
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  stream.on('data', (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
    for (const waiter of waiters) waiter();
  });
  const waitFor = (wanted: string): Promise<void> => waitUntil(waiters, () => (lines.includes(wanted) ? true : undefined), 20_000,
    () => `no line "${wanted}"; got:\n${lines.join('\n')}`).then(() => undefined);
  return { stream, lines, waitFor };
}

const repr = (cls: string, type: string, src: string, dest = '', dir = false): string =>
  `${cls}(src_path='${src}', dest_path='${dest}', event_type='${type}', is_directory=${dir ? 'True' : 'False'}, is_synthetic=False)`;

describe('watchdog\'s quickstart handler (examples/watchdog-port/simple.mts)', () => {
  it('prints exactly what watchdog\'s simple.py prints for a create, write, rename and delete', async () => {
    ensureLib(); // the example imports the package itself ('inotify-native' -> lib/)
    const dir = fs.realpathSync(tempDir());
    const log = lineLog();
    const controller = new AbortController();
    const running = main(dir, log.stream, controller.signal);
    onTestFinished(() => controller.abort());
    // Observer.start() arms its watches synchronously, within the call to main(): files made now are seen.
    const a = path.join(dir, 'a.txt');
    const b = path.join(dir, 'b.txt');
    fs.writeFileSync(a, 'hello');
    fs.renameSync(a, b);
    fs.unlinkSync(b);
    const last = `INFO:root:Modified: ${repr('DirModifiedEvent', 'modified', dir, '', true)}`;
    await log.waitFor(`INFO:root:Deleted: ${repr('FileDeletedEvent', 'deleted', b)}`);
    await log.waitFor(last);
    controller.abort();
    await running;
    const both = (label: string, event: string): string[] => [`INFO:root:Any event: ${event}`, `INFO:root:${label}: ${event}`];
    const parent = repr('DirModifiedEvent', 'modified', dir, '', true);
    expect(log.lines).toEqual([
      ...both('Created', repr('FileCreatedEvent', 'created', a)), ...both('Modified', parent),
      ...both('Opened', repr('FileOpenedEvent', 'opened', a)),
      ...both('Modified', repr('FileModifiedEvent', 'modified', a)),
      ...both('Closed', repr('FileClosedEvent', 'closed', a)), ...both('Modified', parent),
      ...both('Moved', repr('FileMovedEvent', 'moved', a, b)), ...both('Modified', parent),
      ...both('Deleted', repr('FileDeletedEvent', 'deleted', b)), ...both('Modified', parent),
    ]);
  });

  it('LoggingEventHandler on a recursive watch logs watchdog\'s lines for a tree', async () => {
    const dir = fs.realpathSync(tempDir());
    const lines: string[] = [];
    const waiters = new Set<() => void>();
    const handler = new LoggingEventHandler({ logger: { info: (line) => { lines.push(line); for (const w of waiters) w(); } } });
    const observer = new Observer();
    onTestFinished(() => observer.stop());
    observer.schedule(handler, dir, { recursive: true });
    await observer.start();
    fs.mkdirSync(path.join(dir, 'docs'));
    await waitUntil(waiters, () => (lines.includes(`Created directory: ${dir}/docs`) ? true : undefined), 20_000, () => lines.join('\n'));
    fs.writeFileSync(path.join(dir, 'docs', 'index.md'), '# hi');
    fs.readFileSync(path.join(dir, 'docs', 'index.md'));
    fs.renameSync(path.join(dir, 'docs'), path.join(dir, 'doc'));
    // The moved directory's contents are listed when its move is handled: let that happen before removing them.
    await waitUntil(waiters, () => (lines.includes(`Moved file: from ${dir}/docs/index.md to ${dir}/doc/index.md`) ? true : undefined), 20_000,
      () => lines.join('\n'));
    fs.rmSync(path.join(dir, 'doc'), { recursive: true });
    await waitUntil(waiters, () => (lines.includes(`Deleted directory: ${dir}/doc`) ? true : undefined), 20_000, () => lines.join('\n'));
    expect(lines).toEqual([
      `Created directory: ${dir}/docs`, `Modified directory: ${dir}`,
      `Created file: ${dir}/docs/index.md`, `Modified directory: ${dir}/docs`,
      `Opened file: ${dir}/docs/index.md`, `Modified file: ${dir}/docs/index.md`,
      `Closed modified file: ${dir}/docs/index.md`, `Modified directory: ${dir}/docs`,
      `Opened file: ${dir}/docs/index.md`, `Closed read file: ${dir}/docs/index.md`,
      `Moved directory: from ${dir}/docs to ${dir}/doc`, `Modified directory: ${dir}`,
      `Moved file: from ${dir}/docs/index.md to ${dir}/doc/index.md`,
      `Deleted file: ${dir}/doc/index.md`, `Modified directory: ${dir}/doc`,
      `Deleted directory: ${dir}/doc`, `Modified directory: ${dir}`,
    ]);
  });
});
