/** WdIndex: wd -> value in an array indexed by wd, behind a ReadonlyMap; holes, growth, and the move to a Map when sparse. */
import { describe, expect, test } from 'vitest';
import { WdIndex } from '../src/core/wd-index.js';

function filled(wds: Iterable<number>): WdIndex<string> {
  const index = new WdIndex<string>();
  for (const wd of wds) index.set(wd, `w${wd}`);
  return index;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe('WdIndex', () => {
  test('get, has, size and delete across holes and beyond the end', () => {
    const index = filled([1, 2, 3, 7]);
    expect(index.size).toBe(4);
    expect(index.get(7)).toBe('w7');
    expect(index.get(5)).toBeUndefined(); // a hole
    expect(index.get(8)).toBeUndefined(); // past the end
    expect(index.has(0)).toBe(false);
    expect(index.delete(2)).toBe(true);
    expect(index.delete(2)).toBe(false);
    expect(index.delete(1_000)).toBe(false);
    expect(index.has(2)).toBe(false);
    index.set(3, 'again'); // replacing a value does not count it twice
    expect(index.size).toBe(3);
    expect([...index]).toStrictEqual([[1, 'w1'], [3, 'again'], [7, 'w7']]);
    expect(index.delete(7)).toBe(true); // the last one: trailing holes are trimmed, and a later wd still lands right
    index.set(9, 'w9');
    expect([...index.keys()]).toStrictEqual([1, 3, 9]);
    expect(index.sparse).toBe(false);
  });

  test('is a ReadonlyMap: entries, keys, values, forEach, spread into a Map, in wd order', () => {
    const index = filled([5, 1, 3]);
    expect([...index.keys()]).toStrictEqual([1, 3, 5]);
    expect([...index.values()]).toStrictEqual(['w1', 'w3', 'w5']);
    expect(new Map(index)).toStrictEqual(new Map([[1, 'w1'], [3, 'w3'], [5, 'w5']]));
    const seen: string[] = [];
    index.forEach(function (this: { tag: string }, value, wd, map) {
      expect(map).toBe(index);
      seen.push(`${this.tag}${wd}=${value}`);
    }, { tag: '#' });
    expect(seen).toStrictEqual(['#1=w1', '#3=w3', '#5=w5']);
    expect(Object.prototype.toString.call(index)).toBe('[object WdIndex]');
  });

  test('iteration is live, as a Map\'s: an entry added ahead is visited, one deleted ahead is not', () => {
    const index = filled([1, 2, 3, 4]);
    const visited: number[] = [];
    for (const [wd] of index) {
      visited.push(wd);
      if (wd === 1) index.delete(3);
      if (wd === 2) index.set(6, 'w6');
    }
    expect(visited).toStrictEqual([1, 2, 4, 6]);
  });

  test('grows with increasing wds and stays an array while dense', () => {
    const index = filled(range(1, 10_000));
    expect(index.size).toBe(10_000);
    expect(index.sparse).toBe(false);
    for (const wd of range(1, 5_000)) index.delete(wd * 2); // every other one: half full is not sparse
    expect(index.sparse).toBe(false);
    expect(index.size).toBe(5_000);
    expect(index.get(9_999)).toBe('w9999');
    expect(index.get(10_000)).toBeUndefined();
  });

  test('mostly holes (a long-lived wd 1 and many wds come and gone): the entries move to a Map, in order, and keep working', () => {
    const index = filled([1]);
    for (const wd of range(2, 20_000)) {
      index.set(wd, `w${wd}`);
      if (wd % 100 !== 0) index.delete(wd); // keeps wd 1 and every hundredth
    }
    expect(index.sparse).toBe(true);
    const kept = [1, ...range(1, 200).map((i) => i * 100)];
    expect(index.size).toBe(kept.length);
    expect([...index.keys()]).toStrictEqual(kept);
    expect(index.get(1)).toBe('w1');
    expect(index.get(150)).toBeUndefined();
    index.set(20_001, 'w20001');
    expect(index.delete(100)).toBe(true);
    expect(index.delete(100)).toBe(false);
    expect(index.size).toBe(kept.length);
    expect([...index.keys()].at(-1)).toBe(20_001);
    index.clear();
    expect(index.size).toBe(0);
    expect(index.sparse).toBe(false);
    expect([...index]).toStrictEqual([]);
  });

  test('a wd far above the others goes straight to the Map, not to a huge array', () => {
    const index = filled([1, 2]);
    index.set(2_000_000_000, 'far');
    expect(index.sparse).toBe(true);
    expect([...index.keys()]).toStrictEqual([1, 2, 2_000_000_000]);
    expect(index.get(2_000_000_000)).toBe('far');
  });

  test('a move to the Map during an iteration: every entry left is still visited once', () => {
    const index = filled(range(1, 2_000));
    const visited: number[] = [];
    for (const [wd] of index) {
      visited.push(wd);
      if (wd === 10) for (const gone of range(11, 1_990)) index.delete(gone); // sparse now
    }
    expect(index.sparse).toBe(true);
    expect(visited).toStrictEqual([...range(1, 10), ...range(1_991, 2_000)]);
  });
});
