/**
 * The serving end of remote two-way sync: `inotify-mirror --serve ROOT`, run
 * on the remote machine over ssh, with stdin/stdout as the channel. It speaks
 * JSON lines (one object per line, see docs/mirror.md "The --serve
 * protocol"): a request carries an `id` and an `op`; every reply carries the
 * same `id` and either `ok: true` or `error: {code, message, path}`. Paths
 * travel as base64 of their bytes (Linux names need not be UTF-8), and every
 * path received is checked by {@link insideRoot} before any fs call uses it.
 *
 * - `hello {version}`: the protocol version and the root's identity (its
 *   real path and `dev:ino`), so the client can tell a remounted root, and
 *   whether it is `empty` (nothing besides the parking directory);
 * - `scan {path?, hash?, exclude?}`: one `{id, entry}` line per path (the
 *   tree, or the subtree at `path`, minus `exclude`d trees), then `{id, ok, count}`;
 * - `stat {path, hash?}`: `{id, ok, entry}` (`entry: null` when absent);
 * - `watch {exclude?}`: from then on (excluded trees are not watched), `{event: 'send' | 'delete' | 'rename' | 'overflow'}`
 *   lines as the side's follower sees changes complete (the transfer
 *   tracker's completions, renames paired by cookie, deletes);
 * - `rename {from, to}` (never over an existing `to`, see
 *   rename-no-replace.ts), `delete {path}` (a file, a symlink or an empty
 *   directory), `mkdir {path}`: applied, then acknowledged;
 * - `parked-list` (one `{id, entry}` line per parked file, paths relative to
 *   the parking directory), `parked-drop {path}`, `parked-keep {path, to}`,
 *   `parked-clear`: the parking directory rsync's --backup-dir fills
 *   (parking.ts); its paths are checked against it as others are against the root.
 * Requests are handled one at a time, in order; the process exits when its
 * input ends. A request line longer than {@link MAX_REQUEST_LINE} is
 * skipped and answered by an ERR_MIRROR_LINE_TOO_LONG error (id null); the
 * next line is served. Watch events are written while the channel keeps up;
 * when more than {@link MAX_EVENT_BACKLOG} bytes wait unread, further events
 * are dropped and one `overflow` event is sent once it drains (the client
 * then merges the whole tree, as after an inotify queue overflow).
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { invalidArgType, systemError, type CodedError } from '../errors.js';
import { Notifier } from '../notifier.js';
import { TRANSFER_EVENTS } from '../transfer/types.js';
import { watchTree } from '../watch-tree.js';
import { boundedLines } from './bounded-lines.js';
import { ensureHash, readEntry, type Entry } from './entry.js';
import { compileMirrorExcludes } from './excludes.js';
import { ChangeFollower } from './follow.js';
import { clearParked, dropParked, keepParked, listParked, parkingDir } from './parking.js';
import type { RelPath } from './rel-path.js';
import { renameNoReplace } from './rename-no-replace.js';
import { insideRoot } from './safe-path.js';
import { REPLACED_DIR, walkTree } from './walk.js';

/** The protocol version `hello` announces; a client with another one is refused. */
export const PROTOCOL_VERSION = 2;

/** The longest request line (bytes) this end reads; a longer one is refused, never held. */
export const MAX_REQUEST_LINE = 1 << 20;

/** Bytes of watch events that may wait unread in the channel before events are coalesced into one overflow. */
export const MAX_EVENT_BACKLOG = 1 << 20;

/** One path of a side as it travels: bytes as base64; a symlink's target as base64 too. */
export interface WireEntry {
  readonly path: string;
  readonly kind: Entry['kind'];
  readonly size: number;
  /** Nanoseconds, decimal (files; '0' otherwise). */
  readonly mtime: string;
  /** sha256 of a file's content (base64), when asked for. */
  readonly hash?: string;
  /** A symlink's target (base64 of its bytes). */
  readonly target?: string;
}

type Request = Record<string, unknown> & { id?: unknown; op?: unknown };

function protocolError(message: string): CodedError {
  const error: CodedError = new Error(message);
  error.code = 'ERR_MIRROR_PROTOCOL';
  return error;
}

