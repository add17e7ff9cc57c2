/**
 * A two-way root on another machine: `inotify-mirror --serve ROOT` started
 * there over ssh (remote-side.ts), each {@link SyncSide} operation one
 * request on that channel, the remote follower's changes streamed back. Each
 * reachability check while connected says hello again: a root that is gone
 * or is another directory (remounted, replaced) is unreachable, as a local
 * root's stat would say, so it never reads as "everything deleted". When
 * the channel closes (ssh or the network dropped, the remote end was
 * killed), the side says so once (the engine goes offline and keeps changes
 * waiting); each later check tries to reconnect, and a reconnected root that
 * is not the directory first served (remounted, replaced) stays unreachable.
 */
import { Buffer } from 'node:buffer';
import * as nodePath from 'node:path';
import { debuglog } from 'node:util';
import { systemError, type CodedError } from '../errors.js';
import { rsyncShellArgs, type Destination } from './destination.js';
import type { Entry } from './entry.js';
import { compileMirrorExcludes } from './excludes.js';
import { RelPath } from './rel-path.js';
import { RemoteSide, type RemoteChange, type RemoteRoot } from './remote-side.js';
import type { WireEntry } from './serve.js';
import type { SideSink, SyncSide } from './side.js';

const debug = debuglog('inotify-mirror');

/** Settings of an {@link SshSide}. */
export interface SshSideSettings {
  readonly destination: Extract<Destination, { kind: 'ssh' }>;
  /** The command that starts the serving end on the host, before `--serve ROOT` (default `['inotify-mirror']`). */
  readonly remoteCommand: readonly string[] | undefined;
  /** The --exclude patterns, applied to the remote tree (compiled against its real path). */
  readonly exclude: readonly string[] | undefined;
}

/** An entry as the protocol carries it, as the engine keeps it. */
export function entryFromWire(wire: WireEntry): Entry {
  if (wire.kind === 'symlink') return { kind: 'symlink', size: 0, mtime: '0', hash: Buffer.from(wire.target ?? '', 'base64').toString('latin1') };
  if (wire.kind === 'dir') return { kind: 'dir', size: 0, mtime: '0' };
  return { kind: 'file', size: wire.size, mtime: wire.mtime, ...(wire.hash === undefined ? {} : { hash: wire.hash }) };
}

function channelError(message: string): CodedError {
  const error: CodedError = new Error(message);
  error.code = 'ERR_MIRROR_CHANNEL';
  return error;
}

/** A directory on an ssh host as one side of a two-way mirror. */
export class SshSide implements SyncSide {
  readonly name: string;
  readonly basename: string;
  readonly rsyncArgs: readonly string[];
  readonly #settings: SshSideSettings;
  #remote: RemoteSide | undefined;
  /** The real path of the root on the host (from hello). */
  #realRoot: string;
  #identity: string | undefined;
  #excluded: (pathname: string) => boolean = () => false;
  /** Why the channel closed, until the engine has been told (by unreachable()). */
  #lost: CodedError | undefined;
  #sink: SideSink | undefined;
  #watching = false;
  #closed = false;
  /** Cookies for the rename pairs handed to the sink (the remote sends renames paired already). */
  #cookie = 0;

  constructor(settings: SshSideSettings) {
    this.#settings = settings;
    const { host, root } = settings.destination;
    this.name = `${host}:${root}`;
    const base = nodePath.posix.basename(root);
    this.basename = base === '' || base === '.' || base === '/' ? host.replace(/^.*@/, '') : base;
    this.rsyncArgs = rsyncShellArgs(settings.destination);
    this.#realRoot = root;
  }

  get endpoint(): string {
    return `${this.#settings.destination.host}:${this.#realRoot === '/' ? '' : this.#realRoot}/`;
  }

