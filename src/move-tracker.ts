/**
 * Remembers IN_MOVED_FROM halves by cookie until their IN_MOVED_TO arrives.
 * Bounded in time and size: a rename whose second half never comes (the
 * entry left the watched tree) is forgotten, never kept forever.
 */
export interface MoveSource {
  readonly pathname: string;
  readonly dir: boolean;
  readonly at: number;
}

/** The IN_MOVED_FROM halves waiting for their IN_MOVED_TO, by cookie, oldest first. */
export class MoveTracker {
  readonly #byCookie = new Map<number, MoveSource>();

  constructor(
    private readonly ttlMs = 5_000,
    private readonly maxEntries = 65_536,
  ) {}

  /** Keeps the source of a rename until its IN_MOVED_TO; past `maxEntries` the oldest are forgotten. */
  remember(cookie: number, pathname: string, dir: boolean, now = Date.now()): void {
    this.#byCookie.set(cookie, { pathname, dir, at: now });
    // Drop only the oldest beyond the bound: an infinite `now` would take every entry as expired.
    if (this.#byCookie.size > this.maxEntries) this.expire(now, this.maxEntries);
  }

  /** The source of the rename with this cookie, forgotten once taken. */
  take(cookie: number): MoveSource | undefined {
    const source = this.#byCookie.get(cookie);
    if (source !== undefined) this.#byCookie.delete(cookie);
    return source;
  }

  /** Forgets sources older than the time limit (and the oldest beyond `keep`). */
  expire(now?: number, keep = this.maxEntries): void {
    if (this.#byCookie.size === 0) return; // the common case, at the end of every batch: no clock read
    now ??= Date.now();
    let excess = this.#byCookie.size - keep;
    for (const [cookie, source] of this.#byCookie) {
      if (excess <= 0 && now - source.at < this.ttlMs) break; // insertion order: the rest are newer
      this.#byCookie.delete(cookie);
      excess--;
    }
  }

  get size(): number {
    return this.#byCookie.size;
  }
}
