/**
 * inotify-profile --profile and --skeleton on real transfers: rsync (temp
 * file + rename, --inplace), cp, mv from outside, an atomic save, mkdir -p.
 * Each session waits for the transfer's last event line (-f prints the
 * events as well), then stops the CLI with a signal and reads the profile.
 * The skeleton is compiled with tsc, strict, and run against a transfer.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tty from 'node:tty';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  IN_ATTRIB, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_ISDIR, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO,
  IN_OPEN, InotifyEvent,
} from '../src/index.js';
import { useColour } from '../src/cli/format.js';
import { ProfileRecorder } from '../src/cli/history.js';
import { analyze, profileText, type Profile } from '../src/cli/shapes.js';
import { skeleton } from '../src/cli/skeleton.js';
import { repoRoot, tempDir } from './helpers/index.js';
import { ensureLib, spawnNode, type Child } from './helpers/child.js';

const CLI = path.join(repoRoot, 'lib', 'cli', 'profile.js');
const READY = /^Watching .* — press Ctrl-C to stop$/m;
const hasRsync = spawnSync('rsync', ['--version']).status === 0;

beforeAll(() => {
  ensureLib();
  const newest = Math.max(...fs.readdirSync(path.join(repoRoot, 'src', 'cli')).map((n) => fs.statSync(path.join(repoRoot, 'src', 'cli', n)).mtimeMs));
  if (!fs.existsSync(CLI) || fs.statSync(CLI).mtimeMs < newest) {
    spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: repoRoot });
  }
  expect(fs.existsSync(CLI)).toBe(true);
});

function waitForStderr(child: Child, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!pattern.test(child.stderr)) return;
      done();
      resolve();
    };
    const onClose = (): void => {
      done();
      reject(new Error(`exited before ${pattern} on stderr\nstdout:\n${child.stdout}\nstderr:\n${child.stderr}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms\nstderr:\n${child.stderr}`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      child.process.stderr?.off('data', check);
      child.process.off('close', onClose);
    };
    child.process.stderr?.on('data', check);
    child.process.once('close', onClose);
    check();
  });
}

function run(command: string, args: readonly string[], cwd?: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
}

function randomFile(file: string, size = 64 * 1024): void {
  fs.writeFileSync(file, Buffer.alloc(size, path.basename(file)));
}

interface Entry {
  sequence: string;
  shape: string;
}

interface Session {
  code: number | null;
  stderr: string;
  profile: string[];
  /** Profile lines by the path they start with (the last one when a path has several). */
  entries: Map<string, Entry>;
}

/**
 * Runs `inotify-profile --profile -f -r -a` on `watched`: `act()` once it is
 * watching, then waits for each of `until` among the event lines, then
 * stops it with `signal`.
 */
async function session(watched: string, act: () => void, until: readonly RegExp[], signal: NodeJS.Signals = 'SIGINT', extra: readonly string[] = []): Promise<Session> {
  const child = spawnNode([CLI, '--profile', '-f', '-r', '-a', ...extra, watched]);
  await waitForStderr(child, READY);
  act();
  for (const pattern of until) await child.waitForLine(pattern);
  child.kill(signal);
  const result = await child.waitForExit();
  const profile = result.stdout.split('\n').filter((line) => line !== '' && !line.startsWith('<Event '));
  const entries = new Map<string, Entry>();
  for (const line of profile) {
    const match = /^(.*?): (.*) {2}\[(.*)\]$/.exec(line);
    if (match !== null) entries.set(match[1] as string, { sequence: match[2] as string, shape: match[3] as string });
  }
  return { code: result.code, stderr: result.stderr, profile, entries };
}

const movedTo = (name: string): RegExp => new RegExp(`maskname=IN_MOVED_TO name=${name.replace(/\./g, '\\.')} `);
const event = (mask: string, name: string): RegExp => new RegExp(`maskname=${mask.replace(/\|/g, '\\|')} name=${name.replace(/\./g, '\\.')} `);