function wireEntry(path: RelPath, entry: Entry): WireEntry {
  const base = { path: path.bytes.toString('base64'), kind: entry.kind, size: entry.size, mtime: entry.mtime };
  if (entry.kind === 'symlink') return { ...base, target: Buffer.from(entry.hash ?? '', 'latin1').toString('base64') };
  return entry.hash === undefined ? base : { ...base, hash: entry.hash };
}

/** Options of a {@link MirrorServer}. */
export interface MirrorServerOptions {
  /** Bytes of watch events that may wait unread before events become one overflow (default {@link MAX_EVENT_BACKLOG}). */
  readonly maxEventBacklog?: number;
}

/** The `--serve` end over one channel (see the file comment). */
export class MirrorServer {
  readonly #root: Buffer;
  readonly #rootText: string;
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #maxEventBacklog: number;
  #greeted = false;
  #closed = false;
  #notifier: Notifier | undefined;
  #follower: ChangeFollower | undefined;
  /** Watch events were dropped (the client read too slowly): an overflow is owed once the channel drains. */
  #overflowOwed = false;
  /** Rename first halves seen by the watch, by cookie, until the second half comes. */
  readonly #moving = new Map<number, RelPath>();

  /**
   * @param root the served directory (resolved to its real path: the
   *   identity `hello` reports, and the base every request is checked against).
   * Throws ENOENT / ENOTDIR when it is not a directory.
   */
  constructor(root: string, input: Readable, output: Writable, options: MirrorServerOptions = {}) {
    const real = fs.realpathSync(root);
    if (!fs.statSync(real).isDirectory()) throw systemError('ENOTDIR', 'serve', root);
    this.#rootText = real;
    this.#root = Buffer.from(real);
    this.#input = input;
    this.#output = output;
    this.#maxEventBacklog = options.maxEventBacklog ?? MAX_EVENT_BACKLOG;
    output.on('error', () => void this.close()); // the client went away
  }

