/**
 * The pure parts of inotifyd in-process: argv splitting and substitution,
 * dstRe templates, durations, config validation shapes, log formats.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Cancel, ConfigError, FileManagerRule, FileManagerScheduler, LogSink, ShellScheduler, TaskScheduler, expandTemplate, parseDuration, resolveConfig,
  splitArgv, substituteArgv,
} from '../src/index.js';
import { prelude, readLog, startDaemon, tempDir, until } from './daemon-helpers.js';

const ev = (pathname: string, maskname = 'IN_CLOSE_WRITE', srcPathname?: string) => ({ pathname, maskname, srcPathname, dir: false });

describe('inotifyd units', () => {
  it('splitArgv: quotes and backslashes group words, nothing else of sh exists', () => {
    expect(splitArgv(`/bin/task  --x "a b" 'c "d"' e\\ f {pathname} $(x) ;`)).toEqual(['/bin/task', '--x', 'a b', 'c "d"', 'e f', '{pathname}', '$(x)', ';']);
    expect(splitArgv(`"" ''`)).toEqual(['', '']);
    expect(() => splitArgv(`echo 'oops`)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('substituteArgv: one pass, one argument each, IN_ISDIR left out of {maskname}', () => {
    const argv = ['cmd', '--file={pathname}', '{maskname}', '{src_pathname}', '{pathname}'];
    expect(substituteArgv(argv, ev('/w/{maskname} x', 'IN_CREATE|IN_ISDIR'))).toEqual(['cmd', '--file=/w/{maskname} x', 'IN_CREATE', '', '/w/{maskname} x']);
    const shell = new ShellScheduler({ cmd: 'echo {pathname} {maskname}', shell: true });
    expect(shell.argvFor(ev('/w/$(x)', 'IN_MOVED_TO', '/w/a'))).toEqual(['/bin/sh', '-c', 'echo "$1" "$2"', 'sh', '/w/$(x)', 'IN_MOVED_TO', '/w/a']);
  });

  it('expandTemplate and FileManagerRule: \\g<name>, $<name>, \\1, $1, literal $$ and \\\\; match at the start only', () => {
    const rule = new FileManagerRule({ action: 'move', srcRe: '/in/(?P<kind>[a-z]+)/(.+)', dstRe: '/out/\\g<kind>/$<kind>/\\2/$2/$$/\\\\' });
    const match = rule.match('/in/docs/a.txt');
    expect(match).not.toBeNull();
    expect(rule.destination('/in/docs/a.txt', match as RegExpExecArray)).toBe('/out/docs/docs/a.txt/a.txt/$/\\');
    expect(rule.match('/x/in/docs/a.txt')).toBeNull();
    expect(() => expandTemplate('\\g<nope>', /(?<a>x)/.exec('x') as RegExpExecArray)).toThrow(/group nope/);
    expect(new FileManagerRule({ action: 'copy', srcRe: 'a', dstRe: 'b', override: true }).overwrite).toBe(true);
    expect(() => new FileManagerRule({ action: 'move', srcRe: '(', dstRe: 'x' })).toThrow(/does not compile/);
    expect(() => new FileManagerRule({ action: 'copy', srcRe: 'a' })).toThrow(/"dstRe" option must be a non-empty string/);
    expect(() => new FileManagerRule({ action: 'rename' as never, srcRe: 'a' })).toThrow(/'move', 'copy' or 'delete'/);
    expect(new FileManagerRule({ action: 'delete', srcRe: 'a', user: 'nobody', group: 'nogroup' }).uid).toBe(65534);
  });

  it('parseDuration: numbers and unit strings; anything else is ERR_INVALID_ARG_VALUE', () => {
    expect(parseDuration(250, 'd')).toBe(250);
    expect(parseDuration('1m30s', 'd')).toBe(90_000);
    expect(parseDuration('1.5s', 'd')).toBe(1500);
    expect(parseDuration('250ms', 'd')).toBe(250);
    for (const bad of ['soon', '', '5 s', -1, Number.NaN, '5x', null]) {
      expect(() => parseDuration(bad, 'delay')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    }
  });

  it('scheduler options are checked with Node-style errors', () => {
    expect(() => new TaskScheduler({ job: 'x' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new TaskScheduler({ job: () => {}, concurrency: 0 })).toThrow(/"concurrency" option must be an integer >= 1/);
    expect(() => new TaskScheduler({ job: () => {}, delay: 'later' })).toThrow(/"delay" option/);
    expect(() => new ShellScheduler({ cmd: [] })).toThrow(/names no program/);
    expect(() => Cancel({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('resolveConfig: IN_CLOSE/IN_MOVE expand, a function is wrapped once, null ignores, errors carry file and key', () => {
    const dir = tempDir();
    const job = (): void => {};
    const s = new TaskScheduler({ job });
    const config = resolveConfig({ watches: [{ path: dir, eventMap: { IN_CLOSE: s, IN_MOVE: [job, Cancel(s)], IN_OPEN: null, IN_CREATE: job } }] }, 'cfg.mjs');
    const watch = config.watches[0];
    expect([...(watch?.actions.keys() ?? [])].sort()).toEqual(['IN_CLOSE_NOWRITE', 'IN_CLOSE_WRITE', 'IN_CREATE', 'IN_MOVED_FROM', 'IN_MOVED_TO', 'IN_OPEN']);
    expect(watch?.actions.get('IN_OPEN')).toEqual([]);
    expect(config.schedulers).toHaveLength(2);
    expect(config.shutdownTimeout).toBe(30_000);
    let error: unknown;
    try {
      resolveConfig({ watches: [{ path: dir, eventMap: { IN_CREATE: job }, rec: 'yes' }] }, 'cfg.mjs');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'ERR_INOTIFYD_CONFIG', file: 'cfg.mjs', key: 'watches[0].rec', message: "cfg.mjs: watches[0].rec: expected a boolean, given string 'yes'" });
  });

  it('LogSink: levels per name; <N> priority prefixes for the journal', () => {
    const lines: string[] = [];
    const sink = new LogSink({ level: 'WARNING', levels: { chatty: 'DEBUG' }, journal: true }, (line) => lines.push(line));
    sink.log('quiet', 'INFO', 'dropped');
    sink.log('quiet', 'ERROR', 'two\nlines');
    sink.log('chatty', 'DEBUG', 'kept');
    sink.log('quiet', 'CRITICAL', 'c');
    expect(lines.join('')).toBe('<3>quiet ERROR: two\n<3>quiet ERROR: lines\n<7>chatty DEBUG: kept\n<2>quiet CRITICAL: c\n');
    sink.configure({ journal: false });
    lines.length = 0;
    sink.log('x', 'WARNING', 'w');
    expect(lines[0]).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} x WARNING\] w\n$/);
  });

  it('FileManagerScheduler in-process: a directory moved to another filesystem without rec is refused, the source left whole', async () => {
    if (!fs.existsSync('/dev/shm') || fs.statSync('/dev/shm').dev === fs.statSync(os.tmpdir()).dev) return;
    const dir = tempDir();
    const shm = fs.mkdtempSync('/dev/shm/inotifyd-');
    try {
      fs.mkdirSync(path.join(shm, 'd'));
      fs.writeFileSync(path.join(shm, 'd', 'inside'), 'data');
      const lines: string[] = [];
      const sched = new FileManagerScheduler({ dirs: true, rules: [new FileManagerRule({ action: 'move', srcRe: `${shm}/(.+)`, dstRe: `${dir}/\\1` })] });
      sched._configure(new LogSink({ level: 'DEBUG', journal: false }, (line) => lines.push(line)), false);
      sched.schedule({ pathname: path.join(shm, 'd'), maskname: 'IN_CREATE|IN_ISDIR', dir: true });
      await sched.idle();
      expect(lines.join('')).toMatch(/EXDEV: moving a directory to another filesystem needs rec: true/);
      expect(fs.readFileSync(path.join(shm, 'd', 'inside'), 'utf8')).toBe('data');
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(shm, { recursive: true, force: true });
    }
  });

  it('exclude: a file of patterns (with # comments) keeps those paths from the map', async () => {
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(path.join(w, 'skip'), { recursive: true });
    fs.mkdirSync(path.join(w, 'keep'));
    fs.writeFileSync(path.join(dir, 'exclude.lst'), `# pyinotifyd-style exclude file\n^${w}/skip\n\n.*\\.tmp$  # editors\n`);
    const daemon = await startDaemon(dir, `${prelude(dir)}
import { defineConfig } from 'inotify-native';
export default defineConfig({ watches: [{ path: ${JSON.stringify(w)}, rec: true, exclude: ${JSON.stringify(path.join(dir, 'exclude.lst'))},
  eventMap: { IN_CLOSE_WRITE: function seen(event) { record({ ev: 'seen', p: event.pathname }); } } }] });
`);
    fs.writeFileSync(path.join(w, 'skip', 'a'), '');
    fs.writeFileSync(path.join(w, 'keep', 'b.tmp'), '');
    fs.writeFileSync(path.join(w, 'keep', 'c'), '');
    await until(() => readLog(dir).length >= 1, 'the kept file');
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(readLog(dir).map((e) => e.p)).toEqual([path.join(w, 'keep', 'c')]);
  }, 60_000);
});
