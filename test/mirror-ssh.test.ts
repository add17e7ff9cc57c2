/**
 * inotify-mirror to a destination over ssh: a real sshd on 127.0.0.1 (random
 * port, generated host key, a temporary authorized key), the real rsync.
 * Hostile names (spaces, newlines, quotes, leading '-', bytes that are not
 * UTF-8) go through the reconcile, sends, renames and deletes; with sshd
 * stopped, changes wait and arrive once it is back.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/index.js';
import { sshdAvailable, startMirror, startSshd, treeDiff } from './mirror-helpers.js';

/** A path under `dir` whose last name is `name` (bytes). */
function bytePath(dir: string, name: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(`${dir}/`), typeof name === 'string' ? Buffer.from(name) : name]);
}

const NOT_UTF8 = Buffer.from([0x6e, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]); // "n\xff\xfe.bin"

describe.skipIf(!sshdAvailable)('one-way over ssh', () => {
  it('mirrors hostile names through reconcile, sends, renames and deletes', async () => {
    const sshd = await startSshd();
    const dir = tempDir('mirror-ssh-');
    const src = path.join(dir, 'src');
    const dst = path.join(dir, "dst with 'quote' $(x)");
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'with space'), 'a');
    fs.writeFileSync(path.join(src, '-leading-dash'), 'b');
    fs.writeFileSync(path.join(src, 'new\nline'), 'c');
    fs.writeFileSync(bytePath(src, NOT_UTF8), 'd');
    const log = await startMirror(src, `root@127.0.0.1:${dst}`, { ssh: sshd.ssh });
    expect(log.reconciles[0]).toMatchObject({ reason: 'initial', files: 4 });
    expect(treeDiff(src, dst)).toBe('');

    fs.writeFileSync(path.join(src, "it's; rm -rf $HOME; x"), 'e');
    fs.writeFileSync(bytePath(src, Buffer.concat([Buffer.from('-'), NOT_UTF8])), 'f');
    fs.mkdirSync(path.join(src, '-dir\nx'));
    fs.writeFileSync(path.join(src, '-dir\nx', '$HOME'), 'g');
    await log.until(() => treeDiff(src, dst) === '', 'new hostile files');

    const inode = fs.statSync(bytePath(dst, NOT_UTF8)).ino;
    fs.renameSync(bytePath(src, NOT_UTF8), bytePath(src, Buffer.concat([NOT_UTF8, Buffer.from(" '2'")])));
    fs.renameSync(path.join(src, '-dir\nx'), path.join(src, 'moved -dir'));
    fs.rmSync(path.join(src, 'with space'));
    fs.rmSync(path.join(src, '-leading-dash'));
    // The trees match as soon as the remote shell has run; its report ('sync') comes when it exits.
    await log.until(() => log.syncs.filter((s) => s.type !== 'send').length === 4 && treeDiff(src, dst) === '', 'renames and deletes');
    expect(fs.statSync(bytePath(dst, Buffer.concat([NOT_UTF8, Buffer.from(" '2'")]))).ino).toBe(inode);
    expect(log.syncs.filter((s) => s.type === 'rename')).toHaveLength(2);
    expect(log.warnings).toEqual([]);
    // Nothing escaped the destination: no file named by a substitution or in the home directory.
    expect(fs.readdirSync(dir).sort()).toEqual([path.basename(dst), 'src']);
  });

  it('keeps changes while the destination is unreachable and sends them when it returns', async () => {
    const sshd = await startSshd();
    const dir = tempDir('mirror-ssh-');
    const src = path.join(dir, 'src');
    const dst = path.join(dir, 'dst');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'old'), 'old');
    fs.writeFileSync(path.join(src, 'doomed'), 'x');
    const log = await startMirror(src, `root@127.0.0.1:${dst}`, { ssh: sshd.ssh, retryDelay: 100, maxRetryDelay: 500 });
    expect(treeDiff(src, dst)).toBe('');
    const inode = fs.statSync(path.join(dst, 'old')).ino;

    await sshd.stop();
    fs.writeFileSync(path.join(src, 'while-down'), 'new data');
    await log.until(() => log.offlines > 0, 'the mirror to notice');
    fs.renameSync(path.join(src, 'old'), path.join(src, 'renamed'));
    fs.rmSync(path.join(src, 'doomed'));
    await log.until(() => log.mirror.pending >= 3, 'three changes waiting');
    expect(fs.existsSync(path.join(dst, 'while-down'))).toBe(false);

    await sshd.start();
    await log.until(() => log.onlines > 0 && treeDiff(src, dst) === '', 'convergence after sshd is back');
    expect(fs.statSync(path.join(dst, 'renamed')).ino).toBe(inode); // replayed as a rename
    expect(log.mirror.offline).toBe(false);
  });
});