  /** Serves requests until the input ends (or close()); then stops watching. */
  async run(): Promise<void> {
    try {
      for await (const item of boundedLines(this.#input, MAX_REQUEST_LINE)) {
        if (this.#closed) break;
        if ('tooLong' in item) {
          const error = protocolError(`a request line of ${item.tooLong} bytes is longer than ${MAX_REQUEST_LINE}: skipped`);
          error.code = 'ERR_MIRROR_LINE_TOO_LONG';
          await this.#write({ id: null, error: this.#describe(error) });
          continue;
        }
        if (item.line.trim() === '') continue;
        await this.#handle(item.line);
      }
    } finally {
      await this.close();
    }
  }

  /** Stops watching. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#follower?.stopWaiting();
    await this.#notifier?.close();
    await this.#follower?.close();
  }

  async #handle(line: string): Promise<void> {
    let request: Request;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      request = parsed as Request;
    } catch (error) {
      await this.#write({ id: null, error: this.#describe(protocolError(`a request must be one JSON object per line (${(error as Error).message})`)) });
      return;
    }
    const id = typeof request.id === 'number' || typeof request.id === 'string' ? request.id : null;
    try {
      await this.#dispatch(id, request);
    } catch (error) {
      await this.#write({ id, error: this.#describe(error as CodedError) });
    }
  }

  async #dispatch(id: number | string | null, request: Request): Promise<void> {
    if (request.op === 'hello') {
      if (request.version !== PROTOCOL_VERSION) throw protocolError(`protocol version ${String(request.version)} is not supported (this end speaks ${PROTOCOL_VERSION})`);
      this.#greeted = true;
      const stat = fs.statSync(this.#root);
      const empty = !fs.readdirSync(this.#root).some((name) => name !== REPLACED_DIR);
      await this.#write({ id, ok: true, version: PROTOCOL_VERSION, root: this.#rootText, identity: `${stat.dev}:${stat.ino}`, empty });
      return;
    }
    if (!this.#greeted) throw protocolError('the first request must be hello');
    switch (request.op) {
      case 'scan': return this.#scan(id, request);
      case 'stat': {
        const path = this.#path(request.path);
        const entry = this.#entry(path, request.hash === true);
        await this.#write({ id, ok: true, entry: entry === undefined ? null : wireEntry(path, entry) });
        return;
      }
      case 'watch':
        this.#watch(this.#excludes(request.exclude));
        await this.#write({ id, ok: true });
        return;
      case 'rename': return this.#rename(id, request);
      case 'delete': return this.#delete(id, request);
      case 'mkdir': {
        const path = this.#path(request.path);
        this.#fsCall('mkdir', path, () => fs.mkdirSync(path.under(this.#root), { recursive: true }));
        await this.#write({ id, ok: true });
        return;
      }
      case 'parked-list': {
        let count = 0;
        for (const [path, entry] of listParked(this.#root)) {
          count += 1;
          await this.#write({ id, entry: wireEntry(path, entry) });
        }
        await this.#write({ id, ok: true, count });
        return;
      }
      case 'parked-drop': {
        const path = this.#parkedPath(request.path);
        this.#fsCall('unlink', path, () => dropParked(this.#root, path));
        await this.#write({ id, ok: true });
        return;
      }
      case 'parked-keep': {
        const path = this.#parkedPath(request.path);
        const to = this.#path(request.to);
        this.#fsCall('rename', to, () => keepParked(this.#root, path, to));
        await this.#write({ id, ok: true });
        return;
      }
      case 'parked-clear':
        this.#fsCall('rmdir', undefined, () => clearParked(this.#root));
        await this.#write({ id, ok: true });
        return;
      default:
        throw protocolError(`unknown op ${JSON.stringify(request.op)} (hello, scan, stat, watch, rename, delete, mkdir, parked-list, parked-drop, parked-keep, parked-clear)`);
    }
  }

  /** A checked path inside the parking directory (ERR_PATH_ESCAPE otherwise). */
  #parkedPath(encoded: unknown): RelPath {
    return insideRoot(parkingDir(this.#root), encoded);
  }

  /** A checked path (ERR_PATH_ESCAPE otherwise); the mirror's parking directory is not the other side's business. */
  #path(encoded: unknown): RelPath {
    const path = insideRoot(this.#root, encoded);
    if (path.bytes.toString('latin1').split('/')[0] === REPLACED_DIR) throw Object.assign(protocolError(`${REPLACED_DIR} is the mirror's own directory`), { path: path.text });
    return path;
  }

  #entry(path: RelPath, hash: boolean): Entry | undefined {
    const entry = readEntry(path.under(this.#root));
    if (entry?.kind === 'file' && hash && !ensureHash(path.under(this.#root), entry)) return undefined; // gone meanwhile
    return entry;
  }

  async #scan(id: number | string | null, request: Request): Promise<void> {
    const start = request.path === undefined ? undefined : this.#path(request.path);
    const paths = new Map<string, RelPath>();
    const { matches } = this.#excludes(request.exclude);
    walkTree(this.#root, start, matches ?? ((): boolean => false), paths);
    let count = 0;
    for (const path of paths.values()) {
      const entry = this.#entry(path, request.hash === true);
      if (entry === undefined) continue; // gone meanwhile, or a fifo/socket/device
      count += 1;
      await this.#write({ id, entry: wireEntry(path, entry) });
    }
    await this.#write({ id, ok: true, count });
  }

  async #rename(id: number | string | null, request: Request): Promise<void> {
    const from = this.#path(request.from);
    const to = this.#path(request.to);
    // Never over an existing entry: the client decides about conflicts, this end never overwrites data.
    this.#fsCall('rename', to, () => renameNoReplace(from.under(this.#root), to.under(this.#root)));
    await this.#write({ id, ok: true });
  }

  async #delete(id: number | string | null, request: Request): Promise<void> {
    const path = this.#path(request.path);
    const absolute = path.under(this.#root);
    this.#fsCall('delete', path, () => {
      if (fs.lstatSync(absolute).isDirectory()) fs.rmdirSync(absolute);
      else fs.unlinkSync(absolute);
    });
    await this.#write({ id, ok: true });
  }

  /** Runs an fs call; its error is re-raised with the path relative to the root (the client's view). */
  #fsCall(syscall: string, path: RelPath | undefined, call: () => void): void {
    try {
      call();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === undefined) throw error;
      throw systemError(code, syscall, path?.text ?? REPLACED_DIR);
    }
  }

  /**
   * A request's `exclude` (the mirror's --exclude patterns, docs/patterns.md):
   * compiled against the root, so excluded trees are neither walked nor
   * watched here. ERR_INVALID_ARG_* for a bad list.
   */
  #excludes(patterns: unknown): { patterns: string[]; matches: ((pathname: string) => boolean) | undefined } {
    if (patterns === undefined) return { patterns: [], matches: undefined };
    if (!Array.isArray(patterns) || patterns.some((pattern) => typeof pattern !== 'string')) {
      throw invalidArgType('exclude', 'an array of strings', patterns);
    }
    return { patterns: patterns as string[], matches: compileMirrorExcludes(patterns as string[], this.#rootText).matches };
  }

  #watch(exclude: { patterns: string[]; matches: ((pathname: string) => boolean) | undefined }): void {
    if (this.#follower !== undefined) return;
    const root = this.#rootText;
    const replaced = `${root}/${REPLACED_DIR}`;
    const excluded = exclude.matches ?? ((): boolean => false);
    // Events are not awaited (they come from the follower, not from a request): the stream buffers
    // them up to MAX_EVENT_BACKLOG; past it they are dropped, and one overflow stands for them all.
    const output = this.#output;
    const emit = (event: Record<string, unknown>): void => {
      if (output.destroyed || output.writableEnded) return;
      if (this.#overflowOwed || output.writableLength > this.#maxEventBacklog) {
        if (!this.#overflowOwed) output.once('drain', () => this.#payOverflow());
        this.#overflowOwed = true;
        return;
      }
      output.write(`${JSON.stringify(event)}\n`);
    };
    const b64 = (path: RelPath): string => path.bytes.toString('base64');
    const follower = new ChangeFollower(root, {
      send: (path, deep) => emit({ event: 'send', path: b64(path), deep }),
      delete: (path) => emit({ event: 'delete', path: b64(path) }),
      movedFrom: (cookie, path) => this.#moving.set(cookie, path),
      movedTo: (cookie, path) => {
        const from = this.#moving.get(cookie);
        if (from === undefined) return false;
        this.#moving.delete(cookie);
        emit({ event: 'rename', from: b64(from), to: b64(path) });
        return true;
      },
      movedAway: (cookie) => {
        const from = this.#moving.get(cookie);
        this.#moving.delete(cookie);
        if (from !== undefined) emit({ event: 'delete', path: b64(from) });
      },
      overflow: () => emit({ event: 'overflow' }),
    }, (p) => p === replaced || p.startsWith(`${replaced}/`) || excluded(p), {});
    follower.on('warning', (error) => emit({ event: 'warning', message: error.message }));
    follower.on('error', (error) => emit({ event: 'error', error: this.#describe(error) }));
    const wm = watchTree(root, TRANSFER_EVENTS, { recursive: true, exclude: [...exclude.patterns, replaced], followSymlinks: false });
    const notifier = new Notifier(wm, follower);
    notifier.on('error', (error) => emit({ event: 'error', error: this.#describe(error) }));
    this.#follower = follower;
    this.#notifier = notifier;
  }

  /** The channel drained after events were dropped: one overflow tells the client to merge everything. */
  #payOverflow(): void {
    this.#overflowOwed = false;
    if (!this.#output.destroyed && !this.#output.writableEnded) this.#output.write(`${JSON.stringify({ event: 'overflow' })}\n`);
  }

  #describe(error: CodedError): { code: string; message: string; path?: string } {
    const path = typeof error.path === 'string' ? error.path : undefined;
    return { code: error.code ?? 'ERR_MIRROR_SERVE', message: error.message, ...(path === undefined ? {} : { path }) };
  }

  /** Writes one line; waits for the channel to drain when it is full (a scan of a big tree). */
  async #write(message: Record<string, unknown>): Promise<void> {
    if (this.#output.destroyed || this.#output.writableEnded) return;
    if (!this.#output.write(`${JSON.stringify(message)}\n`)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.#output.off('drain', done);
          this.#output.off('close', done);
          resolve();
        };
        this.#output.on('drain', done);
        this.#output.on('close', done);
      });
    }
  }
}
