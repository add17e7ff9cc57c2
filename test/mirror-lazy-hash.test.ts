/**
 * withHashes (lazy-hash.ts): a synchronous decision over hashes that arrive
 * asynchronously. The decision (verdict.ts's decide, unchanged) is run again
 * with the hashes it asked for, only those are fetched, each once, and a hash
 * that cannot be had answers false (as a local unreadable file does).
 */
import { describe, expect, it } from 'vitest';
import type { Entry } from '../src/mirror/entry.js';
import { withHashes } from '../src/mirror/lazy-hash.js';
import { RelPath } from '../src/mirror/rel-path.js';
import { decide, type SideIndex, type SidePair } from '../src/mirror/verdict.js';

const file = (size: number, mtime: string, hash?: string): Entry => ({ kind: 'file', size, mtime, ...(hash === undefined ? {} : { hash }) });

/** A fetcher over fixed hashes per side, counting the calls. */
function source(hashes: [Record<string, string>, Record<string, string>]): { fetch: (side: SideIndex, path: RelPath) => Promise<string | undefined>; calls: string[] } {
  const calls: string[] = [];
  return { calls, fetch: (side, path) => {
    calls.push(`${side}:${path.text}`);
    return Promise.resolve(hashes[side][path.text]);
  } };
}

describe('withHashes', () => {
  const path = RelPath.from('d/f.txt');

  it('decides without fetching when size and mtime decide', async () => {
    const { fetch, calls } = source([{}, {}]);
    const record: SidePair = [file(3, '10', 'H'), file(3, '20', 'H')];
    const verdict = await withHashes(fetch, (hasher) => decide([hasher(0, path), hasher(1, path)], [file(3, '10'), file(4, '30')], record));
    expect(verdict).toEqual({ action: 'copy', from: 1 });
    expect(calls).toEqual([]);
  });

  it('fetches what the decision asks for, once each, and decides as with local files', async () => {
    // Side 0 touched (mtime moved, same content): unchanged; side 1 rewritten with new content: a copy from 1.
    const { fetch, calls } = source([{ 'd/f.txt': 'H' }, { 'd/f.txt': 'NEW' }]);
    const record: SidePair = [file(3, '10', 'H'), file(3, '20', 'H')];
    const now: SidePair = [file(3, '11'), file(3, '21')];
    const verdict = await withHashes(fetch, (hasher) => decide([hasher(0, path), hasher(1, path)], now, record));
    expect(verdict).toEqual({ action: 'copy', from: 1 });
    expect(calls.sort()).toEqual(['0:d/f.txt', '1:d/f.txt']);
    expect(now[0]?.hash).toBe('H');
  });

  it('a first merge with the same content on both sides is recorded, not a conflict', async () => {
    const { fetch, calls } = source([{ 'd/f.txt': 'SAME' }, { 'd/f.txt': 'SAME' }]);
    const verdict = await withHashes(fetch, (hasher) => decide([hasher(0, path), hasher(1, path)], [file(4, '1'), file(4, '2')], [undefined, undefined]));
    expect(verdict).toEqual({ action: 'record' });
    expect(calls).toHaveLength(2);
  });

  it('a hash that cannot be had answers false: different content (a conflict), never "the same"', async () => {
    const { fetch, calls } = source([{ 'd/f.txt': 'SAME' }, {}]);
    const verdict = await withHashes(fetch, (hasher) => decide([hasher(0, path), hasher(1, path)], [file(4, '1'), file(4, '2')], [undefined, undefined]));
    expect(verdict).toEqual({ action: 'conflict', loser: 0 });
    expect(calls.sort()).toEqual(['0:d/f.txt', '1:d/f.txt']); // asked once, not again on the rerun
  });
});