describe('--profile names what it sees', () => {
  test.skipIf(!hasRsync)('rsync -a src/ dst/: three files, each an rsync temp file + rename; SIGTERM flushes the profile, exit 0', async () => {
    const root = tempDir();
    const src = path.join(root, 'src');
    const watched = path.join(root, 'watched');
    fs.mkdirSync(src);
    fs.mkdirSync(watched);
    for (const name of ['a.bin', 'b.bin', 'c.bin']) randomFile(path.join(src, name), 200_000);
    const result = await session(watched, () => run('rsync', ['-a', `${src}/`, `${watched}/`]),
      ['a.bin', 'b.bin', 'c.bin'].map(movedTo), 'SIGTERM');
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.profile[0]).toMatch(new RegExp(`^Profile of ${watched}: \\d+ events, 3 files, \\d+ director(y|ies) in \\d+sec$`)); // ./ when rsync set its times
    for (const name of ['a.bin', 'b.bin', 'c.bin']) {
      const entry = result.entries.get(name);
      expect(entry?.shape).toBe('rsync temp file + rename');
      const temp = `\\.${name.replace('.', '\\.')}\\.[A-Za-z0-9]{6}`;
      expect(entry?.sequence).toMatch(new RegExp(`^CREATE ${temp} -> OPEN -> .*MODIFY -> CLOSE_WRITE -> .* -> MOVED_TO ${name.replace('.', '\\.')}$`));
    }
    expect(result.profile).toContain('Shapes:');
    expect(result.profile.find((line) => line.includes('rsync temp file + rename') && line.startsWith('  '))).toMatch(/ 3 {2}a\.bin, b\.bin, c\.bin$/);
  });

  test.skipIf(!hasRsync)('rsync --inplace: written in place, then re-opened to set attributes', async () => {
    const root = tempDir();
    const watched = path.join(root, 'watched');
    fs.mkdirSync(watched);
    randomFile(path.join(root, 'ip.bin'), 100_000);
    const result = await session(watched, () => run('rsync', ['-a', '--inplace', path.join(root, 'ip.bin'), `${watched}/`]),
      [event('IN_CLOSE_NOWRITE', 'ip.bin')]);
    expect(result.code).toBe(0);
    expect(result.entries.get('ip.bin')?.shape).toBe('rsync --inplace');
    expect(result.entries.get('ip.bin')?.sequence).toMatch(/^CREATE -> OPEN -> .*CLOSE_WRITE -> .*OPEN -> ATTRIB -> CLOSE_NOWRITE$/);
  });

  test('cp: a plain copy; mv from outside: moved in; created and deleted: a temporary file', async () => {
    const root = tempDir();
    const watched = path.join(root, 'watched');
    fs.mkdirSync(watched);
    randomFile(path.join(root, 'copy.bin'));
    fs.writeFileSync(path.join(root, 'outside.txt'), 'hi');
    const result = await session(watched, () => {
      run('cp', [path.join(root, 'copy.bin'), watched]);
      run('mv', [path.join(root, 'outside.txt'), watched]);
      fs.writeFileSync(path.join(watched, 'scratch'), 'x');
      fs.unlinkSync(path.join(watched, 'scratch'));
    }, [event('IN_DELETE', 'scratch')]);
    expect(result.entries.get('copy.bin')).toEqual({ sequence: 'CREATE -> OPEN -> MODIFY -> CLOSE_WRITE', shape: 'plain copy (cp)' });
    expect(result.entries.get('outside.txt')).toEqual({ sequence: 'MOVED_TO (from outside)', shape: 'moved in from outside' });
    expect(result.entries.get('scratch')).toEqual({ sequence: 'CREATE -> OPEN -> MODIFY -> CLOSE_WRITE -> DELETE', shape: 'temporary file (created and deleted)' });
  });

  test('atomic saves: .x.swp and y.tmp written, then renamed over the existing x and y', async () => {
    const root = tempDir();
    const watched = path.join(root, 'watched');
    fs.mkdirSync(watched);
    fs.writeFileSync(path.join(watched, 'x'), 'old'); // existed before watching
    const result = await session(watched, () => {
      fs.writeFileSync(path.join(watched, 'y'), 'old'); // created while watching
      fs.writeFileSync(path.join(watched, '.x.swp'), 'new');
      fs.renameSync(path.join(watched, '.x.swp'), path.join(watched, 'x'));
      fs.writeFileSync(path.join(watched, 'y.tmp'), 'new');
      fs.renameSync(path.join(watched, 'y.tmp'), path.join(watched, 'y'));
      fs.writeFileSync(path.join(watched, 'dl.part'), 'new');
      fs.renameSync(path.join(watched, 'dl.part'), path.join(watched, 'dl'));
    }, [movedTo('dl')]);
    expect(result.entries.get('x')).toEqual({
      sequence: 'CREATE .x.swp -> OPEN -> MODIFY -> CLOSE_WRITE -> MOVED_TO x (over existing)', shape: 'atomic save by rename',
    });
    expect(result.entries.get('y')).toEqual({
      sequence: 'CREATE y.tmp -> OPEN -> MODIFY -> CLOSE_WRITE -> MOVED_TO y (over existing)', shape: 'atomic save by rename',
    });
    // The first y, which the save replaced, keeps its own line.
    expect(result.profile).toContain('y: CREATE -> OPEN -> MODIFY -> CLOSE_WRITE -> (replaced)  [plain copy (cp)]');
    // A rename onto a name that did not exist is not an atomic save.
    expect(result.entries.get('dl')?.shape).toBe('written, then renamed into place');
  });

  test('mkdir -p: the directories created in a chain are one tree', async () => {
    const root = tempDir();
    const watched = path.join(root, 'watched');
    fs.mkdirSync(watched);
    const result = await session(watched, () => run('mkdir', ['-p', path.join(watched, 'd1', 'd2', 'd3')]),
      [event('IN_CREATE|IN_ISDIR', 'd3')]);
    const tree = result.entries.get('d1/');
    expect(tree?.shape).toBe('mkdir -p tree');
    // d2 and d3 may be reported by the scan of their new parent (then marked "(scan)").
    expect(tree?.sequence).toMatch(/^CREATE d1 -> CREATE d1\/d2( \(scan\))? -> CREATE d1\/d2\/d3( \(scan\))?$/);
  });

  test('--json --profile: the profile is one JSON object on the last line', async () => {
    const root = tempDir();
    const watched = path.join(root, 'watched');
    fs.mkdirSync(watched);
    const child = spawnNode([CLI, '--json', '--profile', watched]);
    await waitForStderr(child, READY);
    fs.writeFileSync(path.join(watched, 'j'), 'data');
    await child.waitForLine(/"maskname":"IN_CLOSE_WRITE","name":"j"/);
    child.kill('SIGINT');
    const result = await child.waitForExit();
    const last = JSON.parse(result.stdout.trimEnd().split('\n').pop() ?? '') as { profile: { entries: unknown[]; shapes: unknown } };
    expect(last.profile.entries).toEqual([{
      path: 'j', dir: false, shape: 'plain copy (cp)', shapeId: 'copy', fate: null, sequence: ['CREATE', 'OPEN', 'MODIFY', 'CLOSE_WRITE'],
    }]);
    expect(last.profile.shapes).toEqual({ 'plain copy (cp)': 1 });
  });
});

