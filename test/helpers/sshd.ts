/**
 * A loopback OpenSSH server for tests (docs: /work/shared/reference recipe):
 * started by the test on 127.0.0.1 on a free port, with its own host key,
 * throw-away users (sftp-only users chrooted with internal-sftp), and
 * removed with everything it created when the test ends, failed or not.
 * Needs root (useradd, chroot) and Debian's openssh-server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { onTestFinished } from 'vitest';

const SSHD = '/usr/sbin/sshd';

/** Why loopback sshd tests cannot run here, or undefined when they can. */
export function sshdUnavailable(tools: readonly string[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (useradd, chroot)';
  if (!fs.existsSync(SSHD)) return 'needs openssh-server (/usr/sbin/sshd)';
  for (const tool of ['sftp', 'ssh-keygen', 'useradd', ...tools]) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool]).status !== 0) return `needs ${tool}`;
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** True once something accepts a TCP connection on 127.0.0.1:port. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

function run(cmd: string, args: readonly string[]): string {
  const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${result.error?.message ?? `status ${String(result.status)}`}\n${result.stderr}`);
  return result.stdout;
}

/** A test user: `sftp` users are chrooted to `<root>/chroot/<name>` and land in `upload/` (theirs); `shell` users get /bin/sh. */
export interface SshUser {
  readonly name: string;
  readonly uid: number;
  /** sftp users: their writable directory, as seen from outside the chroot. */
  readonly uploadDir: string;
}

/** A running loopback sshd. */
export interface LoopbackSshd {
  readonly port: number;
  /** The chroot base: `<chroots>/<user>/upload` is each sftp user's directory. */
  readonly chroots: string;
  readonly users: readonly SshUser[];
  /** `-o` options and `-i key` for ssh, sftp and sshfs. */
  readonly sshOptions: readonly string[];
  readonly keyFile: string;
  /**
   * Runs `sftp -b batch` as `user` (extra: e.g. ['-l', '800']); resolves with its status and output.
   * Aborting `signal` kills sftp and its ssh (an upload interrupted mid-file).
   */
  sftp(user: string, batch: string, extra?: readonly string[], signal?: AbortSignal): Promise<{ status: number | null; output: string }>;
  /** The sshd log so far. */
  log(): string;
}

/** Starts sshd with `sftpUsers` (chrooted, internal-sftp only) and `shellUsers`; everything is undone when the test ends. */
export async function startLoopbackSshd(options: { sftpUsers: number; shellUsers?: number }): Promise<LoopbackSshd> {
  const id = randomBytes(3).toString('hex');
  // Chroot components must be root-owned and not group/other-writable: /run, never /tmp.
  const root = `/run/inotify-test-sshd-${id}`;
  const scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sshd-')));
  const created: string[] = [];
  // Set once sshd runs; the cleanup below, registered first, stops it.
  const server: { child?: ChildProcess } = {};
  let log = '';
  onTestFinished(async () => {
    const child = server.child;
    if (child !== undefined && child.exitCode === null) {
      const closed = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      await closed;
    }
    for (const user of created) spawnSync('userdel', [user]);
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  });
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  for (const dir of [root, `${root}/keys`, `${root}/chroot`]) fs.mkdirSync(dir, { mode: 0o755 });
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${scratch}/hostkey`]);
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${scratch}/userkey`]);
  const users: SshUser[] = [];
  const names = (n: number, kind: string): string[] => Array.from({ length: n }, (_v, i) => `it${id}${kind}${i}`);
  const sftpNames = names(options.sftpUsers, 's');
  const shellNames = names(options.shellUsers ?? 0, 'h');
  for (const name of [...sftpNames, ...shellNames]) {
    const sftpOnly = sftpNames.includes(name);
    // -p '*': no password, but not locked (a locked account cannot log in even with a key under UsePAM no).
    run('useradd', ['-M', '-d', sftpOnly ? '/upload' : scratch, '-s', sftpOnly ? '/usr/sbin/nologin' : '/bin/sh', '-p', '*', name]);
    created.push(name);
    const uid = Number(run('id', ['-u', name]).trim());
    fs.copyFileSync(`${scratch}/userkey.pub`, `${root}/keys/${name}`);
    fs.chmodSync(`${root}/keys/${name}`, 0o644);
    let uploadDir = '';
    if (sftpOnly) {
      fs.mkdirSync(`${root}/chroot/${name}`, { mode: 0o755 });
      uploadDir = `${root}/chroot/${name}/upload`;
      fs.mkdirSync(uploadDir, { mode: 0o755 });
      fs.chownSync(uploadDir, uid, uid);
    }
    users.push({ name, uid, uploadDir });
  }
  const port = await freePort();
  const config = `${scratch}/sshd_config`;
  fs.writeFileSync(config, `Port ${port}
ListenAddress 127.0.0.1
HostKey ${scratch}/hostkey
PidFile ${scratch}/sshd.pid
AuthorizedKeysFile ${root}/keys/%u
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers ${[...sftpNames, ...shellNames].join(' ')}
X11Forwarding no
AllowTcpForwarding no
PermitTTY no
LogLevel VERBOSE
Subsystem sftp internal-sftp
${sftpNames.length > 0 ? `Match User ${sftpNames.join(',')}
    ChrootDirectory ${root}/chroot/%u
    ForceCommand internal-sftp
` : ''}`);
  run(SSHD, ['-t', '-f', config]);
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  server.child = child;
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    log += chunk;
  });
  // Listening: a TCP connection is accepted (bounded wait).
  const end = Date.now() + 30_000;
  while (!(await canConnect(port))) {
    if (Date.now() > end || child.exitCode !== null) throw new Error(`sshd is not listening on 127.0.0.1:${port}:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const sshOptions = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-i', `${scratch}/userkey`];
  return {
    port, chroots: `${root}/chroot`, users, sshOptions, keyFile: `${scratch}/userkey`,
    log: () => log,
    sftp: (user, batch, extra = [], signal) => {
      const batchFile = `${scratch}/batch-${randomBytes(4).toString('hex')}`;
      fs.writeFileSync(batchFile, batch);
      return new Promise((resolve) => {
        // Its own process group: an abort kills sftp and the ssh it runs.
        const sftp = spawn('sftp', [...extra, '-b', batchFile, '-P', String(port), ...sshOptions, `${user}@127.0.0.1`], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        signal?.addEventListener('abort', () => {
          try {
            process.kill(-(sftp.pid as number), 'SIGKILL');
          } catch { /* already gone */ }
        }, { once: true });
        let output = '';
        sftp.stdout.setEncoding('utf8').on('data', (c: string) => { output += c; });
        sftp.stderr.setEncoding('utf8').on('data', (c: string) => { output += c; });
        sftp.on('close', (status) => resolve({ status, output }));
      });
    },
  };
}
