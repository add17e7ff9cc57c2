/**
 * The transfers a tracker follows, and the indexes it finds them by: the
 * path their data is at, the final name they are heading for, the path a
 * rename took them from. Pure bookkeeping: what a transfer *means* (when it
 * completes, when it is abandoned) is the tracker's business.
 */
import type { ArrivalKind, TransferInProgress } from './types.js';

/** One stream of data on its way to a final name. */
export interface Transfer {
  readonly id: number;
  /**
   * Where its data may be now (the registry's path index). Usually one path;
   * an rsync transfer seen both by a scan and by queued events can briefly
   * have two (`.~tmp~/x` and the `.x.XXXXXX` it was renamed from). Empty
   * while 'moved'.
   */
  readonly locations: Set<string>;
  /** The most recent location (kept when there is none left, for reports). */
  lastPath: string;
  /** Expected final pathname (the registry's final-name index); change it with {@link TransferRegistry.setFinal}. */
  readonly final: string;
  /** Its locations are temporary names (rsync temp or held file): it never completes by closing. */
  temp: boolean;
  state: TransferInProgress['state'];
  readonly startedAt: number;
  /** A 'start' was reported, so an 'abandoned' is owed if it does not complete. */
  readonly announced: boolean;
  /** Began with an IN_CREATE (a new file); otherwise an existing file is being rewritten in place. */
  readonly created: boolean;
  /** Written again after a close: completes as 'inplace' after the quiet period. */
  reopened: boolean;
  /** Last closed according to a scan of a new directory: completes as 'found'. */
  found: boolean;
  /** For 'vanished': the completion that was due when its file was missing. */
  due: { via: ArrivalKind; tempPathname: string | undefined } | undefined;
  /** Paths a rename took it from, whose IN_MOVED_TO is still to come. */
  readonly movedFrom: Set<string>;
  timer: NodeJS.Timeout | undefined;
  timerMs: number;
}

/** A transfer pushed off a path by another one taking it. */
export interface Displaced {
  readonly transfer: Transfer;
  readonly path: string;
}

const NO_TRANSFERS: ReadonlySet<Transfer> = new Set();

export class TransferRegistry {
  /** Every live transfer by id, oldest first (eviction order). */
  readonly #byId = new Map<number, Transfer>();
  readonly #byPath = new Map<string, Transfer>();
  readonly #byFinal = new Map<string, Set<Transfer>>();
  /** Transfers whose file was renamed away, by the path it left: for the rename's IN_MOVED_TO. */
  readonly #movedFrom = new Map<string, Transfer>();
  #nextId = 1;

  get size(): number {
    return this.#byId.size;
  }

  /** Live transfers, oldest first. */
  values(): IterableIterator<Transfer> {
    return this.#byId.values();
  }

  oldest(): Transfer | undefined {
    return this.#byId.values().next().value;
  }

  /** Whether `t` is still followed (a timer may fire for one that ended). */
  isLive(t: Transfer): boolean {
    return this.#byId.get(t.id) === t;
  }

  /** An id for a completion that had no transfer (e.g. a file moved in). */
  nextId(): number {
    return this.#nextId++;
  }

  /** Starts following a transfer whose data is at `path`; a transfer already there is displaced. */
  add(path: string, final: string, temp: boolean, announced: boolean, created: boolean, now: number): { transfer: Transfer; displaced: Displaced | undefined } {
    const transfer: Transfer = {
      id: this.#nextId++, locations: new Set(), lastPath: path, final, temp, state: 'writing', startedAt: now,
      announced, created, reopened: false, found: false, due: undefined, movedFrom: new Set(), timer: undefined, timerMs: -1,
    };
    this.#byId.set(transfer.id, transfer);
    this.#index(transfer);
    return { transfer, displaced: this.locate(transfer, path) };
  }

  /** The transfer whose data is at `path`. */
  at(path: string): Transfer | undefined {
    return this.#byPath.get(path);
  }

