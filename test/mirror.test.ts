/**
 * inotify-mirror, one-way to a local directory, with the real rsync and the
 * real kernel: the initial reconcile (with progress), then each kind of
 * change followed: a file only ever appears complete, renames and directory
 * moves are replayed as renames (same inode, nothing re-sent), deletes, a
 * burst goes in a few rsync runs (counted), a backlog past its bound becomes
 * a reconcile, excluded paths stay behind.
 */
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Mirror } from '../src/index.js';
import { shellCommand } from '../src/mirror/shell-quote.js';
import { RelPath } from '../src/mirror/rel-path.js';
import { compileMirrorExcludes } from '../src/mirror/excludes.js';
import { parseDestination } from '../src/mirror/destination.js';
import { ChangeQueue } from '../src/mirror/change-queue.js';
import { ProgressMeter, formatProgress } from '../src/mirror/progress.js';
import { tempDir } from './helpers/index.js';
import { countingRsync, startMirror, treeDiff } from './mirror-helpers.js';

function roots(): { src: string; dst: string; dir: string } {
  const dir = tempDir('mirror-');
  const src = path.join(dir, 'src');
  const dst = path.join(dir, 'dst');
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
  return { src, dst, dir };
}

describe('pieces', () => {
  it('quotes any bytes so that sh gets them back exactly', () => {
    const hostile = [Buffer.from("it's -n\n$(touch x) `y` \\ \"z\""), Buffer.from([0x2d, 0xff, 0xfe, 0x27, 0x0a]), Buffer.from('')];
    for (const arg of hostile) {
      const script = Buffer.concat([Buffer.from('printf %s '), shellCommand([arg])]);
      const out = spawnSync('sh', ['-s'], { input: script });
      expect(out.stdout).toEqual(arg);
    }
  });

  it('refuses relative paths that could leave the root', () => {
    for (const bad of ['', '/etc/passwd', '..', 'a/../../b', 'a//b', './a', 'a/.', 'a\0b']) {
      expect(() => RelPath.from(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }) as Error);
    }
    expect(RelPath.from('a/b c/-d').text).toBe('a/b c/-d');
    expect(RelPath.below(Buffer.from('/r'), Buffer.from('/r/a/b'))?.text).toBe('a/b');
    expect(RelPath.below(Buffer.from('/r'), Buffer.from('/rx/a'))).toBeUndefined();
    expect(RelPath.below(Buffer.from('/r'), Buffer.from('/r'))).toBeUndefined();
  });

  it('parses destinations as rsync does', () => {
    expect(parseDestination('/backup/x/')).toEqual({ kind: 'local', root: '/backup/x' });
    expect(parseDestination('./a:b')).toMatchObject({ kind: 'local' });
    expect(parseDestination('me@nas:/vol/data/')).toEqual({ kind: 'ssh', host: 'me@nas', root: '/vol/data', ssh: ['ssh'] });
    expect(parseDestination('nas:')).toMatchObject({ host: 'nas', root: '.' });
    expect(() => parseDestination('-oProxyCommand=x:y')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }) as Error);
  });

  it('translates excludes to rsync rules anchored like ours', () => {
    const ex = compileMirrorExcludes(['*.o', 'build/out', '/r/cache', './logs'], '/r');
    expect(ex.rsyncArgs).toEqual(['--exclude=*.o', '--exclude=/build/out', '--exclude=/cache', '--exclude=/logs']);
    expect(ex.matches?.('/r/a/b.o')).toBe(true);
    expect(ex.matches?.('/r/build/out/x')).toBe(true);
    expect(ex.matches?.('/r/a/build/out')).toBe(false);
    expect(() => compileMirrorExcludes(['*.{a,b}'], '/r')).toThrow(/alternatives/);
    expect(() => compileMirrorExcludes(['/elsewhere'], '/r')).toThrow(/under the source/);
  });

  it('keeps order: a batch ends at a rename, and a rename waits for its second half', () => {
    const q = new ChangeQueue(100);
    q.send(RelPath.from('a'));
    q.send(RelPath.from('b'));
    q.send(RelPath.from('a'));
    q.movedFrom(7, RelPath.from('a'));
    q.send(RelPath.from('c'));
    const first = q.take();
    expect(first?.kind === 'send' && [...first.shallow.values()].map((p) => p.text)).toEqual(['a', 'b']);
    expect(q.take()).toBeUndefined(); // the rename's second half has not come
    expect(q.movedTo(7, RelPath.from('d'))).toBe(true);
    expect(q.take()).toMatchObject({ kind: 'tree', ops: [{ type: 'rename', from: { text: 'a' }, to: { text: 'd' } }] });
    expect(q.take()?.kind).toBe('send');
    q.movedFrom(8, RelPath.from('e'));
    q.movedAway(8);
    expect(q.take()).toMatchObject({ kind: 'tree', ops: [{ type: 'delete', path: { text: 'e' } }] });
  });

  it('turns a backlog past its bound into one reconcile', () => {
    const q = new ChangeQueue(3);
    for (const name of ['a', 'b', 'c', 'd']) q.send(RelPath.from(name));
    expect(q.take()).toEqual({ kind: 'reconcile', reason: 'backlog' });
    expect(q.empty).toBe(true);
  });

  it('measures progress: rate from bytes over time, ETA from what is left', () => {
    const meter = new ProgressMeter(4, 4000, 0);
    meter.update(1, 1000);
    expect(meter.snapshot(2000)).toEqual({ files: { done: 1, total: 4 }, bytes: { done: 1000, total: 4000 }, rate: 500, eta: 6, elapsed: 2000 });
    meter.update(0, 500); // never goes back
    expect(meter.snapshot(2000).bytes.done).toBe(1000);
    expect(formatProgress(meter.snapshot(2000))).toBe('files 1/4  bytes 1000 B/3.9 KiB  500 B/s  ETA 0:06');
    meter.finish();
    expect(meter.snapshot(4000)).toMatchObject({ files: { done: 4 }, bytes: { done: 4000 }, eta: 0 });
    expect(new ProgressMeter(1, 10, 0).snapshot(0).eta).toBeUndefined();
  });

  it('rejects bad arguments with Node-style errors', async () => {
    const { src, dst, dir } = roots();
    expect(() => new Mirror(src, path.join(src, 'inside'))).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
    expect(() => new Mirror(src, dst, { batchDelay: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }) as Error);
    await expect(new Mirror(path.join(dir, 'missing'), dst).start()).rejects.toMatchObject({ code: 'ENOENT', syscall: 'stat' });
    fs.writeFileSync(path.join(dir, 'file'), '');
    await expect(new Mirror(path.join(dir, 'file'), dst).start()).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('one-way, local', () => {
  it('reconciles first, with progress totals from a dry run, and deletes only when asked', async () => {
    const { src, dst } = roots();
    let bytes = 0;
    for (let d = 0; d < 10; d++) {
      fs.mkdirSync(path.join(src, `d${d}`));
      for (let f = 0; f < 30; f++) {
        const data = Buffer.alloc(100 + d * 30 + f, 'x');
        bytes += data.length;
        fs.writeFileSync(path.join(src, `d${d}`, `f${f}`), data);
      }
    }
    fs.writeFileSync(path.join(dst, 'extra'), 'kept');
    const log = await startMirror(src, dst);
    const last = log.progress.at(-1);
    expect(last?.files).toEqual({ done: 300, total: 300 });
    expect(last?.bytes).toEqual({ done: bytes, total: bytes });
    expect(log.reconciles[0]).toMatchObject({ reason: 'initial', files: 300, bytes });
    expect(fs.readFileSync(path.join(dst, 'extra'), 'utf8')).toBe('kept');
    fs.rmSync(path.join(dst, 'extra'));
    expect(treeDiff(src, dst)).toBe('');
    await log.mirror.close();

    // A second mirror: nothing to send; with delete, the extra file goes.
    fs.writeFileSync(path.join(dst, 'extra'), 'gone');
    const again = await startMirror(src, dst, { delete: true });
    expect(again.reconciles[0]).toMatchObject({ files: 0, bytes: 0 });
    expect(fs.existsSync(path.join(dst, 'extra'))).toBe(false);
  });

  it('never shows a partial file on the destination while it is written slowly', async () => {
    const { src, dst } = roots();
    const log = await startMirror(src, dst);
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const chunks = 40;
    const seenSizes = new Set<number>();
    const reader = setInterval(() => {
      const stat = fs.statSync(path.join(dst, 'slow.bin'), { throwIfNoEntry: false });
      if (stat !== undefined) seenSizes.add(stat.size);
    }, 2);
    try {
      const fd = fs.openSync(path.join(src, 'slow.bin'), 'w');
      for (let i = 0; i < chunks; i++) {
        fs.writeSync(fd, chunk);
        await new Promise((resolve) => setTimeout(resolve, 20)); // a slow writer: the mirror runs meanwhile
      }
      fs.closeSync(fd);
      await log.until(() => seenSizes.has(chunks * chunk.length) && log.syncs.length > 0, 'slow.bin complete on the destination');
    } finally {
      clearInterval(reader);
    }
    expect([...seenSizes]).toEqual([chunks * chunk.length]);
    expect(log.syncs.filter((s) => s.type === 'send' && s.paths.includes('slow.bin'))).toHaveLength(1);
  });

  it('replays renames and directory moves as renames (same inode, nothing re-sent) and deletes', async () => {
    const { src, dst } = roots();
    fs.mkdirSync(path.join(src, 'dir/sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'dir/sub/deep'), 'deep');
    fs.writeFileSync(path.join(src, 'file'), 'file');
    fs.mkdirSync(path.join(src, 'other'));
    const log = await startMirror(src, dst);
    const fileIno = fs.statSync(path.join(dst, 'file')).ino;
    const deepIno = fs.statSync(path.join(dst, 'dir/sub/deep')).ino;
    const filesBefore = log.mirror.stats.files;

    fs.renameSync(path.join(src, 'file'), path.join(src, 'renamed'));
    fs.renameSync(path.join(src, 'dir'), path.join(src, 'other/moved'));
    // The files are in place as soon as the shell has run; its report ('sync') comes when it exits.
    await log.until(() => log.syncs.filter((s) => s.type === 'rename').length === 2, 'renames');
    expect(fs.statSync(path.join(dst, 'renamed')).ino).toBe(fileIno);
    expect(fs.statSync(path.join(dst, 'other/moved/sub/deep')).ino).toBe(deepIno);
    expect(log.mirror.stats.files).toBe(filesBefore);
    expect(log.syncs).toEqual(expect.arrayContaining([
      { type: 'rename', from: 'file', to: 'renamed' }, { type: 'rename', from: 'dir', to: 'other/moved' },
    ]));

    fs.rmSync(path.join(src, 'renamed'));
    fs.rmSync(path.join(src, 'other'), { recursive: true });
    await log.until(() => fs.readdirSync(dst).length === 0, 'deletes');
    expect(log.mirror.stats.files).toBe(filesBefore);
    expect(log.warnings).toEqual([]);
  });

  it('sends a burst of 200 files in a few rsync runs, and follows an rsync and an atomic save into the source', async () => {
    const { src, dst, dir } = roots();
    const rsync = countingRsync(dir);
    const log = await startMirror(src, dst, { rsync: rsync.program });
    const afterReconcile = rsync.runs();
    expect(afterReconcile).toBe(2); // the dry run and the transfer
    fs.mkdirSync(path.join(src, 'burst'));
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(src, 'burst', `f${i}`), `file ${i}\n`);
    await log.until(() => fs.existsSync(path.join(dst, 'burst')) && fs.readdirSync(path.join(dst, 'burst')).length === 200, '200 files');
    await log.mirror.idle();
    const burstRuns = rsync.runs() - afterReconcile;
    expect(burstRuns).toBeGreaterThan(0);
    expect(burstRuns).toBeLessThan(40); // one per file would be 200

    // rsync into the source (temp + rename there): only the final names arrive.
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'r1'), 'one');
    fs.writeFileSync(path.join(outside, 'r2'), 'two');
    expect(spawnSync('rsync', ['-a', `${outside}/`, `${src}/in/`]).status).toBe(0);
    // An editor's atomic save: a temporary name renamed over the file.
    fs.writeFileSync(path.join(src, 'doc.txt.tmp'), 'saved');
    fs.renameSync(path.join(src, 'doc.txt.tmp'), path.join(src, 'doc.txt'));
    await log.until(() => treeDiff(src, dst) === '', 'the trees to match');
    const sent = log.syncs.flatMap((s) => (s.type === 'send' ? s.paths : []));
    expect(sent.filter((p) => /\.tmp$|\/\.[^/]+\.\w{6}$/.test(p))).toEqual([]);
  });

  it('copies symlinks as links, sends a directory moved in whole, deletes what is moved out', async () => {
    const { src, dst, dir } = roots();
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(path.join(outside, 'tree/sub'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'tree/sub/f'), 'f');
    fs.writeFileSync(path.join(src, 'leaving'), 'bye');
    const log = await startMirror(src, dst);
    fs.symlinkSync('/etc/passwd', path.join(src, 'link'));
    fs.renameSync(path.join(outside, 'tree'), path.join(src, 'tree'));
    fs.renameSync(path.join(src, 'leaving'), path.join(outside, 'left'));
    await log.until(() => treeDiff(src, dst) === '' && !fs.existsSync(path.join(dst, 'leaving')), 'the trees to match');
    expect(fs.readlinkSync(path.join(dst, 'link'))).toBe('/etc/passwd');
    expect(fs.readFileSync(path.join(dst, 'tree/sub/f'), 'utf8')).toBe('f');
  });

  it('converges when a file or a new directory is renamed before it was ever sent', async () => {
    const { src, dst } = roots();
    const log = await startMirror(src, dst);
    fs.writeFileSync(path.join(src, 'quick'), 'quick');
    fs.renameSync(path.join(src, 'quick'), path.join(src, 'quick2'));
    fs.mkdirSync(path.join(src, 'newdir'));
    fs.writeFileSync(path.join(src, 'newdir/inner'), 'inner');
    fs.renameSync(path.join(src, 'newdir'), path.join(src, 'newdir2'));
    await log.until(() => treeDiff(src, dst) === '', 'the trees to match');
    await log.mirror.idle();
    expect(treeDiff(src, dst)).toBe('');
    expect(log.warnings).toEqual([]);
  });

  it('sends a directory whole when it was renamed after a file in it completed but before the file was sent', async () => {
    const { src, dst } = roots();
    // A long batch delay: the file's send waits in line while its directory is renamed.
    const log = await startMirror(src, dst, { batchDelay: 3000 });
    fs.mkdirSync(path.join(src, 'd'));
    await log.until(() => fs.existsSync(path.join(dst, 'd')), 'd on the destination');
    await log.mirror.idle();
    fs.writeFileSync(path.join(src, 'd', 'x'), 'x');
    await log.until(() => log.mirror.pending === 1, 'd/x waiting to be sent');
    fs.renameSync(path.join(src, 'd'), path.join(src, 'e'));
    await log.until(() => log.syncs.some((s) => s.type === 'rename') && treeDiff(src, dst) === '', 'e/x on the destination');
    expect(fs.readFileSync(path.join(dst, 'e', 'x'), 'utf8')).toBe('x');
  });

  it('close() stops a running reconcile: the destination keeps no partial file', async () => {
    const { src, dst, dir } = roots();
    fs.writeFileSync(path.join(src, 'big'), Buffer.alloc(4 * 1024 * 1024, 'b'));
    const slowRsync = path.join(dir, 'rsync-slow');
    fs.writeFileSync(slowRsync, '#!/bin/sh\nexec rsync --bwlimit=200 "$@"\n', { mode: 0o755 }); // 20 s for 4 MiB
    const mirror = new Mirror(src, dst, { rsync: slowRsync });
    const started = mirror.start();
    const progressed = new Promise((resolve) => mirror.once('progress', resolve));
    await progressed;
    await mirror.close();
    await expect(started).rejects.toMatchObject({ code: 'ECANCELED' });
    expect(fs.readdirSync(dst)).toEqual([]); // rsync removed its temporary file; 'big' never arrived
  });

  it('keeps excluded paths off the destination', async () => {
    const { src, dst } = roots();
    fs.writeFileSync(path.join(src, 'a.o'), 'object');
    fs.mkdirSync(path.join(src, 'cache'));
    fs.writeFileSync(path.join(src, 'cache/x'), 'x');
    const log = await startMirror(src, dst, { exclude: ['*.o', 'cache'] });
    fs.writeFileSync(path.join(src, 'b.o'), 'object');
    fs.writeFileSync(path.join(src, 'cache/y'), 'y');
    fs.writeFileSync(path.join(src, 'kept'), 'kept');
    await log.until(() => fs.existsSync(path.join(dst, 'kept')), 'kept');
    await log.mirror.idle();
    expect(fs.readdirSync(dst).sort()).toEqual(['kept']);
  });

  it('turns a backlog past maxPending into a reconcile and still converges', async () => {
    const { src, dst } = roots();
    const log = await startMirror(src, dst, { maxPending: 5, batchDelay: 1000 });
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(src, `f${i}`), `${i}`);
    await log.until(() => fs.readdirSync(dst).length === 50, '50 files');
    await log.mirror.idle();
    expect(log.reconciles.some((r) => r.reason === 'backlog')).toBe(true);
    expect(treeDiff(src, dst)).toBe('');
  });
});
