/**
 * `inotify-mirror --serve ROOT`, the remote end of two-way sync, spoken to
 * directly (no ssh): the compiled CLI is spawned with pipes and sent JSON
 * lines. Escape attempts (`..`, absolute paths, a parent that is a symlink
 * out of the root, NUL bytes) are refused for rename, delete, mkdir, stat
 * and scan, and nothing outside the root changes; valid requests are
 * applied and acknowledged; scan lists the tree with hashes; watch streams
 * the side's completed files, renames and deletes.
 */
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PROTOCOL_VERSION } from '../src/mirror/serve.js';
import { ensureLib } from './helpers/child.js';
import { repoRoot, tempDir } from './helpers/index.js';
import { waitUntil } from './helpers/wait.js';

const CLI = path.join(repoRoot, 'lib', 'cli', 'inotify-mirror.js');
const WAIT = 20_000;
const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');
const text = (encoded: unknown): string => Buffer.from(encoded as string, 'base64').toString('utf8');

type Line = Record<string, unknown>;

/** One `--serve` process and the lines it wrote. */
class Served {
  readonly lines: Line[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #child;
  readonly exited: Promise<number | null>;
  #nextId = 1;

  constructor(root: string) {
    ensureLib();
    this.#child = spawn(process.execPath, [CLI, '--serve', root], { stdio: ['pipe', 'pipe', 'pipe'] });
    onTestFinished(() => void this.#child.kill());
    let stderr = '';
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      this.lines.push(JSON.parse(line) as Line);
      for (const waiter of this.#waiters) waiter();
    });
    this.exited = new Promise((resolve) => this.#child.once('close', (code) => {
      if (stderr !== '') this.lines.push({ stderr });
      for (const waiter of this.#waiters) waiter();
      resolve(code);
    }));
  }

  /** Sends a raw line. */
  raw(line: string): void {
    this.#child.stdin.write(`${line}\n`);
  }

  /** Sends a request; resolves with its final reply (ok or error) and the lines before it with the same id. */
  async request(op: string, fields: Line = {}): Promise<{ reply: Line; items: Line[] }> {
    const id = this.#nextId++;
    this.raw(JSON.stringify({ id, op, ...fields }));
    const reply = await this.waitFor((line) => line.id === id && ('ok' in line || 'error' in line), `a reply to ${op} #${id}`);
    return { reply, items: this.lines.filter((line) => line.id === id && line !== reply) };
  }

  waitFor(match: (line: Line) => boolean, what: string): Promise<Line> {
    return waitUntil(this.#waiters, () => this.lines.find(match), WAIT, () => `no ${what} within ${WAIT} ms; got:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}`);
  }

  end(): void {
    this.#child.stdin.end();
  }
}

/** Every path below `dir` (symlinks not followed) with its content (files), its target (symlinks) or 'dir'. */
function snapshot(dir: string, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const name of fs.readdirSync(path.join(dir, prefix))) {
    const rel = path.join(prefix, name);
    const full = path.join(dir, rel);
    const stat = fs.lstatSync(full);
    out[rel] = stat.isSymbolicLink() ? `-> ${fs.readlinkSync(full)}` : stat.isDirectory() ? 'dir' : fs.readFileSync(full, 'utf8');
    if (stat.isDirectory()) snapshot(dir, rel, out);
  }
  return out;
}

function setup(): { root: string; outside: string } {
  const dir = tempDir('mirror-serve-');
  const root = path.join(dir, 'root');
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(path.join(root, 'dir'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'victim'), 'keep me');
  fs.writeFileSync(path.join(root, 'a.txt'), 'A');
  fs.symlinkSync(outside, path.join(root, 'out'));
  fs.symlinkSync('/', path.join(root, 'link'));
  return { root, outside };
}

