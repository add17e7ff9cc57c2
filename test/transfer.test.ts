/**
 * TransferTracker against the real rsync (every mode in
 * docs/transfers.md), interrupted transfers, and cp in parallel: exactly one
 * completion per file, under its final name, never a temporary name.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { RSYNC_TEMP } from '../src/index.js';
import {
  isTempName, makeFiles, Run, rsync, run, tempDir, track, type TransferLog,
} from './transfer-helpers.js';

/** Source and destination directories on the same filesystem. */
function dirs(): { src: string; dst: string; root: string } {
  const root = tempDir();
  const src = path.join(root, 'src');
  const dst = path.join(root, 'dst');
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
  return { src, dst, root };
}

/** The assertions every scenario shares: the exact set of final names, no temp name, nothing abandoned, sizes right. */
function expectExactly(log: TransferLog, names: readonly string[], sizeOf: (name: string) => number): void {
  expect(log.errors, log.describe()).toEqual([]);
  expect(log.names(), log.describe()).toEqual([...names].sort());
  expect(log.files.filter((c) => isTempName(c.pathname)), 'temp names reported complete').toEqual([]);
  expect(log.abandoned, log.describe()).toEqual([]);
  for (const file of log.files) expect(file.size, file.pathname).toBe(sizeOf(path.relative(log.root, file.pathname)));
  expect(log.tracker.inProgress()).toEqual([]);
}

function sizeIn(dir: string): (name: string) => number {
  return (name) => fs.statSync(path.join(dir, name)).size;
}

/** Polls a cheap condition (a file's size) with a deadline: for facts no event reports. */
async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function bigFile(dir: string, name: string, size = 4 << 20): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.alloc(size, 7));
  return file;
}

