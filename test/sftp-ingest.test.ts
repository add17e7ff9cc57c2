/**
 * examples/sftp-ingest end to end, with the real components: a loopback
 * OpenSSH sshd (two chrooted internal-sftp users, made by the test), uploads
 * with `sftp -b`, inotifyd running the example config, real ffmpeg/ffprobe,
 * and a `sendmail -t`-compatible fake mailer that files each message.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, tempDir, until } from './daemon-helpers.js';
import { compileExamples } from './helpers/examples.js';
import { sshdUnavailable, startLoopbackSshd } from './helpers/sshd.js';

const unavailable = sshdUnavailable(['ffmpeg', 'ffprobe']);
let distDir = '';

/** A 1 s, 160x120 test clip with sound (h264/aac in mp4). */
function makeClip(file: string): void {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=duration=1:size=160x120:rate=10',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr}`);
}

function probe(file: string): { streams: Array<{ codec_type: string; codec_name: string; width?: number }>; format: { format_name: string } } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout) as never;
}

describe.skipIf(unavailable !== undefined)(`examples/sftp-ingest over a loopback sshd${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  beforeAll(() => {
    // A private build: examples.test.ts compiles into examples/dist at the same time.
    distDir = compileExamples(path.join(fs.mkdtempSync(path.join(path.resolve(__dirname, '..', 'examples'), '.dist-sftp-')), 'dist'));
    return () => fs.rmSync(path.dirname(distDir), { recursive: true, force: true });
  }, 180_000);

  it('two users upload by sftp: each video converted for its owner, with metadata, thumbnail and mail; a fake .mp4 goes to failed/ alone', async () => {
    const dir = tempDir('sftp-ingest-');
    const sshd = await startLoopbackSshd({ sftpUsers: 2 });
    const [alice, bob] = sshd.users as [typeof sshd.users[0], typeof sshd.users[0]];
    const at = (...parts: string[]): string => path.join(dir, ...parts);
    fs.mkdirSync(at('mail'));
    const mailer = at('fake-sendmail.cjs');
    // sendmail -t: the whole message on stdin, recipients from its headers. This one files it and its argv.
    fs.writeFileSync(mailer, `#!${process.execPath}
const fs = require('node:fs');
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c)).on('end', () => {
  const name = ${JSON.stringify(at('mail'))} + '/' + process.hrtime.bigint() + '.eml';
  fs.writeFileSync(name + '.tmp', JSON.stringify({ argv: process.argv.slice(2), message: Buffer.concat(chunks).toString('utf8') }));
  fs.renameSync(name + '.tmp', name);
});
`, { mode: 0o755 });
    fs.writeFileSync(at('users.json'), JSON.stringify({
      [alice.name]: { name: 'Alice Test', email: 'alice@example.org', publicPath: at('public', 'alice') },
      [bob.name]: { name: 'Bob Test', email: 'bob@example.org', publicPath: at('public', 'bob') },
    }));
    fs.writeFileSync(at('settings.json'), JSON.stringify({
      uploads: sshd.chroots, work: at('work'), failed: at('failed'), done: at('done'), users: at('users.json'),
      mailer: [mailer, '-t'], from: 'ingest@example.org', maxInFlight: 2, settleTime: 200, quietPeriod: 1000,
    }));
    makeClip(at('clip.mp4'));
    fs.writeFileSync(at('fake.mp4'), 'this is a text file, not a video\n');
    fs.writeFileSync(at('notes.txt'), 'not a video at all, and not an allowed extension\n');

    const daemon = new DaemonProcess(['-d', '-c', path.join(distDir, 'sftp-ingest', 'config.mjs')], dir, { ...process.env, INGEST_SETTINGS: at('settings.json') });
    await daemon.waitFor('inotifyd started');
    const hostile = "my holiday $(touch pwned) 'q'.mp4";
    const [upA, upB] = await Promise.all([
      sshd.sftp(alice.name, `put ${at('clip.mp4')} "${hostile}"\nput ${at('fake.mp4')} fake.mp4\nput ${at('notes.txt')} notes.txt\n`),
      sshd.sftp(bob.name, `put ${at('clip.mp4')} "clip b.mp4"\n`),
    ]);
    expect(upA.status, upA.output + sshd.log()).toBe(0);
    expect(upB.status, upB.output + sshd.log()).toBe(0);
    const mails = (): string[] => fs.readdirSync(at('mail')).filter((n) => n.endsWith('.eml'));
    await until(() => mails().length === 2 && fs.existsSync(at('failed', 'fake.mp4.failure.json')), `2 mails and fake.mp4 in failed/:\n${daemon.stderr}`);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });

    // Each video: converted (h264 mp4), metadata (ffprobe JSON of the upload), a JPEG thumbnail, under the owner's public path and a safe name.
    const outputs = [[alice, 'alice', 'my_holiday___touch_pwned___q_'], [bob, 'bob', 'clip_b']] as const;
    for (const [user, who, stem] of outputs) {
      const pub = at('public', who);
      expect(fs.readdirSync(pub).sort(), who).toEqual([`${stem}.jpg`, `${stem}.json`, `${stem}.mp4`]);
      const converted = probe(path.join(pub, `${stem}.mp4`));
      expect(converted.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 160 });
      const metadata = JSON.parse(fs.readFileSync(path.join(pub, `${stem}.json`), 'utf8')) as ReturnType<typeof probe>;
      expect(metadata.format.format_name).toContain('mp4');
      expect(metadata.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
      expect([...fs.readFileSync(path.join(pub, `${stem}.jpg`)).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
      // The original, under its safe name, in done/; owned by the user who uploaded it.
      expect(fs.statSync(at('done', `${stem}.mp4`)).uid, who).toBe(user.uid);
    }
    // One mail per video, to its owner, naming the original file; the mailer got `-t` and the message on stdin.
    const messages = mails().map((n) => JSON.parse(fs.readFileSync(at('mail', n), 'utf8')) as { argv: string[]; message: string });
    expect(messages.map((m) => m.argv)).toEqual([['-t'], ['-t']]);
    const toAlice = messages.find((m) => m.message.includes('To: "Alice Test" <alice@example.org>'));
    const toBob = messages.find((m) => m.message.includes('To: "Bob Test" <bob@example.org>'));
    expect(toAlice?.message).toContain(`Subject: Your video ${hostile} is ready\n`);
    expect(toAlice?.message).toContain(path.join(at('public', 'alice'), 'my_holiday___touch_pwned___q_.mp4'));
    expect(toBob?.message).toContain('Subject: Your video clip b.mp4 is ready\n');
    expect(toAlice?.message).toMatch(/^From: ingest@example\.org\n/);

    // The fake .mp4: rejected by content at the first step, the only step that ran; moved to failed/ with its log.
    const failure = JSON.parse(fs.readFileSync(at('failed', 'fake.mp4.failure.json'), 'utf8')) as { source: string; failedStep: string; steps: Array<{ step: string; error?: string }> };
    expect(failure.source).toBe(path.join(alice.uploadDir, 'fake.mp4'));
    expect(failure.failedStep).toBe('format');
    expect(failure.steps).toHaveLength(1);
    expect(failure.steps[0]?.error).toMatch(/^content is not a \.mp4 video: it starts with "this is a text f/);
    expect(fs.readFileSync(at('failed', 'fake.mp4'), 'utf8')).toBe('this is a text file, not a video\n');
    expect(fs.readdirSync(at('failed')).sort()).toEqual(['fake.mp4', 'fake.mp4.failure.json']);
    // Each upload ran the pipeline exactly once; notes.txt (not an allowed extension) was left alone.
    expect(daemon.stderr.match(/: all 9 steps done; moved to /g)).toHaveLength(2);
    expect(daemon.stderr.match(/step \w+ failed \(/g)).toEqual(['step format failed (']);
    expect(fs.readdirSync(alice.uploadDir)).toEqual(['notes.txt']);
    expect(fs.readdirSync(bob.uploadDir)).toEqual([]);
    const pwned = spawnSync('find', [dir, sshd.chroots, '-name', 'pwned'], { encoding: 'utf8' });
    expect(pwned.stdout).toBe('');
  }, 60_000);
});
