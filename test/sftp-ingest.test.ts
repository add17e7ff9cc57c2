/**
 * examples/sftp-ingest end to end, with the real components: a loopback
 * OpenSSH sshd (two chrooted internal-sftp users, made by the test), uploads
 * with `sftp -b` (one slowed by `-l`, one killed mid-file, then resumed with
 * `reput`), inotifyd running
 * the example config (type-stripped), real ffmpeg/ffprobe,
 * and a `sendmail -t`-compatible fake mailer that files each message. Also
 * the example's completeness gate (checkComplete) on real ffmpeg output, whole and cut.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { DaemonProcess, tempDir, until } from './daemon-helpers.js';
import { sshdUnavailable, startLoopbackSshd } from './helpers/sshd.js';

const unavailable = sshdUnavailable(['ffmpeg', 'ffprobe']);
let configFile = '';

/**
 * A 1 s, 160x120 test clip with sound (h264/aac in mp4); `big`: about 3 MB (noise at a high bit rate), for
 * slow uploads; `odd`: 161x121 (4:4:4), a valid video that libx264 cannot convert to 4:2:0 (odd width).
 */
function makeClip(file: string, kind: 'small' | 'big' | 'odd' = 'small'): void {
  const video = {
    big: ['-f', 'lavfi', '-i', 'nullsrc=duration=1:size=320x240:rate=25,geq=random(1)*255:128:128', '-pix_fmt', 'yuv420p', '-b:v', '24M', '-maxrate', '24M', '-bufsize', '1M'],
    small: ['-f', 'lavfi', '-i', 'testsrc=duration=1:size=160x120:rate=10', '-pix_fmt', 'yuv420p'],
    odd: ['-f', 'lavfi', '-i', 'testsrc=duration=1:size=161x121:rate=10', '-pix_fmt', 'yuv444p'],
  }[kind];
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...video.slice(0, 4),
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:v', 'libx264', ...video.slice(4), '-c:a', 'aac', '-shortest', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr}`);
}

function probe(file: string): { streams: Array<{ codec_type: string; codec_name: string; width?: number }>; format: { format_name: string } } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout) as never;
}

