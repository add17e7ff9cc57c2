/**
 * The `--serve` protocol over a real ssh channel: a loopback sshd on
 * 127.0.0.1 (random port, generated keys) started by the test, RemoteSide
 * running `inotify-mirror --serve ROOT` on it, with a root whose name needs
 * shell quoting. Requests are applied there and acknowledged, escape
 * attempts are refused through the channel too, the watch stream arrives,
 * and a remote command that cannot start is a clear ERR_MIRROR_CHANNEL.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDestination } from '../src/mirror/destination.js';
import { RelPath } from '../src/mirror/rel-path.js';
import { RemoteSide, type RemoteChange } from '../src/mirror/remote-side.js';
import { ensureLib } from './helpers/child.js';
import { repoRoot, tempDir } from './helpers/index.js';
import { sshdAvailable, startSshd } from './mirror-helpers.js';

const CLI = path.join(repoRoot, 'lib', 'cli', 'inotify-mirror.js');
const WAIT = 20_000;

function waitForChange(side: RemoteSide, match: (change: RemoteChange) => boolean): Promise<RemoteChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching change within ${WAIT} ms`)), WAIT);
    const listener = (change: RemoteChange): void => {
      if (!match(change)) return;
      clearTimeout(timer);
      side.off('change', listener);
      resolve(change);
    };
    side.on('change', listener);
  });
}

describe.skipIf(!sshdAvailable)('the --serve protocol over ssh', () => {
  it('applies and acknowledges requests, refuses escapes, streams changes', async () => {
    ensureLib();
    const sshd = await startSshd();
    const dir = tempDir('mirror-serve-ssh-');
    const root = path.join(dir, "remote 'root' $(x)");
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(root);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'victim'), 'keep');
    fs.writeFileSync(path.join(root, 'a.txt'), 'A');
    fs.symlinkSync(outside, path.join(root, 'out'));
    const side = await RemoteSide.connect(parseDestination(`127.0.0.1:${root}`, sshd.ssh) as Extract<ReturnType<typeof parseDestination>, { kind: 'ssh' }>,
      { remoteCommand: [process.execPath, CLI] });
    try {
      expect(side.root.root).toBe(fs.realpathSync(root));
      const stat = fs.statSync(root);
      expect(side.root.identity).toBe(`${stat.dev}:${stat.ino}`);
      const entries = await side.scan({ hash: true });
      expect(entries.map((entry) => Buffer.from(entry.path, 'base64').toString()).sort()).toEqual(['a.txt', 'out']);

      await side.mkdir(RelPath.from('dir/sub'));
      await side.rename(RelPath.from('a.txt'), RelPath.from('dir/sub/b.txt'));
      expect(fs.readFileSync(path.join(root, 'dir', 'sub', 'b.txt'), 'utf8')).toBe('A');
      expect(await side.stat(RelPath.from('a.txt'))).toBeUndefined();
      await expect(side.delete(RelPath.from('a.txt'))).rejects.toMatchObject({ code: 'ENOENT', path: 'a.txt' });
      // A parent that is a symlink out of the root: refused on the far side (RelPath itself refuses `..`).
      await expect(side.delete(RelPath.from('out/victim'))).rejects.toMatchObject({ code: 'ERR_PATH_ESCAPE' });
      await expect(side.rename(RelPath.from('out/victim'), RelPath.from('stolen'))).rejects.toMatchObject({ code: 'ERR_PATH_ESCAPE' });
      await expect(side.mkdir(RelPath.from('out/new'))).rejects.toMatchObject({ code: 'ERR_PATH_ESCAPE' });
      expect(fs.readdirSync(outside)).toEqual(['victim']);
      expect(fs.readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('keep');

      await side.watch();
      const sent = waitForChange(side, (change) => change.event === 'send' && change.path.toString() === 'dir/new.txt');
      fs.writeFileSync(path.join(root, 'dir', 'new.txt'), 'new');
      await sent;
      const renamed = waitForChange(side, (change) => change.event === 'rename' && change.to.toString() === 'moved.txt');
      fs.renameSync(path.join(root, 'dir', 'new.txt'), path.join(root, 'moved.txt'));
      expect(await renamed).toMatchObject({ from: Buffer.from('dir/new.txt') });
    } finally {
      await side.close();
    }
    await expect(side.stat(RelPath.from('x'))).rejects.toMatchObject({ code: 'ERR_MIRROR_CHANNEL' });
  });

  it('a remote command that cannot start is ERR_MIRROR_CHANNEL with its stderr', async () => {
    const sshd = await startSshd();
    const dir = tempDir('mirror-serve-ssh-');
    const destination = parseDestination(`127.0.0.1:${dir}`, sshd.ssh) as Extract<ReturnType<typeof parseDestination>, { kind: 'ssh' }>;
    await expect(RemoteSide.connect(destination, { remoteCommand: ['/nonexistent/inotify-mirror'] }))
      .rejects.toMatchObject({ code: 'ERR_MIRROR_CHANNEL', message: expect.stringMatching(/status 127.*nonexistent/s) });
  });
});
