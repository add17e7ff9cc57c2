/**
 * Polling (src/poll/): the core's scenarios on a local directory, watched
 * both by inotify (a Notifier) and by a forced Poller, give the same events
 * (moves by inode, directories moved whole, deletes children first);
 * pollTransfers reports arrivals like trackTransfers; bad options are
 * rejected with codes; a tree larger than maxEntries is a warning.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO, Notifier, Poller, pollTransfers, WatchManager,
  type InotifyEvent, type TransferComplete,
} from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { prelude, readLog, runCli, startDaemon, tempDir as daemonDir, until } from './daemon-helpers.js';

const MASK = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE;

/**
 * "MASKNAME rel[ <- src]", consecutive duplicates (several IN_MODIFY of one write) merged; IN_IGNORED
 * (the kernel dropping a watch: polling has no watches) left out.
 */
function describeEvents(events: readonly InotifyEvent[], root: string): string[] {
  const lines = events.filter((e) => e.maskname !== 'IN_IGNORED').map((e) => `${e.maskname} ${path.relative(root, e.pathname)}${e.srcPathname === undefined ? '' : ` <- ${path.relative(root, e.srcPathname)}`}`);
  return lines.filter((line, i) => line !== lines[i - 1]);
}

describe('polling', () => {
  it('the core scenarios: a forced Poller reports what inotify reports, step by step', async () => {
    const root = tempDir();
    const wm = new WatchManager();
    const kernel: InotifyEvent[] = [];
    const notifier = new Notifier(wm, (event) => { kernel.push(event); });
    onTestFinished(() => notifier.close());
    wm.addWatch(root, MASK, { rec: true, autoAdd: true });
    const poller = new Poller(root, { interval: 20, force: true });
    onTestFinished(() => poller.close());
    const polled: InotifyEvent[] = [];
    poller.on('event', (event) => polled.push(event));
    const failures: Error[] = [];
    poller.on('error', (error) => failures.push(error));
    notifier.on('error', (error) => failures.push(error));
    await poller.ready;
    const at = (p: string): string => path.join(root, p);
    // Each step, then wait until both sides reported its last event (polling: a file's close comes one poll later).
    const steps: Array<[() => void, string]> = [
      [() => fs.writeFileSync(at('a.txt'), 'first'), 'IN_CLOSE_WRITE a.txt'],
      [() => fs.appendFileSync(at('a.txt'), ' and more'), 'IN_CLOSE_WRITE a.txt'],
      [() => fs.renameSync(at('a.txt'), at('b.txt')), 'IN_MOVED_TO b.txt <- a.txt'],
      [() => fs.mkdirSync(at('d')), 'IN_CREATE|IN_ISDIR d'],
      [() => fs.renameSync(at('b.txt'), at('d/b.txt')), 'IN_MOVED_TO d/b.txt <- b.txt'],
      [() => fs.renameSync(at('d'), at('e')), 'IN_MOVED_TO|IN_ISDIR e <- d'],
      [() => fs.appendFileSync(at('e/b.txt'), '!'), 'IN_CLOSE_WRITE e/b.txt'],
      [() => fs.rmSync(at('e'), { recursive: true }), 'IN_DELETE|IN_ISDIR e'],
    ];
    for (const [action, last] of steps) {
      const k = kernel.length;
      const p = polled.length;
      action();
      await until(() => describeEvents(kernel.slice(k), root).includes(last) && describeEvents(polled.slice(p), root).includes(last),
        `${last} from both (errors: ${failures.map(String).join('; ')}; tree now: ${fs.readdirSync(root, { recursive: true }).join(" ")}; ${kernel.length - k} and ${polled.length - p} events; all: ${describeEvents(kernel, root).join(", ")} / ${describeEvents(polled, root).join(", ")}):\ninotify: ${describeEvents(kernel.slice(k), root).join(', ')}\npolling: ${describeEvents(polled.slice(p), root).join(', ')}`, 60_000);
      expect(describeEvents(polled.slice(p), root), last).toEqual(describeEvents(kernel.slice(k), root));
    }
    expect(describeEvents(polled, root)).toEqual([
      'IN_CREATE a.txt', 'IN_MODIFY a.txt', 'IN_CLOSE_WRITE a.txt', 'IN_MODIFY a.txt', 'IN_CLOSE_WRITE a.txt',
      'IN_MOVED_FROM a.txt', 'IN_MOVED_TO b.txt <- a.txt', 'IN_CREATE|IN_ISDIR d', 'IN_MOVED_FROM b.txt', 'IN_MOVED_TO d/b.txt <- b.txt',
      'IN_MOVED_FROM|IN_ISDIR d', 'IN_MOVED_TO|IN_ISDIR e <- d', 'IN_MODIFY e/b.txt', 'IN_CLOSE_WRITE e/b.txt', 'IN_DELETE e/b.txt', 'IN_DELETE|IN_ISDIR e',
    ]);
    // Moved pairs share a cookie; the events are the library's InotifyEvent.
    const from = polled.find((e) => e.maskname === 'IN_MOVED_FROM');
    const to = polled.find((e) => e.maskname === 'IN_MOVED_TO');
    expect(from?.cookie).toBeGreaterThan(0);
    expect(to?.cookie).toBe(from?.cookie);
  }, 120_000);

  it('pollTransfers (forced) reports a written file complete once, and a moved-in one', async () => {
    const root = tempDir();
    const tracker = pollTransfers(root, { poll: { interval: 20, force: true }, settleTime: 50 });
    onTestFinished(() => tracker.close());
    const complete: TransferComplete[] = [];
    tracker.on('complete', (t) => complete.push(t));
    // A file written before the baseline poll is part of it (no event): write probes until one is reported.
    for (let i = 0; complete.length === 0; i++) {
      if (i % 20 === 0) fs.writeFileSync(path.join(root, `probe${i}`), '');
      if (i > 1200) throw new Error('no polled arrival');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    complete.length = 0;
    fs.writeFileSync(path.join(root, 'one.bin'), Buffer.alloc(100_000, 1));
    const outside = tempDir();
    fs.writeFileSync(path.join(outside, 'two.bin'), 'moved in');
    fs.renameSync(path.join(outside, 'two.bin'), path.join(root, 'two.bin'));
    const names = (): string[] => complete.map((t) => path.basename(t.pathname)).filter((name) => !name.startsWith('probe')).sort();
    await until(() => names().length >= 2, `two completions: ${JSON.stringify(complete)}`);
    expect(names()).toEqual(['one.bin', 'two.bin']);
    expect(complete.find((t) => t.pathname.endsWith('one.bin'))?.size).toBe(100_000);
  });

  it('inotifyd: poll.force polls a local watch; the event map and TRANSFER_COMPLETE get the polled events; a bad poll key names the key', async () => {
    const dir = daemonDir();
    const watched = path.join(dir, 'in');
    fs.mkdirSync(watched);
    const daemon = await startDaemon(dir, `${prelude(dir)}import { defineConfig } from 'inotify-native';
export default defineConfig({ watches: [{ path: ${JSON.stringify(watched)}, poll: { interval: 50, force: true }, transfers: { settleTime: 50 },
  eventMap: { IN_CLOSE_WRITE: (e) => record({ ev: 'close', p: e.pathname }), IN_DELETE: (e) => record({ ev: 'delete', p: e.pathname }), TRANSFER_COMPLETE: (e) => record({ ev: 'complete', p: e.pathname }) } }] });
`);
    expect(daemon.stderr).toMatch(/polling .*\/in \(mask IN_CLOSE_WRITE\|IN_DELETE\)/);
    // Probes until the baseline poll is behind us, then one file written and deleted.
    for (let i = 0; !readLog(dir).some((e) => e.ev === 'complete'); i++) {
      if (i % 20 === 0) fs.writeFileSync(path.join(watched, `probe${i}`), 'x');
      if (i > 1200) throw new Error(`no polled event:\n${daemon.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    fs.writeFileSync(path.join(watched, 'file.txt'), 'content');
    await until(() => readLog(dir).some((e) => e.ev === 'complete' && e.p.endsWith('/file.txt')), `file.txt complete:\n${daemon.stderr}`);
    fs.rmSync(path.join(watched, 'file.txt'));
    await until(() => readLog(dir).some((e) => e.ev === 'delete' && e.p.endsWith('/file.txt')), `file.txt deleted:\n${daemon.stderr}`);
    expect(readLog(dir).filter((e) => e.p.endsWith('/file.txt')).map((e) => e.ev)).toEqual(['close', 'complete', 'delete']);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    fs.writeFileSync(path.join(dir, 'bad.mjs'), `import { defineConfig } from 'inotify-native';
export default defineConfig({ watches: [{ path: ${JSON.stringify(watched)}, poll: { interval: 1 }, eventMap: { IN_CREATE: () => {} } }] });
`);
    const bad = runCli(['-t', '-c', path.join(dir, 'bad.mjs')], dir);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`bad.mjs: watches[0].poll: expected { interval (ms, >= 10), maxEntries (>= 1), force (boolean) }, given object { interval: 1 } (The "watches[0].poll.interval" option must be an integer >= 10. Received 1)`);
  }, 60_000);

  it('rejects bad options with codes; a tree over maxEntries is a warning naming the limit', async () => {
    expect(() => new Poller('/tmp', { interval: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"poll.interval" option must be an integer >= 10') }));
    expect(() => pollTransfers('/tmp', { poll: { intervall: 5 } as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.poll.intervall" option is not a polling option') }));
    const root = tempDir();
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(root, `f${i}`), '');
    const poller = new Poller(root, { interval: 20, maxEntries: 3, force: true });
    onTestFinished(() => poller.close());
    const warning = await new Promise<Error>((resolve) => poller.once('warning', resolve));
    expect(warning).toMatchObject({ code: 'INOTIFY_POLL_TRUNCATED', path: root, message: `${root}: more than 3 entries: polling sees only the first 3 (raise poll.maxEntries)` });
    const missing = new Poller(path.join(root, 'missing'), { force: true });
    await expect(missing.ready).rejects.toMatchObject({ code: 'ENOENT', syscall: 'scandir' });
  });
});