describe('histories (unit)', () => {
  const dir = '/w';
  let wd = 1;
  const ev = (mask: number, name: string, extra: { cookie?: number; src?: string; synthetic?: boolean; path?: string } = {}): InotifyEvent => {
    const base = extra.path ?? dir;
    return new InotifyEvent(wd, mask, name, base, name === '' ? base : `${base}/${name}`, (mask & IN_ISDIR) !== 0,
      extra.cookie ?? 0, extra.src, extra.synthetic ?? false);
  };
  const profileOf = (events: readonly InotifyEvent[], present: string[] = []): Profile => {
    const recorder = new ProfileRecorder([dir], new Set(present));
    for (const e of events) recorder.record(e);
    return analyze(recorder);
  };

  test('an rsync update (delta transfer over an existing file) is one rsync history; the old file is "replaced"', () => {
    wd = 1;
    const tmp = '.file1.raw.GkHE5I';
    const profile = profileOf([
      ev(IN_OPEN, 'file1.raw'), ev(IN_CREATE, tmp), ev(IN_OPEN, tmp), ev(IN_ATTRIB, tmp), ev(IN_MODIFY, tmp),
      ev(IN_CLOSE_NOWRITE, 'file1.raw'), ev(IN_CLOSE_WRITE, tmp), ev(IN_OPEN, tmp), ev(IN_ATTRIB, tmp), ev(IN_CLOSE_NOWRITE, tmp),
      ev(IN_MOVED_FROM, tmp, { cookie: 532 }), ev(IN_MOVED_TO, 'file1.raw', { cookie: 532, src: `${dir}/${tmp}` }),
    ], ['/w/file1.raw']);
    expect(profileText(profile).slice(1, 3)).toEqual([
      'file1.raw: OPEN -> CLOSE_NOWRITE -> (replaced)  [read]',
      `file1.raw: CREATE ${tmp} -> OPEN -> ATTRIB -> MODIFY -> CLOSE_WRITE -> OPEN -> ATTRIB -> CLOSE_NOWRITE -> MOVED_TO file1.raw (over existing)  [rsync temp file + rename]`,
    ]);
  });

  test('repeats collapse; an abandoned rsync temp file and a lone MOVED_TO (rsync --temp-dir) are named', () => {
    const profile = profileOf([
      ev(IN_CREATE, '.big.iso.Ab12Cd'), ev(IN_MODIFY, '.big.iso.Ab12Cd'), ev(IN_MODIFY, '.big.iso.Ab12Cd'), ev(IN_MODIFY, '.big.iso.Ab12Cd'),
      ev(IN_DELETE, '.big.iso.Ab12Cd'), ev(IN_MOVED_TO, 'file1.raw', { cookie: 9 }),
    ]);
    expect(profileText(profile).slice(1, 3)).toEqual([
      '.big.iso.Ab12Cd: CREATE -> MODIFY x3 -> DELETE  [abandoned rsync temp file]',
      'file1.raw: MOVED_TO (from outside)  [moved in from outside]',
    ]);
  });

  test('shapes use the tracker\'s classifier: rsync --temp-dir inside the tree, a truncated temp name, --delay-updates', () => {
    wd = 1;
    const long = 'n'.repeat(250);
    const cut = '.' + long.slice(0, 247) + '.Xy12Zw';
    const profile = profileOf([
      // --temp-dir=tmp (inside the tree): the temp is in another directory than its final name.
      ev(IN_CREATE, '.a.raw.Qw34Er', { path: '/w/tmp' }), ev(IN_CLOSE_WRITE, '.a.raw.Qw34Er', { path: '/w/tmp' }),
      ev(IN_MOVED_FROM, '.a.raw.Qw34Er', { path: '/w/tmp', cookie: 11 }), ev(IN_MOVED_TO, 'a.raw', { cookie: 11, src: '/w/tmp/.a.raw.Qw34Er' }),
      // A 250-byte name: rsync cut it to 247 bytes inside the temp name.
      ev(IN_CREATE, cut), ev(IN_CLOSE_WRITE, cut), ev(IN_MOVED_FROM, cut, { cookie: 12 }), ev(IN_MOVED_TO, long, { cookie: 12, src: `/w/${cut}` }),
      // --delay-updates: .b.XXXXXX -> .~tmp~/b -> b.
      ev(IN_CREATE, '.b.Rt56Yu'), ev(IN_CLOSE_WRITE, '.b.Rt56Yu'), ev(IN_MOVED_FROM, '.b.Rt56Yu', { cookie: 13 }),
      ev(IN_MOVED_TO, 'b', { path: '/w/.~tmp~', cookie: 13, src: '/w/.b.Rt56Yu' }),
      ev(IN_MOVED_FROM, 'b', { path: '/w/.~tmp~', cookie: 14 }), ev(IN_MOVED_TO, 'b', { cookie: 14, src: '/w/.~tmp~/b' }),
    ]);
    const shapes = Object.fromEntries(profile.entries.map((e) => [e.display, e.shape]));
    expect(shapes['a.raw']).toBe('rsync');
    expect(shapes[long]).toBe('rsync');
    expect(shapes.b).toBe('rsync');
  });

  test('a file keeps its history when its directory is renamed, and leaves with a fate', () => {
    wd = 1;
    const events = [ev(IN_CREATE | IN_ISDIR, 'd'), ev(IN_CREATE, 'f', { path: '/w/d' }), ev(IN_CLOSE_WRITE, 'f', { path: '/w/d' }),
      ev(IN_MOVED_FROM | IN_ISDIR, 'd', { cookie: 7 }), ev(IN_MOVED_TO | IN_ISDIR, 'e', { cookie: 7, src: '/w/d' }),
      ev(IN_MODIFY, 'f', { path: '/w/e' }), ev(IN_CLOSE_WRITE, 'f', { path: '/w/e' }), ev(IN_MOVED_FROM, 'f', { path: '/w/e', cookie: 8 })];
    const text = profileText(profileOf(events));
    expect(text).toContain('e/f: CREATE -> CLOSE_WRITE -> MODIFY -> CLOSE_WRITE -> MOVED_FROM (moved out)  [plain copy (cp), then moved out]');
    expect(text).toContain('e/: CREATE d -> MOVED_TO e  [directory renamed]');
  });
});