describe('rsync', () => {
  test('a 100-file tree pushed with rsync -a into new subdirectories: exactly 100 completions, final names only', async () => {
    const { src, dst } = dirs();
    const names = makeFiles(src, 100, { subdirs: 10 });
    const log = track(dst);
    await rsync('-a', `${src}/`, `${dst}/`);
    await log.completions(100, 20_000);
    await log.drain();
    expectExactly(log, names, sizeIn(src));
    for (const file of log.files) {
      expect(['rsync', 'found'], file.pathname).toContain(file.via);
      if (file.via === 'rsync') expect(path.basename(file.tempPathname ?? '')).toMatch(RSYNC_TEMP);
    }
    // Every start was closed by exactly one completion with its id.
    const completedIds = new Set(log.files.map((c) => c.id));
    for (const start of log.starts) expect(completedIds.has(start.id), `start #${start.id} ${start.pathname}`).toBe(true);
  });

  test('default mode: temp .name.XXXXXX renamed by a cookie-paired move -> via rsync, start and complete share an id', async () => {
    const { src, dst } = dirs();
    const names = makeFiles(src, 10);
    const log = track(dst);
    await rsync('-r', `${src}/`, `${dst}/`);
    await log.completions(10);
    await log.drain();
    expectExactly(log, names, sizeIn(src));
    expect(log.starts).toHaveLength(10);
    for (const file of log.files) {
      expect(file.via).toBe('rsync');
      const name = path.basename(file.pathname);
      expect(path.dirname(file.tempPathname ?? '')).toBe(dst);
      expect(path.basename(file.tempPathname ?? '')).toMatch(new RegExp(`^\\.${name.replace('.', '\\.')}\\.[A-Za-z0-9]{6}$`));
      const start = log.starts.find((s) => s.id === file.id);
      expect(start?.pathname).toBe(file.tempPathname);
      expect(start?.finalPathname).toBe(file.pathname);
      expect(file.startedAt).toBe(start?.time);
    }
  });

  test('update of existing files: a new temp renamed over each -> via rsync', async () => {
    const { src, dst } = dirs();
    const names = makeFiles(src, 6);
    await rsync('-rt', `${src}/`, `${dst}/`);
    const changed = names.slice(0, 4);
    for (const name of changed) fs.appendFileSync(path.join(src, name), 'more data at the end\n');
    const log = track(dst);
    await rsync('-rt', '--no-whole-file', `${src}/`, `${dst}/`);
    await log.completions(4);
    await log.drain();
    expectExactly(log, changed, sizeIn(src));
    for (const file of log.files) expect(file.via).toBe('rsync');
  });

  test('--inplace: no temp; the re-open that sets attributes is covered by the quiet period -> via inplace', async () => {
    const { src, dst } = dirs();
    const names = makeFiles(src, 5, { size: 50_000 });
    const log = track(dst);
    await rsync('-rt', '--inplace', `${src}/`, `${dst}/`);
    await log.completions(5);
    await log.drain();
    expectExactly(log, names, sizeIn(src));
    for (const file of log.files) {
      expect(file.via).toBe('inplace');
      expect(file.tempPathname).toBeUndefined();
    }
    // An update in place of existing files (no IN_CREATE, no re-open) waits for the quiet period too.
    for (const name of names.slice(0, 2)) fs.appendFileSync(path.join(src, name), 'tail');
    await rsync('-rt', '--inplace', '--no-whole-file', `${src}/`, `${dst}/`);
    await log.completions(7);
    await log.drain();
    expect(log.files.slice(5).map((c) => [path.basename(c.pathname), c.via, c.size]).sort(), log.describe())
      .toEqual(names.slice(0, 2).map((n) => [n, 'inplace', 50_004]));
  });

  test('--temp-dir elsewhere on the same filesystem: a lone IN_MOVED_TO -> via moved-in', async () => {
    const { src, dst, root } = dirs();
    const tmp = path.join(root, 'rsync-tmp');
    fs.mkdirSync(tmp);
    const names = makeFiles(src, 5);
    const log = track(dst);
    await rsync('-r', `--temp-dir=${tmp}`, `${src}/`, `${dst}/`);
    await log.completions(5);
    await log.drain();
    expectExactly(log, names, sizeIn(src));
    for (const file of log.files) expect([file.via, file.tempPathname]).toEqual(['moved-in', undefined]);
    expect(log.starts).toEqual([]);
  });

  test('--delay-updates: files held in .~tmp~/ until the end; only final names are reported', async () => {
    const { src, dst } = dirs();
    const names = makeFiles(src, 12, { subdirs: 3 });
    const log = track(dst);
    await rsync('-a', '--delay-updates', `${src}/`, `${dst}/`);
    await log.completions(12);
    await log.drain();
    expectExactly(log, names, sizeIn(src));
    for (const file of log.files) {
      expect(file.pathname).not.toContain('.~tmp~');
      // rsync creates each directory, stages its files in `.~tmp~/` and renames
      // them out within milliseconds. When the tracker lags that much, a
      // holding directory can come and go between its parent's arming and
      // listing: the kernel then reports the rename as coming from an unwatched
      // place, which is 'moved-in' (see docs/transfers.md). The next test, with
      // the directories watched beforehand, expects 'rsync' or 'found' only.
      expect(['rsync', 'found', 'moved-in'], file.pathname).toContain(file.via);
    }
  });

  test('--delay-updates into watched directories: every file is rsync (or found), even when the tracker lags', async () => {
    const { src, dst } = dirs();
    const names = makeFiles(src, 12, { subdirs: 3 });
    for (const name of names) fs.mkdirSync(path.join(dst, path.dirname(name)), { recursive: true });
    const log = track(dst);
    // Each `.~tmp~` is created in a watched directory: its IN_CREATE is seen. Its
    // own watch comes after rsync's renames when the tracker lags: here the
    // most it can, as rsync runs to the end before the tracker reads anything.
    // The unpaired IN_MOVED_TO beside the holding directory is still rsync's.
    const result = spawnSync('rsync', ['-a', '--delay-updates', `${src}/`, `${dst}/`], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    await log.completions(12);
    await log.drain();
    expectExactly(log, names, sizeIn(src));
    for (const file of log.files) expect(['rsync', 'found'], `${file.pathname}\n${log.describe()}`).toContain(file.via);
    expect(log.abandoned, log.describe()).toEqual([]);
  });

  test('--partial-dir, uninterrupted: as the default mode', async () => {
    const { src, dst } = dirs();
    const names = makeFiles(src, 8);
    const log = track(dst);
    await rsync('-r', '--partial-dir=.rsync-partial', `${src}/`, `${dst}/`);
    await log.completions(8);
    await log.drain();
    expectExactly(log, names, sizeIn(src));
    for (const file of log.files) expect(file.via).toBe('rsync');
  });

  test('the same name in different directories: keyed by directory + name', async () => {
    const { src, dst } = dirs();
    for (const sub of ['a', 'b', 'c']) {
      fs.mkdirSync(path.join(src, sub));
      fs.writeFileSync(path.join(src, sub, 'same.raw'), sub.repeat(100 + sub.charCodeAt(0)));
    }
    const log = track(dst);
    await rsync('-a', `${src}/`, `${dst}/`);
    await log.completions(3);
    await log.drain();
    expectExactly(log, ['a/same.raw', 'b/same.raw', 'c/same.raw'], sizeIn(src));
  });
});

describe('interrupted rsync', () => {
  test('SIGTERM mid-file: rsync deletes its temp -> no completion, one abandoned (deleted)', async () => {
    const { src, dst } = dirs();
    bigFile(src, 'big.bin');
    const log = track(dst);
    const transfer = new Run('rsync', ['--bwlimit=256', path.join(src, 'big.bin'), `${dst}/`], { detached: true });
    await log.waitFor(() => log.starts.length === 1, 10_000, 'the transfer to start');
    // Data flowing: rsync's receiver has armed its cleanup (killed earlier, it can leave the temp behind).
    const temp = log.starts[0]?.pathname ?? '';
    await until(() => (fs.statSync(temp, { throwIfNoEntry: false })?.size ?? 0) > 0, 10_000, 'data in the temp file');
    transfer.kill('SIGTERM', true);
    await transfer.exit();
    await log.waitFor(() => log.abandoned.length === 1, 10_000, 'abandoned');
    await log.drain();
    expect(log.files, log.describe()).toEqual([]);
    expect(log.abandoned, log.describe()).toHaveLength(1);
    expect(log.abandoned[0]).toMatchObject({ reason: 'deleted', finalPathname: path.join(dst, 'big.bin'), id: log.starts[0]?.id });
    expect(path.basename(log.abandoned[0]?.pathname ?? '')).toMatch(/^\.big\.bin\.[A-Za-z0-9]{6}$/);
  });

  test('SIGKILL mid-file: the temp stays -> no completion, one abandoned after abandonAfter (timeout)', async () => {
    const { src, dst } = dirs();
    bigFile(src, 'big.bin');
    const log = track(dst, { abandonAfter: 1000 });
    const transfer = new Run('rsync', ['--bwlimit=256', path.join(src, 'big.bin'), `${dst}/`], { detached: true });
    await log.waitFor(() => log.starts.length === 1, 10_000, 'the transfer to start');
    const killedAt = Date.now();
    transfer.kill('SIGKILL', true);
    await transfer.exit();
    await log.waitFor(() => log.abandoned.length === 1, 10_000, 'abandoned');
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(900);
    await log.drain();
    expect(log.files, log.describe()).toEqual([]);
    expect(log.abandoned).toHaveLength(1);
    expect(log.abandoned[0]).toMatchObject({ reason: 'timeout', finalPathname: path.join(dst, 'big.bin') });
    // The temp is still there: the tracker gave it up, it did not report it.
    expect(fs.existsSync(log.abandoned[0]?.pathname ?? '')).toBe(true);
  });

  test('--partial-dir interrupted then resumed: abandoned (held partial), then one completion via rsync', async () => {
    const { src, dst } = dirs();
    bigFile(src, 'big.bin');
    const log = track(dst);
    const partial = ['--partial-dir=.rsync-partial', path.join(src, 'big.bin'), `${dst}/`];
    const transfer = new Run('rsync', ['--bwlimit=256', ...partial], { detached: true });
    await log.waitFor(() => log.starts.length === 1, 10_000, 'the transfer to start');
    const temp = log.starts[0]?.pathname ?? '';
    await until(() => (fs.statSync(temp, { throwIfNoEntry: false })?.size ?? 0) > 0, 10_000, 'data in the temp file');
    transfer.kill('SIGTERM', true);
    await transfer.exit();
    await log.waitFor(() => log.abandoned.length === 1, 10_000, 'abandoned');
    expect(log.abandoned[0]).toMatchObject({ reason: 'timeout', pathname: path.join(dst, '.rsync-partial', 'big.bin') });
    expect(log.files).toEqual([]);

    await rsync(...partial);
    await log.completions(1);
    await log.drain();
    expect(log.names()).toEqual(['big.bin']);
    expect(log.files[0]).toMatchObject({ via: 'rsync', size: 4 << 20, tempPathname: path.join(dst, '.rsync-partial', 'big.bin') });
    expect(log.abandoned).toHaveLength(1);
  });
});

describe('cp', () => {
  test('200 files copied by cp in parallel (xargs -P 8): 200 completions via close-write', async () => {
    const { src, dst } = dirs();
    const names = makeFiles(src, 200, { size: 3000 });
    const log = track(dst);
    await run('sh', ['-c', 'cd "$1" && ls | xargs -P 8 -n 5 cp -t "$2"', 'sh', src, dst]);
    await log.completions(200, 20_000);
    await log.drain();
    expectExactly(log, names, sizeIn(src));
    for (const file of log.files) expect(file.via).toBe('close-write');
  });
});
