/**
 * FileManagerScheduler rules through a real inotifyd: move / copy / delete
 * with named groups (pyinotifyd's `(?P<name>)` and `\g<name>`, and JS's
 * `$<name>`), autoCreate, modes, ownership, overwrite on and off, and a move
 * across filesystems (tmpfs -> disk) that never leaves a half file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon, tempDir, until } from './daemon-helpers.js';

const isRoot = process.getuid?.() === 0;

describe('inotifyd: FileManagerScheduler', () => {
  it('move, copy and delete by the first matching rule; groups, autoCreate, modes, overwrite off and on', async () => {
    const dir = tempDir();
    const IN = path.join(dir, 'in');
    const OUT = path.join(dir, 'out');
    for (const sub of ['trash', 'docs', 'copy', 'copy-over', 'owned', 'other']) fs.mkdirSync(path.join(IN, sub), { recursive: true });
    fs.mkdirSync(path.join(OUT, 'copies'), { recursive: true });
    fs.writeFileSync(path.join(OUT, 'copies', 'keep.txt'), 'old');
    fs.writeFileSync(path.join(OUT, 'copies', 'replace.txt'), 'old');
    const daemon = await startDaemon(dir, `import { defineConfig, FileManagerScheduler, FileManagerRule } from 'inotify-native';
const IN = ${JSON.stringify(IN)};
const OUT = ${JSON.stringify(OUT)};
const files = new FileManagerScheduler({ rules: [
  new FileManagerRule({ action: 'delete', srcRe: IN + '/trash/' }),
  new FileManagerRule({ action: 'move', srcRe: IN + '/(?P<kind>docs)/(?P<name>[^/]+)\\\\.txt$',
    dstRe: OUT + '/\\\\g<kind>/sorted/\\\\g<name>.moved', autoCreate: true, dirMode: 0o750, fileMode: 0o640 }),
  new FileManagerRule({ action: 'copy', srcRe: new RegExp(IN + '/copy/(?<name>[^/]+)$'), dstRe: OUT + '/copies/$<name>' }),
  new FileManagerRule({ action: 'copy', srcRe: IN + '/copy-over/(?P<name>[^/]+)$', dstRe: OUT + '/copies/\\\\g<name>', override: true }),
  new FileManagerRule({ action: 'copy', srcRe: IN + '/owned/(.+)$', dstRe: OUT + '/owned/\\\\1', autoCreate: true, user: 'nobody', group: 65534 }),
] });
export default defineConfig({ watches: [{ path: IN, rec: true, eventMap: { IN_CLOSE_WRITE: files } }], shutdownTimeout: '60s' });
`);
    fs.writeFileSync(path.join(IN, 'trash', 'junk'), 'junk');
    fs.writeFileSync(path.join(IN, 'docs', 'report.txt'), 'report');
    fs.writeFileSync(path.join(IN, 'copy', 'keep.txt'), 'new');
    fs.writeFileSync(path.join(IN, 'copy', 'fresh.txt'), 'fresh');
    fs.writeFileSync(path.join(IN, 'copy-over', 'replace.txt'), 'new');
    fs.writeFileSync(path.join(IN, 'other', 'untouched'), 'x');
    if (isRoot) fs.writeFileSync(path.join(IN, 'owned', 'mine'), 'mine');
    await daemon.waitFor(/: delete .*\/trash\/junk/);
    await daemon.waitFor(/: move .*docs\/report\.txt -> .*\/docs\/sorted\/report\.moved/);
    await daemon.waitFor(/: copy .*copy\/fresh\.txt -> /);
    await daemon.waitFor(/failed after .*EEXIST: destination exists \(set overwrite to replace it\), '.*copies\/keep\.txt'/);
    await daemon.waitFor(/: copy .*copy-over\/replace\.txt -> /);
    if (isRoot) await daemon.waitFor(/: copy .*owned\/mine -> /);
    await daemon.waitFor(/no rule matches .*other\/untouched/);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });

    expect(fs.existsSync(path.join(IN, 'trash', 'junk'))).toBe(false);
    const moved = path.join(OUT, 'docs', 'sorted', 'report.moved');
    expect(fs.readFileSync(moved, 'utf8')).toBe('report');
    expect(fs.existsSync(path.join(IN, 'docs', 'report.txt'))).toBe(false);
    expect(fs.statSync(moved).mode & 0o7777).toBe(0o640);
    expect(fs.statSync(path.join(OUT, 'docs')).mode & 0o7777).toBe(0o750);
    expect(fs.statSync(path.join(OUT, 'docs', 'sorted')).mode & 0o7777).toBe(0o750);
    expect(fs.readFileSync(path.join(OUT, 'copies', 'fresh.txt'), 'utf8')).toBe('fresh');
    expect(fs.readFileSync(path.join(IN, 'copy', 'fresh.txt'), 'utf8')).toBe('fresh');
    expect(fs.readFileSync(path.join(OUT, 'copies', 'keep.txt'), 'utf8')).toBe('old');
    expect(fs.readFileSync(path.join(OUT, 'copies', 'replace.txt'), 'utf8')).toBe('new');
    expect(fs.existsSync(path.join(OUT, 'other'))).toBe(false);
    if (isRoot) {
      const st = fs.statSync(path.join(OUT, 'owned', 'mine'));
      expect([st.uid, st.gid]).toEqual([65534, 65534]);
      expect(fs.statSync(path.join(OUT, 'owned')).uid).toBe(65534);
    }
    // No temporary names left behind anywhere.
    const all = fs.readdirSync(OUT, { recursive: true }) as string[];
    expect(all.filter((name) => name.includes('.inotifyd-'))).toEqual([]);
  }, 90_000);

  it('a move from tmpfs to disk (EXDEV) copies, renames into place, unlinks; killed mid-copy it leaves no partial destination', async () => {
    if (!fs.existsSync('/dev/shm') || fs.statSync('/dev/shm').dev === fs.statSync(process.cwd()).dev) return;
    const dir = tempDir();
    const shm = fs.mkdtempSync('/dev/shm/inotifyd-');
    try {
      const OUT = path.join(dir, 'out');
      fs.mkdirSync(OUT);
      const config = `import { defineConfig, FileManagerScheduler, FileManagerRule } from 'inotify-native';
const files = new FileManagerScheduler({ rules: [new FileManagerRule({ action: 'move', srcRe: ${JSON.stringify(`${shm}/(?P<name>.+)$`)}, dstRe: ${JSON.stringify(`${OUT}/\\g<name>`)} })] });
export default defineConfig({ watches: [{ path: ${JSON.stringify(shm)}, eventMap: { IN_CLOSE_WRITE: files } }], shutdownTimeout: '60s' });
`;
      // 1: a whole move across filesystems.
      let daemon = await startDaemon(dir, config);
      const small = Buffer.alloc(1 << 20, 7);
      fs.writeFileSync(path.join(shm, 'small.bin'), small);
      await daemon.waitFor(/: move .*small\.bin -> /);
      expect(await daemon.stop()).toEqual({ code: 0, signal: null });
      expect(daemon.stderr).toMatch(/another filesystem \(EXDEV\)/);
      expect(fs.readFileSync(path.join(OUT, 'small.bin')).equals(small)).toBe(true);
      expect(fs.existsSync(path.join(shm, 'small.bin'))).toBe(false);

      // 2: SIGKILL while a big file is being copied: the destination name is absent or whole, never partial.
      daemon = await startDaemon(dir, config);
      const size = 512 << 20;
      const fd = fs.openSync(path.join(shm, 'big.bin'), 'w');
      const chunk = Buffer.alloc(1 << 20, 1);
      for (let i = 0; i < size / chunk.length; i++) fs.writeSync(fd, chunk);
      fs.closeSync(fd);
      await until(() => fs.readdirSync(OUT).some((name) => name.startsWith('.big.bin.inotifyd-')) || fs.existsSync(path.join(OUT, 'big.bin')), 'the copy to begin');
      daemon.child.kill('SIGKILL');
      await daemon.exited;
      const dst = path.join(OUT, 'big.bin');
      if (fs.existsSync(dst)) expect(fs.statSync(dst).size).toBe(size);
      else expect(fs.statSync(path.join(shm, 'big.bin')).size).toBe(size);
    } finally {
      fs.rmSync(shm, { recursive: true, force: true });
    }
  }, 120_000);
});
