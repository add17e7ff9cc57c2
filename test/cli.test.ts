/**
 * inotify-profile as a user runs it: a child process (`node lib/cli/profile.js`)
 * on real temp dirs. Each test waits for the "Watching ..." line on stderr,
 * acts, and ends the child with --count, --timeout or a signal; output is
 * checked against pyinotify's formats line by line.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { Stats } from '../src/index.js';
import { statsLines } from '../src/cli/format.js';
import { repoRoot, tempDir } from './helpers/index.js';
import { ensureLib, spawnNode, type Child } from './helpers/child.js';

const CLI = path.join(repoRoot, 'lib', 'cli', 'profile.js');
const READY = /^Watching .* — press Ctrl-C to stop$/m;
const VERSION = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

beforeAll(() => {
  ensureLib();
  // lib/ may have been built before src/cli existed.
  if (!fs.existsSync(CLI) || fs.statSync(CLI).mtimeMs < newestMtime(path.join(repoRoot, 'src', 'cli'))) {
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: repoRoot, encoding: 'utf8' });
  }
  expect(fs.existsSync(CLI)).toBe(true);
});

function newestMtime(dir: string): number {
  return Math.max(...fs.readdirSync(dir).map((name) => fs.statSync(path.join(dir, name)).mtimeMs));
}

/** Resolves with the first stderr text matching `pattern`; rejects when the child exits first or on timeout. */
function waitForStderr(child: Child, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = child.process.stderr;
    const check = (): void => {
      const match = pattern.exec(child.stderr);
      if (match !== null) {
        done();
        resolve(match[0]);
      }
    };
    const onClose = (): void => {
      done();
      reject(new Error(`exited before printing ${pattern} on stderr\nstdout:\n${child.stdout}\nstderr:\n${child.stderr}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms\nstdout:\n${child.stdout}\nstderr:\n${child.stderr}`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      stream?.off('data', check);
      child.process.off('close', onClose);
    };
    stream?.on('data', check);
    child.process.once('close', onClose);
    check();
  });
}

