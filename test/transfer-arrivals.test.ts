/**
 * TransferTracker for arrivals other than rsync, on the real kernel (cp,
 * SFTP-like chunked writes, renames after a close, editors' atomic saves,
 * moves into the tree, deletes), its API (hooks, events, iteration, abort,
 * options), bounded state, and exact event sequences fed by hand for races
 * the kernel only produces sometimes.
 */
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, onTestFinished, test, vi } from 'vitest';
import {
  IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_ISDIR, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO, IN_OPEN, IN_Q_OVERFLOW,
  InotifyEvent, Notifier, TRANSFER_EVENTS, TransferTracker, WatchManager, trackTransfers,
  type TransferComplete,
} from '../src/index.js';
import { compileFilter, globToRegExp, NameClassifier, DEFAULT_TEMP_DIRS, DEFAULT_TEMP_PATTERNS } from '../src/transfer/names.js';
import { tempDir as removableTempDir } from './helpers/index.js';
import { FAST, isTempName, run, tempDir, track, TransferLog } from './transfer-helpers.js';

/** Lets time pass on purpose: only where a test asserts that nothing happens during it. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A file written outside the watched tree, to be moved in. */
function outsideFile(content: string): string {
  const dir = tempDir('transfer-outside-');
  const file = path.join(dir, 'payload');
  fs.writeFileSync(file, content);
  return file;
}

