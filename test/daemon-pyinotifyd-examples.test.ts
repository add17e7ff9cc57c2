/**
 * The three examples of pyinotifyd's README ("Examples" section), ported to
 * config.mjs, run by a real inotifyd and doing what that README says. Delays
 * are shortened (60 s -> 1 s); the rest is as written there, except the
 * README's invalid key IN_WRITE_CLOSE, which is IN_CLOSE_WRITE here
 * (test/daemon-cli.test.ts shows the clear error the original key gets).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prelude, readLog, startDaemon, tempDir, until } from './daemon-helpers.js';

describe("inotifyd: pyinotifyd's README examples", () => {
  it('schedule a function for all events on files and directories (defaultSched, rec, autoAdd)', async () => {
    const dir = tempDir();
    const src = path.join(dir, 'src_path');
    fs.mkdirSync(path.join(src, 'existing'), { recursive: true });
    const daemon = await startDaemon(dir, `${prelude(dir)}
import { defineConfig, TaskScheduler } from 'inotify-native';
async function customJob(event, taskId, { log }) {
  log.info(\`\${taskId}: execute example task: \${event}\`);
  record({ ev: event.maskname, p: event.pathname, dir: event.dir });
}
const taskSched = new TaskScheduler({ job: customJob, files: true, dirs: true });
export default defineConfig({ watches: [{ path: ${JSON.stringify(src)}, defaultSched: taskSched, rec: true, autoAdd: true }] });
`);
    fs.mkdirSync(path.join(src, 'new-dir'));
    await until(() => readLog(dir).some((e) => e.p === path.join(src, 'new-dir')), 'a task for the new directory');
    fs.writeFileSync(path.join(src, 'new-dir', 'file'), 'x');
    fs.writeFileSync(path.join(src, 'existing', 'file2'), 'x');
    await until(() => readLog(dir).some((e) => e.p === path.join(src, 'new-dir', 'file'))
      && readLog(dir).some((e) => e.p === path.join(src, 'existing', 'file2')), 'tasks for files in both subdirectories');
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(readLog(dir).find((e) => e.p === path.join(src, 'new-dir'))?.dir).toBe(true);
    expect(daemon.stderr).toMatch(/execute example task: <Event dir=True mask=0x40000100 maskname=IN_CREATE\|IN_ISDIR name=new-dir/);
  }, 60_000);

  it('schedule shell commands for specific events on files', async () => {
    const dir = tempDir();
    const src = path.join(dir, 'src_path');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    const task = path.join(dir, 'task.sh');
    fs.writeFileSync(task, `#!/bin/sh\nprintf '%s|%s\\n' "$#" "$1" >> ${JSON.stringify(path.join(dir, 'task.out'))}\n`, { mode: 0o755 });
    const daemon = await startDaemon(dir, `import { defineConfig, ShellScheduler } from 'inotify-native';
const shellSched = new ShellScheduler({ cmd: '${task} {pathname}', files: true, dirs: false });
export default defineConfig({ watches: [{ path: ${JSON.stringify(src)}, eventMap: { IN_CLOSE_WRITE: shellSched }, rec: true, autoAdd: true }] });
`);
    fs.writeFileSync(path.join(src, 'a file.txt'), 'x');
    fs.mkdirSync(path.join(src, 'sub', 'deeper'));
    await daemon.waitFor(/watch DEBUG|IN_CREATE|schedule|inotifyd started/);
    fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'x');
    const out = path.join(dir, 'task.out');
    await until(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').split('\n').length >= 3, 'two runs of task.sh');
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(fs.readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').sort())
      .toEqual([`1|${path.join(src, 'a file.txt')}`, `1|${path.join(src, 'sub', 'b.txt')}`]);
  }, 60_000);

  it('move, copy or delete newly created files after a delay (the Cancel recipe)', async () => {
    const dir = tempDir();
    const src = path.join(dir, 'src_path');
    const dst = path.join(dir, 'dst_path');
    fs.mkdirSync(src);
    const daemon = await startDaemon(dir, `import { defineConfig, FileManagerScheduler, FileManagerRule, Cancel } from 'inotify-native';
const SRC = ${JSON.stringify(src)};
const DST = ${JSON.stringify(dst)};
const moveRule = new FileManagerRule({ action: 'move', srcRe: '^' + SRC + '/(?P<path>.*)\\\\.to_move$', dstRe: DST + '/\\\\g<path>', autoCreate: true, fileMode: 0o644, dirMode: 0o755 });
const copyRule = new FileManagerRule({ action: 'copy', srcRe: '^' + SRC + '/(?P<path>.*)\\\\.to_copy$', dstRe: DST + '/\\\\g<path>', autoCreate: true, fileMode: 0o644, dirMode: 0o755 });
const deleteRule = new FileManagerRule({ action: 'delete', srcRe: '^' + SRC + '/(?P<path>.*)\\\\.to_delete$', rec: false });
const fileSched = new FileManagerScheduler({ rules: [moveRule, copyRule, deleteRule], delay: '1s', files: true, dirs: false });
export default defineConfig({
  watches: [{
    path: SRC, rec: true, autoAdd: true,
    eventMap: {
      IN_CLOSE_WRITE: fileSched, IN_CREATE: fileSched, IN_DELETE: Cancel(fileSched), IN_DELETE_SELF: Cancel(fileSched),
      IN_MODIFY: Cancel(fileSched), IN_MOVED_FROM: Cancel(fileSched), IN_MOVED_TO: fileSched, IN_UNMOUNT: Cancel(fileSched),
    },
  }],
  // Greater than the greatest delay, as pyinotifyd's README says.
  shutdownTimeout: '35s',
});
`);
    fs.writeFileSync(path.join(src, 'report.to_move'), 'moved');
    fs.writeFileSync(path.join(src, 'data.to_copy'), 'copied');
    fs.writeFileSync(path.join(src, 'junk.to_delete'), 'junk');
    fs.writeFileSync(path.join(src, 'gone.to_move'), 'never');
    fs.unlinkSync(path.join(src, 'gone.to_move'));
    fs.mkdirSync(path.join(src, 'sub'));
    await daemon.waitFor(/IN_CREATE\|IN_ISDIR|inotifyd started/);
    fs.writeFileSync(path.join(src, 'sub', 'deep.to_move'), 'deep');
    await daemon.waitFor(/: move .*deep\.to_move -> /);
    await daemon.waitFor(/: delete .*junk\.to_delete/);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(fs.readFileSync(path.join(dst, 'report'), 'utf8')).toBe('moved');
    expect(fs.statSync(path.join(dst, 'report')).mode & 0o777).toBe(0o644);
    expect(fs.readFileSync(path.join(dst, 'data'), 'utf8')).toBe('copied');
    expect(fs.readFileSync(path.join(src, 'data.to_copy'), 'utf8')).toBe('copied');
    expect(fs.readFileSync(path.join(dst, 'sub', 'deep'), 'utf8')).toBe('deep');
    expect(fs.statSync(path.join(dst, 'sub')).mode & 0o777).toBe(0o755);
    expect(fs.existsSync(path.join(src, 'junk.to_delete'))).toBe(false);
    expect(fs.existsSync(path.join(src, 'report.to_move'))).toBe(false);
    expect(fs.existsSync(path.join(dst, 'gone'))).toBe(false);
    expect(daemon.stderr).not.toMatch(/gone\.to_move: start task/);
  }, 60_000);
});

describe("inotifyd: README's rsync-incoming example", () => {
  it('runs the command once per file rsync delivers, never for a temporary name', async () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## inotifyd: run tasks when files arrive'));
    const block = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const dir = tempDir();
    const incoming = path.join(dir, 'incoming');
    const src = path.join(dir, 'src');
    fs.mkdirSync(incoming);
    fs.mkdirSync(path.join(src, 'day1'), { recursive: true });
    const ingest = path.join(dir, 'ingest');
    fs.writeFileSync(ingest, `#!/bin/sh\n[ "$1" = "--" ] && printf '%s\\n' "$2" >> ${JSON.stringify(path.join(dir, 'ingested'))}\n`, { mode: 0o755 });
    const files = ['a.raw', 'b.raw', 'day1/c.raw'];
    for (const f of files) fs.writeFileSync(path.join(src, f), Buffer.alloc(50_000, 1));
    const config = (block ?? '').replace("'/srv/incoming'", JSON.stringify(incoming)).replace("'/usr/local/bin/ingest'", JSON.stringify(ingest));
    const daemon = await startDaemon(dir, config);
    const rsync = spawnSync('rsync', ['-a', `${src}/`, `${incoming}/`], { encoding: 'utf8' });
    expect(rsync.status, rsync.stderr).toBe(0);
    const out = path.join(dir, 'ingested');
    await until(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').split('\n').length > files.length, 'three ingests', 60_000);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(fs.readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').sort()).toEqual(files.map((f) => path.join(incoming, f)).sort());
  }, 90_000);
});