describe('inotify-mirror --serve', () => {
  it('refuses every escape attempt for rename, delete, mkdir, stat and scan; applies and acks valid requests', async () => {
    const { root, outside } = setup();
    const served = new Served(root);
    const early = await served.request('scan');
    expect(early.reply.error).toMatchObject({ code: 'ERR_MIRROR_PROTOCOL', message: expect.stringMatching(/hello/) });
    const hello = await served.request('hello', { version: PROTOCOL_VERSION });
    expect(hello.reply).toMatchObject({ ok: true, version: PROTOCOL_VERSION, empty: false, root: fs.realpathSync(root) });
    const stat = fs.statSync(root);
    expect(hello.reply.identity).toBe(`${stat.dev}:${stat.ino}`);

    const beforeOutside = snapshot(outside);
    const beforeRoot = snapshot(root);
    const escapes: (string | Buffer)[] = [
      '../outside/victim', `${outside}/victim`, 'a/../../outside/victim', 'dir/../../outside/victim', '..',
      'out/victim', 'out/new', 'link/tmp', `link${outside}/victim`, 'dir/./x', 'dir//x', '',
      Buffer.from('a.txt\0../../outside/victim'), Buffer.from('out\0'),
    ];
    const tmpProbe = `link/tmp/mirror-serve-escape-${process.pid}`;
    const refused: string[] = [];
    for (const bad of [...escapes, tmpProbe]) {
      const encoded = b64(bad);
      for (const [op, fields] of [
        ['delete', { path: encoded }], ['mkdir', { path: encoded }], ['stat', { path: encoded }], ['scan', { path: encoded }],
        ['rename', { from: encoded, to: b64('dir/stolen') }], ['rename', { from: b64('a.txt'), to: encoded }],
      ] as const) {
        const { reply, items } = await served.request(op, fields);
        expect(items).toEqual([]);
        expect(reply.error, `${op} ${JSON.stringify(bad.toString())}`).toMatchObject({ code: 'ERR_PATH_ESCAPE', message: expect.stringMatching(/^refused path/) });
        refused.push(op);
      }
    }
    expect(refused).toHaveLength((escapes.length + 1) * 6);
    // Not base64, not a string: refused the same way.
    for (const bad of ['../x', 42, null]) {
      expect((await served.request('delete', { path: bad })).reply.error).toMatchObject({ code: 'ERR_PATH_ESCAPE' });
    }
    expect(snapshot(outside)).toEqual(beforeOutside);
    expect(snapshot(root)).toEqual(beforeRoot);
    expect(fs.existsSync(`/tmp/mirror-serve-escape-${process.pid}`)).toBe(false);

    // Valid requests: applied, acknowledged.
    expect((await served.request('rename', { from: b64('a.txt'), to: b64('dir/b.txt') })).reply).toEqual({ id: expect.any(Number), ok: true });
    expect(fs.readFileSync(path.join(root, 'dir', 'b.txt'), 'utf8')).toBe('A');
    expect(fs.existsSync(path.join(root, 'a.txt'))).toBe(false);
    expect((await served.request('mkdir', { path: b64('new/deeper') })).reply.ok).toBe(true);
    expect(fs.statSync(path.join(root, 'new', 'deeper')).isDirectory()).toBe(true);
    // Never over an existing name; errors name the path relative to the root.
    fs.writeFileSync(path.join(root, 'c.txt'), 'C');
    expect((await served.request('rename', { from: b64('c.txt'), to: b64('dir/b.txt') })).reply.error)
      .toMatchObject({ code: 'EEXIST', path: 'dir/b.txt' });
    expect(fs.readFileSync(path.join(root, 'dir', 'b.txt'), 'utf8')).toBe('A');
    expect((await served.request('delete', { path: b64('new') })).reply.error).toMatchObject({ code: 'ENOTEMPTY', path: 'new' });
    expect((await served.request('delete', { path: b64('new/deeper') })).reply.ok).toBe(true);
    expect((await served.request('delete', { path: b64('c.txt') })).reply.ok).toBe(true);
    expect((await served.request('delete', { path: b64('c.txt') })).reply.error).toMatchObject({ code: 'ENOENT', path: 'c.txt' });
    // The symlinks themselves are entries of the tree: deleting one removes the link, not its target.
    expect((await served.request('delete', { path: b64('out') })).reply.ok).toBe(true);
    expect(snapshot(outside)).toEqual(beforeOutside);
    expect((await served.request('rename', { from: b64('x'), to: b64('y') })).reply.error).toMatchObject({ code: 'ENOENT' });
    expect((await served.request('chmod', { path: b64('x') })).reply.error).toMatchObject({ code: 'ERR_MIRROR_PROTOCOL' });
    served.raw('not json');
    await served.waitFor((line) => line.id === null && (line.error as Line | undefined)?.code === 'ERR_MIRROR_PROTOCOL', 'a protocol error');

    served.end();
    expect(await served.exited).toBe(0);
    expect(served.lines.filter((line) => 'stderr' in line)).toEqual([]);
  });

  it('scans with hashes (names that are not UTF-8 included) and streams completed files, renames and deletes', async () => {
    const { root } = setup();
    const odd = Buffer.from([0x6e, 0xff, 0xfe]);
    fs.writeFileSync(Buffer.concat([Buffer.from(`${root}/dir/`), odd]), 'odd');
    const served = new Served(root);
    await served.request('hello', { version: PROTOCOL_VERSION });
    const { reply, items } = await served.request('scan', { hash: true });
    const entries = new Map(items.map((item) => {
      const entry = item.entry as Line;
      return [Buffer.from(entry.path as string, 'base64').toString('latin1'), entry];
    }));
    expect(reply.count).toBe(entries.size);
    expect([...entries.keys()].sort()).toEqual(['a.txt', 'dir', `dir/${odd.toString('latin1')}`, 'link', 'out'].sort());
    expect(entries.get('a.txt')).toMatchObject({ kind: 'file', size: 1, hash: createHash('sha256').update('A').digest('base64') });
    expect(entries.get('a.txt')?.mtime).toBe(fs.statSync(path.join(root, 'a.txt'), { bigint: true }).mtimeNs.toString());
    expect(entries.get('link')).toMatchObject({ kind: 'symlink', target: b64('/') });
    expect(entries.get('dir')).toMatchObject({ kind: 'dir' });
    const single = await served.request('stat', { path: b64('a.txt') });
    const { hash: _hash, ...withoutHash } = entries.get('a.txt') as Line;
    expect(single.reply.entry).toEqual(withoutHash); // a hash only when asked for
    expect((await served.request('stat', { path: b64('missing') })).reply).toMatchObject({ ok: true, entry: null });

    expect((await served.request('watch')).reply.ok).toBe(true);
    fs.writeFileSync(path.join(root, 'dir', 'new.txt'), 'new');
    await served.waitFor((line) => line.event === 'send' && text(line.path) === 'dir/new.txt', 'a send of dir/new.txt');
    fs.renameSync(path.join(root, 'dir', 'new.txt'), path.join(root, 'moved.txt'));
    await served.waitFor((line) => line.event === 'rename' && text(line.from) === 'dir/new.txt' && text(line.to) === 'moved.txt', 'a rename');
    fs.unlinkSync(path.join(root, 'moved.txt'));
    await served.waitFor((line) => line.event === 'delete' && text(line.path) === 'moved.txt', 'a delete');
    // The server's own applied requests are seen like any change (the client's state makes them no-ops).
    await served.request('mkdir', { path: b64('made') });
    await served.waitFor((line) => line.event === 'send' && text(line.path) === 'made', 'the mkdir seen');
    served.end();
    expect(await served.exited).toBe(0);
  });

  it('lists a tree of 3,000 entries whole (the channel fills and drains), then still answers', async () => {
    const { root } = setup();
    for (let d = 0; d < 30; d++) {
      fs.mkdirSync(path.join(root, 'dir', `d${d}`));
      for (let f = 0; f < 99; f++) fs.writeFileSync(path.join(root, 'dir', `d${d}`, `file ${f} with a longer name to fill the pipe`), `${d}/${f}`);
    }
    const served = new Served(root);
    await served.request('hello', { version: PROTOCOL_VERSION });
    const { reply, items } = await served.request('scan', { hash: true });
    const names = new Set(items.map((item) => text((item.entry as Line).path)));
    expect(names.size).toBe(30 * 100 + 4); // 30 dirs of 99 files, a.txt, dir, link, out
    expect(reply.count).toBe(names.size);
    expect(names.has('dir/d29/file 98 with a longer name to fill the pipe')).toBe(true);
    expect((await served.request('stat', { path: b64('a.txt') })).reply.ok).toBe(true);
    served.end();
    expect(await served.exited).toBe(0);
  });

  it('exits 2 for a command-line mistake and 1 for a ROOT that is not a directory', async () => {
    const { root } = setup();
    const run = (args: string[]): Promise<{ code: number | null; stderr: string }> => new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('close', (code) => resolve({ code, stderr }));
    });
    ensureLib();
    expect(await run(['--serve'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--serve expects ROOT/) });
    expect(await run(['--serve', '--json', root])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--serve takes no other option/) });
    expect(await run(['--serve', path.join(root, 'a.txt')])).toMatchObject({ code: 1, stderr: expect.stringMatching(/ENOTDIR/) });
    expect(await run(['--serve', path.join(root, 'missing')])).toMatchObject({ code: 1, stderr: expect.stringMatching(/ENOENT/) });
  });
});
