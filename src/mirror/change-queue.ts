/**
 * The changes waiting to be applied to the destination, in the order they
 * happened. Sends coalesce: a file completed while other sends wait joins
 * their batch (one rsync for a burst), and a file already waiting is not
 * added twice. A rename or delete ends the batch, so order is kept: a file is
 * sent before it is renamed, deleted after it was sent. The half of a rename
 * whose other half has not come yet holds its place in the line (and
 * everything behind it) until it is paired or known to have left the tree.
 * Bounded: past `limit` entries the whole backlog becomes one reconcile.
 */
import type { ReconcileReason } from './reconcile.js';
import type { RelPath } from './rel-path.js';

/** Files and directories to send with one rsync. */
export interface SendBatch {
  readonly kind: 'send';
  /** Files, symlinks and new (empty) directories, by key. */
  readonly shallow: Map<string, RelPath>;
  /** Directories to send with their content (moved in, or a rename that could not be replayed). */
  readonly deep: Map<string, RelPath>;
}

/** One entry of the line. */
export type QueuedChange =
  | SendBatch
  | { readonly kind: 'rename'; readonly from: RelPath; readonly to: RelPath }
  | { readonly kind: 'delete'; readonly path: RelPath }
  | { readonly kind: 'reconcile'; readonly reason: ReconcileReason }
  /** IN_MOVED_FROM awaiting its IN_MOVED_TO; `to` once paired, `gone` once known to have left. */
  | { kind: 'moving'; readonly cookie: number; readonly from: RelPath; to?: RelPath; gone?: boolean };

/** What the queue hands out: a batch to send, a run of renames and deletes, or a reconcile. */
export type Work =
  | SendBatch
  | { readonly kind: 'tree'; readonly ops: readonly ({ type: 'rename'; from: RelPath; to: RelPath } | { type: 'delete'; path: RelPath })[] }
  | { readonly kind: 'reconcile'; readonly reason: ReconcileReason };

/** The ordered, coalescing, bounded line of changes. */
export class ChangeQueue {
  readonly #entries: QueuedChange[] = [];
  readonly #limit: number;
  #size = 0;

  /** @param limit how many paths may wait before the backlog becomes one reconcile. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Paths waiting (each file of a batch counts). */
  get size(): number {
    return this.#size;
  }

  /** True when nothing waits. */
  get empty(): boolean {
    return this.#entries.length === 0;
  }

  /** A file (or, with `deep`, a directory and its content) to send. */
  send(path: RelPath, deep = false): void {
    const tail = this.#entries.at(-1);
    let batch: SendBatch;
    if (tail?.kind === 'send') {
      batch = tail;
    } else {
      batch = { kind: 'send', shallow: new Map(), deep: new Map() };
      this.#entries.push(batch);
    }
    const target = deep ? batch.deep : batch.shallow;
    if (target.has(path.key)) return;
    target.set(path.key, path);
    this.#grew();
  }

  /** A rename within the tree. */
  rename(from: RelPath, to: RelPath): void {
    this.#entries.push({ kind: 'rename', from, to });
    this.#grew();
  }

  /** A delete (of a file, or a whole directory). */
  delete(path: RelPath): void {
    this.#entries.push({ kind: 'delete', path });
    this.#grew();
  }

  /** A whole-tree reconcile (at most one waits at a time). */
  reconcile(reason: ReconcileReason): void {
    if (this.#entries.some((entry) => entry.kind === 'reconcile')) return;
    this.#entries.push({ kind: 'reconcile', reason });
  }

  /** The first half of a rename: holds its place until {@link movedTo} or {@link movedAway}. */
  movedFrom(cookie: number, from: RelPath): void {
    this.#entries.push({ kind: 'moving', cookie, from });
    this.#grew();
  }

  /** Pairs the second half of a rename; false when no first half waits with this cookie. */
  movedTo(cookie: number, to: RelPath): boolean {
    const entry = this.#entries.find((e) => e.kind === 'moving' && e.cookie === cookie && e.to === undefined && e.gone !== true);
    if (entry?.kind !== 'moving') return false;
    entry.to = to;
    return true;
  }

  /** The first half of a rename whose second half never came: the entry left the tree (a delete). */
  movedAway(cookie: number): void {
    for (const entry of this.#entries) {
      if (entry.kind === 'moving' && entry.cookie === cookie && entry.to === undefined) entry.gone = true;
    }
  }

  /**
   * Takes the next work: a send batch, a run of renames and deletes (one
   * script), or a reconcile. Undefined when nothing waits, or when the head
   * is a rename still waiting for its second half.
   */
  take(): Work | undefined {
    const head = this.#entries[0];
    if (head === undefined) return undefined;
    if (head.kind === 'send' || head.kind === 'reconcile') {
      this.#entries.shift();
      if (head.kind === 'send') this.#size -= head.shallow.size + head.deep.size;
      return head;
    }
    const ops: ({ type: 'rename'; from: RelPath; to: RelPath } | { type: 'delete'; path: RelPath })[] = [];
    for (;;) {
      const entry = this.#entries[0];
      if (entry === undefined || entry.kind === 'send' || entry.kind === 'reconcile') break;
      if (entry.kind === 'moving' && entry.to === undefined && entry.gone !== true) break;
      this.#entries.shift();
      this.#size -= 1;
      if (entry.kind === 'delete') ops.push({ type: 'delete', path: entry.path });
      else if (entry.kind === 'rename') ops.push({ type: 'rename', from: entry.from, to: entry.to });
      else if (entry.to !== undefined) ops.push({ type: 'rename', from: entry.from, to: entry.to });
      else ops.push({ type: 'delete', path: entry.from });
    }
    return ops.length === 0 ? undefined : { kind: 'tree', ops };
  }

  /** Puts work taken by {@link take} back at the head (the destination was unreachable). */
  putBack(work: Work): void {
    if (work.kind === 'send') {
      this.#entries.unshift(work);
      this.#size += work.shallow.size + work.deep.size;
    } else if (work.kind === 'reconcile') {
      this.#entries.unshift(work);
    } else {
      const entries: QueuedChange[] = work.ops.map((op) => (op.type === 'delete'
        ? { kind: 'delete', path: op.path }
        : { kind: 'rename', from: op.from, to: op.to }));
      this.#entries.unshift(...entries);
      this.#size += entries.length;
    }
  }

  #grew(): void {
    this.#size += 1;
    if (this.#size <= this.#limit) return;
    // Too much to replay one by one: one rsync of the whole tree says it all.
    // A rename still waiting for its second half stays: its pairing is still to come.
    const waiting = this.#entries.filter((e) => e.kind === 'moving' && e.to === undefined && e.gone !== true);
    this.#entries.length = 0;
    this.#size = waiting.length;
    this.#entries.push({ kind: 'reconcile', reason: 'backlog' }, ...waiting);
  }
}
