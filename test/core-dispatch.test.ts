/**
 * pyinotify's dispatch on real events: the three-step hook lookup with
 * family fall-through, pevent chaining, ChainIfTrue, Stats, PrintAllEvents'
 * exact line format, and asynchronous hooks (rejections become 'error',
 * close() waits for them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import {
  ChainIfTrue, IN_ALL_EVENTS, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO, PrintAllEvents,
  ProcessEvent, Stats, type InotifyEvent,
} from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { ensureLib, fixturesDir, spawnNode } from './helpers/child.js';
import { EventLog, openNotifier, openWatchManager } from './helpers/notifier.js';

/** Records which hook got which event. */
class Router extends ProcessEvent {
  readonly calls: string[] = [];

  process_IN_CREATE(event: InotifyEvent): void {
    this.calls.push(`CREATE ${event.maskname} ${event.name}`);
  }

  process_IN_CLOSE(event: InotifyEvent): void {
    this.calls.push(`CLOSE ${event.maskname} ${event.name}`);
  }

  process_IN_MOVED(event: InotifyEvent): void {
    this.calls.push(`MOVED ${event.maskname} ${event.name}`);
  }

  process_IN_DELETE(event: InotifyEvent): void {
    this.calls.push(`DELETE ${event.maskname} ${event.name}`);
  }

  override process_default(event: InotifyEvent): void {
    this.calls.push(`default ${event.maskname} ${event.name}`);
  }
}

/** A Writable that keeps what was written. */
function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return Object.assign(stream, { text: () => chunks.join('') });
}

const notSentinel = (line: string): boolean => !line.includes('.sentinel-');