describe('arrivals', () => {
  test('cp of a new file: one completion via close-write, after the settle time', async () => {
    const dir = tempDir();
    const source = outsideFile('x'.repeat(1234));
    const log = track(dir);
    await run('cp', [source, path.join(dir, 'a.dat')]);
    await log.completions(1);
    await log.drain();
    expect(log.files).toHaveLength(1);
    const [file] = log.files as [TransferComplete];
    expect(file).toMatchObject({ pathname: path.join(dir, 'a.dat'), via: 'close-write', size: 1234, tempPathname: undefined });
    expect(log.starts.map((s) => s.id)).toEqual([file.id]);
    expect(file.time - (file.startedAt ?? 0)).toBeGreaterThanOrEqual(FAST.settleTime - 5);
  });

  test('SFTP-like writes: no completion while the writer keeps the file open, one after it closes', async () => {
    const dir = tempDir();
    const log = track(dir);
    const file = path.join(dir, 'upload.bin');
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < 3; i++) {
      fs.writeSync(fd, Buffer.alloc(10_000, i));
      await pause(FAST.settleTime * 2); // longer than the settle time, on purpose: nothing may complete meanwhile
    }
    await log.sentinel(); // every event so far processed; the upload itself stays in progress
    expect(log.files).toEqual([]);
    expect(log.starts.map((s) => s.pathname)).toEqual([file]);
    fs.closeSync(fd);
    await log.completions(1);
    expect(log.files[0]).toMatchObject({ pathname: file, via: 'close-write', size: 30_000 });
  });

  test('written then renamed within the settle time: one completion, for the new name (atomic-rename)', async () => {
    const dir = tempDir();
    const log = track(dir);
    fs.writeFileSync(path.join(dir, 'data'), 'payload');
    fs.renameSync(path.join(dir, 'data'), path.join(dir, 'data.csv'));
    await log.completions(1);
    await log.drain();
    expect(log.files.map((c) => [path.basename(c.pathname), c.via, c.tempPathname])).toEqual([
      ['data.csv', 'atomic-rename', path.join(dir, 'data')],
    ]);
    expect(log.files[0]?.id).toBe(log.starts[0]?.id);
    expect(log.abandoned).toEqual([]);
  });

  test('renamed after it completed: a rename between names that matter is not a second arrival', async () => {
    const dir = tempDir();
    const log = track(dir);
    fs.writeFileSync(path.join(dir, 'one.txt'), 'payload');
    await log.completions(1);
    fs.renameSync(path.join(dir, 'one.txt'), path.join(dir, 'two.txt'));
    await log.drain();
    expect(log.names()).toEqual(['one.txt']);
  });

  test('filter: a rename from a name the filter does not select into one it does is an arrival', async () => {
    const dir = tempDir();
    const log = track(dir, { filter: ['*.csv', 'zz-sentinel-*'] });
    fs.writeFileSync(path.join(dir, 'report.dat'), 'a,b\n');
    fs.writeFileSync(path.join(dir, 'other.txt'), 'ignored');
    await log.drain();
    expect(log.starts).toEqual([]);
    expect(log.names()).toEqual([]);
    fs.renameSync(path.join(dir, 'report.dat'), path.join(dir, 'report.csv'));
    await log.completions(1);
    expect(log.files[0]).toMatchObject({ via: 'atomic-rename', tempPathname: path.join(dir, 'report.dat') });
  });

  test("editors' atomic saves (.x.swp, x.tmp, x~, sed -i): one completion per file, via atomic-rename, temps never reported", async () => {
    const dir = tempDir();
    const log = track(dir);
    const save = (temp: string, final: string): void => {
      fs.writeFileSync(path.join(dir, temp), `content of ${final}`);
      fs.renameSync(path.join(dir, temp), path.join(dir, final));
    };
    save('.a.txt.swp', 'a.txt');
    save('b.txt.tmp', 'b.txt');
    save('c.txt~', 'c.txt');
    fs.writeFileSync(path.join(os.tmpdir(), `d-${process.pid}.txt`), 'hello\n');
    fs.renameSync(path.join(os.tmpdir(), `d-${process.pid}.txt`), path.join(dir, 'd.txt'));
    await log.completions(4);
    await run('sed', ['-i', 's/hello/bye/', path.join(dir, 'd.txt')]);
    await log.completions(5);
    await log.drain();
    expect(log.files.map((c) => [path.basename(c.pathname), c.via])).toEqual([
      ['a.txt', 'atomic-rename'], ['b.txt', 'atomic-rename'], ['c.txt', 'atomic-rename'], ['d.txt', 'moved-in'],
      ['d.txt', 'atomic-rename'],
    ]);
    expect(path.basename(log.files[4]?.tempPathname ?? '')).toMatch(/^sed[A-Za-z0-9]{6}$/);
    expect(log.starts).toEqual([]); // temporary names are never announced
    expect(log.files.filter((c) => isTempName(c.pathname))).toEqual([]);
  });

  test('moved in from outside: a file, and every file of a directory tree', async () => {
    const dir = tempDir();
    const outside = tempDir('transfer-outside-');
    fs.writeFileSync(path.join(outside, 'single.raw'), 'one');
    fs.mkdirSync(path.join(outside, 'tree', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'tree', 'a.raw'), 'a');
    fs.writeFileSync(path.join(outside, 'tree', 'sub', 'b.raw'), 'bb');
    const log = track(dir);
    fs.renameSync(path.join(outside, 'single.raw'), path.join(dir, 'single.raw'));
    fs.renameSync(path.join(outside, 'tree'), path.join(dir, 'tree'));
    await log.completions(3);
    await log.drain();
    expect(log.files.map((c) => [path.relative(dir, c.pathname), c.via, c.size])).toEqual([
      ['single.raw', 'moved-in', 3], ['tree/a.raw', 'moved-in', 1], ['tree/sub/b.raw', 'moved-in', 2],
    ]);
  });

  test('deleted before it settled: abandoned (deleted), never complete', async () => {
    const dir = tempDir();
    const log = track(dir, { settleTime: 2000 });
    fs.writeFileSync(path.join(dir, 'gone.txt'), 'short-lived');
    fs.unlinkSync(path.join(dir, 'gone.txt'));
    await log.waitFor(() => log.abandoned.length === 1, 5000, 'abandoned');
    await log.drain();
    expect(log.abandoned[0]).toMatchObject({ reason: 'deleted', pathname: path.join(dir, 'gone.txt'), id: log.starts[0]?.id });
    expect(log.names()).toEqual([]);
  });

  test('symlinks, fifos and hard links are not transfers', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'existing'), 'x');
    const log = track(dir);
    fs.symlinkSync('existing', path.join(dir, 'link'));
    fs.linkSync(path.join(dir, 'existing'), path.join(dir, 'hard'));
    await run('mkfifo', [path.join(dir, 'fifo')]);
    await log.drain();
    expect(log.starts).toEqual([]);
    expect(log.names()).toEqual([]);
  });
});

