/**
 * SFTP video ingest, as an inotifyd config (docs/recipes/sftp-ingest.md).
 *
 * Users upload videos by SFTP into their (chrooted) home directories. For
 * each upload of an allowed format, once the transfer tracker says it is
 * complete (TRANSFER_COMPLETE, not size polling): check its content, find
 * its owner's user record, move it under a safe name, extract metadata,
 * convert it, make a thumbnail, and mail the user. Every command is an argv
 * array; a failed step moves the file to the failed area with a log
 * (`inotifyd --retry FILE` runs it again).
 *
 *   INGEST_SETTINGS=/etc/inotifyd/sftp-ingest.json inotifyd -c examples/dist/sftp-ingest/config.mjs
 *
 * The settings file (JSON) is checked when the config loads; a mistake names
 * the file and the key. See settings.example.json and users.example.json.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync } from 'node:fs';
import { basename, extname, isAbsolute, join } from 'node:path';
import { defineConfig, PipelineScheduler, type PipelineFile, type PipelineStep } from 'inotify-native';

/** One user's record in the user table (users.json: login name -> record). */
export interface UserRecord {
  /** The name mails are addressed to. */
  name: string;
  email: string;
  /** Where the user's converted videos, thumbnails and metadata go. */
  publicPath: string;
}

/** The settings file. */
export interface IngestSettings {
  /** The directory holding the users' upload directories (the chroots), watched recursively. */
  uploads: string;
  /** Where files go while they are processed (outside `uploads`). */
  work: string;
  /** Where failed files go, each with NAME.failure.json (outside `uploads`). */
  failed: string;
  /** Where originals go once processed (outside `uploads`). */
  done: string;
  /** The user table: a JSON file of login name -> { name, email, publicPath }. */
  users: string;
  /** The mailer: an argv that reads a whole message, headers first, on stdin (`sendmail -t`). */
  mailer: string[];
  /** The From: address of the mails. */
  from: string;
  /** Allowed extensions, lower case with the dot (default .mp4 .m4v .mov .mkv .webm .avi). */
  extensions?: string[];
  /** At most this many files in flight (default 2). */
  maxInFlight?: number;
  /** ffmpeg and ffprobe (default: found on PATH). */
  ffmpeg?: string;
  ffprobe?: string;
  /** Transfer tracker timing (ms): quiet time after a close, and after other events. */
  settleTime?: number;
  quietPeriod?: number;
  /**
   * Poll `uploads` every this many ms when it is on a network or FUSE
   * filesystem (NFS home directories written by another machine), where
   * inotify cannot see the writes. Default: inotify only.
   */
  pollInterval?: number;
}

const DEFAULT_EXTENSIONS = ['.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi'];

/** A settings mistake: names the file and the key (as inotifyd's own config errors do). */
export class SettingsError extends Error {
  readonly code = 'ERR_INGEST_SETTINGS';
  /** The settings file. */
  readonly file: string;
  /** The key at fault. */
  readonly key: string;
  constructor(file: string, key: string, expected: string, given: unknown) {
    super(`${file}: ${key}: expected ${expected}, given ${JSON.stringify(given) ?? String(given)}`);
    this.name = 'SettingsError';
    this.file = file;
    this.key = key;
  }
}

/** Reads and checks the settings file. */
export function loadSettings(file: string): IngestSettings {
  let settings: Record<string, unknown>;
  try {
    settings = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new SettingsError(file, 'file', 'a readable JSON file', (error as Error).message);
  }
  const known = ['uploads', 'work', 'failed', 'done', 'users', 'mailer', 'from', 'extensions', 'maxInFlight', 'ffmpeg', 'ffprobe', 'settleTime', 'quietPeriod', 'pollInterval'];
  for (const key of Object.keys(settings)) if (!known.includes(key)) throw new SettingsError(file, key, `one of ${known.join(', ')}`, key);
  for (const key of ['uploads', 'work', 'failed', 'done', 'users']) {
    const value = settings[key];
    if (typeof value !== 'string' || !isAbsolute(value)) throw new SettingsError(file, key, 'an absolute path', value);
  }
  for (const key of ['work', 'failed', 'done']) {
    if (`${settings[key] as string}/`.startsWith(`${settings.uploads as string}/`)) throw new SettingsError(file, key, 'a directory outside "uploads" (files moved there must not arrive again)', settings[key]);
  }
  const mailer = settings.mailer;
  if (!Array.isArray(mailer) || mailer.length === 0 || !mailer.every((a) => typeof a === 'string')) throw new SettingsError(file, 'mailer', 'an argv array such as ["/usr/sbin/sendmail", "-t"]', mailer);
  if (typeof settings.from !== 'string' || !/^[^\s<>@]+@[^\s<>@]+$/.test(settings.from)) throw new SettingsError(file, 'from', 'a mail address', settings.from);
  const extensions = settings.extensions;
  if (extensions !== undefined && !(Array.isArray(extensions) && extensions.every((e) => typeof e === 'string' && /^\.[a-z0-9]+$/.test(e)))) {
    throw new SettingsError(file, 'extensions', 'a list of lower-case extensions such as ".mp4"', extensions);
  }
  for (const key of ['maxInFlight', 'settleTime', 'quietPeriod']) {
    const value = settings[key];
    if (value !== undefined && !(Number.isInteger(value) && (value as number) >= (key === 'maxInFlight' ? 1 : 0))) throw new SettingsError(file, key, 'a whole number', value);
  }
  const poll = settings.pollInterval;
  if (poll !== undefined && !(Number.isInteger(poll) && (poll as number) >= 10)) throw new SettingsError(file, 'pollInterval', 'a whole number of ms, at least 10', poll);
  for (const key of ['ffmpeg', 'ffprobe']) if (settings[key] !== undefined && typeof settings[key] !== 'string') throw new SettingsError(file, key, 'a program path', settings[key]);
  return settings as unknown as IngestSettings;
}

