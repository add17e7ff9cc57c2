/**
 * Polling (src/poll/): the core's scenarios on a local directory, watched
 * both by inotify (a Notifier) and by a forced Poller, give the same events
 * (moves by inode, directories moved whole, deletes children first);
 * so do watch() streams with `poll: true` and without; trackTransfers with
 * `poll` reports arrivals like without; `poll: 'auto'` polls only network
 * and FUSE paths; bad options are rejected with codes; a tree larger than
 * maxEntries is a warning.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO, Notifier, Poller, trackTransfers, watch, WatchManager,
  type InotifyEvent, type TransferComplete,
} from '../src/index.js';
import { takeSnapshotSync } from '../src/poll/snapshot.js';
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

/**
 * The core scenarios, one step at a time: after each, both sides' events until its last event
 * (polling: a file's close comes one poll later) must be the same. `root` is watched by both already.
 */
async function runCoreScenarios(root: string, kernel: readonly InotifyEvent[], polled: readonly InotifyEvent[], failures: readonly Error[]): Promise<void> {
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
        () => `${last} from both (errors: ${failures.map(String).join('; ')}; tree now: ${fs.readdirSync(root, { recursive: true }).join(" ")}; ${kernel.length - k} and ${polled.length - p} events; all: ${describeEvents(kernel, root).join(", ")} / ${describeEvents(polled, root).join(", ")}):\ninotify: ${describeEvents(kernel.slice(k), root).join(', ')}\npolling: ${describeEvents(polled.slice(p), root).join(', ')}`, 60_000);
      expect(describeEvents(polled.slice(p), root), last).toEqual(describeEvents(kernel.slice(k), root));
    }
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
    await runCoreScenarios(root, kernel, polled, failures);
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

  it('watch() with poll: true gives the events watch() gives with inotify, for the same scenarios; coalesce and events apply too', async () => {
    const root = tempDir();
    const kernel: InotifyEvent[] = [];
    const polled: InotifyEvent[] = [];
    const failures: Error[] = [];
    const inotify = watch(root, { events: MASK, onError: (error) => failures.push(error) }, (event) => kernel.push(event));
    onTestFinished(() => inotify.close());
    const polling = watch(root, { events: MASK, poll: { interval: 20, force: true }, onError: (error) => failures.push(error) });
    onTestFinished(() => polling.close());
    expect([inotify.poller, polling.notifier, polling.poller?.interval]).toEqual([undefined, undefined, 20]);
    // Iterated, as most code uses watch().
    const iterating = (async () => {
      for await (const event of polling) polled.push(event);
    })();
    await runCoreScenarios(root, kernel, polled, failures);
    expect(describeEvents(polled, root)).toEqual(describeEvents(kernel, root));
    await polling.close();
    await iterating;
    expect(polling.closed).toBe(true);
    // `events` filters polled events as it filters inotify's; `coalesce` batches them per path.
    const batches: string[][] = [];
    const onlyCloses = watch(root, { events: ['IN_CLOSE_WRITE'], coalesce: { ms: 10 }, poll: true }, (batch) => batches.push(batch.map((c) => `${c.maskname} ${path.basename(c.pathname)}`)));
    onTestFinished(() => onlyCloses.close());
    fs.writeFileSync(path.join(root, 'c.txt'), 'x');
    fs.mkdirSync(path.join(root, 'sub'));
    await until(() => batches.flat().length > 0, 'a polled close');
    fs.rmSync(path.join(root, 'c.txt'));
    fs.writeFileSync(path.join(root, 'sub', 'barrier.txt'), 'x'); // the deletion is reported no later than this close
    await until(() => batches.flat().includes('IN_CLOSE_WRITE barrier.txt'), 'the barrier\'s close');
    expect(batches.flat()).toEqual(['IN_CLOSE_WRITE c.txt', 'IN_CLOSE_WRITE barrier.txt']);
  }, 120_000);

  it('a walk that sees a file at both ends of a rename (moved into a directory not listed yet) is torn; hard links are not', () => {
    const root = tempDir();
    const at = (p: string): string => path.join(root, p);
    fs.mkdirSync(at('d/e'), { recursive: true });
    fs.writeFileSync(at('b.txt'), 'b');
    fs.writeFileSync(at('d/x'), 'x');
    fs.writeFileSync(at('h1'), 'h');
    fs.linkSync(at('h1'), at('d/h2'));
    // Breadth first: d's entries are looked at after every entry of the root, and d/e is listed after them.
    let moved = false;
    const exclude = (pathname: string): boolean => {
      if (pathname === at('d/x') && !moved) {
        fs.renameSync(at('b.txt'), at('d/e/b.txt'));
        moved = true;
      }
      return false;
    };
    const options = { recursive: true, maxEntries: 1000 };
    const tornWalk = takeSnapshotSync(root, { ...options, exclude });
    expect(moved).toBe(true);
    expect([tornWalk.entries.has(at('b.txt')), tornWalk.entries.has(at('d/e/b.txt'))]).toEqual([true, true]);
    expect(tornWalk.torn).toBe(true);
    // The same tree walked again, and a file with two links at two paths: not torn.
    const clean = takeSnapshotSync(root, options);
    expect(clean.torn).toBe(false);
    expect(clean.entries.get(at('h1'))?.ino).toBe(clean.entries.get(at('d/h2'))?.ino);
  });

  it("watch() and trackTransfers() with poll: 'auto' use inotify on a local path; bad poll options are clear errors", () => {
    const root = tempDir();
    const stream = watch(root, { poll: 'auto' });
    onTestFinished(() => stream.close());
    expect(stream.notifier).toBeInstanceOf(Notifier);
    expect(stream.poller).toBeUndefined();
    const badOptions: Array<[unknown, string, string]> = [
      ['yes', 'ERR_INVALID_ARG_TYPE', `The "options.poll" option must be true, false, 'auto' or an object { interval, maxEntries, force }. Received "yes"`],
      [{ intervall: 5 }, 'ERR_INVALID_ARG_VALUE', 'The "options.poll.intervall" option is not a polling option (interval, maxEntries, force)'],
      [{ interval: 5 }, 'ERR_OUT_OF_RANGE', 'The "options.poll.interval" option must be an integer >= 10. Received 5'],
      [{ force: 'yes' }, 'ERR_INVALID_ARG_TYPE', 'The "options.poll.force" option must be a boolean'],
    ];
    for (const [poll, code, message] of badOptions) {
      expect(() => watch(root, { poll: poll as never }), JSON.stringify(poll)).toThrow(expect.objectContaining({ code, message }));
      expect(() => trackTransfers(root, { poll: poll as never }), JSON.stringify(poll)).toThrow(expect.objectContaining({ code, message }));
    }
    expect(() => watch(root, { poll: true, followSymlinks: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("The argument 'options.followSymlinks' cannot be used while polling") }));
    expect(() => trackTransfers(root, { poll: true, reportExisting: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining(`cannot be used while polling ${root}`) }));
    // Setup errors are thrown, as with inotify.
    expect(() => watch(path.join(root, 'missing'), { poll: true })).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'scandir', path: path.join(root, 'missing') }));
  });

  it('trackTransfers with poll: true reports a written file complete once, and a moved-in one', async () => {
    const root = tempDir();
    const tracker = trackTransfers(root, { poll: { interval: 20, force: true }, settleTime: 50 });
    onTestFinished(() => tracker.close());
    const complete: TransferComplete[] = [];
    tracker.on('complete', (t) => complete.push(t));
    // The baseline is taken by then: what is written from here on arrives.
    fs.writeFileSync(path.join(root, 'one.bin'), Buffer.alloc(100_000, 1));
    const outside = tempDir();
    fs.writeFileSync(path.join(outside, 'two.bin'), 'moved in');
    fs.renameSync(path.join(outside, 'two.bin'), path.join(root, 'two.bin'));
    const names = (): string[] => complete.map((t) => path.basename(t.pathname)).sort();
    await until(() => names().length >= 2, () => `two completions: ${JSON.stringify(complete)}`);
    expect(names()).toEqual(['one.bin', 'two.bin']);
    expect(complete.find((t) => t.pathname.endsWith('one.bin'))?.size).toBe(100_000);
    // One each: a few more polls report nothing more (a barrier file's arrival comes after them).
    fs.writeFileSync(path.join(root, 'barrier'), '');
    await until(() => names().includes('barrier'), 'the barrier');
    expect(names()).toEqual(['barrier', 'one.bin', 'two.bin']);
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
    // The baseline is taken before 'inotifyd started': one file written and deleted.
    fs.writeFileSync(path.join(watched, 'file.txt'), 'content');
    await until(() => readLog(dir).some((e) => e.ev === 'complete' && e.p.endsWith('/file.txt')), () => `file.txt complete:\n${daemon.stderr}`);
    fs.rmSync(path.join(watched, 'file.txt'));
    await until(() => readLog(dir).some((e) => e.ev === 'delete' && e.p.endsWith('/file.txt')), () => `file.txt deleted:\n${daemon.stderr}`);
    expect(readLog(dir).filter((e) => e.p.endsWith('/file.txt')).map((e) => e.ev)).toEqual(['close', 'complete', 'delete']);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    fs.writeFileSync(path.join(dir, 'bad.mjs'), `import { defineConfig } from 'inotify-native';
export default defineConfig({ watches: [{ path: ${JSON.stringify(watched)}, poll: { interval: 1 }, eventMap: { IN_CREATE: () => {} } }] });
`);
    const bad = runCli(['-t', '-c', path.join(dir, 'bad.mjs')], dir);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`bad.mjs: watches[0].poll: expected true, false, 'auto' or { interval (ms, >= 10), maxEntries (>= 1), force (boolean) }, given object { interval: 1 } (The "watches[0].poll.interval" option must be an integer >= 10. Received 1)`);
  }, 60_000);

  it('rejects bad options with codes; a tree over maxEntries is a warning naming the limit', async () => {
    expect(() => new Poller('/tmp', { interval: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"poll.interval" option must be an integer >= 10') }));
    const root = tempDir();
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(root, `f${i}`), '');
    const poller = new Poller(root, { interval: 20, maxEntries: 3, force: true });
    onTestFinished(() => poller.close());
    const warning = await new Promise<Error>((resolve) => poller.once('warning', resolve));
    expect(warning).toMatchObject({ code: 'INOTIFY_POLL_TRUNCATED', path: root, message: `${root}: more than 3 entries: polling sees only the first 3 (raise poll.maxEntries)` });
    expect(() => new Poller(path.join(root, 'missing'), { force: true })).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'scandir' }));
  });
});