  /** Transfers with data below directory `dir`, with the path each is at there. */
  below(dir: string): Displaced[] {
    const prefix = `${dir}/`;
    const found: Displaced[] = [];
    for (const [path, transfer] of this.#byPath) if (path.startsWith(prefix)) found.push({ transfer, path });
    return found;
  }

  /**
   * The rsync transfer (temp or held file) on its way to `final`, if any:
   * at most one is tracked per final name, so the names one transfer goes
   * through (`.x.XXXXXX`, `.~tmp~/x`, a --partial-dir file), in whatever
   * order a scan and the queued events reveal them, stay one transfer.
   * With `lost`, only one whose data is out of sight.
   */
  rsyncTransferFor(final: string, lost: boolean): Transfer | undefined {
    let best: Transfer | undefined;
    for (const t of this.#byFinal.get(final) ?? NO_TRANSFERS) {
      if (!t.temp) continue;
      if (t.state === 'moved') return t;
      if (!lost) best ??= t;
    }
    return best;
  }

  /** `t`'s data is (also) at `path` now; returns the transfer that was there before, if another. */
  locate(t: Transfer, path: string): Displaced | undefined {
    const other = this.#byPath.get(path);
    t.locations.add(path);
    t.lastPath = path;
    this.#byPath.set(path, t);
    return other !== undefined && other !== t ? { transfer: other, path } : undefined;
  }

  /** `t`'s data is no longer at `path`. */
  unlocate(t: Transfer, path: string): void {
    if (!t.locations.delete(path)) return;
    if (this.#byPath.get(path) === t) this.#byPath.delete(path);
    if (t.lastPath === path) for (const other of t.locations) t.lastPath = other; // the most recent left
  }

  /** `t`'s file was renamed away from `path`; its IN_MOVED_TO will name `path` as the source. */
  movedAway(t: Transfer, path: string): void {
    this.unlocate(t, path);
    this.#movedFrom.set(path, t);
    t.movedFrom.add(path);
  }

  /** The transfer renamed away from `source`, forgotten there (the rename's second half came). */
  takeMovedFrom(source: string): Transfer | undefined {
    const t = this.#movedFrom.get(source);
    if (t === undefined) return undefined;
    this.#movedFrom.delete(source);
    t.movedFrom.delete(source);
    return t;
  }

  setFinal(t: Transfer, final: string): void {
    if (t.final === final) return;
    this.#unindex(t);
    (t as { final: string }).final = final;
    this.#index(t);
  }

  /** Stops following `t` (completed or abandoned): out of every index, its timer cleared. */
  end(t: Transfer): void {
    clearTimeout(t.timer);
    t.timer = undefined;
    for (const path of t.locations) {
      if (this.#byPath.get(path) === t) this.#byPath.delete(path);
    }
    t.locations.clear();
    for (const path of t.movedFrom) {
      if (this.#movedFrom.get(path) === t) this.#movedFrom.delete(path);
    }
    t.movedFrom.clear();
    this.#byId.delete(t.id);
    this.#unindex(t);
  }

  /** Directory `from` was renamed to `to` inside the tree: every path below it moves along. */
  repath(from: string, to: string): Displaced[] {
    const prefix = `${from}/`;
    const rewrite = (p: string): string => (p.startsWith(prefix) ? to + p.slice(from.length) : p);
    const displaced: Displaced[] = [];
    for (const t of this.#byId.values()) {
      const last = rewrite(t.lastPath);
      for (const path of [...t.locations]) {
        if (!path.startsWith(prefix)) continue;
        this.unlocate(t, path);
        const other = this.locate(t, rewrite(path));
        if (other !== undefined) displaced.push(other);
      }
      t.lastPath = last;
      this.setFinal(t, rewrite(t.final));
      for (const path of [...t.movedFrom]) {
        if (!path.startsWith(prefix)) continue;
        t.movedFrom.delete(path);
        this.#movedFrom.delete(path);
        t.movedFrom.add(rewrite(path));
        this.#movedFrom.set(rewrite(path), t);
      }
    }
    return displaced;
  }

  /** Forgets everything (timers included). */
  clear(): void {
    for (const t of this.#byId.values()) clearTimeout(t.timer);
    this.#byId.clear();
    this.#byPath.clear();
    this.#byFinal.clear();
    this.#movedFrom.clear();
  }

  #index(t: Transfer): void {
    let set = this.#byFinal.get(t.final);
    if (set === undefined) this.#byFinal.set(t.final, (set = new Set()));
    set.add(t);
  }

  #unindex(t: Transfer): void {
    const set = this.#byFinal.get(t.final);
    set?.delete(t);
    if (set?.size === 0) this.#byFinal.delete(t.final);
  }
}
