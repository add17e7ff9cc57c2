/**
 * Two-way sync of two local directories with the real kernel and the real
 * rsync: the first merge (the union, a path that differs on both sides kept
 * twice), concurrent edits on both sides converging, renames replayed as
 * renames, no echo of the mirror's own writes (counted), a same-file
 * conflict keeping both versions on both sides, an edit winning over a
 * delete, and a restart that merges only what changed while it was stopped.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Mirror, twoWayStatus } from '../src/index.js';
import { tempDir } from './helpers/index.js';
import { startMirror, treeDiff } from './mirror-helpers.js';

function pair(): { a: string; b: string; state: string } {
  const dir = tempDir('two-way-');
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  return { a, b, state: path.join(dir, 'state') };
}

const read = (file: string): string | undefined => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined);
const ino = (file: string): number => fs.lstatSync(file).ino;
const count = (dir: string): number => (fs.existsSync(dir) ? fs.readdirSync(dir).length : 0);
const CONFLICT = /\.conflict-[ab]-\d{8}-\d{6}/;

describe('two-way', () => {
  it('first merge without state: the union; a path that differs on both sides is kept twice', async () => {
    const { a, b, state } = pair();
    fs.mkdirSync(path.join(a, 'dir'));
    fs.writeFileSync(path.join(a, 'dir', 'only-a'), 'A');
    fs.writeFileSync(path.join(b, 'only-b'), 'B');
    fs.symlinkSync('only-b', path.join(b, 'link'));
    fs.writeFileSync(path.join(a, 'same'), 'same');
    fs.writeFileSync(path.join(b, 'same'), 'same');
    fs.writeFileSync(path.join(a, 'clash.txt'), 'from a');
    fs.writeFileSync(path.join(b, 'clash.txt'), 'from b');
    const past = new Date(Date.now() - 3600_000);
    fs.utimesSync(path.join(a, 'clash.txt'), past, past); // a's is older: it is the one renamed
    const sameInode = ino(path.join(b, 'same'));
    // A directory on one side, a file of that name on the other: the directory keeps the name.
    fs.mkdirSync(path.join(a, 'x'));
    fs.writeFileSync(path.join(a, 'x', 'in'), 'in x');
    fs.writeFileSync(path.join(b, 'x'), 'file x');
    const latin = Buffer.concat([Buffer.from(`${b}/caf`), Buffer.from([0xe9])]); // not UTF-8
    fs.writeFileSync(latin, 'bytes');
    const log = await startMirror(a, b, { twoWay: true, state });
    expect(treeDiff(a, b)).toBe('');
    expect(read(path.join(b, 'dir', 'only-a'))).toBe('A');
    expect(fs.readlinkSync(path.join(a, 'link'))).toBe('only-b');
    expect(read(path.join(a, 'clash.txt'))).toBe('from b');
    const aside = fs.readdirSync(a).filter((name) => CONFLICT.test(name));
    expect(aside).toHaveLength(2);
    expect(aside[0]).toMatch(/^clash\.conflict-a-\d{8}-\d{6}\.txt$/);
    expect(aside[1]).toMatch(/^x\.conflict-b-\d{8}-\d{6}$/);
    expect(read(path.join(b, aside[0] as string))).toBe('from a');
    expect(read(path.join(a, aside[1] as string))).toBe('file x');
    expect(read(path.join(b, 'x', 'in'))).toBe('in x');
    expect(log.conflicts).toEqual([
      { kind: 'both-changed', path: 'clash.txt', conflictPath: aside[0], side: 'source' },
      { kind: 'both-changed', path: 'x', conflictPath: aside[1], side: 'destination' },
    ]);
    expect(fs.readFileSync(Buffer.concat([Buffer.from(`${a}/caf`), Buffer.from([0xe9])]), 'utf8')).toBe('bytes');
    expect(ino(path.join(b, 'same'))).toBe(sameInode); // equal on both sides: not copied
    expect(log.warnings).toEqual([]);
  });

  it('follows both sides: concurrent edits converge, renames are renames, excluded names stay, no echo', async () => {
    const { a, b, state } = pair();
    const log = await startMirror(a, b, { twoWay: true, state, exclude: ['*.tmp'] });
    fs.mkdirSync(path.join(a, 'docs'));
    fs.mkdirSync(path.join(b, 'music'));
    for (let i = 0; i < 20; i++) {
      fs.writeFileSync(path.join(a, 'docs', `d${i}`), `doc ${i}`);
      fs.writeFileSync(path.join(b, 'music', `m${i}`), `song ${i}`);
    }
    fs.writeFileSync(path.join(a, 'scratch.tmp'), 'not synced');
    for (let i = 0; i < 20; i += 4) fs.appendFileSync(path.join(a, 'docs', `d${i}`), ' more');
    await log.until(() => count(path.join(b, 'docs')) === 20 && fs.existsSync(path.join(a, 'music', 'm19'))
      && read(path.join(b, 'docs', 'd16')) === 'doc 16 more' && treeDiff(a, b) === 'Only in a: scratch.tmp\n'.replace('a', a), 'both sides merged');
    expect(read(path.join(a, 'music', 'm7'))).toBe('song 7');
    await log.mirror.idle(); // the last rsync has written its files: let it report them

    // A directory renamed on b is renamed on a: same inodes there, nothing sent.
    const before = ino(path.join(a, 'music', 'm3'));
    const sent = log.mirror.stats.files;
    fs.renameSync(path.join(b, 'music'), path.join(b, 'songs'));
    await log.until(() => fs.existsSync(path.join(a, 'songs', 'm3')) && !fs.existsSync(path.join(a, 'music')), 'the rename replayed');
    expect(ino(path.join(a, 'songs', 'm3'))).toBe(before);
    expect(log.syncs).toContainEqual({ type: 'rename', from: 'music', to: 'songs', target: 'source' });
    // A delete on a reaches b.
    fs.rmSync(path.join(a, 'docs', 'd1'));
    await log.until(() => !fs.existsSync(path.join(b, 'docs', 'd1')), 'the delete replayed');
    await log.mirror.idle();
    expect(log.mirror.stats.files).toBe(sent);

    // No echo: one file written on a is sent once; b's event for that write is examined, found in sync, and nothing more happens.
    await log.mirror.idle();
    const syncsBefore = log.syncs.length;
    const inSyncBefore = log.mirror.stats.inSync;
    fs.writeFileSync(path.join(a, 'echo.txt'), 'once');
    await log.until(() => log.syncs.length > syncsBefore, 'the send of echo.txt');
    expect(log.syncs.slice(syncsBefore)).toEqual([{ type: 'send', paths: ['echo.txt'], files: 1, bytes: 4, target: 'destination' }]);
    await log.until(() => log.mirror.stats.inSync > inSyncBefore, "b's event for the mirror's own write examined");
    await log.mirror.idle();
    expect(log.syncs.length).toBe(syncsBefore + 1);
    expect(log.conflicts).toEqual([]);
    expect(log.warnings).toEqual([]);
  });

  it('a file changed on both sides keeps both versions, on both sides', async () => {
    const { a, b, state } = pair();
    fs.writeFileSync(path.join(a, 'notes.md'), 'base');
    const log = await startMirror(a, b, { twoWay: true, state });
    await log.mirror.idle();
    // Both edits land before the mirror sees either (this test's code holds the loop).
    fs.writeFileSync(path.join(a, 'notes.md'), 'edit on a');
    fs.writeFileSync(path.join(b, 'notes.md'), 'edit on b, longer');
    await log.until(() => log.conflicts.length === 1 && treeDiff(a, b) === '' && fs.readdirSync(a).length === 2, 'both versions on both sides');
    const names = fs.readdirSync(b).sort().reverse();
    expect(names[0]).toBe('notes.md');
    expect(names[1]).toMatch(/^notes\.conflict-[ab]-\d{8}-\d{6}\.md$/);
    const contents = names.map((name) => read(path.join(b, name))).sort();
    expect(contents).toEqual(['edit on a', 'edit on b, longer']);
    const [conflict] = log.conflicts;
    expect(conflict).toMatchObject({ path: 'notes.md', conflictPath: names[1] });
    expect(['both-changed', 'overwritten']).toContain(conflict?.kind);
    await log.mirror.idle();
    expect(log.conflicts).toHaveLength(1);
  });

  it('a delete on one side and an edit on the other: the edit wins, the delete is reported', async () => {
    const { a, b, state } = pair();
    fs.mkdirSync(path.join(a, 'keep'));
    fs.writeFileSync(path.join(a, 'keep', 'data'), 'v1');
    const log = await startMirror(a, b, { twoWay: true, state });
    await log.mirror.idle();
    fs.rmSync(path.join(a, 'keep', 'data'));
    fs.writeFileSync(path.join(b, 'keep', 'data'), 'v2: edited');
    await log.until(() => read(path.join(a, 'keep', 'data')) === 'v2: edited', 'the edit restored on a');
    expect(log.conflicts).toContainEqual({ kind: 'delete-edit', path: 'keep/data', side: 'source' });
    await log.mirror.idle();
    expect(treeDiff(a, b)).toBe('');
  });

  it("a write on a side that races the mirror's own copy there is kept, not overwritten", async () => {
    const { a, b, state } = pair();
    fs.writeFileSync(path.join(a, 'f.txt'), 'base');
    // An rsync that, once, lets "a user" write b's copy after the mirror decided to replace it and before rsync does.
    const dir = path.dirname(a);
    const race = path.join(dir, 'RACE');
    const program = path.join(dir, 'rsync-racing');
    fs.writeFileSync(program, `#!/bin/sh\nif [ -e '${race}' ]; then rm '${race}'; printf 'racing write on b' > '${path.join(b, 'f.txt')}'; fi\nexec rsync "$@"\n`, { mode: 0o755 });
    const log = await startMirror(a, b, { twoWay: true, state, rsync: program });
    await log.mirror.idle();
    fs.writeFileSync(race, '');
    fs.writeFileSync(path.join(a, 'f.txt'), 'new from a');
    await log.until(() => log.conflicts.length === 1 && fs.readdirSync(a).length === 2 && treeDiff(a, b) === '', 'the racing write kept on both sides');
    const [conflict] = log.conflicts;
    expect(conflict).toMatchObject({ kind: 'overwritten', path: 'f.txt', side: 'destination', conflictPath: expect.stringMatching(/^f\.conflict-b-\d{8}-\d{6}\.txt$/) as string });
    expect(read(path.join(a, conflict?.conflictPath as string))).toBe('racing write on b');
    expect(read(path.join(b, 'f.txt'))).toBe('new from a');
    expect(fs.existsSync(path.join(b, '.inotify-mirror-replaced'))).toBe(false);
  });

  it('a directory renamed on its side while the mirror copies it away is renamed, not brought back', async () => {
    const { a, b, state } = pair();
    const dir = path.dirname(a);
    const race = path.join(dir, 'RACE');
    const program = path.join(dir, 'rsync-racing');
    // Once: rsync copies, then the source directory is renamed before the mirror records the copy.
    fs.writeFileSync(program, `#!/bin/sh\nrsync "$@"; status=$?\nif [ -e '${race}' ]; then rm '${race}'; mv '${path.join(a, 'music')}' '${path.join(a, 'songs')}'; fi\nexit $status\n`, { mode: 0o755 });
    const log = await startMirror(a, b, { twoWay: true, state, rsync: program });
    fs.mkdirSync(path.join(a, 'music'));
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(a, 'music', `m${i}`), `song ${i}`);
    await log.until(() => fs.existsSync(path.join(b, 'music')), 'the directory on b');
    fs.writeFileSync(race, '');
    await log.until(() => !fs.existsSync(race) && count(path.join(b, 'songs')) === 5 && !fs.existsSync(path.join(b, 'music'))
      && !fs.existsSync(path.join(a, 'music')) && treeDiff(a, b) === '', 'the rename on both sides, nothing brought back');
    await log.mirror.idle();
    expect(fs.existsSync(path.join(a, 'music'))).toBe(false);
    expect(log.conflicts).toEqual([]);
  });

  it('a restart merges what changed while stopped, and only that', async () => {
    const { a, b, state } = pair();
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(a, `f${i}`), `file ${i}`);
    const first = await startMirror(a, b, { twoWay: true, state });
    await first.mirror.idle();
    await first.mirror.close();
    expect(fs.existsSync(path.join(state, 'two-way.lock'))).toBe(false);
    const inodes = new Map(fs.readdirSync(b).map((name) => [name, ino(path.join(b, name))]));
    fs.writeFileSync(path.join(a, 'f1'), 'changed while stopped');
    fs.rmSync(path.join(b, 'f2'));
    fs.writeFileSync(path.join(b, 'new'), 'new on b');
    expect(twoWayStatus(a, b, { state })).toEqual({
      state, synced: 50, pending: [
        { path: 'f1', action: 'copy', from: 'source', to: 'destination' },
        { path: 'f2', action: 'delete', from: 'destination', to: 'source' },
        { path: 'new', action: 'copy', from: 'destination', to: 'source' },
      ],
    });
    const second = await startMirror(a, b, { twoWay: true, state });
    // Read beside the running mirror (no lock taken): nothing pending any more.
    expect(twoWayStatus(a, b, { state })).toEqual({ state, synced: 50, pending: [] });
    expect(treeDiff(a, b)).toBe('');
    expect(fs.existsSync(path.join(a, 'f2'))).toBe(false);
    const sends = second.syncs.flatMap((s) => (s.type === 'send' ? s.paths : [])).sort();
    expect(sends).toEqual(['f1', 'new']);
    expect(second.reconciles).toMatchObject([{ reason: 'initial', files: 2 }]);
    for (const [name, inode] of inodes) if (name !== 'f1' && name !== 'f2') expect(ino(path.join(b, name)), name).toBe(inode);
    expect(second.conflicts).toEqual([]);
    expect(() => twoWayStatus(path.join(a, 'f3'), b, { state })).toThrow(expect.objectContaining({ code: 'ENOTDIR' }) as Error);
  });

  it('refuses what it cannot do: a bad remoteCommand, dryRun, delete, a state inside a root, a state in use', async () => {
    const { a, b, state } = pair();
    expect(() => new Mirror(a, 'host:/x', { twoWay: true, state, remoteCommand: [] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }) as Error);
    expect(() => new Mirror(a, 'host:/x', { twoWay: true, state, remoteCommand: ['node', ''] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }) as Error);
    expect(() => new Mirror(a, b, { twoWay: true, state, remoteCommand: ['node'] })).toThrow(/host:path/);
    expect(() => new Mirror(a, 'host:/x', { remoteCommand: ['node'] })).toThrow(/twoWay/);
    expect(() => new Mirror(a, 'host:/x', { twoWay: true, state, remoteCommand: ['node', '/opt/x.js'] })).not.toThrow();
    expect(() => new Mirror(a, b, { twoWay: true, state, dryRun: true })).toThrow(/dryRun/);
    expect(() => new Mirror(a, b, { twoWay: true, state, delete: true })).toThrow(/delete/);
    expect(() => new Mirror(a, b, { state })).toThrow(/twoWay/);
    expect(() => new Mirror(a, b, { twoWay: true, state: path.join(a, '.state') })).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
    expect(() => new Mirror(a, b, { twoWay: true, state: path.join(a, '.state'), exclude: ['.state'] })).not.toThrow();
    await startMirror(a, b, { twoWay: true, state });
    const second = new Mirror(a, b, { twoWay: true, state });
    await expect(second.start()).rejects.toMatchObject({ code: 'EBUSY' });
    await second.close();
    const missing = new Mirror(path.join(a, 'nope'), b, { twoWay: true, state: `${state}2` });
    await expect(missing.start()).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('two-way with a side away', () => {
  it('an emptied mount point is not "everything deleted": changes wait, and converge when it is back', async () => {
    const { a, b, state } = pair();
    for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(a, `f${i}`), `file ${i}`);
    const log = await startMirror(a, b, { twoWay: true, state, retryDelay: 50, maxRetryDelay: 200 });
    await log.mirror.idle();
    // The disk goes away: an empty directory is left where it was mounted.
    fs.renameSync(b, `${b}.away`);
    fs.mkdirSync(b);
    fs.writeFileSync(path.join(a, 'while-away'), 'written while b was away');
    fs.rmSync(path.join(a, 'f0'));
    await log.until(() => log.offlines >= 2, 'offline, and retried');
    expect(log.mirror.offline).toBe(true);
    expect(fs.readdirSync(a).sort()).toEqual([...Array.from({ length: 9 }, (_, i) => `f${i + 1}`), 'while-away'].sort());
    expect(fs.readdirSync(b)).toEqual([]);
    expect(log.conflicts).toEqual([]);
    // Back: the changes made meanwhile go through.
    fs.rmdirSync(b);
    fs.renameSync(`${b}.away`, b);
    await log.until(() => log.onlines === 1 && treeDiff(a, b) === '', 'online and converged');
    expect(read(path.join(b, 'while-away'))).toBe('written while b was away');
    expect(fs.existsSync(path.join(b, 'f0'))).toBe(false);
    await log.mirror.close();
    // A start with a side empty that the state says held files refuses (ENOENT), deleting nothing.
    fs.rmSync(b, { recursive: true });
    fs.mkdirSync(b);
    const refused = new Mirror(a, b, { twoWay: true, state });
    await expect(refused.start()).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringMatching(/is it mounted\?/) as string });
    await refused.close();
    expect(fs.readdirSync(a)).toHaveLength(10);
  });
});