/** What the first bytes of a file say it is: a container family, or undefined. */
export function sniffContainer(head: Buffer): 'isobmff' | 'matroska' | 'avi' | undefined {
  // MP4/MOV/M4V: a box whose type is 'ftyp' (or an old QuickTime 'moov'/'mdat'/'wide' first box).
  const box = head.subarray(4, 8).toString('latin1');
  if (['ftyp', 'moov', 'mdat', 'wide', 'free'].includes(box)) return 'isobmff';
  if (head.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]))) return 'matroska';
  if (head.subarray(0, 4).toString('latin1') === 'RIFF' && head.subarray(8, 12).toString('latin1') === 'AVI ') return 'avi';
  return undefined;
}

const CONTAINER_OF: Record<string, string> = { '.mp4': 'isobmff', '.m4v': 'isobmff', '.mov': 'isobmff', '.mkv': 'matroska', '.webm': 'matroska', '.avi': 'avi' };

/** Fails unless the file's content is a video container matching its extension (a `.mp4` of text is rejected). */
export function checkFormat(pathname: string, extensions: readonly string[]): void {
  const ext = extname(pathname).toLowerCase();
  if (!extensions.includes(ext)) throw new Error(`extension ${JSON.stringify(ext)} is not allowed (allowed: ${extensions.join(' ')})`);
  const head = Buffer.alloc(16);
  const fd = openSync(pathname, 'r');
  let read: number;
  try {
    read = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const found = sniffContainer(head.subarray(0, read));
  const expected = CONTAINER_OF[ext];
  if (found === undefined || (expected !== undefined && found !== expected)) {
    throw new Error(`content is not a ${ext} video: it starts with ${JSON.stringify(head.subarray(0, read).toString('latin1').replace(/[^\x20-\x7e]/g, '.'))}`);
  }
}

/** Reads up to `length` bytes at `position` (fewer at the end of the file). */
function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  return buffer.subarray(0, readSync(fd, buffer, 0, length, position));
}

/** An EBML variable-size integer at `at` in `buf`: its value (undefined: "unknown size") and length. */
function ebmlSize(buf: Buffer, at: number): { value: number | undefined; length: number } | undefined {
  const first = buf[at];
  if (first === undefined || first === 0) return undefined;
  const length = Math.clz32(first) - 23;
  if (at + length > buf.length) return undefined;
  let value = first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const byte = buf[at + i] as number;
    value = value * 256 + byte;
    allOnes &&= byte === 0xff;
  }
  return { value: allOnes ? undefined : value, length };
}

/**
 * Throws unless the file is whole by its container's own sizes: an upload
 * cut short (a client killed mid-file, which the server closes like a
 * finished one) declares more bytes than it has, or lacks a box a whole
 * file has. MP4/MOV: the top-level boxes tile the file exactly and include
 * `moov` and `mdat` (or `moof` fragments). Matroska/WebM: the Segment's size
 * is all there (an unknown-size Segment, as live muxers write, cannot be
 * checked: passed). AVI: every RIFF chunk is all there. Unknown content
 * passes: the `format` step judges it. The limit: a file cut exactly at a
 * box boundary after everything a whole file needs (a fragmented MP4 cut
 * between two fragments) passes.
 */
