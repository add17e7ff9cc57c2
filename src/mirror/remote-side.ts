/**
 * The client end of the `--serve` protocol (serve.ts): one `inotify-mirror
 * --serve ROOT` started on a host over ssh (`ssh host inotify-mirror --serve
 * 'ROOT'`, every word shell-quoted: ssh hands the remote a command string),
 * with each request an async call. Requests may be sent without waiting for
 * the previous answer (they are answered in order). ssh-side.ts builds the
 * engine's remote root on it.
 */
import { Buffer } from 'node:buffer';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import type { CodedError } from '../errors.js';
import type { Destination } from './destination.js';
import type { RelPath } from './rel-path.js';
import { PROTOCOL_VERSION, type WireEntry } from './serve.js';
import { shellCommand } from './shell-quote.js';

/** What `hello` tells of the served root. */
export interface RemoteRoot {
  readonly version: number;
  /** The root's real path on the host. */
  readonly root: string;
  /** `dev:ino` of the root: another value later means another directory (remounted, replaced). */
  readonly identity: string;
  /** True when the root held nothing besides the mirror's parking directory. */
  readonly empty: boolean;
}

/** A change the remote side saw complete (paths as bytes). */
export type RemoteChange =
  | { readonly event: 'send'; readonly path: Buffer; readonly deep: boolean }
  | { readonly event: 'delete'; readonly path: Buffer }
  | { readonly event: 'rename'; readonly from: Buffer; readonly to: Buffer }
  | { readonly event: 'overflow' };

/** Events of a {@link RemoteSide}. */
export interface RemoteSideEvents {
  change: [change: RemoteChange];
  /** A warning or an error the remote follower reported (the side keeps serving requests). */
  warning: [error: Error];
  /** The channel closed (ssh exited); pending requests were rejected with ERR_MIRROR_CHANNEL. */
  close: [error: Error | undefined];
}

/** Settings of {@link RemoteSide.connect}. */
export interface RemoteSideOptions {
  /** The remote command before `--serve ROOT` (default `['inotify-mirror']`), e.g. `['node', '/opt/x/lib/cli/inotify-mirror.js']`. */
  readonly remoteCommand?: readonly string[];
}

/** How long (ms) close() waits for ssh to exit on its own. */
export const CLOSE_GRACE = 5000;

interface Pending {
  readonly items: Record<string, unknown>[];
  resolve(reply: Record<string, unknown>): void;
  reject(error: Error): void;
}

function channelError(message: string): CodedError {
  const error: CodedError = new Error(message);
  error.code = 'ERR_MIRROR_CHANNEL';
  return error;
}

function replyError(error: { code?: unknown; message?: unknown; path?: unknown }): CodedError {
  const coded: CodedError = new Error(typeof error.message === 'string' ? error.message : 'the remote side failed');
  coded.code = typeof error.code === 'string' ? error.code : 'ERR_MIRROR_SERVE';
  if (typeof error.path === 'string') coded.path = error.path;
  return coded;
}

const b64 = (path: RelPath): string => path.bytes.toString('base64');
const bytes = (encoded: unknown): Buffer => Buffer.from(typeof encoded === 'string' ? encoded : '', 'base64');

/** One served remote root over one ssh channel. */
export class RemoteSide extends EventEmitter<RemoteSideEvents> {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #stderr = '';
  #closed: Error | undefined | null = null;
  readonly #exited: Promise<void>;
  /** What `hello` answered. */
  root!: RemoteRoot;