/** Starts the CLI and resolves once it is watching. */
async function start(args: readonly string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<Child> {
  const child = spawnNode([CLI, ...args], options);
  await waitForStderr(child, READY);
  return child;
}

/** Runs the CLI to completion (for options that exit at once). */
function runCli(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 10_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

/** No stack trace or Node error dump in a child's stderr. */
function expectNoStackTrace(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/Error:|EPIPE|node:internal/);
}

describe('pyinotify options', () => {
  test('-V and --version print the package version and exit 0', () => {
    for (const flag of ['-V', '--version']) {
      const result = runCli([flag]);
      expect(result.status).toBe(0);
      expect(result.stdout).toBe(`${VERSION}\n`);
      expect(result.stderr).toBe('');
    }
  });

  test('-h prints the usage: every option, and that the default path is the current directory', () => {
    const result = runCli(['-h']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: inotify-profile \[options\] \[path \.\.\.\]/);
    expect(result.stdout).toMatch(/Without a path it watches the current directory/);
    for (const option of ['-r, --recursive', '-a, --auto-add', '--auto_add', '-g, --glob', '-e, --events-list', '-s, --stats',
      '-f, --raw-format', '-c, --command', '-v, --verbose', '-V, --version', '-h, --help', '--json', '--relative', '--time',
      '--exclude', '--count', '--timeout', '--profile', '--skeleton', '-q, --quiet']) {
      expect(result.stdout).toContain(option);
    }
    expect(runCli(['--help']).stdout).toBe(result.stdout);
  });

  test('-f prints pyinotify lines byte for byte: a create, a move pair with cookie and src_pathname, a directory', async () => {
    const dir = tempDir();
    const child = await start(['-f', '-e', 'IN_CREATE,IN_CLOSE_WRITE,IN_MOVED_FROM,IN_MOVED_TO', '--count', '5', dir]);
    fs.writeFileSync(path.join(dir, 'a b.txt'), 'x');
    fs.renameSync(path.join(dir, 'a b.txt'), path.join(dir, 'b.txt'));
    fs.mkdirSync(path.join(dir, 'd1'));
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    const out = lines(result.stdout);
    expect(out).toHaveLength(5);
    const cookie = /^<Event cookie=(\d+) /.exec(out[2] ?? '')?.[1];
    expect(Number(cookie)).toBeGreaterThan(0);
    expect(out).toEqual([
      `<Event dir=False mask=0x100 maskname=IN_CREATE name=a b.txt path=${dir} pathname=${dir}/a b.txt wd=1 >`,
      `<Event dir=False mask=0x8 maskname=IN_CLOSE_WRITE name=a b.txt path=${dir} pathname=${dir}/a b.txt wd=1 >`,
      `<Event cookie=${cookie} dir=False mask=0x40 maskname=IN_MOVED_FROM name=a b.txt path=${dir} pathname=${dir}/a b.txt wd=1 >`,
      `<Event cookie=${cookie} dir=False mask=0x80 maskname=IN_MOVED_TO name=b.txt path=${dir} pathname=${dir}/b.txt src_pathname=${dir}/a b.txt wd=1 >`,
      `<Event dir=True mask=0x40000100 maskname=IN_CREATE|IN_ISDIR name=d1 path=${dir} pathname=${dir}/d1 wd=1 >`,
    ]);
  });

  test("without -f, in a pipe, the output is the same plain line (colour only on a terminal); name='' prints as ''", async () => {
    const dir = tempDir();
    const child = await start(['-e', 'IN_ATTRIB', '--count', '1', dir]);
    fs.chmodSync(dir, 0o750);
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`<Event dir=True mask=0x40000004 maskname=IN_ATTRIB|IN_ISDIR name='' path=${dir} pathname=${dir} wd=1 >\n`);
  });

  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  test.skipIf(!hasScript)('on a terminal the line is coloured as pyinotify colours it, and NO_COLOR turns that off', async () => {
    const dir = tempDir();
    const onTty = async (env: NodeJS.ProcessEnv, file: string): Promise<string> => {
      // script(1) gives the CLI a pseudo-terminal; its stderr comes through the terminal too.
      const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} -e IN_CREATE --count 1 ${JSON.stringify(dir)}`;
      const child = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let text = '';
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
          if (READY.test(text.replace(/\r/g, ''))) resolve();
        });
        child.once('close', () => reject(new Error(`script exited early:\n${text}`)));
      });
      const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
      try {
        await ready;
        fs.writeFileSync(path.join(dir, file), '');
        expect(await exited).toBe(0);
      } finally {
        child.kill();
      }
      return text.replace(/\r/g, '');
    };
    const e = '\x1b';
    const colouredValue = (value: string): string => `${e}[35m${value}${e}[0m`;
    const field = (key: string, value: string): string => ` ${e}[34m${key}${e}[0m${e}[0m=${e}[0m${colouredValue(value)}`;
    const expected = `${e}[0m<${e}[0m${e}[31m${e}[1mEvent${e}[0m${field('dir', 'False')}${field('mask', '0x100')}`
      + `${field('maskname', 'IN_CREATE')}${field('name', 'tty.txt')}${field('path', dir)}${field('pathname', `${dir}/tty.txt`)}`
      + `${field('wd', '1')} ${e}[0m>${e}[0m`;
    // A terminal as a person has it: Node's colour detection says no colours
    // when CI is set (as in CI runs) or TERM is missing or dumb.
    const terminalEnv: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color' };
    delete terminalEnv.CI;
    const coloured = await onTty({ ...terminalEnv, NO_COLOR: '' }, 'tty.txt');
    expect(coloured.split('\n')).toContain(expected);
    const plain = await onTty({ ...terminalEnv, NO_COLOR: '1' }, 'plain.txt');
    expect(plain).not.toContain(e);
    expect(plain).toContain(`<Event dir=False mask=0x100 maskname=IN_CREATE name=plain.txt path=${dir} pathname=${dir}/plain.txt wd=1 >`);
  });

  test('-e keeps only the listed events', async () => {
    const dir = tempDir();
    const child = await start(['-f', '-e', 'IN_CLOSE_WRITE', '--count', '2', dir]);
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'one'), '1');
    fs.renameSync(path.join(dir, 'one'), path.join(dir, 'uno'));
    fs.writeFileSync(path.join(dir, 'two'), '2');
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(lines(result.stdout).map((line) => /maskname=(\S+) name=(\S+)/.exec(line)?.slice(1).join(' '))).toEqual([
      'IN_CLOSE_WRITE one', 'IN_CLOSE_WRITE two',
    ]);
  });

  test('-e with an unknown name: one line on stderr, exit status 2', () => {
    const result = runCli(['-e', 'IN_CREATE,IN_BOGUS', '/tmp']);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe("inotify-profile: the event 'IN_BOGUS' specified with option -e is not valid\n");
  });

  test('unknown options and bad values are one-line usage errors (exit 2)', () => {
    for (const [args, message] of [
      [['--bogus'], 'unknown option --bogus'],
      [['-x'], 'unknown option -x'],
      [['--count', '0'], "--count needs a whole number of events >= 1, not '0'"],
      [['--timeout', 'soon'], "--timeout needs a number of seconds > 0, not 'soon'"],
      [['--exclude-regex', '('], 'invalid regular expression for --exclude-regex'],
      [['--exclude', '*.{tmp'], 'invalid pattern for --exclude'],
      [['-e'], 'option -e needs a value'],
    ] as const) {
      const result = runCli(args);
      expect(result.status).toBe(2);
      expect(lines(result.stderr)).toHaveLength(1);
      expect(result.stderr).toContain(`inotify-profile: ${message}`);
    }
  });

  test('-r watches the tree and -a (also spelled --auto_add) watches directories created later', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'old'));
    const child = await start(['-f', '-r', '--auto_add', '-e', 'IN_CREATE', '--count', '3', dir]);
    expect(child.stderr).toContain(`Watching ${dir} (recursive, auto-add, 2 watches)`);
    fs.writeFileSync(path.join(dir, 'old', 'a'), '');
    fs.mkdirSync(path.join(dir, 'new'));
    fs.writeFileSync(path.join(dir, 'new', 'b'), '');
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(lines(result.stdout).map((line) => /pathname=(\S+)/.exec(line)?.[1])).toEqual([
      `${dir}/old/a`, `${dir}/new`, `${dir}/new/b`,
    ]);
  });

  test('-g expands globs in the paths', async () => {
    const dir = tempDir();
    for (const name of ['a1', 'a2', 'b1']) fs.mkdirSync(path.join(dir, name));
    const child = spawnNode([CLI, '-g', '-q', '-v', '--timeout', '0.2', `${dir}/a*`]);
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`new watch wd=\\d+ path=${dir}/a1\\n`));
    expect(result.stderr).toMatch(new RegExp(`new watch wd=\\d+ path=${dir}/a2\\n`));
    expect(result.stderr).not.toContain(`${dir}/b1`);
  }, 120_000);

  test('without a path it watches the current directory', async () => {
    const dir = tempDir();
    const child = await start(['-f', '-e', 'IN_CREATE', '--count', '1'], { cwd: dir });
    expect(child.stderr).toContain(`Watching ${dir} (1 watch)`);
    fs.writeFileSync(path.join(dir, 'here'), '');
    const result = await child.waitForExit();
    expect(result.stdout).toContain(`pathname=${dir}/here `);
  });

  test('-s prints the <Stats ...> line and the histogram at exit instead of the events', async () => {
    const dir = tempDir();
    const child = await start(['-s', '-e', 'IN_CREATE,IN_CLOSE_WRITE', '--count', '4', dir]);
    fs.writeFileSync(path.join(dir, 'a'), '');
    fs.writeFileSync(path.join(dir, 'b'), '');
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toEqual([
      '<Stats ElapsedTime=0sec IN_CLOSE_WRITE=2 IN_CREATE=2 >',
      `${'IN_CLOSE_WRITE'.padEnd(26)}${'@'.repeat(45)} 2`,
      `${'IN_CREATE'.padEnd(26)}${'@'.repeat(45)} 2`,
    ]);
  });

  test("-s histogram bars use pyinotify's floating-point arithmetic (int(count * (45 / max)))", () => {
    const stats = new Stats();
    stats.counts.set('IN_CREATE', 39);
    stats.counts.set('IN_OPEN', 13);
    const [, create, open] = statsLines(stats, false);
    // Python: int(39 * (45 / 39)) == 44 and int(13 * (45 / 39)) == 14.
    expect(create).toBe(`${'IN_CREATE'.padEnd(26)}${'@'.repeat(44).padEnd(46)}39`);
    expect(open).toBe(`${'IN_OPEN'.padEnd(26)}${'@'.repeat(14).padEnd(46)}13`);
  });

  test('-s also prints the statistics every 5 s while they change (pyinotify\'s read_freq)', async () => {
    const dir = tempDir();
    const child = await start(['-s', '-e', 'IN_CREATE', dir]);
    fs.writeFileSync(path.join(dir, 'a'), '');
    await child.waitForLine(/^<Stats ElapsedTime=\d+sec IN_CREATE=1 >$/, 9000);
    fs.writeFileSync(path.join(dir, 'b'), '');
    child.kill('SIGINT');
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(lines(result.stdout).filter((line) => line.startsWith('<Stats'))).toEqual([
      expect.stringMatching(/IN_CREATE=1 >$/), expect.stringMatching(/IN_CREATE=2 >$/),
    ]);
  }, 120_000);

  test('-c runs the command at start and after batches, never two runs at once', async () => {
    const dir = tempDir();
    const lock = path.join(dir, 'lock');
    const watched = path.join(dir, 'w');
    fs.mkdirSync(watched);
    // Each run holds a lock for a while: a second run starting meanwhile reports OVERLAP.
    const command = `echo run-start; mkdir ${lock} 2>/dev/null || echo OVERLAP; sleep 0.3; rmdir ${lock}; echo run-end`;
    const child = await start(['-f', '-e', 'IN_CREATE', '-c', command, watched]);
    await child.waitForLine(/^run-end$/); // the run at start
    for (let i = 0; i < 6; i++) {
      fs.writeFileSync(path.join(watched, `f${i}`), '');
      await child.waitForLine(new RegExp(`name=f${i} `)); // each file is its own read batch
    }
    child.kill('SIGINT');
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    const starts = lines(result.stdout).filter((line) => line === 'run-start').length;
    const ends = lines(result.stdout).filter((line) => line === 'run-end').length;
    expect(result.stdout).not.toContain('OVERLAP');
    expect(starts).toBeGreaterThanOrEqual(2); // at start, and after the batches
    expect(starts).toBeLessThan(7); // 6 batches while runs were going: coalesced
    expect(ends).toBe(starts); // the exit waited for the last run
  }, 120_000);

  test('-v writes debug lines to stderr in pyinotify\'s log shape', async () => {
    const dir = tempDir();
    const child = await start(['-v', '-e', 'IN_CREATE', '--count', '1', dir]);
    fs.writeFileSync(path.join(dir, 'v'), '');
    const result = await child.waitForExit();
    expect(result.stderr).toMatch(new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} inotify-profile DEBUG\\] new watch wd=1 path=${dir}$`, 'm'));
    expect(result.stderr).toMatch(/DEBUG\] event wd=1 mask=0x100 cookie=0 name="v"$/m);
  });
});

describe('more options', () => {
  test('--json: one object per line with the documented schema', async () => {
    const dir = tempDir();
    const child = await start(['--json', '-e', 'IN_CREATE,IN_MOVED_FROM,IN_MOVED_TO', '--count', '4', dir]);
    const before = Date.now();
    fs.writeFileSync(path.join(dir, 'a'), '');
    fs.renameSync(path.join(dir, 'a'), path.join(dir, 'b'));
    fs.mkdirSync(path.join(dir, 'd'));
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    const objects = lines(result.stdout).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(objects).toHaveLength(4);
    for (const object of objects) {
      expect(Object.keys(object)).toEqual(['time', 'wd', 'mask', 'maskname', 'name', 'path', 'pathname', 'srcPathname', 'cookie', 'dir', 'synthetic']);
      expect(new Date(object.time as string).toISOString()).toBe(object.time);
      expect(Date.parse(object.time as string)).toBeGreaterThanOrEqual(before - 1000);
    }
    const [create, from, to, mkdir] = objects;
    expect(create).toMatchObject({ wd: 1, mask: 0x100, maskname: 'IN_CREATE', name: 'a', path: dir, pathname: `${dir}/a`, srcPathname: null, cookie: 0, dir: false, synthetic: false });
    expect(from).toMatchObject({ mask: 0x40, maskname: 'IN_MOVED_FROM', pathname: `${dir}/a`, srcPathname: null });
    expect(to).toMatchObject({ mask: 0x80, maskname: 'IN_MOVED_TO', pathname: `${dir}/b`, srcPathname: `${dir}/a`, cookie: from?.cookie });
    expect(to?.cookie).not.toBe(0);
    expect(mkdir).toMatchObject({ mask: 0x40000100, maskname: 'IN_CREATE|IN_ISDIR', pathname: `${dir}/d`, dir: true });
  });

  test('--relative prints paths relative to the watched root', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'sub'));
    const child = await start(['-f', '--relative', '-r', '-e', 'IN_CREATE,IN_MOVED_FROM,IN_MOVED_TO', '--count', '3', dir]);
    fs.writeFileSync(path.join(dir, 'sub', 'x'), '');
    fs.renameSync(path.join(dir, 'sub', 'x'), path.join(dir, 'y'));
    const result = await child.waitForExit();
    const out = lines(result.stdout);
    expect(out[0]).toBe('<Event dir=False mask=0x100 maskname=IN_CREATE name=x path=sub pathname=sub/x wd=2 >');
    expect(out[2]).toMatch(/^<Event cookie=\d+ dir=False mask=0x80 maskname=IN_MOVED_TO name=y path=\. pathname=y src_pathname=sub\/x wd=1 >$/);
  });

  test('--exclude PATTERN and --exclude-regex REGEX (repeatable) neither watch nor report matching paths', async () => {
    const dir = tempDir();
    for (const name of ['skip', 'cache', 'keep']) fs.mkdirSync(path.join(dir, name));
    const child = await start(['-f', '-r', '--exclude-regex', '/skip(/|$)', '--exclude', '*.tmp', '--exclude', 'cache', '-e', 'IN_CREATE', '--count', '1', dir]);
    expect(child.stderr).toContain('2 watches'); // the root and keep/
    fs.writeFileSync(path.join(dir, 'skip', 'a'), '');
    fs.writeFileSync(path.join(dir, 'cache', 'a'), '');
    fs.writeFileSync(path.join(dir, 'x.tmp'), '');
    fs.writeFileSync(path.join(dir, 'keep', 'a'), '');
    const result = await child.waitForExit();
    expect(lines(result.stdout)).toHaveLength(1);
    expect(result.stdout).toContain(`pathname=${dir}/keep/a `);
  });

  test('--time prefixes each line with an ISO timestamp', async () => {
    const dir = tempDir();
    const child = await start(['--time', '-e', 'IN_CREATE', '--count', '1', dir]);
    fs.writeFileSync(path.join(dir, 't'), '');
    const result = await child.waitForExit();
    expect(result.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z <Event dir=False mask=0x100 maskname=IN_CREATE name=t /);
  });

  test('--count N exits 0 after N events, printing no more', async () => {
    const dir = tempDir();
    const child = await start(['-f', '--count', '2', dir]);
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `c${i}`), 'data');
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toHaveLength(2);
  });

  test('--timeout SECONDS exits 0 after that time', async () => {
    const dir = tempDir();
    const started = Date.now();
    const child = await start(['-f', '--timeout', '0.5', dir]);
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(result.stdout).toBe('');
  });

  test('-q: no ready line', async () => {
    const dir = tempDir();
    const child = spawnNode([CLI, '-q', '--timeout', '0.1', dir]);
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });
});

describe('failures and signals', () => {
  test('a path that does not exist: one line, exit status 1, no stack trace', () => {
    const result = runCli(['/nonexistent/inotify-profile']);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe("inotify-profile: ENOENT: no such file or directory, inotify_add_watch '/nonexistent/inotify-profile'\n");
  });

  test('two paths, one missing: it is reported on stderr and the other is watched (pyinotify); --strict exits 1', async () => {
    const dir = tempDir();
    const child = await start(['-f', '-e', 'IN_CREATE', '--count', '1', dir, `${dir}/missing`]);
    expect(child.stderr).toContain(`inotify-profile: warning: ENOENT: no such file or directory, inotify_add_watch '${dir}/missing'`);
    fs.writeFileSync(path.join(dir, 'seen'), '');
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`pathname=${dir}/seen `);

    const strict = runCli(['--strict', dir, `${dir}/missing`]);
    expect(strict.status).toBe(1);
    expect(lines(strict.stderr)).toEqual([`inotify-profile: ENOENT: no such file or directory, inotify_add_watch '${dir}/missing'`]);
  });

  test('every path missing: exit status 1 with or without --strict', () => {
    const dir = tempDir();
    const result = runCli([`${dir}/a`, `${dir}/b`]);
    expect(result.status).toBe(1);
    expect(lines(result.stderr)).toEqual([
      `inotify-profile: ENOENT: no such file or directory, inotify_add_watch '${dir}/a'`,
      `inotify-profile: ENOENT: no such file or directory, inotify_add_watch '${dir}/b'`,
    ]);
  });

  test('option syntax of util.parseArgs: -ra, -eX, --x=y, repeated -e, -- before a path that starts with -', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, '-sub'));
    fs.mkdirSync(path.join(dir, '-sub', 'deep'));
    // -ra: recursive + auto-add; -eIN_CREATE and -e IN_DELETE add up; --count=2; '-sub' is a path after --.
    const child = await start(['-ra', '-f', '-eIN_CREATE', '-e', 'IN_DELETE', '--count=2', '--', '-sub'], { cwd: dir });
    expect(child.stderr).toContain('2 watches');
    fs.writeFileSync(path.join(dir, '-sub', 'deep', 'x'), '');
    fs.unlinkSync(path.join(dir, '-sub', 'deep', 'x'));
    const result = await child.waitForExit();
    expect(lines(result.stdout).map((line) => /maskname=(\S+)/.exec(line)?.[1])).toEqual(['IN_CREATE', 'IN_DELETE']);
    expect(runCli(['--json=yes', dir]).stderr).toBe('inotify-profile: option --json takes no value\n');
    expect(runCli(['-rz', dir]).stderr).toBe('inotify-profile: unknown option -z\n');
  });

  test('-r on a file path below a regular file: ENOTDIR in one line', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'file'), '');
    const result = runCli(['-r', path.join(dir, 'file', 'below')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^inotify-profile: ENOTDIR: not a directory, inotify_add_watch '.*\/file\/below'\n$/);
  });

  test('SIGINT and SIGTERM stop cleanly with exit status 0', async () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const dir = tempDir();
      const child = await start(['-f', dir]);
      child.kill(signal);
      const result = await child.waitForExit();
      expect(result.code).toBe(0);
      expect(result.signal).toBeNull();
      expectNoStackTrace(result.stderr);
    }
  });

  test('piped into head -1 with many events: exit 0, no EPIPE crash', async () => {
    const dir = tempDir();
    const script = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} -f ${JSON.stringify(dir)} | head -1; echo "cli-status=\${PIPESTATUS[0]}" >&2`;
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    let running = true;
    void exited.then(() => (running = false));
    try {
      while (!READY.test(stderr)) {
        if (!running) throw new Error(`exited early: ${stderr}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Keep making events until the CLI has noticed head is gone and exited.
      for (let i = 0; running && i < 200_000; i++) {
        fs.writeFileSync(path.join(dir, `f${i % 500}`), 'x');
        if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await exited).toBe(0);
    } finally {
      child.kill();
    }
    expect(lines(stdout)).toHaveLength(1);
    expect(stdout).toMatch(/^<Event /);
    expect(stderr).toMatch(/cli-status=0\n/);
    expectNoStackTrace(stderr);
  }, 120_000);
});