describe('--skeleton', () => {
  test.skipIf(!hasRsync)('prints a ProcessEvent subclass that compiles with tsc (strict) and handles the shapes it saw', async () => {
    const root = tempDir();
    const src = path.join(root, 'src');
    const watched = path.join(root, 'watched');
    for (const dir of [src, watched]) fs.mkdirSync(dir);
    for (const name of ['a.bin', 'b.bin']) randomFile(path.join(src, name));
    randomFile(path.join(root, 'ip.bin'));
    fs.writeFileSync(path.join(watched, 'x'), 'old');

    const transfer = (target: string): void => {
      run('rsync', ['-a', `${src}/`, `${target}/`]);
      run('rsync', ['-a', '--inplace', path.join(root, 'ip.bin'), `${target}/`]);
      run('cp', [path.join(src, 'a.bin'), path.join(target, 'copy.bin')]);
      fs.writeFileSync(path.join(root, 'outside.txt'), 'hi');
      run('mv', [path.join(root, 'outside.txt'), target]);
      fs.writeFileSync(path.join(target, 'x.tmp'), 'new');
      fs.renameSync(path.join(target, 'x.tmp'), path.join(target, 'x'));
      run('mkdir', ['-p', path.join(target, 'd1', 'd2')]);
    };

    // --skeleton alone: stdout is only TypeScript; -v's debug lines (stderr) say when the last event was read.
    const child = spawnNode([CLI, '--skeleton', '-v', '-r', '-a', watched]);
    await waitForStderr(child, READY);
    transfer(watched);
    fs.writeFileSync(path.join(watched, 'sentinel'), '');
    await waitForStderr(child, /event wd=1 mask=0x8 cookie=0 name="sentinel"/);
    child.kill('SIGINT');
    const result = await child.waitForExit();
    expect(result.code).toBe(0);
    const source = result.stdout;
    expect(source).toMatch(/^\/\/ Generated by inotify-profile /);
    expect(source).toContain("} from 'inotify-native';");
    for (const hook of ['process_IN_MOVED_TO', 'process_IN_CLOSE_WRITE', 'process_IN_CREATE', 'override process_default']) {
      expect(source).toContain(`  ${hook}(event: InotifyEvent): void {`);
    }
    expect(source).toMatch(/\/\/ rsync temp file \+ rename \(2 seen, e\.g\. a\.bin: CREATE \.a\.bin\./);
    expect(source).toMatch(/\/\/ rsync --inplace \(1 seen/);
    expect(source).toMatch(/Names files are written under before being renamed into place \(seen: x\.tmp\)/);

    // A project that installs the package (a symlink to this repository) and compiles the handler strictly.
    const project = path.join(root, 'project');
    fs.mkdirSync(path.join(project, 'node_modules'), { recursive: true });
    fs.symlinkSync(repoRoot, path.join(project, 'node_modules', 'inotify-native'));
    fs.writeFileSync(path.join(project, 'handler.ts'), source);
    fs.writeFileSync(path.join(project, 'run.ts'), [
      "import { main } from './handler.js';",
      'const controller = new AbortController();',
      "process.once('SIGTERM', () => controller.abort());",
      "const done = main(process.argv.slice(2), controller.signal);",
      "console.log('ready');",
      'done.then(() => process.exit(0), (error: unknown) => { console.error(error); process.exit(1); });',
      '',
    ].join('\n'));
    fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noUncheckedIndexedAccess: true,
        noImplicitOverride: true, noUnusedLocals: true, noUnusedParameters: true, exactOptionalPropertyTypes: true,
        skipLibCheck: true, types: ['node'], typeRoots: [path.join(repoRoot, 'node_modules', '@types')], outDir: 'out',
      },
      files: ['handler.ts', 'run.ts'],
    }));
    const tsc = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { encoding: 'utf8' });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);

    // The compiled handler reports each file once, when it is complete, never a temp name.
    const target = path.join(root, 'target');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'x'), 'old');
    const handler = spawnNode([path.join(project, 'out', 'run.js'), target]);
    await handler.waitForLine(/^ready$/);
    transfer(target);
    const expected = [
      `rsync: ${target}/a.bin`, `rsync: ${target}/b.bin`, `written: ${target}/ip.bin`, `written: ${target}/copy.bin`,
      `moved in: ${target}/outside.txt`, `renamed into place: ${target}/x`, `directory: ${target}/d1`, `directory: ${target}/d1/d2`,
    ];
    for (const line of expected) await handler.waitForLine(new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    handler.kill('SIGTERM');
    const ran = await handler.waitForExit();
    expect(ran.code).toBe(0);
    expect(ran.stdout.split('\n').filter((l) => l !== '' && l !== 'ready').sort()).toEqual([...expected].sort());
  }, 120_000);

  test('with nothing seen, the skeleton is the general shape (copies and rsync) and still compiles in the same way', () => {
    const source = skeleton(analyze(new ProfileRecorder(['/w'])), '0.0.0');
    expect(source).toContain('// No file arrived while profiling');
    expect(source).toContain('export const MASK = IN_CLOSE_WRITE | IN_MOVED_TO;');
    expect(source).toContain('process_IN_MOVED_TO(event: InotifyEvent): void {');
    expect(source).toContain('process_IN_CLOSE_WRITE(event: InotifyEvent): void {');
    expect(source).not.toContain('process_default');
  });

  test('a deleted file adds process_IN_DELETE, which skips temp names', () => {
    const recorder = new ProfileRecorder(['/w'], new Set(['/w/old']));
    recorder.record(new InotifyEvent(1, IN_DELETE, 'old', '/w', '/w/old', false));
    const source = skeleton(analyze(recorder), '0.0.0');
    expect(source).toContain('export const MASK = IN_DELETE;');
    expect(source).toContain('process_IN_DELETE(event: InotifyEvent): void {');
    expect(source).toContain('  // deleted (1 seen, e.g. old: DELETE)');
  });
});