  private constructor(argv: readonly string[]) {
    super();
    const [program, ...args] = argv as [string, ...string[]];
    this.#child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stdin.on('error', () => undefined); // the exit says why
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4096);
    });
    createInterface({ input: this.#child.stdout, crlfDelay: Infinity }).on('line', (line) => this.#receive(line));
    this.#exited = new Promise((resolve) => {
      const finish = (error: Error | undefined): void => {
        if (this.#closed !== null) return resolve();
        this.#closed = error;
        for (const pending of this.#pending.values()) pending.reject(error ?? channelError('the remote side closed the channel'));
        this.#pending.clear();
        this.emit('close', error);
        resolve();
      };
      this.#child.once('error', (error) => finish(channelError(`cannot start ${program}: ${error.message}`)));
      this.#child.once('close', (code, signal) => finish(code === 0 ? undefined
        : channelError(`the remote side exited (${signal ?? `status ${String(code)}`})${this.#stderr.trim() === '' ? '' : `: ${this.#stderr.trim()}`}`)));
    });
  }

  /**
   * Starts `--serve root` on `destination`'s host over its ssh command and
   * says hello. Rejects with ERR_MIRROR_CHANNEL when ssh or the remote
   * command fails (the message carries their stderr), or with
   * ERR_MIRROR_PROTOCOL when the remote speaks another protocol version.
   */
  static async connect(destination: Extract<Destination, { kind: 'ssh' }>, options: RemoteSideOptions = {}): Promise<RemoteSide> {
    const command = shellCommand([...(options.remoteCommand ?? ['inotify-mirror']), '--serve', destination.root]).toString();
    const side = new RemoteSide([...destination.ssh, '--', destination.host, command]);
    try {
      const reply = await side.#request('hello', { version: PROTOCOL_VERSION });
      side.root = { version: reply.version as number, root: reply.root as string, identity: reply.identity as string, empty: reply.empty === true };
    } catch (error) {
      await side.close();
      throw error;
    }
    return side;
  }

  /** Says hello again: the root's identity now (rejects with ENOENT when the root is gone). */
  async probe(): Promise<RemoteRoot> {
    const reply = await this.#request('hello', { version: PROTOCOL_VERSION });
    return { version: reply.version as number, root: reply.root as string, identity: reply.identity as string, empty: reply.empty === true };
  }

  /**
   * Every entry of the tree (or of the subtree at `path`), with content
   * hashes when `hash`; `exclude` (--exclude patterns) prunes trees there.
   */
  async scan(options: { path?: RelPath; hash?: boolean; exclude?: readonly string[] } = {}): Promise<WireEntry[]> {
    const items: Record<string, unknown>[] = [];
    await this.#request('scan', {
      ...(options.path === undefined ? {} : { path: b64(options.path) }), hash: options.hash === true,
      ...(options.exclude === undefined ? {} : { exclude: options.exclude }),
    }, items);
    return items.map((item) => item.entry as WireEntry);
  }

  /** One entry, or undefined when absent. */
  async stat(path: RelPath, hash = false): Promise<WireEntry | undefined> {
    const reply = await this.#request('stat', { path: b64(path), hash });
    return (reply.entry as WireEntry | null) ?? undefined;
  }

  /** Starts the stream of 'change' events; `exclude` (--exclude patterns) trees are not watched there. */
  async watch(exclude?: readonly string[]): Promise<void> {
    await this.#request('watch', exclude === undefined ? {} : { exclude });
  }

  /** Renames `from` to `to` there (EEXIST when `to` exists: nothing is overwritten). */
  async rename(from: RelPath, to: RelPath): Promise<void> {
    await this.#request('rename', { from: b64(from), to: b64(to) });
  }

  /** Deletes a file, a symlink or an empty directory there. */
  async delete(path: RelPath): Promise<void> {
    await this.#request('delete', { path: b64(path) });
  }

  /** Creates a directory (and missing parents) there. */
  async mkdir(path: RelPath): Promise<void> {
    await this.#request('mkdir', { path: b64(path) });
  }

  /** The files in the parking directory (paths relative to it), as {@link scan} lists them. */
  async parkedList(): Promise<WireEntry[]> {
    const items: Record<string, unknown>[] = [];
    await this.#request('parked-list', {}, items);
    return items.map((item) => item.entry as WireEntry);
  }

  /** Drops one parked file (`path` relative to the parking directory). */
  async parkedDrop(path: RelPath): Promise<void> {
    await this.#request('parked-drop', { path: b64(path) });
  }

  /** Moves one parked file to `to` in the tree (EEXIST when `to` exists). */
  async parkedKeep(path: RelPath, to: RelPath): Promise<void> {
    await this.#request('parked-keep', { path: b64(path), to: b64(to) });
  }

  /** Removes the parking directory. */
  async parkedClear(): Promise<void> {
    await this.#request('parked-clear', {});
  }

  /** True once the channel closed (every later request is rejected). */
  get closed(): boolean {
    return this.#closed !== null;
  }

  /**
   * Ends the channel (the remote end exits when its input ends) and waits for
   * ssh to exit; ssh is terminated when it has not exited after
   * {@link CLOSE_GRACE} ms (a dead network can hold it). Idempotent.
   */
  async close(): Promise<void> {
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGTERM'), CLOSE_GRACE);
    timer.unref();
    await this.#exited;
    clearTimeout(timer);
  }

  #request(op: string, fields: Record<string, unknown>, items: Record<string, unknown>[] = []): Promise<Record<string, unknown>> {
    if (this.#closed !== null) return Promise.reject(this.#closed ?? channelError('the channel is closed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { items, resolve, reject });
      this.#child.stdin.write(`${JSON.stringify({ id, op, ...fields })}\n`);
    });
  }

  #receive(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.emit('warning', channelError(`the remote side wrote a line that is not JSON: ${line.slice(0, 200)}`));
      return;
    }
    if (typeof message.event === 'string') {
      this.#event(message);
      return;
    }
    const pending = typeof message.id === 'number' ? this.#pending.get(message.id) : undefined;
    if (pending === undefined) {
      if (message.error !== undefined) this.emit('warning', replyError(message.error as Record<string, unknown>));
      return;
    }
    if (message.ok === true) {
      this.#pending.delete(message.id as number);
      pending.resolve(message);
    } else if (message.error !== undefined) {
      this.#pending.delete(message.id as number);
      pending.reject(replyError(message.error as Record<string, unknown>));
    } else {
      pending.items.push(message);
    }
  }

  #event(message: Record<string, unknown>): void {
    switch (message.event) {
      case 'send': return void this.emit('change', { event: 'send', path: bytes(message.path), deep: message.deep === true });
      case 'delete': return void this.emit('change', { event: 'delete', path: bytes(message.path) });
      case 'rename': return void this.emit('change', { event: 'rename', from: bytes(message.from), to: bytes(message.to) });
      case 'overflow': return void this.emit('change', { event: 'overflow' });
      case 'warning': return void this.emit('warning', new Error(String(message.message)));
      case 'error': return void this.emit('warning', replyError(message.error as Record<string, unknown>));
      default: this.emit('warning', channelError(`unknown event ${JSON.stringify(message.event)} from the remote side`));
    }
  }
}
