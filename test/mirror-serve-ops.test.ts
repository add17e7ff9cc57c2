/**
 * The serving end's hardening and the operations remote two-way needs:
 * the parking-directory ops (parked-list/drop/keep/clear) with their path
 * checks, the request line cap (a long line is refused, never held, and the
 * next request is served), watch events coalesced into one overflow when the
 * client does not read, the line splitter on its own, and the rename that
 * never replaces an existing entry.
 */
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { boundedLines, type BoundedLine } from '../src/mirror/bounded-lines.js';
import { renameNoReplace } from '../src/mirror/rename-no-replace.js';
import { MAX_REQUEST_LINE, MirrorServer, PROTOCOL_VERSION } from '../src/mirror/serve.js';
import { REPLACED_DIR } from '../src/mirror/walk.js';
import { ensureLib } from './helpers/child.js';
import { repoRoot, tempDir } from './helpers/index.js';
import { waitUntil } from './helpers/wait.js';

const CLI = path.join(repoRoot, 'lib', 'cli', 'inotify-mirror.js');
const WAIT = 20_000;
const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');
type Line = Record<string, unknown>;

/** A `--serve ROOT` child spoken to over pipes. */
interface Served {
  request(op: string, fields?: Line): Promise<{ reply: Line; items: Line[] }>;
  raw(data: string): void;
  /** Resolves with the first line that matches (rejects after a generous bound). */
  waitFor(match: (line: Line) => boolean, what: string): Promise<Line>;
  readonly lines: Line[];
}

function serve(root: string): Served {
  ensureLib();
  const child = spawn(process.execPath, [CLI, '--serve', root], { stdio: ['pipe', 'pipe', 'inherit'] });
  onTestFinished(() => void child.kill());
  const lines: Line[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line) as Line);
    for (const waiter of waiters) waiter();
  });
  let nextId = 1;
  const raw = (data: string): void => void child.stdin.write(data);
  const request = async (op: string, fields: Line = {}): Promise<{ reply: Line; items: Line[] }> => {
    const id = nextId++;
    raw(`${JSON.stringify({ id, op, ...fields })}\n`);
    const reply = await waitUntil(waiters, () => lines.find((line) => line.id === id && ('ok' in line || 'error' in line)), WAIT,
      () => `no reply to ${op}: ${JSON.stringify(lines)}`);
    return { reply, items: lines.filter((line) => line.id === id && line !== reply) };
  };
  const waitFor = (match: (line: Line) => boolean, what: string): Promise<Line> =>
    waitUntil(waiters, () => lines.find(match), WAIT, () => `no ${what}: ${JSON.stringify(lines)}`);
  return { request, raw, waitFor, lines };
}

async function collect(input: Readable, max: number): Promise<BoundedLine[]> {
  const out: BoundedLine[] = [];
  for await (const item of boundedLines(input, max)) out.push(item);
  return out;
}