export function checkComplete(pathname: string): void {
  const fd = openSync(pathname, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = readAt(fd, 0, 64);
    if (head.length < 12) throw new Error(`only ${head.length} bytes`);
    const container = sniffContainer(head);
    if (container === 'isobmff') {
      const seen = new Set<string>();
      let at = 0;
      while (at < size) {
        const box = readAt(fd, at, 16);
        if (box.length < 8) throw new Error(`a box header cut short at byte ${at} of ${size}`);
        const type = box.subarray(4, 8).toString('latin1');
        let boxSize = box.readUInt32BE(0);
        if (boxSize === 1) {
          if (box.length < 16) throw new Error(`a box header cut short at byte ${at} of ${size}`);
          boxSize = Number(box.readBigUInt64BE(8));
        } else if (boxSize === 0) {
          boxSize = size - at; // "to the end of the file": nothing to compare
        }
        if (boxSize < 8) throw new Error(`box ${JSON.stringify(type)} at byte ${at} has an impossible size ${boxSize}`);
        if (at + boxSize > size) throw new Error(`box ${JSON.stringify(type)} at byte ${at} declares ${boxSize} bytes, the file has ${size - at} from there`);
        seen.add(type);
        at += boxSize;
      }
      if (!seen.has('moov')) throw new Error('no moov box (the index, written last by most muxers)');
      if (!seen.has('mdat') && !seen.has('moof')) throw new Error('no mdat box (the media data)');
    } else if (container === 'matroska') {
      const header = ebmlSize(head, 4);
      if (header?.value === undefined) throw new Error('a damaged EBML header');
      const segmentAt = 4 + header.length + header.value;
      const segment = readAt(fd, segmentAt, 12);
      if (segment.length < 5) throw new Error(`the Segment header is cut short at byte ${segmentAt} of ${size}`);
      const segmentSize = ebmlSize(segment, 4);
      if (segmentSize === undefined) throw new Error(`the Segment header is cut short at byte ${segmentAt} of ${size}`);
      const end = segmentAt + 4 + segmentSize.length + (segmentSize.value ?? 0);
      if (segmentSize.value !== undefined && end > size) throw new Error(`the Segment declares ${end} bytes in all, the file has ${size}`);
    } else if (container === 'avi') {
      for (let at = 0; at < size;) {
        const chunk = readAt(fd, at, 8);
        if (chunk.length < 8) throw new Error(`a RIFF header cut short at byte ${at} of ${size}`);
        const end = at + 8 + chunk.readUInt32LE(4);
        if (end > size) throw new Error(`the RIFF chunk at byte ${at} declares ${end - at} bytes, the file has ${size - at} from there`);
        at = end + (end % 2); // chunks are padded to an even size
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** The login name of a uid: `getent passwd UID` (NSS: files, LDAP, sssd...), else /etc/passwd. */
export function loginOf(uid: number): string {
  const getent = spawnSync('getent', ['passwd', String(uid)], { encoding: 'utf8', timeout: 10_000 });
  const line = getent.status === 0 ? getent.stdout : readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === String(uid));
  const name = line?.split(':')[0];
  if (name === undefined || name === '') throw new Error(`uid ${uid} has no entry in the passwd database`);
  return name;
}

/** The user table: login name -> record, each field checked. */
export function readUserTable(file: string): Map<string, UserRecord> {
  const table = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Partial<UserRecord>>;
  const users = new Map<string, UserRecord>();
  for (const [login, record] of Object.entries(table)) {
    if (typeof record.name !== 'string' || typeof record.email !== 'string' || !/^[^\s<>@]+@[^\s<>@]+$/.test(record.email) || typeof record.publicPath !== 'string' || !isAbsolute(record.publicPath)) {
      throw new Error(`${file}: ${login}: expected { name, email, publicPath (absolute) }, given ${JSON.stringify(record)}`);
    }
    users.set(login, record as UserRecord);
  }
  return users;
}

/**
 * A name safe everywhere: whitespace becomes `_` (as the old scripts did),
 * anything but letters, digits, `.`, `_`, `-` becomes `_`, no leading `.`
 * or `-`, no path separators; at most 120 characters before the extension.
 */
export function safeName(name: string): string {
  const ext = extname(name).toLowerCase().replace(/[^.a-z0-9]/g, '');
  const stem = (ext === '' ? name : name.slice(0, -extname(name).length))
    .replace(/\s/g, '_').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.-]+/, '').slice(0, 120);
  return `${stem === '' ? 'upload' : stem}${ext}`;
}

/** One header line's value: no CR/LF (no header injection from a file name), no other controls. */
function headerValue(text: string): string {
  return [...text].map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? ' ' : c)).join('').replace(/ {2,}/g, ' ').trim();
}