describe('ProcessEvent dispatch on real events', () => {
  test('exact routing: own hook, family hook (CLOSE, MOVED, DELETE incl. DELETE_SELF), default; IN_ISDIR stripped', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'sub'));
    fs.writeFileSync(path.join(root, 'old.txt'), 'x');
    const wm = openWatchManager();
    wm.addWatch(root, IN_ALL_EVENTS, { rec: true });
    const router = new Router();
    const log = new EventLog(openNotifier(wm, router));

    fs.mkdirSync(path.join(root, 'made'));
    fs.writeFileSync(path.join(root, 'a'), 'x');
    fs.readFileSync(path.join(root, 'old.txt'));
    fs.renameSync(path.join(root, 'a'), path.join(root, 'b'));
    fs.unlinkSync(path.join(root, 'b'));
    fs.rmdirSync(path.join(root, 'sub'));
    await log.sentinel(root);

    const calls = router.calls.filter(notSentinel);
    expect(calls).toStrictEqual([
      'CREATE IN_CREATE|IN_ISDIR made',
      'CREATE IN_CREATE a',
      'default IN_OPEN a',
      'default IN_MODIFY a',
      'CLOSE IN_CLOSE_WRITE a',
      'default IN_OPEN old.txt',
      'default IN_ACCESS old.txt',
      'CLOSE IN_CLOSE_NOWRITE old.txt',
      'MOVED IN_MOVED_FROM a',
      'MOVED IN_MOVED_TO b',
      'DELETE IN_DELETE b',
      'DELETE IN_DELETE_SELF ',
      'default IN_IGNORED ',
      'DELETE IN_DELETE|IN_ISDIR sub',
    ]);
  });

  test('pevent chaining: the inner processor runs first; a truthy return stops the chain', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE);
    const order: string[] = [];
    class Outer extends ProcessEvent {
      override process_default(event: InotifyEvent): void {
        order.push(`outer ${event.name}`);
      }
    }
    class Inner extends ProcessEvent {
      override process_default(event: InotifyEvent): boolean {
        order.push(`inner ${event.name}`);
        return event.name === 'stop';
      }
    }
    const innermost = (event: InotifyEvent): undefined => {
      order.push(`fn ${event.name}`);
      return undefined;
    };
    const log = new EventLog(openNotifier(wm, new Outer(new Inner(innermost))));
    fs.writeFileSync(path.join(root, 'go'), '');
    fs.writeFileSync(path.join(root, 'stop'), '');
    await log.sentinel(root);
    expect(order.filter(notSentinel)).toStrictEqual(['fn go', 'inner go', 'outer go', 'fn stop', 'inner stop']);
  });

  test('an async pevent: its resolved value decides, the hook runs after it; the Notifier tracks both', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE);
    const order: string[] = [];
    class Outer extends ProcessEvent {
      override process_default(event: InotifyEvent): void {
        order.push(`outer ${event.name}`);
      }
    }
    const inner = async (event: InotifyEvent): Promise<boolean> => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(`inner ${event.name}`);
      return event.name === 'stop';
    };
    const notifier = openNotifier(wm, new Outer(inner));
    const log = new EventLog(notifier);
    fs.writeFileSync(path.join(root, 'go'), '');
    fs.writeFileSync(path.join(root, 'stop'), '');
    await log.waitFor((e) => e.name === 'stop');
    await notifier.close(); // waits for the pending chains
    expect(order.filter(notSentinel).sort()).toStrictEqual(['inner go', 'inner stop', 'outer go']);
    expect(order.indexOf('inner go')).toBeLessThan(order.indexOf('outer go'));
  });

  test('ChainIfTrue: the handler sees only events the predicate accepts', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE);
    const router = new Router(new ChainIfTrue((event) => event.name.endsWith('.csv')));
    const log = new EventLog(openNotifier(wm, router));
    for (const name of ['a.csv', 'b.txt', 'c.csv']) fs.writeFileSync(path.join(root, name), '');
    await log.sentinel(root);
    expect(router.calls).toStrictEqual(['CREATE IN_CREATE a.csv', 'CREATE IN_CREATE c.csv']);
    expect(log.without().map((e) => e.name)).toStrictEqual(['a.csv', 'b.txt', 'c.csv']);
  });

  test('Stats: counts per flag (IN_ISDIR its own key), pyinotify summary and %-26s%-46s%s histogram', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE | IN_DELETE);
    const stats = new Stats();
    const log = new EventLog(openNotifier(wm, stats));
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'f1'), '');
    fs.writeFileSync(path.join(root, 'f2'), '');
    fs.unlinkSync(path.join(root, 'f1'));
    await log.sentinel(root);
    // The sentinel is one more IN_CREATE.
    expect(Object.fromEntries(stats.counts)).toStrictEqual({ IN_CREATE: 4, IN_ISDIR: 1, IN_DELETE: 1 });
    expect(stats.summary(stats.startTime + 5_400)).toBe('<Stats ElapsedTime=5sec IN_CREATE=4 IN_DELETE=1 IN_ISDIR=1 >');
    expect(stats.summary(stats.startTime + 61_000)).toMatch(/^<Stats ElapsedTime=1mn1sec /);
    const rows = stats.toString().split('\n');
    expect(rows).toStrictEqual([
      `${'IN_CREATE'.padEnd(26)}${'@'.repeat(45).padEnd(46)}4`,
      `${'IN_DELETE'.padEnd(26)}${'@'.repeat(11).padEnd(46)}1`,
      `${'IN_ISDIR'.padEnd(26)}${'@'.repeat(11).padEnd(46)}1`,
    ]);
    expect(rows[1]).toBe('IN_DELETE                 @@@@@@@@@@@                                   1');
    // Bar lengths use pyinotify's float arithmetic, int(count * (45 / max)): 39 of 39 is 44 '@'.
    const odd = new Stats();
    for (const [name, n] of [['IN_CREATE', 39], ['IN_DELETE', 13], ['IN_MODIFY', 26]] as const) odd.counts.set(name, n);
    expect(odd.toString().split('\n').map((row) => row.slice(26).trimEnd().split(' ')[0]?.length)).toStrictEqual([44, 14, 29]);
    const dump = path.join(root, '..', `${path.basename(root)}.stats`);
    stats.dump(dump);
    try {
      expect(fs.readFileSync(dump, 'utf8')).toBe(`${stats.toString()}\n`);
      expect(fs.statSync(dump).mode & 0o777).toBe(0o600);
      expect(() => stats.dump(dump)).toThrow(expect.objectContaining({ code: 'EEXIST' }) as Error);
    } finally {
      fs.rmSync(dump, { force: true });
    }
  });

  test("PrintAllEvents: pyinotify's line, byte for byte", async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'sub'));
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE, { rec: true });
    const rootWd = wm.getWd(root) as number;
    const subWd = wm.getWd(path.join(root, 'sub')) as number;
    const out = sink();
    const log = new EventLog(openNotifier(wm, new PrintAllEvents(out)));
    fs.writeFileSync(path.join(root, 'a.txt'), '');
    fs.renameSync(path.join(root, 'a.txt'), path.join(root, 'b.txt'));
    fs.mkdirSync(path.join(root, 'd1'));
    fs.rmdirSync(path.join(root, 'sub'));
    await log.sentinel(root);

    const cookie = log.events.find((e) => e.mask & IN_MOVED_FROM)?.cookie as number;
    expect(cookie).toBeGreaterThan(0);
    const lines = out.text().split('\n').filter((line) => line !== '' && notSentinel(line));
    expect(lines).toStrictEqual([
      `<Event dir=False mask=0x100 maskname=IN_CREATE name=a.txt path=${root} pathname=${root}/a.txt wd=${rootWd} >`,
      `<Event cookie=${cookie} dir=False mask=0x40 maskname=IN_MOVED_FROM name=a.txt path=${root} pathname=${root}/a.txt wd=${rootWd} >`,
      `<Event cookie=${cookie} dir=False mask=0x80 maskname=IN_MOVED_TO name=b.txt path=${root} pathname=${root}/b.txt src_pathname=${root}/a.txt wd=${rootWd} >`,
      `<Event dir=True mask=0x40000100 maskname=IN_CREATE|IN_ISDIR name=d1 path=${root} pathname=${root}/d1 wd=${rootWd} >`,
      `<Event dir=False mask=0x8000 maskname=IN_IGNORED name='' path=${root}/sub pathname=${root}/sub wd=${subWd} >`,
      `<Event dir=True mask=0x40000200 maskname=IN_DELETE|IN_ISDIR name=sub path=${root} pathname=${root}/sub wd=${rootWd} >`,
    ]);
    // IN_DELETE_SELF was not asked for: it never reaches the printer although the library watches it internally.
    expect(out.text()).not.toContain('IN_DELETE_SELF');
  });
});

