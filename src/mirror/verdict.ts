/**
 * The two-way decision for one path, as a pure function of what each side
 * holds now and what the state recorded at the last sync (see the table in
 * docs/mirror.md, "Two-way"). Used to sync (two-way.ts) and to say what is
 * pending (status.ts), so both always agree.
 */
import { decodeEntry, encodeEntry, sameContent, unchanged, type Entry, type Hasher } from './entry.js';

/** Which side: 0 the source (first root), 1 the destination (second root). */
export type SideIndex = 0 | 1;

/** What each side held (the state's record of a path) or holds (now). */
export type SidePair = [Entry | undefined, Entry | undefined];

/** What to do with a path. */
export type Verdict =
  /** Unchanged on both sides since the last sync. */
  | { readonly action: 'in-sync' }
  /** Changed on both sides to the same thing: only the state needs the news. */
  | { readonly action: 'record' }
  /** Changed on side `from` only: its version goes to the other side (a delete when it is gone). */
  | { readonly action: 'copy' | 'delete'; readonly from: SideIndex }
  /** Deleted on one side, changed on side `kept`: the change wins. */
  | { readonly action: 'delete-edit'; readonly kept: SideIndex }
  /** Changed differently on both: side `loser`'s version is kept under a conflict name. */
  | { readonly action: 'conflict'; readonly loser: SideIndex };

/** The other side. */
export function other(side: SideIndex): SideIndex {
  return side === 0 ? 1 : 0;
}

/** A state record from its stored text (a NUL between the two sides' entries). */
export function decodeRecord(text: string | undefined): SidePair {
  if (text === undefined) return [undefined, undefined];
  const cut = text.indexOf('\0');
  return [decodeEntry(text.slice(0, cut)), decodeEntry(text.slice(cut + 1))];
}

/** The inverse of {@link decodeRecord}. */
export function encodeRecord(record: SidePair): string {
  return `${encodeEntry(record[0])}\0${encodeEntry(record[1])}`;
}

/**
 * Decides one path. `at` hash each side's file (called only when size
 * and mtime do not decide). The loser of a conflict
 * is the older version by mtime; a directory beats anything else; a tie
 * goes to side 0.
 */
export function decide(at: readonly [Hasher, Hasher], now: SidePair, record: SidePair): Verdict {
  const same = [unchanged(at[0], now[0], record[0]), unchanged(at[1], now[1], record[1])];
  if (same[0] && same[1] && sameContent(record[0], at[0], record[1], at[1])) return { action: 'in-sync' };
  if (same[0] !== same[1]) {
    const from: SideIndex = same[0] ? 1 : 0;
    return { action: now[from] === undefined ? 'delete' : 'copy', from };
  }
  // Changed on both (or a record that does not hold the same on both sides).
  if (sameContent(now[0], at[0], now[1], at[1])) return { action: 'record' };
  if (now[0] === undefined || now[1] === undefined) return { action: 'delete-edit', kept: now[0] === undefined ? 1 : 0 };
  const [a, b] = now as [Entry, Entry];
  if (a.kind === 'dir' || b.kind === 'dir') return { action: 'conflict', loser: a.kind === 'dir' ? 1 : 0 };
  return { action: 'conflict', loser: BigInt(a.mtime) >= BigInt(b.mtime) ? 1 : 0 };
}
