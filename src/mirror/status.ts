/**
 * What a two-way mirror of two roots has pending: every path whose two sides
 * are not what the state recorded at the last sync, with what the next start
 * (or the running mirror, once it gets to it) will do about it. Reads the
 * state without locking it or writing anything, so it works beside a
 * running mirror (whose state may move on meanwhile: a reading of the moment).
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { systemError } from '../errors.js';
import { fileHasher, readEntry } from './entry.js';
import { describeDestination, parseDestination } from './destination.js';
import { compileMirrorExcludes } from './excludes.js';
import { withHashes } from './lazy-hash.js';
import { LocalSide } from './local-side.js';
import { RelPath } from './rel-path.js';
import type { SyncSide } from './side.js';
import { SshSide } from './ssh-side.js';
import { defaultStateDir } from './state-dir.js';
import { StateStore } from './state-store.js';
import { SIDE_NAMES } from './two-way.js';
import { decide, decodeRecord, other, type SidePair, type Verdict } from './verdict.js';
import { walkTree } from './walk.js';

/** One path that is not in sync, and what syncing it will do. */
export interface TwoWayPendingPath {
  /** The path (UTF-8 rendering). */
  readonly path: string;
  /**
   * 'copy' to `to`; 'delete' on `to`; 'delete-edit' (deleted on one side, changed on `from`: the change
   * goes to `to`); 'conflict' (changed on both: `renamed`'s version will take a conflict name);
   * 'record' (the same change on both sides: nothing to copy).
   */
  readonly action: 'copy' | 'delete' | 'delete-edit' | 'conflict' | 'record';
  readonly from?: 'source' | 'destination';
  readonly to?: 'source' | 'destination';
  readonly renamed?: 'source' | 'destination';
}

/** What {@link twoWayStatus} found. */
export interface TwoWayStatus {
  /** The state directory read. */
  readonly state: string;
  /** Paths the state records as synced. */
  readonly synced: number;
  /** Paths not in sync, sorted by path. */
  readonly pending: readonly TwoWayPendingPath[];
}

/** Options of {@link twoWayStatus}: the same `state` and `exclude` as the mirror's. */
export interface TwoWayStatusOptions {
  readonly state?: string;
  readonly exclude?: readonly string[];
}

/** Options of {@link remoteTwoWayStatus}: those of {@link twoWayStatus}, and how to reach the host. */
export interface RemoteTwoWayStatusOptions extends TwoWayStatusOptions {
  /** The ssh command as an argv (default `['ssh']`). */
  readonly ssh?: readonly string[];
  /** The command that starts `--serve` on the host (default `['inotify-mirror']`). */
  readonly remoteCommand?: readonly string[];
}

/** What the next sync does about `path` given its verdict, or undefined when it is in sync. */
function pendingOf(path: RelPath, verdict: Verdict): TwoWayPendingPath | undefined {
  switch (verdict.action) {
    case 'in-sync':
      return undefined;
    case 'record':
      return { path: path.text, action: 'record' };
    case 'copy':
    case 'delete':
      return { path: path.text, action: verdict.action, from: SIDE_NAMES[verdict.from], to: SIDE_NAMES[other(verdict.from)] };
    case 'delete-edit':
      return { path: path.text, action: 'delete-edit', from: SIDE_NAMES[verdict.kept], to: SIDE_NAMES[other(verdict.kept)] };
    case 'conflict':
      return { path: path.text, action: 'conflict', renamed: SIDE_NAMES[verdict.loser] };
  }
}

/**
 * {@link twoWayStatus} for a pair whose second root is `[user@]host:path`
 * (or local: both work), reading the remote tree through `inotify-mirror
 * --serve` over ssh. Rejects as twoWayStatus throws, and with
 * ERR_MIRROR_CHANNEL when the host cannot be reached.
 */
export async function remoteTwoWayStatus(first: string, second: string, options: RemoteTwoWayStatusOptions = {}): Promise<TwoWayStatus> {
  const destination = parseDestination(second, options.ssh);
  const root = nodePath.resolve(first);
  const local = (dir: string): LocalSide => new LocalSide({
    root: dir, exclude: options.exclude, excluded: compileMirrorExcludes(options.exclude, dir).matches ?? ((): boolean => false),
    quietPeriod: undefined, settleTime: undefined, ref: false,
  });
  const sides: [SyncSide, SyncSide] = [local(root), destination.kind === 'local' ? local(destination.root)
    : new SshSide({ destination, remoteCommand: options.remoteCommand, exclude: options.exclude })];
  const state = nodePath.resolve(options.state ?? defaultStateDir(root, describeDestination(destination)));
  try {
    for (const side of sides) await side.open();
    const store = new StateStore(state, 'two-way', { readOnly: true });
    const paths = new Map<string, RelPath>();
    for (const side of sides) await side.walk(undefined, paths);
    for (const key of store.keys()) if (!paths.has(key)) paths.set(key, RelPath.from(Buffer.from(key, 'latin1')));
    const sorted = [...paths.values()].sort((x, y) => Buffer.compare(x.bytes, y.bytes));
    const seen = await Promise.all(sides.map((side) => Promise.all(sorted.map((path) => side.entry(path)))));
    const pending: TwoWayPendingPath[] = [];
    for (const [i, path] of sorted.entries()) {
      const now: SidePair = [seen[0]?.[i], seen[1]?.[i]];
      const record = decodeRecord(store.get(path.key));
      const verdict = await withHashes((side, at) => sides[side].hash(at), (hasher) => decide([hasher(0, path), hasher(1, path)], now, record));
      const item = pendingOf(path, verdict);
      if (item !== undefined) pending.push(item);
    }
    return { state, synced: store.size, pending };
  } finally {
    await Promise.all(sides.map((side) => side.close()));
  }
}

/**
 * Compares both roots with the state of their two-way mirror. Throws ENOENT
 * for a root that does not exist, ENOTDIR for one that is not a directory.
 */
export function twoWayStatus(first: string, second: string, options: TwoWayStatusOptions = {}): TwoWayStatus {
  const roots = [nodePath.resolve(first), nodePath.resolve(second)] as const;
  for (const root of roots) {
    const stat = fs.statSync(root, { throwIfNoEntry: false });
    if (stat === undefined) throw systemError('ENOENT', 'stat', root);
    if (!stat.isDirectory()) throw systemError('ENOTDIR', 'status', root);
  }
  const state = nodePath.resolve(options.state ?? defaultStateDir(roots[0], roots[1]));
  const store = new StateStore(state, 'two-way', { readOnly: true });
  const bytes = [Buffer.from(roots[0]), Buffer.from(roots[1])] as const;
  const paths = new Map<string, RelPath>();
  for (const side of [0, 1] as const) {
    const excluded = compileMirrorExcludes(options.exclude, roots[side]).matches ?? ((): boolean => false);
    walkTree(bytes[side], undefined, excluded, paths);
  }
  for (const key of store.keys()) if (!paths.has(key)) paths.set(key, RelPath.from(Buffer.from(key, 'latin1')));
  const pending: TwoWayPendingPath[] = [];
  for (const path of [...paths.values()].sort((x, y) => Buffer.compare(x.bytes, y.bytes))) {
    const at = [path.under(bytes[0]), path.under(bytes[1])] as const;
    const now: SidePair = [readEntry(at[0]), readEntry(at[1])];
    const item = pendingOf(path, decide([fileHasher(at[0]), fileHasher(at[1])], now, decodeRecord(store.get(path.key))));
    if (item !== undefined) pending.push(item);
  }
  return { state, synced: store.size, pending };
}
