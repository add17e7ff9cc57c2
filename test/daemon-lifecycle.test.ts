/**
 * inotifyd's lifecycle on real processes: TRANSFER_COMPLETE on an rsync
 * tree, shutdown with delayed and running tasks inside and beyond the
 * timeout, SIGHUP with a good and a bad config, --dry-run.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prelude, readLog, startDaemon, tempDir, until } from './daemon-helpers.js';

const hasRsync = spawnSync('rsync', ['--version']).status === 0;

describe('inotifyd: lifecycle', () => {
  it.skipIf(!hasRsync)('TRANSFER_COMPLETE on an rsync -a tree: one task per file, none for temporary names', async () => {
    const dir = tempDir();
    const src = path.join(dir, 'src');
    const dst = path.join(dir, 'dst');
    fs.mkdirSync(dst);
    const files: string[] = [];
    for (const sub of ['', 'a', 'a/b', 'c']) {
      fs.mkdirSync(path.join(src, sub), { recursive: true });
      for (let i = 0; i < 4; i++) {
        const rel = path.join(sub, `file ${i}.raw`);
        fs.writeFileSync(path.join(src, rel), Buffer.alloc(10_000 * (i + 1), i));
        files.push(path.join(dst, rel));
      }
    }
    const daemon = await startDaemon(dir, `${prelude(dir)}
import { defineConfig, TaskScheduler } from 'inotify-native';
const arrived = new TaskScheduler({ job: (event) => record({ ev: 'arrived', p: event.pathname, src: event.srcPathname, m: event.maskname }) });
export default defineConfig({
  watches: [{ path: ${JSON.stringify(dst)}, rec: true, autoAdd: true, eventMap: { TRANSFER_COMPLETE: arrived }, transfers: { settleTime: 200 } }],
  shutdownTimeout: '60s',
});
`);
    const rsync = spawnSync('rsync', ['-a', `${src}/`, `${dst}/`], { encoding: 'utf8' });
    expect(rsync.status, rsync.stderr).toBe(0);
    await until(() => readLog(dir).length >= files.length, () => `${files.length} arrivals`, 60_000);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    const log = readLog(dir);
    expect(log.map((e) => e.p).sort()).toEqual([...files].sort());
    for (const entry of log) {
      expect(entry.m).toBe('TRANSFER_COMPLETE');
      expect(path.basename(entry.p)).not.toMatch(/^\..*\.[A-Za-z0-9]{6}$/);
      // rsync renames its temporary into place: that name is the event's srcPathname (none for a file
      // found already whole when its new directory's watch was armed).
      if (entry.src !== undefined) expect(path.basename(String(entry.src))).toMatch(/^\.file \d\.raw\.[A-Za-z0-9]{6}$/);
    }
  }, 120_000);

  it('shutdown: a delayed task inside the timeout runs; one beyond it and a running one are cancelled and logged', async () => {
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(w);
    const daemon = await startDaemon(dir, `${prelude(dir)}
import { defineConfig, TaskScheduler } from 'inotify-native';
const soon = new TaskScheduler({ delay: 300, logname: 'soon', job: (event) => record({ ev: 'soon', p: event.pathname }) });
const late = new TaskScheduler({ delay: '1h', logname: 'late', job: (event) => record({ ev: 'late', p: event.pathname }) });
const stuck = new TaskScheduler({ logname: 'stuck', job: async (event, id, { signal }) => {
  record({ ev: 'stuck-start', p: event.pathname });
  await new Promise((resolve) => signal.addEventListener('abort', resolve));
  record({ ev: 'stuck-aborted', p: event.pathname });
} });
export default defineConfig({
  watches: [{ path: ${JSON.stringify(w)}, eventMap: { IN_CLOSE_WRITE: [soon, late], IN_ATTRIB: stuck } }],
  shutdownTimeout: '8s',
});
`);
    fs.writeFileSync(path.join(w, 'f'), 'x');
    fs.chmodSync(path.join(w, 'f'), 0o600);
    await until(() => readLog(dir).some((e) => e.ev === 'stuck-start'), 'the stuck job to start');
    await daemon.waitFor(/late DEBUG\] IN_CLOSE_WRITE .*schedule task/);
    expect(await daemon.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(readLog(dir).map((e) => e.ev).sort()).toEqual(['soon', 'stuck-aborted', 'stuck-start']);
    expect(daemon.stderr).toMatch(/late WARNING\] shutdown: cancel delayed task .* \(IN_CLOSE_WRITE .*\/w\/f\)/);
    expect(daemon.stderr).toMatch(/stuck WARNING\] shutdown: cancel running task .* \(IN_ATTRIB .*\/w\/f\)/);
    expect(daemon.stderr).toMatch(/stopped; 2 tasks cancelled/);
  }, 90_000);

  it('SIGHUP: a good config replaces the map at once (the watch kept); a bad one is logged and the old one keeps running', async () => {
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(w);
    const config = (tag: string, key = 'IN_CLOSE_WRITE'): string => `${prelude(dir)}
import { defineConfig, TaskScheduler } from 'inotify-native';
const sched = new TaskScheduler({ job: (event) => record({ ev: ${JSON.stringify(tag)}, p: event.pathname }) });
export default defineConfig({ watches: [{ path: ${JSON.stringify(w)}, eventMap: { ${key}: sched } }], shutdownTimeout: '30s' });
`;
    const daemon = await startDaemon(dir, config('A'));
    fs.writeFileSync(path.join(w, '1'), '');
    await until(() => readLog(dir).length === 1, 'the task of config A');
    fs.writeFileSync(path.join(dir, 'config.mjs'), config('B'));
    daemon.child.kill('SIGHUP');
    await daemon.waitFor(/config reloaded from .*: 1 watch \(1 kept, 0 started, 0 stopped\)/);
    fs.writeFileSync(path.join(w, '2'), '');
    await until(() => readLog(dir).length === 2, 'the task of config B');
    fs.writeFileSync(path.join(dir, 'config.mjs'), config('C', 'IN_WRITE_CLOSE'));
    daemon.child.kill('SIGHUP');
    await daemon.waitFor(/reload failed; the running config stays in use: .*config\.mjs: watches\[0\]\.eventMap\.IN_WRITE_CLOSE: expected an event name/);
    fs.writeFileSync(path.join(w, '3'), '');
    await until(() => readLog(dir).length === 3, 'the task of config B again');
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(readLog(dir).map((e) => `${e.ev}:${path.basename(e.p)}`)).toEqual(['A:1', 'B:2', 'B:3']);
  }, 90_000);

  it('SIGHUP with a changed watch path: the new watch starts, the old one stops, pending tasks of the old config still run', async () => {
    const dir = tempDir();
    const w1 = path.join(dir, 'w1');
    const w2 = path.join(dir, 'w2');
    fs.mkdirSync(w1);
    fs.mkdirSync(w2);
    const config = (tag: string, w: string, delay: number): string => `${prelude(dir)}
import { defineConfig, TaskScheduler } from 'inotify-native';
const sched = new TaskScheduler({ delay: ${delay}, job: (event) => record({ ev: ${JSON.stringify(tag)}, p: event.pathname }) });
export default defineConfig({ watches: [{ path: ${JSON.stringify(w)}, eventMap: { IN_CLOSE_WRITE: sched } }], shutdownTimeout: '60s' });
`;
    const daemon = await startDaemon(dir, config('A', w1, 1500));
    fs.writeFileSync(path.join(w1, 'pending'), '');
    await daemon.waitFor(/pending: schedule task/);
    fs.writeFileSync(path.join(dir, 'config.mjs'), config('B', w2, 0));
    daemon.child.kill('SIGHUP');
    await daemon.waitFor(/config reloaded from .*: 1 watch \(0 kept, 1 started, 1 stopped\)/);
    fs.writeFileSync(path.join(w1, 'unwatched'), '');
    fs.writeFileSync(path.join(w2, 'new'), '');
    await until(() => readLog(dir).length === 2, 'the pending task of A and the task of B');
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(readLog(dir).map((e) => `${e.ev}:${path.basename(e.p)}`).sort()).toEqual(['A:pending', 'B:new']);
  }, 90_000);

  it('a kernel queue overflow is logged at WARNING, and the rescan feeds every file that arrived unseen to the map', async () => {
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(w);
    const max = Number(fs.readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
    const daemon = await startDaemon(dir, `${prelude(dir)}
import { defineConfig, TaskScheduler } from 'inotify-native';
// Blocks the daemon's event loop (without spinning) until the test says go, so the kernel queue overflows.
const block = () => {
  record({ ev: 'blocked', p: '' });
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(${JSON.stringify(path.join(dir, 'go'))})) Atomics.wait(cell, 0, 0, 20);
};
const seen = new TaskScheduler({ logname: 'seen', job: (event) => { if (event.pathname.endsWith('/block')) block(); else record({ ev: 'seen', p: event.pathname }); } });
export default defineConfig({ watches: [{ path: ${JSON.stringify(w)}, eventMap: { IN_CREATE: seen } }], logging: { level: 'INFO' } });
`);
    fs.writeFileSync(path.join(w, 'block'), '');
    await until(() => readLog(dir).some((e) => e.ev === 'blocked'), 'the daemon to block');
    const files = Array.from({ length: max + 2000 }, (_, i) => path.join(w, `f${i}`));
    for (const file of files) fs.closeSync(fs.openSync(file, 'w'));
    fs.writeFileSync(path.join(dir, 'go'), '');
    await daemon.waitFor(/watch WARNING\] .*the kernel queue overflowed: events were lost; rescanning/);
    await until(() => new Set(readLog(dir).filter((e) => e.ev === 'seen').map((e) => e.p)).size >= files.length, () => `${files.length} files seen`, 120_000);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(new Set(readLog(dir).filter((e) => e.ev === 'seen').map((e) => e.p))).toEqual(new Set(files));
  }, 180_000);

  it('--dry-run logs what would run and runs nothing', async () => {
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(w);
    const marker = path.join(dir, 'ran');
    const daemon = await startDaemon(dir, `import { defineConfig, ShellScheduler, FileManagerScheduler, FileManagerRule } from 'inotify-native';
const sh = new ShellScheduler({ cmd: ['touch', ${JSON.stringify(marker)}, '{pathname}'] });
const fm = new FileManagerScheduler({ rules: [new FileManagerRule({ action: 'delete', srcRe: '.*' })] });
export default defineConfig({ watches: [{ path: ${JSON.stringify(w)}, eventMap: { IN_CLOSE_WRITE: [sh, fm] } }], shutdownTimeout: '30s' });
`, ['--dry-run']);
    fs.writeFileSync(path.join(w, 'x'), '');
    await daemon.waitFor(/dry run: task .* would run \["touch",".*ran",".*\/w\/x"\]/);
    await daemon.waitFor(/dry run: task .* would delete .*\/w\/x/);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.existsSync(path.join(w, 'x'))).toBe(true);
  }, 60_000);
});
