/** The watch table as pure data: both maps, subtree, re-path (bytes included), removal. */
import { Buffer } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import { WatchRegistry } from '../src/core/watch-registry.js';
import { WatchRecord, type WatchSettings } from '../src/core/watch-record.js';

const SETTINGS: WatchSettings = { mask: 0, flags: 0, kernelMask: 0, autoAdd: true, exclude: undefined, followSymlinks: false, procFun: undefined };

function record(wd: number, path: string, pathBytes?: Buffer): WatchRecord {
  return new WatchRecord(wd, path, pathBytes, SETTINGS, true, false);
}

describe('WatchRegistry', () => {
  test('add, look up by wd and path, subtree, delete', () => {
    const registry = new WatchRegistry();
    const watches = [record(1, '/r'), record(2, '/r/a'), record(3, '/r/a/b'), record(4, '/r/ab')];
    for (const watch of watches) registry.add(watch);
    expect(registry.size).toBe(4);
    expect(registry.get(2)?.path).toBe('/r/a');
    expect(registry.at('/r/a/b')?.wd).toBe(3);
    expect(registry.subtree('/r/a').map((w) => w.wd)).toStrictEqual([2, 3]); // not /r/ab
    expect(registry.subtree('/').map((w) => w.wd)).toStrictEqual([1, 2, 3, 4]);
    registry.delete(watches[2] as WatchRecord);
    expect(registry.get(3)).toBeUndefined();
    expect(registry.at('/r/a/b')).toBeUndefined();
  });

  test('existing(): a wd above every one seen is new without a look-up; a known one is found', () => {
    const registry = new WatchRegistry();
    expect(registry.existing(5)).toBeUndefined();
    const watch = record(5, '/x');
    registry.add(watch);
    expect(registry.existing(5)).toBe(watch);
    expect(registry.existing(6)).toBeUndefined();
  });

  test('repath moves a subtree, marks the moved watch, and keeps exact bytes for names that are not UTF-8', () => {
    const registry = new WatchRegistry();
    const a = record(2, '/r/a');
    const b = record(3, '/r/a/b');
    registry.add(record(1, '/r'));
    registry.add(a);
    registry.add(b);
    const toBytes = Buffer.from([0x2f, 0x72, 0x2f, 0x61, 0xff]); // /r/a\xff
    const to = toBytes.toString('utf8');
    expect(registry.repath('/r/a', to, toBytes)).toBe(a);
    expect(a.repathed).toBe(true);
    expect(registry.at('/r/a')).toBeUndefined();
    expect(registry.at(to)).toBe(a);
    expect(registry.at(`${to}/b`)).toBe(b);
    expect(b.pathBytes).toStrictEqual(Buffer.concat([toBytes, Buffer.from('/b')]));
    // And back to a UTF-8 name: the bytes are dropped again.
    registry.repath(to, '/r/c', undefined);
    expect(b.path).toBe('/r/c/b');
    expect(b.pathBytes).toBeUndefined();
  });

  test('unpath: a watch that left the tree keeps its wd but no path; a new watch can take the path', () => {
    const registry = new WatchRegistry();
    const old = record(2, '/r/a');
    registry.add(old);
    registry.unpath(old);
    expect(registry.at('/r/a')).toBeUndefined();
    expect(registry.get(2)).toBe(old);
    const fresh = record(3, '/r/a');
    registry.add(fresh);
    registry.delete(old); // does not take the newer watch's path entry
    expect(registry.at('/r/a')).toBe(fresh);
  });
});