describe('names that are not UTF-8', () => {
  test('a file whose name is not UTF-8 completes, with its size (the exact bytes are stat-ed)', async () => {
    const dir = tempDir();
    const log = track(dir);
    const name = Buffer.from([0x66, 0xff, 0x2e, 0x64, 0x61, 0x74]); // f\xff.dat
    fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), name]), 'x'.repeat(321));
    await log.completions(1);
    expect(log.files).toHaveLength(1);
    expect(log.files[0]).toMatchObject({ pathname: path.join(dir, name.toString('utf8')), via: 'close-write', size: 321 });
    expect(log.abandoned).toStrictEqual([]);
  });
});

describe('a directory that cannot be watched', () => {
  // Deeper than PATH_MAX: inotify_add_watch fails with ENAMETOOLONG.
  const tooDeep = 'd=$(printf "a%.0s" $(seq 250)); for i in $(seq 18); do mkdir "$d" && cd "$d"; done';

  test('is a warning: the for await loop goes on and later arrivals are reported', async () => {
    const dir = removableTempDir(); // rm -rf: fs.rmSync cannot remove a path deeper than PATH_MAX
    const tracker = trackTransfers(dir, FAST);
    const warnings: Error[] = [];
    let warned: (() => void) | undefined;
    tracker.on('warning', (error) => {
      warnings.push(error);
      warned?.();
    });
    const names: string[] = [];
    const loop = (async () => {
      for await (const file of tracker) {
        names.push(path.basename(file.pathname));
        if (names.length === 2) break;
      }
    })();
    await new Promise<void>((resolve) => {
      warned = resolve;
      execFileSync('bash', ['-c', tooDeep], { cwd: dir });
    });
    fs.writeFileSync(path.join(dir, 'after-1.dat'), 'x');
    fs.writeFileSync(path.join(dir, 'after-2.dat'), 'x');
    await loop;
    await tracker.close();
    expect(names.sort()).toStrictEqual(['after-1.dat', 'after-2.dat']);
    expect(warnings[0]).toMatchObject({ code: 'ENAMETOOLONG', syscall: 'inotify_add_watch' });
  });
});

describe('state is bounded', () => {
  test('maxTransfers: the oldest transfer is abandoned (evicted) beyond the bound; abandonAfter ends the rest', async () => {
    const dir = tempDir();
    const log = track(dir, { maxTransfers: 5, abandonAfter: 800 });
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `.f${i}.raw.ABC${String(i).padStart(3, '0')}`), 'left behind');
    await log.waitFor(() => log.abandoned.length === 15, 5000, '15 evictions');
    expect(log.tracker.inProgress().length).toBeLessThanOrEqual(5);
    expect(log.abandoned.every((a) => a.reason === 'evicted')).toBe(true);
    expect(log.abandoned.map((a) => path.basename(a.finalPathname))).toEqual(
      Array.from({ length: 15 }, (_, i) => `f${i}.raw`),
    );
    await log.waitFor(() => log.abandoned.length === 20, 5000, 'the rest timed out');
    expect(log.abandoned.slice(15).every((a) => a.reason === 'timeout')).toBe(true);
    await log.drain();
    expect(log.tracker.inProgress()).toEqual([]);
    expect(log.names()).toEqual([]);
  });
});