describe('colour (useColour)', () => {
  // A stand-in for a terminal's stream: Node's own hasColors()/getColorDepth(), which read only the environment.
  const terminal = {
    isTTY: true, hasColors: tty.WriteStream.prototype.hasColors, getColorDepth: tty.WriteStream.prototype.getColorDepth,
  };
  const pipe = { isTTY: false };

  test('on a terminal as Node decides (TERM=dumb, NODE_DISABLE_COLORS, FORCE_COLOR=0 turn it off); NO_COLOR always wins', () => {
    expect(useColour(terminal, { TERM: 'xterm-256color' }, false, false)).toBe(true);
    expect(useColour(terminal, { TERM: 'dumb' }, false, false)).toBe(false);
    expect(useColour(terminal, { TERM: 'xterm', NODE_DISABLE_COLORS: '1' }, false, false)).toBe(false);
    expect(useColour(terminal, { TERM: 'xterm', FORCE_COLOR: '0' }, false, false)).toBe(false);
    expect(useColour(terminal, { TERM: 'xterm', NO_COLOR: '' }, false, false)).toBe(true); // empty: not set (no-color.org)
    expect(useColour(terminal, { TERM: 'xterm', NO_COLOR: '1', FORCE_COLOR: '1' }, false, false)).toBe(false);
    expect(useColour(terminal, { TERM: 'xterm' }, true, false)).toBe(false); // -f
    expect(useColour(terminal, { TERM: 'xterm' }, false, true)).toBe(false); // --json
  });

  test('through a pipe only with FORCE_COLOR', () => {
    expect(useColour(pipe, { TERM: 'xterm' }, false, false)).toBe(false);
    expect(useColour(pipe, { FORCE_COLOR: '1' }, false, false)).toBe(true);
    expect(useColour(pipe, { FORCE_COLOR: '0' }, false, false)).toBe(false);
    expect(useColour(pipe, { FORCE_COLOR: '1', NO_COLOR: 'x' }, false, false)).toBe(false);
  });

  test('FORCE_COLOR=1 colours the CLI\'s lines through a pipe', async () => {
    const dir = tempDir();
    const child = spawnNode([CLI, '-e', 'IN_CREATE', '--count', '1', dir], { env: { ...process.env, FORCE_COLOR: '1', NO_COLOR: '' } });
    await waitForStderr(child, READY);
    fs.writeFileSync(path.join(dir, 'c'), '');
    const result = await child.waitForExit();
    expect(result.stdout).toContain('\x1b[31m\x1b[1mEvent\x1b[0m');
  });
});