  async open(): Promise<void> {
    let remote: RemoteSide;
    try {
      remote = await this.#connect();
    } catch (error) {
      throw this.#described(error as CodedError);
    }
    this.#remote = remote;
    this.#identity = remote.root.identity;
    this.#realRoot = remote.root.root;
    try {
      this.#excluded = compileMirrorExcludes(this.#settings.exclude, this.#realRoot).matches ?? ((): boolean => false);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async unreachable(): Promise<CodedError | undefined> {
    if (this.#closed) return channelError(`${this.name}: the mirror is closing`);
    const live = this.#remote;
    if (live !== undefined && !live.closed) {
      // Connected: the root must still be there and be the same directory (as a local side's stat says).
      try {
        return this.#sameRoot(await live.probe());
      } catch (error) {
        if ((error as CodedError).code === 'ERR_MIRROR_CHANNEL') this.#lost = undefined; // reported now
        return this.#described(error as CodedError);
      }
    }
    const lost = this.#lost;
    if (lost !== undefined) {
      // Say it once, so the engine watches anew and merges what changed meanwhile; reconnect on the next check.
      this.#lost = undefined;
      return lost;
    }
    let remote: RemoteSide;
    try {
      remote = await this.#connect();
    } catch (error) {
      return this.#described(error as CodedError);
    }
    if (this.#closed) {
      await remote.close();
      return channelError(`${this.name}: the mirror is closing`);
    }
    const stale = this.#sameRoot(remote.root);
    if (stale !== undefined) {
      await remote.close();
      return stale;
    }
    this.#remote = remote;
    return undefined;
  }

  /** Undefined when `root` is the directory open() found; an ESTALE error otherwise. */
  #sameRoot(root: RemoteRoot): CodedError | undefined {
    if (root.identity === this.#identity) return undefined;
    return systemError('ESTALE', 'mirror', this.name, 'not the directory the mirror started with (unmounted or replaced): changes wait until it is back');
  }

  hasEntries(): Promise<boolean> {
    return Promise.resolve(this.#remote?.root.empty === false);
  }

  async entry(path: RelPath): Promise<Entry | undefined> {
    const wire = await this.#channel().stat(path);
    return wire === undefined ? undefined : entryFromWire(wire);
  }

  async hash(path: RelPath): Promise<string | undefined> {
    const wire = await this.#channel().stat(path, true);
    return wire?.kind === 'file' ? wire.hash : undefined;
  }

  async walk(under: RelPath | undefined, into: Map<string, RelPath>): Promise<void> {
    const exclude = this.#settings.exclude;
    const entries = await this.#channel().scan({ ...(under === undefined ? {} : { path: under }), ...(exclude === undefined ? {} : { exclude }) });
    // The remote end prunes excluded trees itself; checked here too (it lists a directory before its content).
    const skipped = new Set<string>();
    for (const wire of entries) {
      const path = RelPath.from(Buffer.from(wire.path, 'base64'));
      const parent = path.parent();
      if ((parent !== undefined && skipped.has(parent.key)) || (path.key !== under?.key && this.#isExcluded(path))) {
        skipped.add(path.key);
        continue;
      }
      into.set(path.key, path);
    }
  }

  rename(from: RelPath, to: RelPath): Promise<void> {
    return this.#channel().rename(from, to);
  }

  mkdir(path: RelPath): Promise<void> {
    return this.#channel().mkdir(path);
  }

  remove(path: RelPath): Promise<void> {
    return this.#channel().delete(path);
  }

  async parked(): Promise<[RelPath, Entry][]> {
    const entries = await this.#channel().parkedList();
    return entries.map((wire) => [RelPath.from(Buffer.from(wire.path, 'base64')), entryFromWire(wire)]);
  }

  dropParked(path: RelPath): Promise<void> {
    return this.#channel().parkedDrop(path);
  }

  keepParked(path: RelPath, to: RelPath): Promise<void> {
    return this.#channel().parkedKeep(path, to);
  }

  clearParked(): Promise<void> {
    return this.#channel().parkedClear();
  }

  async watch(sink: SideSink): Promise<void> {
    this.#sink = sink;
    this.#watching = true;
    await this.#channel().watch(this.#settings.exclude);
  }

  unwatch(): Promise<void> {
    this.#watching = false; // the remote end watches on until the channel closes; its events are ignored
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watching = false;
    const remote = this.#remote;
    this.#remote = undefined;
    await remote?.close();
  }

  async #connect(): Promise<RemoteSide> {
    const remote = await RemoteSide.connect(this.#settings.destination, { remoteCommand: this.#settings.remoteCommand });
    remote.on('change', (change) => {
      if (this.#remote === remote) this.#change(change);
    });
    remote.on('warning', (error) => {
      if (this.#remote === remote) this.#sink?.warning(error);
    });
    remote.on('close', (error) => {
      if (this.#remote !== remote || this.#closed) return;
      this.#remote = undefined;
      this.#lost = this.#described(error ?? channelError('the remote side closed the channel'));
      this.#sink?.lost(this.#lost);
    });
    return remote;
  }

  /** The live channel; ERR_MIRROR_CHANNEL when it is down (the engine then goes offline). */
  #channel(): RemoteSide {
    if (this.#remote === undefined || this.#remote.closed) throw this.#lost ?? channelError(`${this.name}: not connected`);
    return this.#remote;
  }

  #described(error: CodedError): CodedError {
    if (!error.message.startsWith(this.name)) error.message = `${this.name}: ${error.message}`;
    return error;
  }

  #isExcluded(path: RelPath): boolean {
    return this.#excluded(`${this.#realRoot}/${path.text}`);
  }

  /** A path of a change, or undefined (reported) when it is not one this side may take. */
  #changePath(bytes: Buffer): RelPath | undefined {
    try {
      return RelPath.from(bytes);
    } catch (error) {
      this.#sink?.warning(error as Error);
      return undefined;
    }
  }

  #change(change: RemoteChange): void {
    debug('remote change %o', change);
    const sink = this.#sink;
    if (!this.#watching || sink === undefined) return;
    if (change.event === 'overflow') return sink.overflow();
    if (change.event === 'rename') {
      const from = this.#changePath(change.from);
      const to = this.#changePath(change.to);
      if (from === undefined || to === undefined) return;
      const [hidden, shown] = [this.#isExcluded(from), this.#isExcluded(to)];
      if (hidden && shown) return;
      if (hidden) return sink.send(to, true); // moved in from an excluded place: new here
      if (shown) return sink.delete(from); // moved out of sight: gone here
      const cookie = (this.#cookie = (this.#cookie + 1) % 0x7fffffff);
      sink.movedFrom(cookie, from);
      if (!sink.movedTo(cookie, to)) sink.send(to, true);
      return;
    }
    const path = this.#changePath(change.path);
    if (path === undefined || this.#isExcluded(path)) return;
    if (change.event === 'send') sink.send(path, change.deep);
    else sink.delete(path);
  }
}