/** The steps, from the settings. Exported so a site can add or replace steps. */
export function ingestSteps(settings: IngestSettings): PipelineStep[] {
  const extensions = settings.extensions ?? DEFAULT_EXTENSIONS;
  const ffmpeg = settings.ffmpeg ?? 'ffmpeg';
  const ffprobe = settings.ffprobe ?? 'ffprobe';
  return [
    // A gate: a file cut short (an interrupted upload) is "not ready", not failed. It stays in the user's
    // directory, and the pipeline runs again when it changes (a resumed `reput`, or a new upload).
    { name: 'complete', gate: true, timeout: '30s', run: (file: PipelineFile) => checkComplete(file.pathname) },
    { name: 'format', timeout: '30s', run: (file: PipelineFile) => checkFormat(file.pathname, extensions) },
    {
      name: 'owner', timeout: '30s',
      run: (file: PipelineFile) => {
        const login = loginOf(lstatSync(file.pathname).uid);
        const user = readUserTable(settings.users).get(login);
        if (user === undefined) throw new Error(`user ${login} (owner of the file) is not in the user table ${settings.users}`);
        mkdirSync(user.publicPath, { recursive: true });
        return { login, user_name: user.name, email: user.email, public_path: user.publicPath };
      },
    },
    {
      // Out of the upload tree, under a safe name: later steps never see the user's name, and no event fires again.
      name: 'rename', timeout: '30s',
      run: (file: PipelineFile) => {
        const dir = join(settings.work, file.values.task_id as string);
        mkdirSync(dir, { recursive: true });
        const pathname = join(dir, safeName(basename(file.source)));
        renameSync(file.pathname, pathname);
        return { pathname, original_name: basename(file.source) };
      },
    },
    { name: 'metadata', timeout: '2m', cmd: [ffprobe, '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '{pathname}'], stdout: '{public_path}/{stem}.json' },
    {
      // {output}: a hidden temporary name, renamed to `output` when ffmpeg succeeds, removed when it fails.
      name: 'convert', timeout: '30m', output: '{public_path}/{stem}.mp4',
      cmd: [ffmpeg, '-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-i', '{pathname}', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-preset', 'veryfast',
        '-c:a', 'aac', '-movflags', '+faststart', '-f', 'mp4', '{output}'],
    },
    {
      name: 'thumbnail', timeout: '2m', output: '{public_path}/{stem}.jpg',
      cmd: [ffmpeg, '-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-i', '{pathname}', '-vf', 'thumbnail', '-frames:v', '1', '-q:v', '3', '-f', 'image2', '{output}'],
    },
    {
      name: 'compose', timeout: '30s',
      run: (file: PipelineFile) => {
        const v = file.values as Record<string, string>;
        const message = [
          `From: ${settings.from}`,
          `To: "${headerValue(v.user_name ?? '').replace(/["\\]/g, '')}" <${v.email ?? ''}>`,
          `Subject: ${headerValue(`Your video ${v.original_name ?? ''} is ready`)}`,
          'Content-Type: text/plain; charset=utf-8',
          '',
          `Hello ${v.user_name ?? ''},`,
          '',
          `your upload ${JSON.stringify(v.original_name)} has been converted:`,
          `  video:     ${join(v.public_path ?? '', `${v.stem ?? ''}.mp4`)}`,
          `  thumbnail: ${join(v.public_path ?? '', `${v.stem ?? ''}.jpg`)}`,
          `  metadata:  ${join(v.public_path ?? '', `${v.stem ?? ''}.json`)}`,
          '',
        ].join('\n');
        return { message };
      },
    },
    { name: 'notify', timeout: '1m', cmd: settings.mailer, stdin: '{message}' },
  ];
}

/** The inotifyd config for a settings file. */
export function ingestConfig(settingsFile: string): ReturnType<typeof defineConfig> {
  const settings = loadSettings(settingsFile);
  const extensions = settings.extensions ?? DEFAULT_EXTENSIONS;
  const pipeline = new PipelineScheduler({
    steps: ingestSteps(settings),
    failedDir: settings.failed,
    doneDir: settings.done,
    concurrency: settings.maxInFlight ?? 2,
    logname: 'ingest',
  });
  return defineConfig({
    watches: [{
      path: settings.uploads,
      // Polled only where inotify cannot see other machines' writes (NFS, CIFS, FUSE); logged either way.
      ...(settings.pollInterval === undefined ? {} : { poll: { interval: settings.pollInterval } }),
      rec: true,
      autoAdd: true,
      eventMap: { TRANSFER_COMPLETE: pipeline },
      transfers: {
        // Other names are not ours: ignored, never tracked.
        filter: (pathname: string) => extensions.includes(extname(pathname).toLowerCase()),
        settleTime: settings.settleTime ?? 1000,
        quietPeriod: settings.quietPeriod ?? 5000,
      },
    }],
    shutdownTimeout: '5m',
  });
}

export default ingestConfig(process.env.INGEST_SETTINGS ?? '/etc/inotifyd/sftp-ingest.json');
