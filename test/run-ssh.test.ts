/**
 * The user story end to end: inotify-run keeps a directory in sync over ssh
 * with rsync, against a real sshd this test starts on 127.0.0.1 (a free
 * port; stopped when the test ends). The "credentials" are the client key's
 * entry in authorized_keys: missing at first, so ssh (BatchMode) fails with
 * exit status 255 and "Permission denied"; the --on-fail command installs it
 * (as kinit would renew a ticket) and the sync is retried. Needs root (sshd
 * logs in as root with a key), sshd, ssh and rsync; skipped otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import { tempDir } from './daemon-helpers.js';
import { RunProcess, diffTrees, makeTree, until } from './run-helpers.js';

const SSHD = '/usr/sbin/sshd';
const usable = process.getuid?.() === 0 && fs.existsSync(SSHD)
  && spawnSync('ssh', ['-V']).status === 0 && spawnSync('rsync', ['--version']).status === 0;

/** A port nothing listens on right now (the kernel picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** True once something accepts TCP connections on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test.skipIf(!usable)('rsync over ssh to a loopback sshd: an expired key makes ssh fail (255), --on-fail restores it once, and every later edit arrives', async () => {
  const dir = tempDir('inotify-run-ssh-');
  const src = makeTree(dir);
  const dst = path.join(dir, 'dst');
  fs.mkdirSync(dst);
  const keys = path.join(dir, 'keys');
  fs.mkdirSync(keys, { mode: 0o700 });
  for (const name of ['host', 'user']) {
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keys, name)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  }
  const authorized = path.join(keys, 'authorized_keys');
  fs.writeFileSync(authorized, ''); // no valid credentials yet
  const port = await freePort();
  const config = path.join(keys, 'sshd_config');
  fs.writeFileSync(config, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${path.join(keys, 'host')}`, `PidFile ${path.join(keys, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorized}`, 'StrictModes no', 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password', 'AllowUsers root', 'X11Forwarding no', 'AllowTcpForwarding no', 'LogLevel ERROR', '',
  ].join('\n'));
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // its privilege separation directory (a compiled-in path)
  const sshd = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let sshdLog = '';
  sshd.stderr.setEncoding('utf8').on('data', (chunk: string) => { sshdLog += chunk; });
  onTestFinished(() => {
    sshd.kill('SIGTERM');
  });
  const deadline = Date.now() + 30_000;
  while (!(await accepts(port))) {
    if (sshd.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start (exit ${String(sshd.exitCode)}):\n${sshdLog}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const log = path.join(dir, 'auth.log');
  const auth = path.join(dir, 'renew.sh');
  fs.writeFileSync(auth, `#!/bin/sh\necho renewed >> ${log}\ncat ${path.join(keys, 'user.pub')} > ${authorized}\n`, { mode: 0o755 });
  const ssh = `ssh -F /dev/null -p ${port} -i ${path.join(keys, 'user')} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`;
  const runner = new RunProcess([
    '--initial', '--on-fail', auth, '--on-fail-exit', '255', '--on-fail-match', 'Permission denied', '--max-retries', '2',
    src, '--', 'rsync', '-a', '--delete', '-e', ssh, `${src}/`, `root@127.0.0.1:${dst}/`,
  ]);
  await runner.waitFor(/run 1 \(retry 1\) done/);
  expect(runner.stderr).toMatch(/Permission denied \(publickey\)/);
  // rsync passes on ssh's 255, or reports 12 (protocol data stream) when it
  // reads the closed pipe before it reaps ssh: seen under load. The stderr
  // match calls --on-fail either way.
  expect(runner.stderr).toMatch(/run 1 failed: exit status (255|12)\b/);
  expect(diffTrees(src, dst)).toEqual({ status: 0, output: '' });

  // Later edits travel with the renewed key: no more auth.
  fs.appendFileSync(path.join(src, 'f3.txt'), 'edited\n');
  fs.renameSync(path.join(src, 'sub', 'f0.txt'), path.join(src, 'moved.txt'));
  fs.rmSync(path.join(src, 'sub', 'deep'), { recursive: true });
  await until(() => diffTrees(src, dst).status === 0 && /run [2-9] done/.test(runner.stderr), 'the edits to arrive over ssh');
  expect(fs.readFileSync(log, 'utf8')).toBe('renewed\n');
  expect(await runner.stop()).toEqual({ code: 0, signal: null });
});