describe('asynchronous hooks', () => {
  test("a rejected hook becomes an 'error' event, never an unhandledRejection", async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CREATE);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      class Failing extends ProcessEvent {
        async process_IN_CREATE(event: InotifyEvent): Promise<void> {
          await new Promise((resolve) => setImmediate(resolve));
          if (event.name === 'bad') throw new Error(`hook failed for ${event.name}`);
        }
      }
      const notifier = openNotifier(wm, new Failing());
      const log = new EventLog(notifier);
      const failed = new Promise<Error>((resolve) => notifier.once('error', resolve));
      fs.writeFileSync(path.join(root, 'bad'), '');
      expect((await failed).message).toBe('hook failed for bad');
      await log.sentinel(root);
      // Give a would-be unhandled rejection the turns it needs to be reported.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toStrictEqual([]);
      expect(log.errors.map((e) => e.message)).toStrictEqual(['hook failed for bad']);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('close() waits for every pending async hook', async () => {
    const root = tempDir();
    const wm = openWatchManager();
    wm.addWatch(root, IN_CLOSE_WRITE);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const finished: string[] = [];
    const notifier = openNotifier(wm, async (event) => {
      await gate;
      finished.push(event.name);
    });
    const started = new Promise<void>((resolve) => notifier.once('event', () => resolve()));
    fs.writeFileSync(path.join(root, 'slow'), 'x');
    await started;
    let closed = false;
    const closing = notifier.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    expect(notifier.closed).toBe(true);
    release();
    await closing;
    expect(finished).toStrictEqual(['slow']);
  });
});

describe('one consumer throwing takes the event from no one else', () => {
  test("a throwing 'event' listener: processor, for await and other listeners still get every event, synthetic ones too; each throw is an uncaughtException", async () => {
    const lib = ensureLib();
    const dir = tempDir();
    const child = spawnNode([path.join(fixturesDir, 'throwing-event-listener.cjs'), lib, dir]);
    const result = await child.waitForExit(20_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const seen = JSON.parse(result.stdout.trim()) as { processor: string[]; iterator: string[]; second: string[]; uncaught: number };
    const expected = [
      'IN_CREATE|IN_ISDIR sub',
      'IN_CREATE|IN_ISDIR sub/a synthetic',
      'IN_CREATE|IN_ISDIR sub/a/b synthetic',
      'IN_CREATE sub/f synthetic',
      'IN_CLOSE_WRITE sub/f synthetic',
      'IN_CREATE sentinel',
      'IN_CLOSE_WRITE sentinel',
    ];
    expect(seen.processor).toStrictEqual(expected);
    expect(seen.second).toStrictEqual(expected);
    expect(seen.iterator).toStrictEqual(expected);
    expect(seen.uncaught).toBe(expected.length);
  });
});