describe.skipIf(unavailable !== undefined)(`examples/sftp-ingest over a loopback sshd${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  beforeAll(() => {
    // The config module as JavaScript (type-stripped; `tsc -p examples` in examples.test.ts checks its types).
    const source = fs.readFileSync(path.resolve(__dirname, '..', 'examples', 'sftp-ingest', 'config.mts'), 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sftp-ingest-config-')));
    configFile = path.join(dir, 'config.mjs');
    fs.writeFileSync(configFile, js);
    return () => fs.rmSync(dir, { recursive: true, force: true });
  });

  it('two users upload by sftp (one slowly, one interrupted then resumed): each whole video converted once for its owner, with metadata, thumbnail and mail; nothing runs on the partial file; a fake .mp4 and an unconvertible one go to failed/ with no partial output left', async () => {
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
    makeClip(at('big.mp4'), 'big');
    makeClip(at('odd.mp4'), 'odd');
    fs.writeFileSync(at('fake.mp4'), 'this is a text file, not a video\n');
    fs.writeFileSync(at('notes.txt'), 'not a video at all, and not an allowed extension\n');

    const daemon = new DaemonProcess(['-d', '-c', configFile], dir, { ...process.env, INGEST_SETTINGS: at('settings.json') });
    await daemon.waitFor('inotifyd started');
    const hostile = "my holiday $(touch pwned) 'q'.mp4";
    // At once: alice's small uploads, bob's small ones, bob's big one at 8 Mbit/s (seconds long), and
    // alice's big one at 2 Mbit/s, interrupted (sftp and ssh killed) once 300 kB have arrived.
    const interrupt = new AbortController();
    const cut = path.join(alice.uploadDir, 'cut.mp4');
    const interrupted = sshd.sftp(alice.name, `put ${at('big.mp4')} cut.mp4\n`, ['-l', '2000'], interrupt.signal);
    const [upA, upB, upSlow] = await Promise.all([
      sshd.sftp(alice.name, `put ${at('clip.mp4')} "${hostile}"\nput ${at('fake.mp4')} fake.mp4\nput ${at('notes.txt')} notes.txt\n`),
      sshd.sftp(bob.name, `put ${at('clip.mp4')} "clip b.mp4"\nput ${at('odd.mp4')} odd.mp4\n`),
      sshd.sftp(bob.name, `put ${at('big.mp4')} big.mp4\n`, ['-l', '8000']),
      until(() => fs.existsSync(cut) && fs.statSync(cut).size >= 300_000, 'the interrupted upload under way').then(() => interrupt.abort()),
    ]);
    expect(upA.status, upA.output + sshd.log()).toBe(0);
    expect(upB.status, upB.output + sshd.log()).toBe(0);
    expect(upSlow.status, upSlow.output + sshd.log()).toBe(0);
    expect((await interrupted).status).not.toBe(0);
    const mails = (): string[] => fs.readdirSync(at('mail')).filter((n) => n.endsWith('.eml'));
    const notReady = new RegExp(`${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not ready \\(step complete: box "mdat" at byte \\d+ declares \\d+ bytes`);
    await until(() => mails().length === 3 && fs.existsSync(at('failed', 'fake.mp4.failure.json')) && fs.existsSync(at('failed', 'odd.mp4.failure.json')) && notReady.test(daemon.stderr),
      () => `3 mails, fake.mp4 and odd.mp4 in failed/, cut.mp4 not ready:\n${daemon.stderr}`);

    // The interrupted upload: the server closed the partial file as if it were whole, and the tracker
    // reported it complete; the gate found it cut short, so nothing else ran: it stays in alice's directory.
    const partialSize = fs.statSync(cut).size;
    expect(partialSize).toBeLessThan(fs.statSync(at('big.mp4')).size);
    // Every task started for cut.mp4 so far ran its gate, and no other step.
    const cutTasks = [...daemon.stderr.matchAll(/TRANSFER_COMPLETE \S+\/cut\.mp4: start task (\S+)/g)].map((m) => m[1] as string);
    expect(cutTasks.length).toBeGreaterThan(0);
    for (const id of cutTasks) expect([...daemon.stderr.matchAll(new RegExp(`task ${id} step (\\w+)`, 'g'))].map((m) => m[1]), id).toEqual(['complete']);
    expect(fs.existsSync(at('public', 'alice', 'cut.mp4'))).toBe(false);
    // Resumed (`reput` appends what is missing): now whole, its pipeline runs, exactly once.
    const resumed = await sshd.sftp(alice.name, `reput ${at('big.mp4')} cut.mp4\n`);
    expect(resumed.status, resumed.output + sshd.log()).toBe(0);
    await until(() => mails().length === 4, () => `a 4th mail, for the resumed upload:\n${daemon.stderr}`);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(fs.readFileSync(at('done', 'cut.mp4')).equals(fs.readFileSync(at('big.mp4')))).toBe(true);
    expect(daemon.stderr.match(new RegExp(`${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: all 9 steps done; moved to `, 'g'))).toHaveLength(1);

    // Each video: converted (h264 mp4), metadata (ffprobe JSON of the upload), a JPEG thumbnail, under the owner's public path and a safe name.
    const outputs = [[alice, 'alice', 'my_holiday___touch_pwned___q_'], [alice, 'alice', 'cut'], [bob, 'bob', 'clip_b'], [bob, 'bob', 'big']] as const;
    expect(fs.readdirSync(at('public', 'alice')).sort()).toEqual(['cut.jpg', 'cut.json', 'cut.mp4', 'my_holiday___touch_pwned___q_.jpg', 'my_holiday___touch_pwned___q_.json', 'my_holiday___touch_pwned___q_.mp4']);
    // odd.json: the metadata step succeeded before convert failed; no partial (hidden) convert output is left.
    expect(fs.readdirSync(at('public', 'bob')).sort()).toEqual(['big.jpg', 'big.json', 'big.mp4', 'clip_b.jpg', 'clip_b.json', 'clip_b.mp4', 'odd.json']);
    for (const [user, who, stem] of outputs) {
      const pub = at('public', who);
      const converted = probe(path.join(pub, `${stem}.mp4`));
      expect(converted.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: stem === 'big' || stem === 'cut' ? 320 : 160 });
      const metadata = JSON.parse(fs.readFileSync(path.join(pub, `${stem}.json`), 'utf8')) as ReturnType<typeof probe>;
      expect(metadata.format.format_name).toContain('mp4');
      expect(metadata.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
      expect([...fs.readFileSync(path.join(pub, `${stem}.jpg`)).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
      // The original, under its safe name, in done/; owned by the user who uploaded it.
      expect(fs.statSync(at('done', `${stem}.mp4`)).uid, who).toBe(user.uid);
    }
    // One mail per video, to its owner, naming the original file; the mailer got `-t` and the message on stdin.
    const messages = mails().map((n) => JSON.parse(fs.readFileSync(at('mail', n), 'utf8')) as { argv: string[]; message: string });
    expect(messages.map((m) => m.argv)).toEqual([['-t'], ['-t'], ['-t'], ['-t']]);
    const toAlice = messages.find((m) => m.message.includes('To: "Alice Test" <alice@example.org>') && m.message.includes('touch pwned'));
    const toBob = messages.find((m) => m.message.includes('To: "Bob Test" <bob@example.org>') && m.message.includes('clip b.mp4'));
    expect(messages.filter((m) => m.message.includes('To: "Bob Test" <bob@example.org>') && m.message.includes('Subject: Your video big.mp4 is ready\n'))).toHaveLength(1);
    expect(messages.filter((m) => m.message.includes('To: "Alice Test" <alice@example.org>') && m.message.includes('Subject: Your video cut.mp4 is ready\n'))).toHaveLength(1);
    expect(toAlice?.message).toContain(`Subject: Your video ${hostile} is ready\n`);
    expect(toAlice?.message).toContain(path.join(at('public', 'alice'), 'my_holiday___touch_pwned___q_.mp4'));
    expect(toBob?.message).toContain('Subject: Your video clip b.mp4 is ready\n');
    expect(toAlice?.message).toMatch(/^From: ingest@example\.org\n/);

    // The fake .mp4: rejected by content at the format step (the gate passed it: not its kind); moved to failed/ with its log.
    const failure = JSON.parse(fs.readFileSync(at('failed', 'fake.mp4.failure.json'), 'utf8')) as { source: string; failedStep: string; steps: Array<{ step: string; error?: string }> };
    expect(failure.source).toBe(path.join(alice.uploadDir, 'fake.mp4'));
    expect(failure.failedStep).toBe('format');
    expect(failure.steps.map((s) => s.step)).toEqual(['complete', 'format']);
    expect(failure.steps[1]?.error).toMatch(/^content is not a \.mp4 video: it starts with "this is a text f/);
    expect(fs.readFileSync(at('failed', 'fake.mp4'), 'utf8')).toBe('this is a text file, not a video\n');
    // The odd-sized video: ffmpeg could not convert it; its partial output (the hidden temporary name) was removed.
    const odd = JSON.parse(fs.readFileSync(at('failed', 'odd.mp4.failure.json'), 'utf8')) as { failedStep: string; steps: Array<{ step: string; stderrTail?: string; removedOutput?: string }> };
    expect(odd.failedStep).toBe('convert');
    expect(odd.steps.map((s) => s.step)).toEqual(['complete', 'format', 'owner', 'rename', 'metadata', 'convert']);
    expect(odd.steps[5]?.stderrTail).toContain('width not divisible by 2');
    expect(odd.steps[5]?.removedOutput).toMatch(new RegExp(`^${at('public', 'bob')}/\\.odd\\.mp4\\.inotifyd-\\S+\\.mp4 \\(\\d+ bytes\\)$`));
    expect(fs.readFileSync(at('failed', 'odd.mp4')).equals(fs.readFileSync(at('odd.mp4')))).toBe(true);
    expect(fs.readdirSync(at('failed')).sort()).toEqual(['fake.mp4', 'fake.mp4.failure.json', 'odd.mp4', 'odd.mp4.failure.json']);
    // Each upload ran its pipeline to the end exactly once (the slow one too, not while it was arriving);
    // notes.txt (not an allowed extension) was left alone.
    expect(daemon.stderr.match(/: all 9 steps done; moved to /g)).toHaveLength(4);
    expect(daemon.stderr.match(/TRANSFER_COMPLETE \S+\/big\.mp4: start task/g)).toHaveLength(1);
    expect(daemon.stderr.match(/step \w+ failed \(/g)?.sort()).toEqual(['step convert failed (', 'step format failed (']);
    expect(fs.readdirSync(alice.uploadDir)).toEqual(['notes.txt']);
    expect(fs.readdirSync(bob.uploadDir)).toEqual([]);
    const pwned = spawnSync('find', [dir, sshd.chroots, '-name', 'pwned'], { encoding: 'utf8' });
    expect(pwned.stdout).toBe('');
  }, 60_000);
});

describe.skipIf(spawnSync('sh', ['-c', 'command -v ffmpeg']).status !== 0)('examples/sftp-ingest checkComplete (the gate)', () => {
  it('passes whole MP4 (index last or first), Matroska and AVI files and content it does not know; finds every cut one not ready', async () => {
    const dir = tempDir('sftp-gate-');
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({
      uploads: path.join(dir, 'up'), work: path.join(dir, 'w'), failed: path.join(dir, 'f'), done: path.join(dir, 'd'), users: path.join(dir, 'u.json'), mailer: ['true'], from: 'a@example.org',
    }));
    // The module's default export reads the settings file when it loads.
    process.env.INGEST_SETTINGS = path.join(dir, 'settings.json');
    onTestFinished(() => {
      delete process.env.INGEST_SETTINGS;
    });
    const module = path.resolve(__dirname, '..', 'examples', 'sftp-ingest', 'config.mts');
    const { checkComplete } = await import(module) as { checkComplete: (pathname: string) => void };
    const make = (name: string, args: string[]): string => {
      const file = path.join(dir, name);
      const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=duration=1:size=64x48:rate=10',
        '-f', 'lavfi', '-i', 'sine=duration=1', '-shortest', ...args, file], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ffmpeg ${name}: ${r.stderr}`);
      return file;
    };
    const whole = [
      make('last.mp4', ['-c:v', 'libx264', '-c:a', 'aac']),
      make('first.mp4', ['-c:v', 'libx264', '-c:a', 'aac', '-movflags', '+faststart']),
      make('clip.mkv', ['-c:v', 'libx264', '-c:a', 'aac']),
      make('clip.webm', ['-c:v', 'libvpx', '-c:a', 'libvorbis']),
      make('clip.avi', ['-c:v', 'mpeg4', '-c:a', 'mp3']),
    ];
    for (const file of whole) {
      expect(() => checkComplete(file), file).not.toThrow();
      const size = fs.statSync(file).size;
      // Cut anywhere (as an upload killed at that byte): not ready, with the reason.
      for (const at of [12, 100, Math.floor(size / 2), size - 1]) {
        const cut = path.join(dir, `cut-${at}-${path.basename(file)}`);
        fs.writeFileSync(cut, fs.readFileSync(file).subarray(0, at));
        expect(() => checkComplete(cut), `${file} cut at ${at} of ${size}`).toThrow(/declares|cut short|no moov|no mdat|damaged/);
      }
    }
    // An MP4 cut exactly after its index, before its media data: a box boundary, but no mdat.
    const first = fs.readFileSync(path.join(dir, 'first.mp4'));
    let at = 0;
    while (first.subarray(at + 4, at + 8).toString('latin1') !== 'mdat') at += first.readUInt32BE(at);
    fs.writeFileSync(path.join(dir, 'no-mdat.mp4'), first.subarray(0, at));
    expect(() => checkComplete(path.join(dir, 'no-mdat.mp4'))).toThrow('no mdat box (the media data)');
    // Not a container it knows: passes (the format step judges it); too short to tell: not ready.
    fs.writeFileSync(path.join(dir, 'text.mp4'), 'this is a text file, not a video\n');
    expect(() => checkComplete(path.join(dir, 'text.mp4'))).not.toThrow();
    fs.writeFileSync(path.join(dir, 'tiny.mp4'), first.subarray(0, 11));
    expect(() => checkComplete(path.join(dir, 'tiny.mp4'))).toThrow('only 11 bytes');
  }, 30_000);
});
