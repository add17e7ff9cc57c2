// The watchdog compat Observer on the real kernel: every event type, moves
// within / in / out, recursive or not, filtering handlers on real files,
// errors and overflow surfaced, and stop()/join()/dispose releasing the fds.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  DirCreatedEvent, FileClosedEvent, FileCreatedEvent, FileMovedEvent, FileSystemEventHandler, Observer, PatternMatchingEventHandler,
  RegexMatchingEventHandler, type FileSystemEvent, type ObservedWatch, type ObserverOptions,
} from '../src/index.js';
import { ensureLib } from './helpers/child.js';
import { inotifyFdCount, tempDir } from './helpers/index.js';
import { canLimitQueue, withQueueLimit } from './helpers/queue-limit.js';
import { waitUntil } from './helpers/wait.js';

/** A handler that logs what it gets as lines relative to `root`, and can wait for a sentinel file. */
class Recorder extends FileSystemEventHandler {
  readonly events: FileSystemEvent[] = [];
  readonly #waiters = new Set<() => void>();
  #sentinels = 0;

  constructor(readonly root: string) {
    super();
  }

  override on_any_event(event: FileSystemEvent): void {
    this.events.push(event);
    for (const waiter of this.#waiters) waiter();
  }

  /** One line per event: `created d/` (a directory), `moved a -> b`, `(s)` for synthetic. */
  describe(event: FileSystemEvent): string {
    const rel = (p: string): string => (p === this.root ? '.' : path.relative(this.root, p));
    const dest = event.dest_path === '' ? '' : ` -> ${rel(event.dest_path)}${event.is_directory ? '/' : ''}`;
    return `${event.event_type} ${rel(event.src_path)}${event.is_directory ? '/' : ''}${dest}${event.is_synthetic ? ' (s)' : ''}`;
  }

  /** The log without sentinels (and without the parent-directory `modified` events unless `parents`). */
  lines(parents = false): string[] {
    const parentModified = (e: FileSystemEvent | undefined): boolean => e !== undefined && e.is_directory && e.event_type === 'modified';
    return this.events
      .filter((e, i) => !e.src_path.includes('.sentinel-')
        // a sentinel's parent `modified` is the sentinel's too
        && !(parentModified(e) && this.events[i - 1]?.src_path.includes('.sentinel-'))
        && (parents || !parentModified(e)))
      .map((e) => this.describe(e));
  }

  /** Waits for the `created` of `file` (for a directory: its watch and scan are done then). */
  created(file: string): Promise<FileSystemEvent> {
    return this.waitFor((e) => e.event_type === 'created' && e.src_path === file);
  }

  waitFor(predicate: (event: FileSystemEvent) => boolean, timeoutMs = 20_000): Promise<FileSystemEvent> {
    return waitUntil(this.#waiters, () => this.events.find(predicate), timeoutMs,
      () => `no matching event within ${timeoutMs} ms; saw:\n  ${this.events.map((e) => this.describe(e)).join('\n  ')}`);
  }

  /** Creates a file in `dir` and waits for its `created`: everything caused before is logged by then (the kernel keeps order). */
  async sentinel(dir = this.root): Promise<void> {
    const file = path.join(dir, `.sentinel-${++this.#sentinels}`);
    fs.writeFileSync(file, '');
    await this.waitFor((e) => e.src_path === file && e.event_type === 'created');
  }
}

/** A started Observer with one recorder on `dir`, stopped when the test ends. */
async function observe(dir: string, options: { recursive?: boolean } = {}, observerOptions?: ObserverOptions): Promise<{ observer: Observer; rec: Recorder; watch: ObservedWatch }> {
  const observer = new Observer(observerOptions);
  onTestFinished(() => observer.stop());
  const rec = new Recorder(dir);
  const watch = observer.schedule(rec, dir, { recursive: options.recursive ?? true });
  await observer.start();
  return { observer, rec, watch };
}

describe('Observer on real files', () => {
  it('reports every event type, in kernel order, with the parent directory\'s `modified` as watchdog does', async () => {
    const dir = fs.realpathSync(tempDir());
    fs.writeFileSync(path.join(dir, 'old'), 'x');
    const { rec } = await observe(dir, { recursive: false });
    fs.writeFileSync(path.join(dir, 'a'), 'hello');
    fs.readFileSync(path.join(dir, 'a'));
    fs.chmodSync(path.join(dir, 'a'), 0o600);
    fs.unlinkSync(path.join(dir, 'a'));
    fs.mkdirSync(path.join(dir, 'd'));
    fs.rmdirSync(path.join(dir, 'd'));
    await rec.sentinel();
    expect(rec.lines(true)).toEqual([
      'created a', 'modified ./', 'opened a', 'modified a', 'closed a', 'modified ./',
      'opened a', 'closed_no_write a',
      'modified a',
      'deleted a', 'modified ./',
      'created d/', 'modified ./',
      'deleted d/', 'modified ./',
    ]);
    expect(rec.events.every((e) => !e.is_synthetic)).toBe(true);
    expect(rec.events[0]).toBeInstanceOf(FileCreatedEvent);
  });

  it('moves inside the tree are `moved` at once, with synthetic `moved` for a directory\'s contents when recursive', async () => {
    const dir = fs.realpathSync(tempDir());
    fs.mkdirSync(path.join(dir, 'src', 'inner'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src', 'inner', 'f'), 'x');
    fs.writeFileSync(path.join(dir, 'src', 'g'), 'x');
    fs.writeFileSync(path.join(dir, 'a'), 'x');
    const { rec } = await observe(dir);
    fs.renameSync(path.join(dir, 'a'), path.join(dir, 'b'));
    fs.renameSync(path.join(dir, 'src'), path.join(dir, 'dst'));
    await rec.waitFor((e) => e.dest_path === path.join(dir, 'dst', 'inner', 'f'));
    // The moved tree is watched at its new path.
    fs.writeFileSync(path.join(dir, 'dst', 'inner', 'after'), 'x');
    await rec.sentinel();
    expect(rec.lines(true)).toEqual([
      'moved a -> b', 'modified ./', // watchdog reports both parents; the second is the same event and skipped
      'moved src/ -> dst/', 'modified ./',
      'moved src/inner/ -> dst/inner/ (s)', 'moved src/g -> dst/g (s)', 'moved src/inner/f -> dst/inner/f (s)',
      'created dst/inner/after', 'modified dst/inner/', 'opened dst/inner/after', 'modified dst/inner/after', 'closed dst/inner/after', 'modified dst/inner/',
    ]);
    expect(rec.events[0]).toBeInstanceOf(FileMovedEvent);
  });

  it('moves out are `deleted`, moves in are `created` (plus the moved-in tree\'s contents, synthetic), order kept', async () => {
    const dir = fs.realpathSync(tempDir());
    const outside = fs.realpathSync(tempDir());
    fs.mkdirSync(path.join(dir, 'leaving', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'leaving', 'sub', 'x'), 'x');
    fs.writeFileSync(path.join(dir, 'out'), 'x');
    fs.mkdirSync(path.join(outside, 'tree', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'tree', 'deep', 'y'), 'y');
    fs.writeFileSync(path.join(outside, 'file'), 'z');
    const { rec } = await observe(dir);
    fs.renameSync(path.join(dir, 'out'), path.join(outside, 'out'));
    fs.writeFileSync(path.join(dir, 'next'), 'x'); // after the move out: must come after its `deleted`
    fs.renameSync(path.join(dir, 'leaving'), path.join(outside, 'leaving'));
    fs.renameSync(path.join(outside, 'file'), path.join(dir, 'file'));
    fs.renameSync(path.join(outside, 'tree'), path.join(dir, 'tree'));
    await rec.created(path.join(dir, 'tree'));
    // Nothing is reported from inside the tree that left; the tree that came in is watched.
    fs.writeFileSync(path.join(outside, 'leaving', 'sub', 'unseen'), 'x');
    fs.writeFileSync(path.join(dir, 'tree', 'deep', 'seen'), 'x');
    await rec.sentinel();
    expect(rec.lines()).toEqual([
      'deleted out',
      'created next', 'opened next', 'modified next', 'closed next',
      'deleted leaving/',
      'created file',
      'created tree/', 'created tree/deep/ (s)', 'created tree/deep/y (s)', 'closed tree/deep/y (s)',
      'created tree/deep/seen', 'opened tree/deep/seen', 'modified tree/deep/seen', 'closed tree/deep/seen',
    ]);
  });

  it('a move out that ends a read batch is reported as `deleted` (after a short grace for its other half)', async () => {
    const dir = fs.realpathSync(tempDir());
    const outside = fs.realpathSync(tempDir());
    fs.writeFileSync(path.join(dir, 'last'), 'x');
    const { rec } = await observe(dir);
    fs.renameSync(path.join(dir, 'last'), path.join(outside, 'last'));
    const deleted = await rec.waitFor((e) => e.event_type === 'deleted');
    expect(rec.describe(deleted)).toBe('deleted last');
  });

  it('recursive: false watches the directory itself only (a moved directory\'s contents are not reported)', async () => {
    const dir = fs.realpathSync(tempDir());
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.mkdirSync(path.join(dir, 'tree'));
    fs.writeFileSync(path.join(dir, 'tree', 'f'), 'x');
    const observer = new Observer();
    onTestFinished(() => observer.stop());
    const flat = new Recorder(dir);
    const deep = new Recorder(dir);
    observer.schedule(flat, dir, { recursive: false });
    observer.schedule(deep, dir, { recursive: true });
    await observer.start();
    fs.writeFileSync(path.join(dir, 'sub', 'inside'), 'x');
    fs.mkdirSync(path.join(dir, 'new'));
    await deep.created(path.join(dir, 'new'));
    fs.writeFileSync(path.join(dir, 'new', 'later'), 'x');
    fs.renameSync(path.join(dir, 'tree'), path.join(dir, 'tree2'));
    await deep.sentinel();
    await flat.waitFor((e) => e.src_path.includes('.sentinel-'));
    expect(flat.lines()).toEqual(['created new/', 'moved tree/ -> tree2/']);
    expect(deep.lines()).toEqual([
      'created sub/inside', 'opened sub/inside', 'modified sub/inside', 'closed sub/inside',
      'created new/', 'created new/later', 'opened new/later', 'modified new/later', 'closed new/later',
      'moved tree/ -> tree2/', 'moved tree/f -> tree2/f (s)',
    ]);
  });

  it('a new directory\'s contents are not lost: a tree made with mkdir -p and files written at once', async () => {
    const dir = fs.realpathSync(tempDir());
    const { rec } = await observe(dir);
    const deep = path.join(dir, 'a', 'b', 'c');
    fs.mkdirSync(deep, { recursive: true });
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(deep, `f${i}`), 'x');
    await rec.sentinel(deep);
    const created = rec.events.filter((e) => e.event_type === 'created' && !e.src_path.includes('.sentinel-')).map((e) => path.relative(dir, e.src_path));
    // Each exactly once, whether seen by the kernel or by the scan of the new directory.
    expect(created.sort()).toEqual(['a', 'a/b', 'a/b/c', ...Array.from({ length: 20 }, (_, i) => `a/b/c/f${i}`)].sort());
    const closed = rec.events.filter((e) => e instanceof FileClosedEvent).map((e) => path.basename(e.src_path));
    expect(closed.filter((n) => n.startsWith('f')).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`).sort());
  });

  it('the watched root deleted: `deleted` for it, then the watch ends (its fd is closed)', async () => {
    const base = fs.realpathSync(tempDir());
    const dir = path.join(base, 'root');
    fs.mkdirSync(dir);
    const fds = inotifyFdCount();
    const { rec } = await observe(dir);
    expect(inotifyFdCount()).toBe(fds + 1);
    fs.rmdirSync(dir);
    const gone = await rec.waitFor((e) => e.event_type === 'deleted');
    expect(rec.describe(gone)).toBe('deleted ./');
    expect(gone.is_directory).toBe(true);
    expect(inotifyFdCount()).toBe(fds);
  });

  it('the watched root moved away: `deleted` for it, then the watch ends; other watches go on', async () => {
    const base = fs.realpathSync(tempDir());
    const dir = path.join(base, 'root');
    const other = path.join(base, 'other');
    fs.mkdirSync(dir);
    fs.mkdirSync(other);
    const fds = inotifyFdCount();
    const observer = new Observer();
    onTestFinished(() => observer.stop());
    const rec = new Recorder(dir);
    const still = new Recorder(other);
    observer.schedule(rec, dir, { recursive: true });
    observer.schedule(still, other);
    await observer.start();
    fs.renameSync(dir, path.join(base, 'elsewhere'));
    const gone = await rec.waitFor((e) => e.event_type === 'deleted');
    expect(rec.describe(gone)).toBe('deleted ./');
    expect(inotifyFdCount()).toBe(fds + 1);
    await still.sentinel();
    expect(observer.is_alive()).toBe(true);
  });

  it('names that are not UTF-8: src_path shows U+FFFD, src_path_bytes and dest_path_bytes are the exact bytes', async () => {
    const dir = fs.realpathSync(tempDir());
    const { rec } = await observe(dir);
    const raw = (name: number[]): Buffer => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(name)]);
    const latin = raw([0x66, 0xe9]); // "f\xe9"
    const renamed = raw([0x67, 0xff]); // "g\xff"
    fs.writeFileSync(latin, 'x');
    fs.renameSync(latin, renamed);
    const moved = await rec.waitFor((e) => e.event_type === 'moved');
    expect(moved.src_path).toBe(`${dir}/f\ufffd`);
    expect(moved.dest_path).toBe(`${dir}/g\ufffd`);
    expect(moved.src_path_bytes.equals(latin)).toBe(true);
    expect(moved.dest_path_bytes.equals(renamed)).toBe(true);
    const created = rec.events.find((e) => e.event_type === 'created');
    expect(created?.src_path_bytes.equals(latin)).toBe(true);
    fs.unlinkSync(renamed);
  });
});

describe('filtering handlers on real files', () => {
  it('PatternMatchingEventHandler: patterns, ignore_patterns, ignore_directories, moves matched on either path', async () => {
    const dir = fs.realpathSync(tempDir());
    const observer = new Observer();
    onTestFinished(() => observer.stop());
    const log: string[] = [];
    class PyHandler extends PatternMatchingEventHandler {
      override on_any_event(event: FileSystemEvent): void {
        log.push(`${event.event_type} ${path.relative(dir, event.src_path)}${event.dest_path ? ` -> ${path.relative(dir, event.dest_path)}` : ''}`);
      }
    }
    const sentinel = new Recorder(dir);
    observer.schedule(new PyHandler({ patterns: ['*.py'], ignore_patterns: ['skip_*'], ignore_directories: true }), dir, { recursive: true });
    observer.schedule(sentinel, dir, { recursive: true }); // the same watch, a second handler
    expect(observer.watches).toHaveLength(1);
    await observer.start();
    fs.mkdirSync(path.join(dir, 'pkg.py')); // a directory: ignored
    await sentinel.created(path.join(dir, 'pkg.py'));
    fs.writeFileSync(path.join(dir, 'pkg.py', 'mod.py'), '');
    fs.writeFileSync(path.join(dir, 'README.txt'), '');
    fs.writeFileSync(path.join(dir, 'skip_me.py'), '');
    fs.writeFileSync(path.join(dir, 'UPPER.PY'), ''); // case_sensitive defaults to false
    fs.renameSync(path.join(dir, 'README.txt'), path.join(dir, 'readme.py')); // dest matches
    fs.renameSync(path.join(dir, 'UPPER.PY'), path.join(dir, 'upper.txt')); // src matches
    await sentinel.sentinel();
    expect(log).toEqual([
      'created pkg.py/mod.py', 'opened pkg.py/mod.py', 'closed pkg.py/mod.py',
      'created UPPER.PY', 'opened UPPER.PY', 'closed UPPER.PY',
      'moved README.txt -> readme.py',
      'moved UPPER.PY -> upper.txt',
    ]);
  });

  it('RegexMatchingEventHandler with case_sensitive: true on real files', async () => {
    const dir = fs.realpathSync(tempDir());
    const observer = new Observer();
    onTestFinished(() => observer.stop());
    const seen: string[] = [];
    class LogHandler extends RegexMatchingEventHandler {
      override on_created(event: FileSystemEvent): void {
        seen.push(path.basename(event.src_path));
      }
    }
    const sentinel = new Recorder(dir);
    observer.schedule(new LogHandler({ regexes: ['.*\\.log$'], ignore_regexes: ['.*/tmp-'], case_sensitive: true }), dir);
    observer.schedule(sentinel, dir);
    await observer.start();
    for (const name of ['a.log', 'B.LOG', 'tmp-c.log', 'd.log.gz', 'e.log']) fs.writeFileSync(path.join(dir, name), '');
    await sentinel.sentinel();
    expect(seen).toEqual(['a.log', 'e.log']);
  });

  it('event_filter reports only the listed classes (and their subclasses)', async () => {
    const dir = fs.realpathSync(tempDir());
    const observer = new Observer();
    onTestFinished(() => observer.stop());
    const rec = new Recorder(dir);
    const all = new Recorder(dir);
    observer.schedule(rec, dir, { event_filter: [FileCreatedEvent, DirCreatedEvent] });
    observer.schedule(all, dir);
    await observer.start();
    fs.writeFileSync(path.join(dir, 'f'), 'x');
    fs.mkdirSync(path.join(dir, 'd'));
    fs.unlinkSync(path.join(dir, 'f'));
    await all.sentinel();
    await rec.waitFor((e) => e.src_path.includes('.sentinel-'));
    expect(rec.lines(true)).toEqual(['created f', 'created d/']);
  });
});

describe('lifecycle', () => {
  it('start() arms, stop() closes every fd and resolves join(); unschedule() releases its watch at once', async () => {
    const dir = fs.realpathSync(tempDir());
    const other = fs.realpathSync(tempDir());
    const fds = inotifyFdCount();
    const observer = new Observer();
    const rec = new Recorder(dir);
    const watch = observer.schedule(rec, dir, { recursive: true });
    const second = observer.schedule(new Recorder(other), other);
    expect(String(watch)).toBe(`<ObservedWatch: path='${dir}', is_recursive=True>`);
    expect(inotifyFdCount()).toBe(fds); // nothing is watched before start()
    await expect(observer.join()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    await observer.start();
    expect(observer.is_alive()).toBe(true);
    expect(inotifyFdCount()).toBe(fds + 2);
    await expect(observer.start()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    observer.unschedule(second);
    expect(inotifyFdCount()).toBe(fds + 1);
    expect(() => observer.unschedule(second)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    await rec.sentinel();
    const joined = observer.join();
    let done = false;
    void joined.then(() => { done = true; });
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false); // join() waits for stop()
    await observer.stop();
    await joined;
    expect(observer.is_alive()).toBe(false);
    expect(inotifyFdCount()).toBe(fds);
    await observer.join(); // after the stop: resolves at once
    expect(() => observer.schedule(rec, dir)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
  });

  it('`await using` stops the observer (Symbol.asyncDispose), and stop() waits for async handlers', async () => {
    const dir = fs.realpathSync(tempDir());
    const fds = inotifyFdCount();
    let finished = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    class Slow extends FileSystemEventHandler {
      override async on_created(): Promise<void> {
        await gate;
        finished += 1;
      }
    }
    const rec = new Recorder(dir);
    {
      await using observer = new Observer();
      observer.schedule(new Slow(), dir);
      observer.schedule(rec, dir);
      await observer.start();
      expect(inotifyFdCount()).toBe(fds + 1);
      fs.writeFileSync(path.join(dir, 'x'), '');
      await rec.waitFor((e) => e.event_type === 'created');
      setImmediate(release);
    }
    expect(finished).toBe(1); // the dispose waited for the handler's promise
    expect(inotifyFdCount()).toBe(fds);
  });

  it('bad input: a missing path throws ENOENT in fs shape at schedule(), a non-handler a TypeError', () => {
    const observer = new Observer();
    const missing = path.join(fs.realpathSync(tempDir()), 'missing');
    expect(() => observer.schedule(new FileSystemEventHandler(), missing)).toThrow(expect.objectContaining({ code: 'ENOENT', path: missing }));
    expect(() => observer.schedule({} as FileSystemEventHandler, '/')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => observer.schedule(new FileSystemEventHandler(), '/', { event_filter: [String as never] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(observer.watches).toEqual([]);
  });

  it('a throwing handler: an \'error\' event with the watch; without a listener, join() rejects and the observer stops', async () => {
    const dir = fs.realpathSync(tempDir());
    const fds = inotifyFdCount();
    class Broken extends FileSystemEventHandler {
      override on_created(event: FileSystemEvent): void {
        throw new Error(`cannot handle ${path.basename(event.src_path)}`);
      }
    }
    const listened = new Observer();
    onTestFinished(() => listened.stop());
    const errors: [string, ObservedWatch | undefined][] = [];
    listened.on('error', (error, watch) => errors.push([error.message, watch]));
    const watch = listened.schedule(new Broken(), dir);
    const rec = new Recorder(dir);
    listened.schedule(rec, dir);
    await listened.start();
    fs.writeFileSync(path.join(dir, 'one'), '');
    await rec.sentinel();
    expect(errors).toEqual([['cannot handle one', watch], ['cannot handle .sentinel-1', watch]]);
    expect(listened.is_alive()).toBe(true); // with a listener, watching goes on
    await listened.stop();

    const unheard = new Observer();
    unheard.schedule(new Broken(), dir);
    await unheard.start();
    const joined = unheard.join();
    fs.writeFileSync(path.join(dir, 'two'), '');
    await expect(joined).rejects.toThrow('cannot handle two');
    expect(unheard.is_alive()).toBe(false);
    expect(inotifyFdCount()).toBe(fds);
  });
});

describe('faults are reported, never silent', () => {
  it.skipIf(!canLimitQueue)('a queue overflow goes to on_overflow and \'overflow\'; the rescan then reports every file created unseen', async () => {
    const dir = fs.realpathSync(tempDir());
    const observer = new Observer();
    onTestFinished(() => observer.stop());
    const overflows: ObservedWatch[] = [];
    class Handler extends Recorder {
      override on_overflow(watch: ObservedWatch): void {
        overflows.push(watch);
      }
    }
    const rec = new Handler(dir);
    const heard: ObservedWatch[] = [];
    observer.on('overflow', (watch) => heard.push(watch));
    const watch = observer.schedule(rec, dir, { recursive: true });
    // The instance is made inside start(), synchronously: a 64-event queue.
    await withQueueLimit(64, () => observer.start());
    // Synchronous: nothing is read meanwhile, so the queue overflows.
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(dir, `f${i}`), 'x');
    await rec.waitFor((e) => e.src_path === path.join(dir, 'f299') && e.event_type === 'created');
    // At least one (the rescan's own listing can overflow a 64-event queue again), each for this watch.
    expect(overflows.length).toBeGreaterThanOrEqual(1);
    expect(new Set(overflows)).toEqual(new Set([watch]));
    expect(heard).toEqual(overflows);
    const created = new Set(rec.events.filter((e) => e.event_type === 'created').map((e) => path.basename(e.src_path)));
    expect([...created].sort()).toEqual(Array.from({ length: 300 }, (_, i) => `f${i}`).sort());
    expect(rec.events.some((e) => e.event_type === 'created' && e.is_synthetic)).toBe(true);
  });

  it('a directory that cannot be watched (EACCES, as an unprivileged user) is an \'error\' with the watch; events go on', async () => {
    const root = fs.realpathSync(tempDir());
    fs.chmodSync(root, 0o755);
    const open = path.join(root, 'open');
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    const lib = ensureLib();
    const script = `
      const { Observer, FileSystemEventHandler } = require(${JSON.stringify(lib)});
      const out = { errors: [], events: [] };
      class H extends FileSystemEventHandler {
        on_any_event(e) {
          if (e.is_directory && e.event_type === 'modified') return;
          out.events.push(e.event_type + ' ' + e.src_path);
          if (e.src_path.endsWith('/after') && e.event_type === 'closed') { console.log(JSON.stringify(out)); observer.stop(); }
        }
      }
      const observer = new Observer();
      observer.on('error', (e, watch) => out.errors.push({ code: e.code, syscall: e.syscall, path: e.path, watch: watch && watch.path }));
      observer.schedule(new H(), ${JSON.stringify(open)}, { recursive: true });
      observer.start().then(() => console.log('READY'));`;
    const asRoot = process.getuid?.() === 0;
    if (asRoot) expect(spawnSync('setpriv', ['--version']).status, 'setpriv (util-linux) is needed').toBe(0);
    const argv = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath] : [process.execPath];
    const child = spawn(argv[0] as string, [...argv.slice(1), '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => { child.kill('SIGKILL'); });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('READY\n')) resolve();
      });
      void exited.then(() => resolve());
    });
    const locked = path.join(open, 'locked');
    fs.mkdirSync(locked, { mode: 0o700 });
    if (!asRoot) fs.chmodSync(locked, 0o000);
    fs.writeFileSync(path.join(open, 'after'), 'x');
    if (!asRoot) fs.chmodSync(open, 0o777);
    const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000))]);
    if (!asRoot) fs.chmodSync(locked, 0o700);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    const out = JSON.parse(stdout.split('\n').find((line) => line.startsWith('{')) ?? '{}') as Record<string, unknown>;
    expect(out.errors).toEqual([{ code: 'EACCES', syscall: 'inotify_add_watch', path: locked, watch: open }]);
    expect(out.events).toEqual([`created ${locked}`, `created ${open}/after`, `opened ${open}/after`, `modified ${open}/after`, `closed ${open}/after`]);
  });
});
