/**
 * Running a synchronous decision (verdict.ts, entry.ts) over sides whose
 * file hashes come asynchronously (a remote side hashes on its host). The
 * decision gets hashers that answer from what is known; a hash not known
 * yet makes it ask, and the decision's answer is thrown away: the asked
 * hashes are fetched from the sides, and the decision runs again. Each run
 * asks only for hashes not fetched before, so it ends (at most one run per
 * entry it can hash, plus one).
 */
import type { Entry, Hasher } from './entry.js';
import type { RelPath } from './rel-path.js';
import type { SideIndex } from './verdict.js';

/** Fetches the hash of the file at `path` on side `side` now (undefined: not a readable file). */
export type HashSource = (side: SideIndex, path: RelPath) => Promise<string | undefined>;

/** Gives the decision a hasher for one path on one side. */
export type HasherFor = (side: SideIndex, path: RelPath) => Hasher;

/** Runs `decision` until every hash it asks for is known; returns its last answer. */
export async function withHashes<T>(fetch: HashSource, decision: (hasher: HasherFor) => T): Promise<T> {
  /** Fetched hashes by side and path key (null: the file could not be hashed). */
  const known = new Map<string, string | null>();
  for (;;) {
    const wanted = new Map<string, [SideIndex, RelPath]>();
    const result = decision((side, path) => (entry: Entry) => {
      if (entry.hash !== undefined) return true;
      const key = `${side}\0${path.key}`;
      const hash = known.get(key);
      if (hash === undefined) {
        wanted.set(key, [side, path]);
        return false;
      }
      if (hash === null) return false;
      entry.hash = hash;
      return true;
    });
    if (wanted.size === 0) return result;
    const fetched = await Promise.all([...wanted.values()].map(([side, path]) => fetch(side, path)));
    [...wanted.keys()].forEach((key, i) => known.set(key, fetched[i] ?? null));
  }
}
