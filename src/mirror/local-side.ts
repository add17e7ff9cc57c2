/**
 * A two-way root on this machine: the {@link SyncSide} operations as direct
 * fs calls, and changes followed by inotify (a ChangeFollower on a Notifier).
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { systemError, type CodedError } from '../errors.js';
import { Notifier } from '../notifier.js';
import { TRANSFER_EVENTS } from '../transfer/types.js';
import { watchTree } from '../watch-tree.js';
import { ensureHash, readEntry, type Entry } from './entry.js';
import { ChangeFollower } from './follow.js';
import { clearParked, dropParked, keepParked, listParked } from './parking.js';
import type { RelPath } from './rel-path.js';
import { renameNoReplace } from './rename-no-replace.js';
import type { SideSink, SyncSide } from './side.js';
import { REPLACED_DIR, walkTree } from './walk.js';

/** Settings of a {@link LocalSide}. */
export interface LocalSideSettings {
  /** The root, absolute, without a trailing slash. */
  readonly root: string;
  /** The --exclude patterns (for the watches). */
  readonly exclude: readonly string[] | undefined;
  /** The excluded-path predicate (absolute pathnames). */
  readonly excluded: (pathname: string) => boolean;
  readonly quietPeriod: number | undefined;
  readonly settleTime: number | undefined;
  /** Keep the process alive while watching. */
  readonly ref: boolean;
}

/** A local directory as one side of a two-way mirror. */
export class LocalSide implements SyncSide {
  readonly name: string;
  readonly basename: string;
  readonly endpoint: string;
  readonly rsyncArgs: readonly string[] = [];
  readonly #settings: LocalSideSettings;
  readonly #root: Buffer;
  #identity: string | undefined;
  #notifier: Notifier | undefined;
  #follower: ChangeFollower | undefined;

  constructor(settings: LocalSideSettings) {
    this.#settings = settings;
    this.name = settings.root;
    this.basename = nodePath.basename(settings.root);
    this.endpoint = `${settings.root === '/' ? '' : settings.root}/`;
    this.#root = Buffer.from(settings.root);
  }

  open(): Promise<void> {
    const stat = fs.statSync(this.name, { throwIfNoEntry: false });
    if (stat === undefined) return Promise.reject(systemError('ENOENT', 'stat', this.name));
    if (!stat.isDirectory()) return Promise.reject(systemError('ENOTDIR', 'mirror', this.name));
    this.#identity = `${stat.dev}:${stat.ino}`;
    return Promise.resolve();
  }

  unreachable(): Promise<CodedError | undefined> {
    const stat = fs.statSync(this.name, { throwIfNoEntry: false });
    if (stat?.isDirectory() === true && `${stat.dev}:${stat.ino}` === this.#identity) return Promise.resolve(undefined);
    return Promise.resolve(systemError(stat === undefined ? 'ENOENT' : 'ESTALE', 'mirror', this.name, stat === undefined
      ? 'the directory is gone: changes wait until it is back'
      : 'not the directory the mirror started with (unmounted or replaced): changes wait until it is back'));
  }

  hasEntries(): Promise<boolean> {
    return Promise.resolve(fs.readdirSync(this.name).some((name) => name !== REPLACED_DIR));
  }

  entry(path: RelPath): Promise<Entry | undefined> {
    return Promise.resolve(readEntry(path.under(this.#root)));
  }

  hash(path: RelPath): Promise<string | undefined> {
    const at = path.under(this.#root);
    const entry = readEntry(at);
    if (entry?.kind !== 'file' || !ensureHash(at, entry)) return Promise.resolve(undefined);
    return Promise.resolve(entry.hash);
  }

  walk(under: RelPath | undefined, into: Map<string, RelPath>): Promise<void> {
    walkTree(this.#root, under, this.#settings.excluded, into);
    return Promise.resolve();
  }

  rename(from: RelPath, to: RelPath): Promise<void> {
    renameNoReplace(from.under(this.#root), to.under(this.#root));
    return Promise.resolve();
  }

  mkdir(path: RelPath): Promise<void> {
    fs.mkdirSync(path.under(this.#root), { recursive: true });
    return Promise.resolve();
  }

  remove(path: RelPath): Promise<void> {
    const at = path.under(this.#root);
    if (fs.lstatSync(at).isDirectory()) fs.rmdirSync(at);
    else fs.unlinkSync(at);
    return Promise.resolve();
  }

  parked(): Promise<[RelPath, Entry][]> {
    return Promise.resolve(listParked(this.#root));
  }

  dropParked(path: RelPath): Promise<void> {
    dropParked(this.#root, path);
    return Promise.resolve();
  }

  keepParked(path: RelPath, to: RelPath): Promise<void> {
    keepParked(this.#root, path, to);
    return Promise.resolve();
  }

  clearParked(): Promise<void> {
    clearParked(this.#root);
    return Promise.resolve();
  }

  watch(sink: SideSink): Promise<void> {
    const root = this.name;
    const excluded = this.#settings.excluded;
    const replaced = `${root}/${REPLACED_DIR}`;
    const follower = new ChangeFollower(root, sink, (p) => p === replaced || p.startsWith(`${replaced}/`) || excluded(p), {
      quietPeriod: this.#settings.quietPeriod, settleTime: this.#settings.settleTime,
    });
    follower.on('warning', (error) => sink.warning(error));
    follower.on('error', (error) => sink.fail(error));
    const wm = watchTree(root, TRANSFER_EVENTS, {
      recursive: true, exclude: [...(this.#settings.exclude ?? []), replaced], followSymlinks: false,
    });
    const notifier = new Notifier(wm, follower, { ref: this.#settings.ref });
    notifier.on('error', (error) => sink.fail(error));
    this.#follower = follower;
    this.#notifier = notifier;
    return Promise.resolve();
  }

  async unwatch(): Promise<void> {
    const follower = this.#follower;
    const notifier = this.#notifier;
    this.#follower = undefined;
    this.#notifier = undefined;
    follower?.stopWaiting();
    await notifier?.close();
    await follower?.close();
  }

  close(): Promise<void> {
    return this.unwatch();
  }
}
