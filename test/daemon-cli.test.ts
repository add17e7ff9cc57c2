/**
 * The inotifyd command line: --configtest on broken configs (distinct,
 * clear messages naming file and key, exit 1), --install/--uninstall in a
 * temp root (and systemd-analyze verify where it exists), --list, --version,
 * usage errors.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './daemon-helpers.js';

const IMPORT = "import { defineConfig, TaskScheduler, ShellScheduler, FileManagerScheduler, FileManagerRule, Cancel } from 'inotify-native';\n";

describe('inotifyd: command line', () => {
  it('--configtest: 12 broken configs give 12 distinct messages naming the file and the key, exit status 1; a good one passes', () => {
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(w);
    const W = JSON.stringify(w);
    const job = 'const job = new TaskScheduler({ job: () => {} });\n';
    const broken: Array<[name: string, source: string | undefined, message: RegExp]> = [
      ['missing', undefined, /config file: expected a readable ES module \(config\.mjs\), given .*ENOENT/],
      ['syntax', `${IMPORT}export default defineConfig({ watches: [ })\n`, /module: expected a module that loads, given SyntaxError: .* \(at line 2\)$/m],
      ['no-default', `${IMPORT}export const config = {};`, /default export: expected export default defineConfig/],
      ['not-object', `${IMPORT}export default 42;`, /default export: expected an object made by defineConfig.*given number 42/],
      ['no-watches', `${IMPORT}export default defineConfig({ watches: [] });`, /watches: expected a non-empty array of \{ path, eventMap \}, given an array/],
      ['missing-path', `${IMPORT}${job}export default defineConfig({ watches: [{ path: ${JSON.stringify(path.join(dir, 'nope'))}, eventMap: { IN_CREATE: job } }] });`,
        /watches\[0\]\.path: expected an existing directory or file, given .*nope \(ENOENT/],
      ['unknown-event', `${IMPORT}${job}export default defineConfig({ watches: [{ path: ${W}, eventMap: { IN_WRITE_CLOSE: job } }] });`,
        /watches\[0\]\.eventMap\.IN_WRITE_CLOSE: expected an event name, one of IN_ACCESS, .*IN_CLOSE_WRITE, .*TRANSFER_COMPLETE, given the unknown event name "IN_WRITE_CLOSE"/],
      ['string-value', `${IMPORT}export default defineConfig({ watches: [{ path: ${W}, eventMap: { IN_CREATE: 'echo hi' } }] });`,
        /watches\[0\]\.eventMap\.IN_CREATE: expected a scheduler .*given string 'echo hi'/],
      ['bad-regex', `${IMPORT}new FileManagerRule({ action: 'move', srcRe: '(unclosed', dstRe: '/x' });\nexport default defineConfig({ watches: [] });`,
        /module: expected a module that loads, given TypeError \[ERR_INVALID_ARG_VALUE\]: The "srcRe" option does not compile: .*Unterminated group/],
      ['bad-timeout', `${IMPORT}${job}export default defineConfig({ watches: [{ path: ${W}, eventMap: { IN_CREATE: job } }], shutdownTimeout: 'soon' });`,
        /shutdownTimeout: expected a number of ms or a duration string such as '30s', given string 'soon'/],
      ['typo-key', `${IMPORT}${job}export default defineConfig({ watch: [{ path: ${W}, eventMap: { IN_CREATE: job } }] });`,
        /watch: expected one of the keys watches, shutdownTimeout, logging, given a key named "watch"/],
      ['bad-quote', `${IMPORT}const s = new ShellScheduler({ cmd: "echo 'unterminated {pathname}" });\nexport default defineConfig({ watches: [] });`,
        /module: expected a module that loads, given TypeError \[ERR_INVALID_ARG_VALUE\]: The "cmd" option has an unterminated ' quote/],
      ['bad-level', `${IMPORT}${job}export default defineConfig({ watches: [{ path: ${W}, eventMap: { IN_CREATE: job } }], logging: { level: 'LOUD' } });`,
        /logging\.level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, given string 'LOUD'/],
    ];
    const messages = new Set<string>();
    for (const [name, source, message] of broken) {
      const file = path.join(dir, `${name}.mjs`);
      if (source !== undefined) fs.writeFileSync(file, source);
      const r = runCli(['--configtest', '-c', file], dir);
      expect({ name, status: r.status, stdout: r.stdout }).toEqual({ name, status: 1, stdout: '' });
      expect(r.stderr).toMatch(message);
      expect(r.stderr.startsWith(`inotifyd: ${file}: `)).toBe(true);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      messages.add(r.stderr);
    }
    expect(messages.size).toBe(broken.length);
    const good = path.join(dir, 'good.mjs');
    fs.writeFileSync(good, `${IMPORT}const s = new ShellScheduler({ cmd: 'echo {pathname}', delay: '1s' });
export default defineConfig({ watches: [{ path: ${W}, eventMap: { IN_CLOSE_WRITE: s, IN_DELETE: Cancel(s), IN_MODIFY: null, IN_CREATE: async () => {} } }] });`);
    const r = runCli(['-t', '-c', good], dir);
    expect(r).toEqual({ status: 0, stdout: `${good}: config OK (1 watch, 2 schedulers)\n`, stderr: '' });
  }, 120_000);

  it('--install writes the unit and a default config under --root; --uninstall removes them, but keeps a config the user changed', () => {
    const root = tempDir();
    let r = runCli(['--install', '--root', root], root);
    expect(r.status).toBe(0);
    const unit = path.join(root, 'etc/systemd/system/inotifyd.service');
    const config = path.join(root, 'etc/inotifyd/config.mjs');
    const list = (): string[] => (fs.readdirSync(root, { recursive: true }) as string[]).filter((p) => fs.statSync(path.join(root, p)).isFile()).sort();
    expect(list()).toEqual(['etc/inotifyd/config.mjs', 'etc/systemd/system/inotifyd.service']);
    const text = fs.readFileSync(unit, 'utf8');
    expect(text).toMatch(/^ExecStart=\S+node\S* \S+inotifyd\.js --config \/etc\/inotifyd\/config\.mjs$/m);
    for (const line of ['ProtectSystem=strict', 'NoNewPrivileges=yes', 'ExecReload=/bin/kill -HUP $MAINPID', 'KillMode=mixed']) expect(text).toContain(line);
    if (spawnSync('systemd-analyze', ['--version']).status === 0) {
      const verify = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8' });
      expect({ status: verify.status, stderr: verify.stderr }).toEqual({ status: 0, stderr: '' });
    }
    // The default config is valid as written (with its spool directory made to exist).
    const spool = tempDir();
    const checked = path.join(spool, 'config.mjs');
    fs.writeFileSync(checked, fs.readFileSync(config, 'utf8').replace("'/var/spool/inotifyd/incoming'", JSON.stringify(spool)));
    expect(runCli(['-t', '-c', checked], spool)).toMatchObject({ status: 0, stderr: '' });
    r = runCli(['--uninstall', '--root', root], root);
    expect(r.status).toBe(0);
    expect(list()).toEqual([]);

    runCli(['--install', '--root', root], root);
    fs.appendFileSync(config, '// changed by the user\n');
    r = runCli(['--uninstall', '--root', root], root);
    expect(r.stdout).toContain(`kept ${config} (changed since it was installed)`);
    expect(list()).toEqual(['etc/inotifyd/config.mjs']);
    // A second install keeps the user's config.
    r = runCli(['--install', '--root', root], root);
    expect(r.stdout).toContain(`kept ${config} (it exists)`);
    expect(fs.readFileSync(config, 'utf8')).toContain('// changed by the user');
  }, 60_000);

  it('--list, --version, and usage errors (exit 2)', () => {
    const dir = tempDir();
    const list = runCli(['-l'], dir);
    expect(list.status).toBe(0);
    expect(list.stdout.split('\n')).toEqual(expect.arrayContaining(['IN_CLOSE_WRITE', 'IN_MOVED_TO', 'TRANSFER_COMPLETE']));
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(runCli(['--version'], dir).stdout).toBe(`inotifyd ${pkg.version}\n`);
    const bad = runCli(['--bogus'], dir);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^inotifyd: Unknown option '--bogus'/);
    expect(runCli(['-l', '-v'], dir).status).toBe(2);
  });
});

describe('inotifyd: logging to the journal', () => {
  it('<N> priority prefixes when JOURNAL_STREAM names its stderr; time stamps when it names another stream', async () => {
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('./daemon-helpers.js');
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(w);
    const config = path.join(dir, 'config.mjs');
    fs.writeFileSync(config, `${IMPORT}export default defineConfig({ watches: [{ path: ${JSON.stringify(w)}, eventMap: { IN_CREATE: null } }] });\n`);
    const runWith = async (journal: (st: fs.Stats) => string): Promise<string> => {
      const log = path.join(dir, `stderr-${Math.random()}`);
      const fd = fs.openSync(log, 'w');
      const st = fs.fstatSync(fd);
      const child = spawn(process.execPath, [CLI, '-d', '-c', config], { stdio: ['ignore', 'ignore', fd], env: { ...process.env, JOURNAL_STREAM: journal(st) } });
      fs.closeSync(fd);
      const deadline = Date.now() + 30_000;
      while (!fs.readFileSync(log, 'utf8').includes('inotifyd started') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 25));
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('close', resolve));
      return fs.readFileSync(log, 'utf8');
    };
    const journal = await runWith((st) => `${st.dev}:${st.ino}`);
    expect(journal).toMatch(/^<7>watch DEBUG: watching /m);
    expect(journal).toMatch(/^<6>daemon INFO: inotifyd started/m);
    expect(journal.split('\n').filter((l) => l !== '').every((l) => /^<[0-7]>/.test(l))).toBe(true);
    const plain = await runWith((st) => `${st.dev}:${st.ino + 1}`);
    expect(plain).toMatch(/^\[\d{4}-\d\d-\d\d [\d:,]+ daemon INFO\] inotifyd started/m);
    expect(plain).not.toMatch(/^<\d>/m);
  }, 60_000);
});

describe('inotifyd: logging to syslog', () => {
  const hasPython = spawnSync('python3', ['-c', 'import socket']).status === 0 && spawnSync('logger', ['--help']).status === 0;
  it.skipIf(!hasPython)('logging.syslog sends each line with its facility and priority to a unix datagram socket', async () => {
    const { spawn } = await import('node:child_process');
    const { startDaemon, until } = await import('./daemon-helpers.js');
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(w);
    const socket = path.join(dir, 'log.sock');
    const receiver = path.join(dir, 'receiver.py');
    // A stand-in for /dev/log: Node cannot bind a unix datagram socket, Python can.
    fs.writeFileSync(receiver, [
      'import socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(sys.argv[1])',
      "print('ready', flush=True)",
      'while True:',
      "    sys.stdout.write(s.recv(65536).decode('utf8', 'replace') + '\\n')",
      '    sys.stdout.flush()',
      '',
    ].join('\n'));
    const py = spawn('python3', [receiver, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    let received = '';
    py.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      received += chunk;
    });
    try {
      await until(() => received.includes('ready'), 'the receiver');
      const daemon = await startDaemon(dir, `${IMPORT}export default defineConfig({ watches: [{ path: ${JSON.stringify(w)}, eventMap: { IN_CREATE: function created() {} } }],
  logging: { level: 'INFO', syslog: { socket: ${JSON.stringify(socket)}, tag: 'inotifyd-test' } } });\n`);
      fs.writeFileSync(path.join(w, 'f'), '');
      await daemon.waitFor(/created INFO\] .*done in/);
      // daemon facility (3) * 8 + info (6) = 30; the line as on stderr, without the time stamp.
      await until(() => /<30>.*inotifyd-test.*daemon INFO: inotifyd started/.test(received) && /<30>.*created INFO: .*start task/.test(received), 'the lines at the socket');
      expect(await daemon.stop()).toEqual({ code: 0, signal: null });
      // startDaemon runs with -d: DEBUG lines are priority 7 (3 * 8 + 7 = 31).
      expect(received).toMatch(/<31>.*watch DEBUG: watching /);
    } finally {
      py.kill();
    }
  }, 60_000);
});
