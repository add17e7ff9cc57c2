/**
 * inotify-run as a user runs it, on real files with real processes: rsync
 * keeps a target equal to the source, runs never overlap (a lock the
 * command must take), a change during a run makes exactly one more run,
 * --on-fail re-authenticates on a pseudo-terminal (script(1)), --restart
 * stops a long run, and bad input gets one clear line and a status.
 * Every wait is for a logged condition, with a bound; counts, not clocks.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from './daemon-helpers.js';
import { RUN_CLI, RunProcess, loggedRuns, recordScript, until } from './run-helpers.js';
import { ensureLib } from './helpers/child.js';

const hasRsync = spawnSync('rsync', ['--version']).status === 0;
const hasScript = spawnSync('script', ['--version']).status === 0;

/** A tree of `n` files in `dir`/src (and subdirectories), returned as the src path. */
function makeTree(dir: string): string {
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'sub', 'deep'), { recursive: true });
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, i % 2 === 0 ? 'sub' : '.', `f${i}.txt`), `file ${i}\n`);
  fs.writeFileSync(path.join(src, 'sub', 'deep', 'keep.txt'), 'keep\n');
  return src;
}

function diffTrees(a: string, b: string): { status: number | null; output: string } {
  const r = spawnSync('diff', ['-r', a, b], { encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

describe('inotify-run: keeping a copy in sync', () => {
  test.skipIf(!hasRsync)('rsync -a --delete: after a burst of edits, renames and deletes the target equals the source, in one or two runs', async () => {
    const dir = tempDir('inotify-run-');
    const src = makeTree(dir);
    const dst = path.join(dir, 'dst');
    fs.mkdirSync(dst);
    const record = recordScript(dir);
    // --debounce 1s: the burst below is written in one synchronous stretch, far shorter than that.
    const runner = new RunProcess(['--initial', '--debounce', '1s', src, '--', record, 'rsync', '-a', '--delete', `${src}/`, `${dst}/`]);
    await until(() => loggedRuns(dir).some((r) => r.ended), 'the initial run');
    expect(diffTrees(src, dst).status).toBe(0);

    // The burst: edits, a rename of a file and of a directory, deletes, a new directory tree.
    for (let i = 0; i < 20; i += 3) fs.appendFileSync(path.join(src, i % 2 === 0 ? 'sub' : '.', `f${i}.txt`), 'edited\n');
    fs.renameSync(path.join(src, 'f1.txt'), path.join(src, 'renamed.txt'));
    fs.renameSync(path.join(src, 'sub', 'deep'), path.join(src, 'moved-deep'));
    fs.rmSync(path.join(src, 'f5.txt'));
    fs.rmSync(path.join(src, 'sub', 'f4.txt'));
    fs.mkdirSync(path.join(src, 'new', 'a', 'b'), { recursive: true });
    fs.writeFileSync(path.join(src, 'new', 'a', 'b', 'leaf.txt'), 'leaf\n');
    fs.writeFileSync(path.join(src, 'last.txt'), 'last\n');

    const last = path.join(src, 'last.txt');
    await until(() => loggedRuns(dir).some((r) => r.ended && r.paths.includes(last)), 'a finished run that saw last.txt');
    const runs = loggedRuns(dir);
    expect(diffTrees(src, dst)).toEqual({ status: 0, output: '' });
    const burstRuns = runs.slice(1);
    expect(burstRuns.length).toBeGreaterThanOrEqual(1);
    expect(burstRuns.length).toBeLessThanOrEqual(2);
    // The changed paths were handed over: the renamed file, its old name, the deleted ones.
    const seen = new Set(burstRuns.flatMap((r) => r.paths));
    for (const name of ['renamed.txt', 'f1.txt', 'f5.txt', 'moved-deep', 'new', 'last.txt']) expect(seen, name).toContain(path.join(src, name));
    expect(await runner.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });

  test('a slow command and a writer making 500 changes: one run at a time, runs far fewer than changes, the last change followed by a finished run', async () => {
    const dir = tempDir('inotify-run-');
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const record = recordScript(dir);
    const runner = new RunProcess([src, '--', record], { env: { RECORD_SLEEP: '0.05' } });
    await runner.waitFor(/watching /);
    for (let i = 0; i < 500; i++) {
      fs.writeFileSync(path.join(src, `n${i % 50}`), `${i}\n`);
      // Halfway, wait for a run to start, so that the rest is written while runs go on.
      if (i === 249) await until(() => loggedRuns(dir).length > 0, 'the first run');
      else if (i % 25 === 24) await new Promise((resolve) => setImmediate(resolve));
    }
    const last = path.join(src, 'last');
    fs.writeFileSync(last, 'end\n');
    await until(() => loggedRuns(dir).some((r) => r.ended && r.paths.includes(last)), 'a finished run after the last change');
    const runs = loggedRuns(dir); // throws on an OVERLAP line
    expect(runs.every((r, i) => r.run === i + 1)).toBe(true);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThan(100);
    // Every one of the 50 names, and the last, reached some run.
    expect(new Set(runs.flatMap((r) => r.paths)).size).toBe(51);
    expect(runs.at(-1)?.paths).toContain(last);
    expect(await runner.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  test('changes made during a run make exactly one more run, with all their paths; the next change makes the next run', async () => {
    const dir = tempDir('inotify-run-');
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const record = recordScript(dir);
    const gate = path.join(dir, 'gate');
    const runner = new RunProcess([src, '--', record], { env: { RECORD_GATE: gate } });
    await runner.waitFor(/watching /);
    fs.writeFileSync(path.join(src, 'a'), 'a');
    await until(() => loggedRuns(dir).length === 1, 'run 1 to start');
    for (const name of ['b', 'c', 'd']) fs.writeFileSync(path.join(src, name), name);
    fs.rmSync(path.join(src, 'a'));
    fs.writeFileSync(gate, ''); // run 1 may end now
    await until(() => loggedRuns(dir).length === 2, 'run 2 to start');
    fs.writeFileSync(gate, '');
    await until(() => loggedRuns(dir)[1]?.ended === true, 'run 2 to end');
    fs.writeFileSync(path.join(src, 'z'), 'z');
    await until(() => loggedRuns(dir).length === 3, 'run 3 to start');
    fs.writeFileSync(gate, '');
    await until(() => loggedRuns(dir)[2]?.ended === true, 'run 3 to end');
    const runs = loggedRuns(dir);
    expect(runs.map((r) => r.paths)).toEqual([
      [path.join(src, 'a')],
      [path.join(src, 'b'), path.join(src, 'c'), path.join(src, 'd'), path.join(src, 'a')],
      [path.join(src, 'z')],
    ]);
    expect(await runner.stop()).toEqual({ code: 0, signal: null });
  });

  test('--restart: a change during a long run stops it (SIGTERM to its process group) and runs again with both runs\' paths', async () => {
    const dir = tempDir('inotify-run-');
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const log = path.join(dir, 'log');
    const script = path.join(dir, 'serve.sh');
    // A "server": logs its start and, on SIGTERM, its stop; its child sleep is in the same group.
    fs.writeFileSync(script, `#!/bin/sh\necho "start $INOTIFY_RUN_NUMBER $(tr '\\n' ' ' < "$INOTIFY_RUN_PATHS_FILE")" >> ${JSON.stringify(log)}\ntrap 'echo "term $INOTIFY_RUN_NUMBER" >> ${JSON.stringify(log)}; exit 0' TERM\nsleep 600 & wait\n`, { mode: 0o755 });
    const lines = (): string[] => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : []);
    const runner = new RunProcess(['--restart', '--initial', src, '--', script]);
    await until(() => lines().length === 1, 'the initial run');
    fs.writeFileSync(path.join(src, 'x'), 'x');
    await until(() => lines().length === 3, 'the restart');
    expect(lines()).toEqual(['start 1 ', 'term 1', `start 2 ${path.join(src, 'x')} `]);
    // Ctrl-C stops the running command first (its trap runs), then inotify-run exits 0.
    expect(await runner.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(lines().at(-1)).toBe('term 2');
  });

  test('--shell: the script gets the paths in the environment; names with spaces, quotes and $(...) are never run', async () => {
    const dir = tempDir('inotify-run-');
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const out = path.join(dir, 'out');
    const runner = new RunProcess(['--shell', src, '--', `cat "$INOTIFY_RUN_PATHS_FILE" >> '${out}'; echo "n=$INOTIFY_RUN_COUNT" >> '${out}'`], { cwd: dir });
    await runner.waitFor(/watching /);
    const evil = "a b '$(touch pwned)'; `touch pwned2`";
    fs.writeFileSync(path.join(src, evil), '');
    await until(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('n=1'), 'the run');
    expect(fs.readFileSync(out, 'utf8')).toBe(`${path.join(src, evil)}\nn=1\n`);
    expect(fs.existsSync(path.join(dir, 'pwned')) || fs.existsSync(path.join(dir, 'pwned2'))).toBe(false);
    await runner.stop();
  });

  test('--exclude and the default ignores: changes there start no run; the paths file is outside the tree', async () => {
    const dir = tempDir('inotify-run-');
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'build'), { recursive: true });
    fs.mkdirSync(path.join(src, '.git'));
    const record = recordScript(dir);
    // The command writes into the watched tree's build/: excluded, so its own output triggers nothing.
    const runner = new RunProcess(['-e', 'build', '-e', '*.tmp', src, '--', record, 'sh', '-c', `date > '${src}/build/out'`]);
    await runner.waitFor(/watching /);
    fs.writeFileSync(path.join(src, 'build', 'x'), '');
    fs.writeFileSync(path.join(src, 'y.tmp'), '');
    fs.writeFileSync(path.join(src, '.git', 'index'), '');
    fs.writeFileSync(path.join(src, '.main.c.swp'), '');
    fs.writeFileSync(path.join(src, 'main.c'), '');
    await until(() => loggedRuns(dir)[0]?.ended === true, 'run 1');
    fs.writeFileSync(path.join(src, 'second.c'), '');
    await until(() => loggedRuns(dir)[1]?.ended === true, 'run 2');
    expect(loggedRuns(dir).map((r) => r.paths)).toEqual([[path.join(src, 'main.c')], [path.join(src, 'second.c')]]);
    await runner.stop();
  });
});

describe('inotify-run: --on-fail re-authentication', () => {
  test.skipIf(!hasScript || !hasRsync)('a sync that fails twice with "credentials expired": the auth command runs twice, in order, on the terminal, then the sync succeeds', async () => {
    ensureLib();
    const dir = tempDir('inotify-run-');
    const src = makeTree(dir);
    const dst = path.join(dir, 'dst');
    fs.mkdirSync(dst);
    const log = path.join(dir, 'log');
    const tokens = path.join(dir, 'tokens');
    const sync = path.join(dir, 'sync.sh');
    const auth = path.join(dir, 'auth.sh');
    // The "sync": refuses (exit 255, ssh's "Permission denied") until two tokens exist, then rsyncs.
    fs.writeFileSync(sync, `#!/bin/sh
n=$(cat ${tokens} 2>/dev/null | wc -l)
echo "sync attempt=$INOTIFY_RUN_ATTEMPT tokens=$n" >> ${log}
if [ "$n" -lt 2 ]; then echo "user@host: Permission denied (publickey)." >&2; exit 255; fi
exec rsync -a --delete ${src}/ ${dst}/
`, { mode: 0o755 });
    // The "kinit": must have a terminal on stdin, reads a password from it, adds a token.
    fs.writeFileSync(auth, `#!/bin/sh
if [ -t 0 ]; then t=yes; else t=no; fi
printf 'Password: '
read -r pw
echo "auth tty=$t pw=$pw" >> ${log}
echo token >> ${tokens}
`, { mode: 0o755 });
    const command = [process.execPath, RUN_CLI, '--initial', '--on-fail', auth, '--on-fail-exit', '255', '--on-fail-match', 'Permission denied',
      '--max-retries', '3', src, '--', sync].map((a) => `'${a}'`).join(' ');
    // script(1) gives inotify-run a pseudo-terminal; what we write to script's stdin is typed on it.
    const pty = spawn('script', ['-qec', `exec ${command}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    pty.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    const exited = new Promise<number | null>((resolve) => pty.once('close', (code) => resolve(code)));
    try {
      const lines = (): string[] => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : []);
      const prompts = (): number => output.split('Password: ').length - 1;
      await until(() => prompts() === 1, 'the first password prompt');
      pty.stdin.write('first-secret\n');
      await until(() => prompts() === 2, 'the second password prompt');
      pty.stdin.write('second-secret\n');
      await until(() => /run 1 \(retry 2\) done/.test(output), 'the third attempt to succeed');
      expect(lines()).toEqual([
        'sync attempt=1 tokens=0',
        'auth tty=yes pw=first-secret',
        'sync attempt=2 tokens=1',
        'auth tty=yes pw=second-secret',
        'sync attempt=3 tokens=2',
      ]);
      expect(diffTrees(src, dst).status).toBe(0);
      expect(output).toMatch(/Permission denied \(publickey\)/);
      expect(output).toMatch(/running the --on-fail command \(1 of 3\)/);
      expect(output).toMatch(/running the --on-fail command \(2 of 3\)/);
      pty.stdin.write('\x03'); // Ctrl-C on the terminal
      expect(await exited).toBe(0);
    } finally {
      pty.kill('SIGKILL');
    }
  });

  test('the retries are bounded, and a failure that is not classified runs no auth command', async () => {
    const dir = tempDir('inotify-run-');
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const log = path.join(dir, 'log');
    const fails = path.join(dir, 'fails.sh');
    fs.writeFileSync(fails, `#!/bin/sh\necho "run $INOTIFY_RUN_NUMBER attempt $INOTIFY_RUN_ATTEMPT" >> ${log}\nexit "$(cat ${path.join(dir, 'status')})"\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'status'), '255');
    const auth = `sh -c 'echo auth >> ${log}'`;
    const runner = new RunProcess(['--initial', '--on-fail', auth, '--on-fail-exit', '255', '--max-retries', '2', '--json', src, '--', fails]);
    await runner.waitFor(/"event":"failed"/);
    const lines = (): string[] => fs.readFileSync(log, 'utf8').split('\n').filter((l) => l !== '');
    expect(lines()).toEqual(['run 1 attempt 1', 'auth', 'run 1 attempt 2', 'auth', 'run 1 attempt 3']);
    // Exit status 3 is not "credentials expired": no auth, the run just fails.
    fs.writeFileSync(path.join(dir, 'status'), '3');
    fs.writeFileSync(path.join(src, 'x'), '');
    await runner.waitFor(/"event":"failed"/, 2);
    expect(lines().slice(5)).toEqual(['run 2 attempt 1']);
    const failed = runner.stderr.split('\n').filter((l) => l.includes('"event":"failed"')).map((l) => JSON.parse(l) as { run: number; code: number });
    expect(failed.map((f) => [f.run, f.code])).toEqual([[1, 255], [2, 3]]);
    await runner.stop();
  });

  test('--exit-on-fail exits with the failed run\'s status; a missing program is 127', async () => {
    const dir = tempDir('inotify-run-');
    const failing = new RunProcess(['--initial', '--exit-on-fail', dir, '--', 'sh', '-c', 'exit 7']);
    expect(await failing.exited).toEqual({ code: 7, signal: null });
    expect(failing.stderr).toMatch(/run 1 failed: exit status 7/);
    const missing = new RunProcess(['--initial', '--exit-on-fail', dir, '--', path.join(dir, 'no-such-program')]);
    expect(await missing.exited).toEqual({ code: 127, signal: null });
    expect(missing.stderr).toMatch(/cannot run the command: spawn .*no-such-program ENOENT/);
  });
});

describe('inotify-run: bad input', () => {
  test('each mistake is one line on stderr and exit status 2 (usage) or 1 (cannot watch); nothing runs', () => {
    ensureLib();
    const dir = tempDir('inotify-run-');
    const cases: Array<[args: string[], status: number, message: RegExp]> = [
      [[dir], 2, /^inotify-run: no command: put it after '--', e\.g\. inotify-run .* -- make$/],
      [[dir, '--'], 2, /^inotify-run: no command after '--'$/],
      [['--', 'true'], 2, /^inotify-run: no path to watch/],
      [['--bogus', dir, '--', 'true'], 2, /^inotify-run: Unknown option '--bogus'$/],
      [['--debounce', 'soon', dir, '--', 'true'], 2, /^inotify-run: --debounce needs a duration such as 200ms, 2s or 1m, not 'soon'$/],
      [['--on-busy-update', 'later', dir, '--', 'true'], 2, /^inotify-run: --on-busy-update needs one of queue, restart, signal, do-nothing, not 'later'$/],
      [['--signal', 'SIGNOPE', dir, '--', 'true'], 2, /^inotify-run: --signal needs a signal name/],
      [['-r', '-s', 'HUP', dir, '--', 'true'], 2, /^inotify-run: choose one of --on-busy-update, --restart and --signal$/],
      [['--on-fail-exit', '255', dir, '--', 'true'], 2, /^inotify-run: --on-fail-exit and --on-fail-match choose which failures run --on-fail: give --on-fail too$/],
      [['--on-fail', 'kinit', '--on-fail-exit', '300', dir, '--', 'true'], 2, /^inotify-run: --on-fail-exit needs exit statuses 0-255/],
      [['--on-fail', "kinit 'me", dir, '--', 'true'], 2, /^inotify-run: --on-fail: the command has an unterminated ' quote/],
      [['--on-fail', 'kinit', '--on-fail-match', '(', dir, '--', 'true'], 2, /^inotify-run: invalid regular expression for --on-fail-match/],
      [['-e', '*.{tmp', dir, '--', 'true'], 2, /^inotify-run: invalid pattern for --exclude: .*'\{' without '\}'/],
      [['--shell', dir, '--', 'echo', 'two'], 2, /^inotify-run: --shell takes the script as one argument/],
      [['--ignore-file', path.join(dir, 'nope'), dir, '--', 'true'], 2, /^inotify-run: --ignore-file .*nope: ENOENT/],
      [[path.join(dir, 'missing'), '--', 'true'], 1, /^inotify-run: cannot watch .*missing: ENOENT: no such file or directory/],
    ];
    for (const [args, status, message] of cases) {
      const r = spawnSync(process.execPath, [RUN_CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
      expect({ args, status: r.status, stdout: r.stdout }).toEqual({ args, status, stdout: '' });
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr.trimEnd()).toMatch(message);
    }
    const help = spawnSync(process.execPath, [RUN_CLI, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: inotify-run \[options\] <path\.\.\.> -- <command> \[args\.\.\.\]/);
  });
});
