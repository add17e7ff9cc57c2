/**
 * inotify-run when things fail: --on-fail re-authenticates on a
 * pseudo-terminal (script(1)) and retries, bounded; --exit-on-fail; and bad
 * input gets one clear line and an exit status. Real processes, temp dirs;
 * every wait is for a logged condition, with a bound.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from './daemon-helpers.js';
import { RUN_CLI, RunProcess, diffTrees, logLines, makeTree, sourceDir, until } from './run-helpers.js';
import { ensureLib } from './helpers/child.js';

const hasRsync = spawnSync('rsync', ['--version']).status === 0;
const hasScript = spawnSync('script', ['--version']).status === 0;

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
      const lines = (): string[] => logLines(log);
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
    const { dir, src } = sourceDir();
    const log = path.join(dir, 'log');
    const fails = path.join(dir, 'fails.sh');
    fs.writeFileSync(fails, `#!/bin/sh\necho "run $INOTIFY_RUN_NUMBER attempt $INOTIFY_RUN_ATTEMPT" >> ${log}\nexit "$(cat ${path.join(dir, 'status')})"\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'status'), '255');
    const auth = `sh -c 'echo auth >> ${log}'`;
    const runner = new RunProcess(['--initial', '--on-fail', auth, '--on-fail-exit', '255', '--max-retries', '2', '--json', src, '--', fails]);
    await runner.waitFor(/"event":"failed"/);
    const lines = (): string[] => logLines(log);
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
