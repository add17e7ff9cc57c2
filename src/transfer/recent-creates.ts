/**
 * Final names just created (IN_CREATE) with nothing else seen yet. The next
 * IN_OPEN makes one a transfer; symlinks, fifos and hard links never get
 * one, so entries expire, and the set is bounded.
 */

/** How long a create waits for its first open or write (ms). */
const TTL = 10_000;
const MAX = 4096;

export class RecentCreates {
  /** Insertion order is creation order, so the oldest come first. */
  readonly #created = new Map<string, number>();

  add(path: string, now = Date.now()): void {
    this.#created.delete(path);
    this.#created.set(path, now);
    for (const [old, time] of this.#created) {
      if (this.#created.size <= MAX && now - time < TTL) break; // the rest are newer
      this.#created.delete(old);
    }
  }

  /** Forgets `path`; true when it was a recent create. */
  take(path: string): boolean {
    return this.#created.delete(path);
  }

  /** Directory `from` was renamed to `to`: names below it move along. */
  repath(from: string, to: string): void {
    const prefix = `${from}/`;
    for (const [path, time] of [...this.#created]) {
      if (!path.startsWith(prefix)) continue;
      this.#created.delete(path);
      this.#created.set(to + path.slice(from.length), time);
    }
  }

  /** Forgets every name, returning them oldest first. */
  takeAll(): string[] {
    const paths = [...this.#created.keys()];
    this.#created.clear();
    return paths;
  }

  clear(): void {
    this.#created.clear();
  }
}