describe('API', () => {
  test('a ProcessEvent subclass with process_transfer_* hooks, on a Notifier of your own', async () => {
    const dir = tempDir();
    const seen: string[] = [];
    class Incoming extends TransferTracker {
      override process_transfer_start(t: { pathname: string }): void {
        seen.push(`start ${path.basename(t.pathname)}`);
      }

      override process_transfer_complete(t: TransferComplete): Promise<void> {
        return new Promise((resolve) => setTimeout(() => {
          seen.push(`complete ${path.basename(t.pathname)} ${t.via}`);
          resolve();
        }, 50));
      }

      process_IN_MOVED_TO(event: InotifyEvent): void {
        seen.push(`raw ${event.maskname} ${event.name}`);
      }
    }
    const wm = new WatchManager();
    wm.addWatch(dir, TRANSFER_EVENTS, { rec: true, autoAdd: true });
    const tracker = new Incoming(FAST);
    const notifier = new Notifier(wm, tracker);
    const log = new TransferLog(tracker, dir);
    fs.writeFileSync(path.join(dir, '.x.raw.AbC123'), 'data');
    fs.renameSync(path.join(dir, '.x.raw.AbC123'), path.join(dir, 'x.raw'));
    await log.completions(1);
    await notifier.close();
    await tracker.close(); // waits for the asynchronous hook
    expect(seen).toEqual(['start .x.raw.AbC123', 'raw IN_MOVED_TO x.raw', 'complete x.raw rsync']);
  });

  test('a rejected hook is an error event; a throwing listener surfaces on the Notifier and the state stays consistent', async () => {
    const dir = tempDir();
    class Failing extends TransferTracker {
      override process_transfer_complete(): Promise<void> {
        return Promise.reject(new Error('job failed'));
      }
    }
    const wm = new WatchManager();
    wm.addWatch(dir, TRANSFER_EVENTS);
    const tracker = new Failing(FAST);
    const notifier = new Notifier(wm, tracker);
    const errors: Error[] = [];
    tracker.on('error', (error) => errors.push(error));
    const notifierErrors: Error[] = [];
    notifier.on('error', (error) => notifierErrors.push(error));
    const log = new TransferLog(tracker, dir);
    tracker.on('complete', () => {
      throw new Error('listener threw');
    });
    fs.renameSync(outsideFile('a'), path.join(dir, 'a'));
    await log.completions(1);
    fs.renameSync(outsideFile('b'), path.join(dir, 'b'));
    await log.completions(2);
    await notifier.close();
    await tracker.close();
    expect(errors.map((e) => e.message)).toEqual(['job failed', 'job failed']);
    expect(log.names()).toEqual(['a', 'b']);
    expect(notifierErrors.map((e) => e.message)).toEqual(['listener threw', 'listener threw']);
    expect(tracker.inProgress()).toEqual([]);
  });

  test('for await over trackTransfers(); an AbortSignal ends it and closes the watch', async () => {
    const dir = tempDir();
    const ac = new AbortController();
    const tracker = trackTransfers(dir, { ...FAST, signal: ac.signal });
    const got: string[] = [];
    const loop = (async () => {
      for await (const file of tracker) {
        got.push(path.basename(file.pathname));
        if (got.length === 2) ac.abort();
      }
    })();
    const first = new Promise<TransferComplete>((resolve) => tracker.once('complete', resolve));
    fs.renameSync(outsideFile('1'), path.join(dir, 'one'));
    fs.renameSync(outsideFile('2'), path.join(dir, 'two'));
    expect((await first).pathname).toBe(path.join(dir, 'one'));
    await loop;
    expect(got).toEqual(['one', 'two']);
    expect(tracker.closed).toBe(true);
    await tracker.close(); // idempotent
  });

  test('close() stops watching and forgets transfers in progress without events', async () => {
    const dir = tempDir();
    const log = track(dir, { abandonAfter: 200 });
    fs.writeFileSync(path.join(dir, '.p.raw.QQQQQQ'), 'x');
    await log.waitFor(() => log.starts.length === 1, 5000, 'start');
    await log.tracker.close();
    expect(log.tracker.inProgress()).toEqual([]);
    await pause(400); // past abandonAfter, on purpose: a closed tracker reports nothing
    fs.writeFileSync(path.join(dir, 'after-close'), 'x');
    await pause(FAST.settleTime * 2);
    expect(log.abandoned).toEqual([]);
    expect(log.completes).toEqual([]);
  });

  test('setup errors are thrown; options are validated', () => {
    expect(() => trackTransfers(path.join(os.tmpdir(), 'no-such-dir-transfer'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => new TransferTracker({ quietPeriod: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new TransferTracker({ settleTime: '1' as unknown as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new TransferTracker({ tempPatterns: ['x'] as unknown as RegExp[] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new TransferTracker({ tempDirs: ['a/b'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new TransferTracker({ maxTransfers: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new TransferTracker({ filter: 3 as unknown as string })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('names', () => {
  const names = new NameClassifier(DEFAULT_TEMP_PATTERNS, DEFAULT_TEMP_DIRS);

  test('rsync temps, held files, other temps, final names', () => {
    expect(names.classify('/d/.file1.raw.NguTqN')).toEqual({ kind: 'rsync-temp', final: '/d/file1.raw', truncated: false });
    expect(names.classify('/d/.~tmp~/file1.raw')).toEqual({ kind: 'held', final: '/d/file1.raw' });
    expect(names.classify('/d/.rsync-partial/f')).toEqual({ kind: 'held', final: '/d/f' });
    for (const temp of ['x~', '.x.swp', '.x.swx', '4913', '#x#', '.#x', 'x.tmp', 'x.TMP', 'x.part', 'x.crdownload', 'sedAbC123', 'x___jb_tmp___', '.goutputstream-ABC']) {
      expect(names.classify(`/d/${temp}`), temp).toEqual({ kind: 'temp' });
    }
    for (const final of ['file1.raw', '.bashrc', 'x.swp.txt', 'sed', '.x.y', 'data.csv', '.data.sql', '.logo.svg']) {
      expect(names.classify(`/d/${final}`), final).toEqual({ kind: 'final' });
    }
    const long = 'n'.repeat(247);
    expect(names.classify(`/d/.${long}.AbCdEf`)).toMatchObject({ kind: 'rsync-temp', truncated: true });
    expect(names.isRsyncSourceOf(names.classify(`/d/.${long}.AbCdEf`), `/d/${long}.more`)).toBe(true);
    expect(names.isRsyncSourceOf(names.classify('/d/.a.raw.AbCdEf'), '/d/a.raw')).toBe(true);
    expect(names.isRsyncSourceOf(names.classify('/d/.a.raw.AbCdEf'), '/d/b.raw')).toBe(false);
    expect(names.isRsyncSourceOf(names.classify('/d/a.tmp'), '/d/a')).toBe(false);
  });

  test('filters: globs on the basename, RegExps on the pathname, functions, lists', () => {
    expect(globToRegExp('*.{csv,tsv}').test('a.tsv')).toBe(true);
    expect(globToRegExp('data-??.raw').test('data-01.raw')).toBe(true);
    expect(globToRegExp('[!.]*').test('.hidden')).toBe(false);
    const f = compileFilter(['*.raw', /\/keep\//]);
    expect(f?.('/x/a.raw')).toBe(true);
    expect(f?.('/x/keep/a.txt')).toBe(true);
    expect(f?.('/x/a.txt')).toBe(false);
    expect(compileFilter(undefined)).toBeUndefined();
    expect(() => globToRegExp('{a,b')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

/**
 * Exact sequences fed by hand: races the kernel produces only sometimes.
 * The files exist on disk where the sequence says they end up (completion
 * stats them).
 */
describe('fed sequences', () => {
  function fed(dir: string, options = {}): { tracker: TransferTracker; log: TransferLog; ev: (mask: number, rel: string, extra?: { cookie?: number; src?: string; synthetic?: boolean }) => void } {
    const tracker = new TransferTracker({ ...FAST, ...options });
    const log = new TransferLog(tracker, dir);
    const ev = (mask: number, rel: string, extra: { cookie?: number; src?: string; synthetic?: boolean } = {}): void => {
      const pathname = path.join(dir, rel);
      tracker.dispatch(new InotifyEvent(1, mask, path.basename(rel), path.dirname(pathname), pathname, (mask & IN_ISDIR) !== 0,
        extra.cookie ?? 0, extra.src === undefined ? undefined : path.join(dir, extra.src), extra.synthetic ?? false));
    };
    return { tracker, log, ev };
  }

  test("--delay-updates seen by pyinotify (reference sequence E): synthesized .~tmp~/x, unpaired MOVED_FROM, paired final move", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'file1.raw'), 'final');
    const { tracker, log, ev } = fed(dir);
    ev(IN_CREATE, '.file1.raw.31SHf6');
    ev(IN_CLOSE_WRITE, '.file1.raw.31SHf6');
    ev(IN_CREATE | IN_ISDIR, '.~tmp~');
    ev(IN_CREATE, '.~tmp~/file1.raw', { synthetic: true });
    ev(IN_CLOSE_WRITE, '.~tmp~/file1.raw', { synthetic: true });
    ev(IN_MOVED_FROM, '.file1.raw.31SHf6', { cookie: 555 }); // its MOVED_TO was lost
    ev(IN_MOVED_FROM, '.~tmp~/file1.raw', { cookie: 557 });
    ev(IN_MOVED_TO, 'file1.raw', { cookie: 557, src: '.~tmp~/file1.raw' });
    expect(log.starts).toHaveLength(1);
    expect(log.files).toMatchObject([{ pathname: path.join(dir, 'file1.raw'), via: 'rsync', id: log.starts[0]?.id }]);
    expect(tracker.inProgress()).toEqual([]);
    await tracker.close();
    expect(log.abandoned).toEqual([]);
  });

  test('--delay-updates with .~tmp~ never watched: the unpaired final MOVED_TO completes the temp that went out of sight', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'f.raw'), 'final');
    const { tracker, log, ev } = fed(dir);
    ev(IN_CREATE, '.f.raw.AAAAAA');
    ev(IN_MOVED_FROM, '.f.raw.AAAAAA', { cookie: 9 });
    ev(IN_MOVED_TO, 'f.raw', { cookie: 12 });
    expect(log.files).toMatchObject([{ via: 'rsync', tempPathname: path.join(dir, '.f.raw.AAAAAA'), id: log.starts[0]?.id }]);
    await tracker.close();
  });

  test('--delay-updates, a scan listed .~tmp~/x but the rename beat its watch: the unpaired MOVED_TO completes that transfer as rsync', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'x.raw'), 'final'); // renamed out of sub/.~tmp~ already
    const { tracker, log, ev } = fed(dir);
    ev(IN_CREATE | IN_ISDIR, 'sub/.~tmp~', { synthetic: true });
    ev(IN_CREATE, 'sub/.~tmp~/x.raw', { synthetic: true });
    ev(IN_CLOSE_WRITE, 'sub/.~tmp~/x.raw', { synthetic: true });
    ev(IN_MOVED_TO, 'sub/x.raw', { cookie: 8 }); // its IN_MOVED_FROM: before .~tmp~ was armed
    ev(IN_DELETE | IN_ISDIR, 'sub/.~tmp~');
    expect(log.starts).toHaveLength(1);
    expect(log.files).toMatchObject([{ pathname: path.join(dir, 'sub', 'x.raw'), via: 'rsync', id: log.starts[0]?.id }]);
    expect(tracker.inProgress()).toEqual([]);
    await tracker.close();
    expect(log.abandoned).toEqual([]);
  });

  test('--delay-updates, .~tmp~ seen but gone before it could be listed: an unpaired MOVED_TO beside it is rsync; elsewhere moved-in', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.mkdirSync(path.join(dir, 'other'));
    for (const rel of ['sub/x.raw', 'other/y.raw', 'sub/z.raw']) fs.writeFileSync(path.join(dir, rel), rel);
    const { tracker, log, ev } = fed(dir);
    ev(IN_CREATE | IN_ISDIR, 'sub/.~tmp~');
    ev(IN_MOVED_TO, 'sub/x.raw', { cookie: 8 });
    ev(IN_MOVED_TO, 'other/y.raw', { cookie: 9 });
    ev(IN_DELETE | IN_ISDIR, 'sub/.~tmp~');
    ev(IN_MOVED_TO, 'sub/z.raw', { cookie: 10 }); // after the holding directory is gone: from outside
    expect(log.files.map((f) => [path.relative(dir, f.pathname), f.via])).toEqual([
      ['sub/x.raw', 'rsync'], ['other/y.raw', 'moved-in'], ['sub/z.raw', 'moved-in'],
    ]);
    await tracker.close();
  });

  test('a scan reveals .~tmp~/x before the queued events of its temp: still one transfer', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'x.raw'), 'final');
    const { tracker, log, ev } = fed(dir);
    ev(IN_CREATE | IN_ISDIR, 'sub/.~tmp~', { synthetic: true });
    ev(IN_CREATE, 'sub/.~tmp~/x.raw', { synthetic: true });
    ev(IN_CLOSE_WRITE, 'sub/.~tmp~/x.raw', { synthetic: true });
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', '.x.raw.BBBBBB'), 'stale name'); // exists when its queued events are read
    ev(IN_MODIFY, 'sub/.x.raw.BBBBBB');
    ev(IN_CLOSE_WRITE, 'sub/.x.raw.BBBBBB');
    ev(IN_MOVED_FROM, 'sub/.x.raw.BBBBBB', { cookie: 3 });
    fs.writeFileSync(path.join(dir, 'sub', 'x.raw'), 'final');
    ev(IN_MOVED_FROM, 'sub/.~tmp~/x.raw', { cookie: 4 });
    ev(IN_MOVED_TO, 'sub/x.raw', { cookie: 4, src: 'sub/.~tmp~/x.raw' });
    expect(log.starts).toHaveLength(1);
    expect(log.files).toMatchObject([{ pathname: path.join(dir, 'sub', 'x.raw'), via: 'rsync', id: log.starts[0]?.id }]);
    expect(tracker.inProgress()).toEqual([]);
    await tracker.close();
  });

  test('writes reported after the delete (an open descriptor on the unlinked temp) start nothing', async () => {
    const dir = tempDir();
    const { tracker, log, ev } = fed(dir);
    fs.writeFileSync(path.join(dir, '.big.bin.CCCCCC'), '');
    ev(IN_CREATE, '.big.bin.CCCCCC');
    ev(IN_OPEN, '.big.bin.CCCCCC');
    fs.unlinkSync(path.join(dir, '.big.bin.CCCCCC'));
    ev(IN_DELETE, '.big.bin.CCCCCC');
    ev(IN_MODIFY, '.big.bin.CCCCCC');
    ev(IN_CLOSE_WRITE, '.big.bin.CCCCCC');
    expect(log.starts).toHaveLength(1);
    expect(log.abandoned).toMatchObject([{ reason: 'deleted' }]);
    expect(tracker.inProgress()).toEqual([]);
    await tracker.close();
  });

  test('a file found by a scan completes as found after the quiet period; one still being written waits for its close', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'done.raw'), 'done');
    fs.writeFileSync(path.join(dir, 'busy.raw'), 'busy');
    const { tracker, log, ev } = fed(dir);
    ev(IN_CREATE | IN_ISDIR, 'new');
    for (const name of ['done.raw', 'busy.raw']) {
      ev(IN_CREATE, name, { synthetic: true });
      ev(IN_CLOSE_WRITE, name, { synthetic: true });
    }
    ev(IN_MODIFY, 'busy.raw'); // its writer is still at work
    await log.completions(1);
    expect(log.files).toMatchObject([{ pathname: path.join(dir, 'done.raw'), via: 'found' }]);
    ev(IN_CLOSE_WRITE, 'busy.raw');
    await log.completions(2);
    expect(log.files[1]).toMatchObject({ pathname: path.join(dir, 'busy.raw'), via: 'close-write' });
    await tracker.close();
  });

  test('IN_Q_OVERFLOW is reported as overflow; with no overflow listener, as a warning', async () => {
    const dir = tempDir();
    const { tracker } = fed(dir);
    const overflows: InotifyEvent[] = [];
    tracker.on('overflow', (event) => overflows.push(event));
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    onTestFinished(() => emitWarning.mockRestore());
    tracker.dispatch(new InotifyEvent(-1, IN_Q_OVERFLOW, '', '', '', false));
    expect(overflows).toHaveLength(1);
    expect(emitWarning).not.toHaveBeenCalled();
    // Nobody listens to 'overflow' (nor to 'warning'): a process warning, which says how to recover.
    tracker.removeAllListeners('overflow');
    tracker.dispatch(new InotifyEvent(-1, IN_Q_OVERFLOW, '', '', '', false));
    expect(emitWarning).toHaveBeenCalledWith(expect.objectContaining({
      name: 'InotifyOverflowWarning', message: expect.stringContaining('rescan: true') as string,
    }));
    await tracker.close();
  });
});