describe('serve: the parking directory', () => {
  it('lists, drops, keeps (never over an existing name) and clears parked files; refuses escapes from it', async () => {
    const dir = tempDir('serve-parked-');
    const root = path.join(dir, 'root');
    const outside = path.join(dir, 'outside');
    const parking = path.join(root, REPLACED_DIR);
    fs.mkdirSync(path.join(parking, 'sub'), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'victim'), 'keep me');
    fs.writeFileSync(path.join(parking, 'sub', 'old.txt'), 'old version');
    fs.writeFileSync(path.join(parking, 'gone.txt'), 'drop me');
    fs.symlinkSync(outside, path.join(parking, 'lnk'));
    fs.writeFileSync(path.join(root, 'taken.txt'), 'taken');
    const side = serve(root);
    expect((await side.request('hello', { version: PROTOCOL_VERSION })).reply).toMatchObject({ ok: true, empty: false });

    const listed = await side.request('parked-list');
    const names = listed.items.map((item) => Buffer.from((item.entry as Line).path as string, 'base64').toString()).sort();
    expect(names).toEqual(['gone.txt', 'lnk', 'sub/old.txt']); // the symlink is listed as itself, not followed
    expect(listed.reply).toMatchObject({ ok: true, count: 3 });

    // Escapes: through a symlink inside the parking dir, with '..', and a target inside the parking dir.
    for (const [op, fields] of [
      ['parked-drop', { path: b64('lnk/victim') }], ['parked-drop', { path: b64('../taken.txt') }],
      ['parked-keep', { path: b64('lnk/victim'), to: b64('stolen') }], ['parked-keep', { path: b64('gone.txt'), to: b64(`${REPLACED_DIR}/x`) }],
      ['parked-keep', { path: b64('gone.txt'), to: b64('../outside/x') }], ['delete', { path: b64(`${REPLACED_DIR}/gone.txt`) }],
    ] as const) {
      const { reply } = await side.request(op, fields);
      expect(reply.error, `${op} ${JSON.stringify(fields)}`).toMatchObject({ code: expect.stringMatching(/^ERR_(PATH_ESCAPE|MIRROR_PROTOCOL)$/) });
    }
    expect(fs.readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('keep me');

    expect((await side.request('parked-keep', { path: b64('sub/old.txt'), to: b64('taken.txt') })).reply.error).toMatchObject({ code: 'EEXIST', path: 'taken.txt' });
    expect(fs.readFileSync(path.join(root, 'taken.txt'), 'utf8')).toBe('taken');
    const inode = fs.statSync(path.join(parking, 'sub', 'old.txt')).ino;
    expect((await side.request('parked-keep', { path: b64('sub/old.txt'), to: b64('new/dir/old.conflict.txt') })).reply.ok).toBe(true);
    expect(fs.statSync(path.join(root, 'new', 'dir', 'old.conflict.txt')).ino).toBe(inode);
    expect((await side.request('parked-drop', { path: b64('gone.txt') })).reply.ok).toBe(true);
    expect(fs.existsSync(path.join(parking, 'gone.txt'))).toBe(false);
    expect((await side.request('parked-clear')).reply.ok).toBe(true);
    expect(fs.existsSync(parking)).toBe(false);
    expect(fs.readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('keep me'); // the symlink went, not its target
    expect((await side.request('parked-list')).reply).toMatchObject({ ok: true, count: 0 });

    // A parking "directory" that is a symlink is never followed.
    fs.symlinkSync(outside, parking);
    expect((await side.request('parked-list')).reply.error).toMatchObject({ code: 'ENOTDIR' });
    expect((await side.request('parked-clear')).reply.error).toMatchObject({ code: 'ENOTDIR' });
    expect((await side.request('parked-drop', { path: b64('victim') })).reply.error).toMatchObject({ code: expect.stringMatching(/^(ENOTDIR|ERR_PATH_ESCAPE)$/) });
    expect(fs.readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('keep me');
    fs.unlinkSync(parking);
    fs.rmSync(path.join(root, 'taken.txt'));
    fs.rmSync(path.join(root, 'new'), { recursive: true });
    fs.mkdirSync(parking);
    const empty = serve(root);
    expect((await empty.request('hello', { version: PROTOCOL_VERSION })).reply).toMatchObject({ ok: true, empty: true });
  });
});

describe('serve: exclude', () => {
  it('scan and watch skip excluded trees there; a bad list is refused', async () => {
    const root = tempDir('serve-exclude-');
    fs.mkdirSync(path.join(root, 'node_modules', 'pkg'), { recursive: true });
    fs.writeFileSync(path.join(root, 'node_modules', 'pkg', 'index.js'), '');
    fs.writeFileSync(path.join(root, 'keep.txt'), 'keep');
    fs.writeFileSync(path.join(root, 'skip.tmp'), 'skip');
    const side = serve(root);
    await side.request('hello', { version: PROTOCOL_VERSION });
    const exclude = ['node_modules', '*.tmp'];
    const { items } = await side.request('scan', { exclude });
    expect(items.map((item) => Buffer.from((item.entry as Line).path as string, 'base64').toString())).toEqual(['keep.txt']);
    expect((await side.request('scan', { exclude: 'node_modules' })).reply.error).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect((await side.request('scan', { exclude: ['{a,b}'] })).reply.error).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect((await side.request('watch', { exclude })).reply.ok).toBe(true);
    fs.writeFileSync(path.join(root, 'node_modules', 'pkg', 'new.js'), 'excluded');
    fs.writeFileSync(path.join(root, 'x.tmp'), 'excluded');
    fs.writeFileSync(path.join(root, 'seen.txt'), 'seen');
    // Written last: once its send is here, any event of the excluded ones (written before) would be too.
    await side.waitFor((line) => line.event === 'send' && Buffer.from(line.path as string, 'base64').toString() === 'seen.txt', 'send of seen.txt');
    const events = side.lines.filter((line) => typeof line.event === 'string').map((line) => Buffer.from((line.path as string | undefined) ?? '', 'base64').toString());
    expect(events).not.toContain('node_modules/pkg/new.js');
    expect(events).not.toContain('x.tmp');
  });
});

describe('serve: a request line longer than the cap', () => {
  it('is answered with ERR_MIRROR_LINE_TOO_LONG, and the next request is served', async () => {
    const root = tempDir('serve-cap-');
    const side = serve(root);
    await side.request('hello', { version: PROTOCOL_VERSION });
    // Sent in pieces without a newline: the end never holds it whole.
    const piece = 'x'.repeat(256 * 1024);
    const pieces = Math.ceil(MAX_REQUEST_LINE / piece.length) + 2;
    for (let i = 0; i < pieces; i++) side.raw(piece);
    side.raw('\n');
    const stat = await side.request('stat', { path: b64('missing') });
    expect(stat.reply).toMatchObject({ ok: true, entry: null });
    const refused = side.lines.filter((line) => line.id === null);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.error).toMatchObject({ code: 'ERR_MIRROR_LINE_TOO_LONG', message: expect.stringContaining(`${pieces * piece.length} bytes`) });
  });

  it('boundedLines: splits across chunks, drops \\r before \\n, skips an over-long line whole, keeps a last unterminated line', async () => {
    const chunks = ['ab', 'c\r\nde', 'f\n', 'x'.repeat(5), 'y'.repeat(5), 'z\nok\n', 'tail'];
    expect(await collect(Readable.from(chunks.map((c) => Buffer.from(c))), 8)).toEqual([
      { line: 'abc' }, { line: 'def' }, { tooLong: 11 }, { line: 'ok' }, { line: 'tail' },
    ]);
    expect(await collect(Readable.from([Buffer.from('12345678\n123456789\n')]), 8)).toEqual([{ line: '12345678' }, { tooLong: 9 }]);
    expect(await collect(Readable.from([Buffer.from('x'.repeat(20))]), 8)).toEqual([{ tooLong: 20 }]);
  });
});

describe('serve: watch events and a client that does not read', () => {
  it('stop at the backlog cap and are replaced by one overflow once the channel drains', async () => {
    const root = tempDir('serve-backlog-');
    const input = new PassThrough();
    const output = new PassThrough({ highWaterMark: 1024 });
    const server = new MirrorServer(root, input, output, { maxEventBacklog: 4096 });
    const running = server.run();
    onTestFinished(async () => {
      input.end();
      await running;
    });
    const send = (request: Line): void => void input.write(`${JSON.stringify(request)}\n`);
    const replies: Line[] = [];
    const read = (): void => {
      for (let chunk = output.read() as Buffer | null; chunk !== null; chunk = output.read() as Buffer | null) {
        for (const line of chunk.toString().split('\n')) if (line !== '') replies.push(JSON.parse(line) as Line);
      }
    };
    send({ id: 1, op: 'hello', version: PROTOCOL_VERSION });
    send({ id: 2, op: 'watch' });
    const waiters = new Set<() => void>();
    const poll = setInterval(() => {
      for (const waiter of waiters) waiter();
    }, 20);
    onTestFinished(() => clearInterval(poll));
    await waitUntil(waiters, () => {
      read();
      return replies.some((line) => line.id === 2) || undefined;
    }, WAIT, () => `no watch reply: ${JSON.stringify(replies)}`);
    // Now nobody reads: 400 new directories (a send event each, about 60 bytes) is far past 4 KiB.
    for (let i = 0; i < 400; i++) fs.mkdirSync(path.join(root, `directory-number-${i}`));
    await waitUntil(waiters, () => (output.writableLength > 4096 ? true : undefined), WAIT, () => `the backlog did not fill: ${output.writableLength}`);
    expect(output.writableLength).toBeLessThan(4096 + 1024); // one event past the cap at most
    await waitUntil(waiters, () => {
      read();
      return replies.some((line) => line.event === 'overflow') || undefined;
    }, WAIT, () => `no overflow after draining: ${replies.length} lines`);
    const sends = replies.filter((line) => line.event === 'send').length;
    expect(sends).toBeGreaterThan(0);
    expect(sends).toBeLessThan(400);
    expect(replies.filter((line) => line.event === 'overflow')).toHaveLength(1);
    send({ id: 3, op: 'stat', path: b64('directory-number-399') });
    await waitUntil(waiters, () => {
      read();
      return replies.find((line) => line.id === 3);
    }, WAIT, () => 'no stat reply');
  });
});

describe('renameNoReplace', () => {
  it('moves files, symlinks and directories (same inode), never over an existing entry, even an empty directory', () => {
    const dir = tempDir('rename-noreplace-');
    const at = (name: string): string => path.join(dir, name);
    fs.writeFileSync(at('file'), 'file');
    fs.writeFileSync(at('other'), 'other');
    fs.symlinkSync('/nonexistent-target', at('link'));
    fs.mkdirSync(at('dir'));
    fs.writeFileSync(at('dir/in'), 'in');
    fs.mkdirSync(at('empty'));

    const inode = fs.statSync(at('file')).ino;
    renameNoReplace(at('file'), at('moved'));
    expect(fs.statSync(at('moved')).ino).toBe(inode);
    expect(fs.existsSync(at('file'))).toBe(false);
    expect(() => renameNoReplace(at('moved'), at('other'))).toThrow(expect.objectContaining({ code: 'EEXIST' }) as Error);
    expect(fs.readFileSync(at('other'), 'utf8')).toBe('other');
    expect(fs.readFileSync(at('moved'), 'utf8')).toBe('file');

    renameNoReplace(at('link'), at('link2')); // a dangling symlink moves as itself
    expect(fs.readlinkSync(at('link2'))).toBe('/nonexistent-target');
    expect(() => renameNoReplace(at('link2'), at('moved'))).toThrow(expect.objectContaining({ code: 'EEXIST' }) as Error);

    const dirInode = fs.statSync(at('dir')).ino;
    // rename(2) would replace the empty directory: this does not.
    expect(() => renameNoReplace(at('dir'), at('empty'))).toThrow(expect.objectContaining({ code: 'EEXIST' }) as Error);
    expect(fs.readdirSync(at('empty'))).toEqual([]);
    expect(() => renameNoReplace(at('dir'), at('other'))).toThrow(expect.objectContaining({ code: 'EEXIST' }) as Error);
    renameNoReplace(at('dir'), at('dir2'));
    expect(fs.statSync(at('dir2')).ino).toBe(dirInode);
    expect(fs.readFileSync(at('dir2/in'), 'utf8')).toBe('in');
    // A directory into itself fails, and the claimed name is not left behind.
    expect(() => renameNoReplace(at('dir2'), at('dir2/sub'))).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
    expect(fs.readdirSync(at('dir2'))).toEqual(['in']);
    expect(() => renameNoReplace(at('missing'), at('x'))).toThrow(expect.objectContaining({ code: 'ENOENT' }) as Error);
    expect(fs.existsSync(at('x'))).toBe(false);
  });
});
