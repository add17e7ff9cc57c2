/** Unit tests of the transfer tracker's bookkeeping (no kernel involved: pure data structures). */
import { describe, expect, it } from 'vitest';
import { RecentCreates } from '../src/transfer/recent-creates.js';
import { TransferRegistry } from '../src/transfer/registry.js';

describe('TransferRegistry', () => {
  it('indexes a transfer by path and by final name, and forgets it on end()', () => {
    const registry = new TransferRegistry();
    const { transfer, displaced } = registry.add('/d/.a.X1', '/d/a', true, true, true, 0);
    expect(displaced).toBeUndefined();
    expect(registry.at('/d/.a.X1')).toBe(transfer);
    expect(registry.rsyncTransferFor('/d/a', false)).toBe(transfer);
    expect(registry.rsyncTransferFor('/d/a', true)).toBeUndefined(); // its data is in sight
    registry.end(transfer);
    expect(registry.at('/d/.a.X1')).toBeUndefined();
    expect(registry.rsyncTransferFor('/d/a', false)).toBeUndefined();
    expect(registry.isLive(transfer)).toBe(false);
    expect(registry.size).toBe(0);
  });

  it('a transfer taking a path reports the one it displaced', () => {
    const registry = new TransferRegistry();
    const first = registry.add('/d/x', '/d/x', false, true, true, 0).transfer;
    const { transfer: second, displaced } = registry.add('/d/x', '/d/x', false, true, true, 1);
    expect(displaced).toEqual({ transfer: first, path: '/d/x' });
    expect(registry.at('/d/x')).toBe(second);
    expect(registry.oldest()).toBe(first);
  });

  it('a rename away is found again by its source path, once', () => {
    const registry = new TransferRegistry();
    const t = registry.add('/d/.a.X1', '/d/a', true, true, true, 0).transfer;
    registry.movedAway(t, '/d/.a.X1');
    expect(t.locations.size).toBe(0);
    expect(registry.at('/d/.a.X1')).toBeUndefined();
    expect(registry.takeMovedFrom('/d/.a.X1')).toBe(t);
    expect(registry.takeMovedFrom('/d/.a.X1')).toBeUndefined();
  });

  it('repath moves locations, final names and pending rename sources below a renamed directory', () => {
    const registry = new TransferRegistry();
    const inside = registry.add('/d/sub/.a.X1', '/d/sub/a', true, true, true, 0).transfer;
    const moving = registry.add('/d/sub/.b.X2', '/d/sub/b', true, true, true, 0).transfer;
    registry.movedAway(moving, '/d/sub/.b.X2');
    const outside = registry.add('/d/subway', '/d/subway', false, true, true, 0).transfer;
    expect(registry.repath('/d/sub', '/d/new')).toEqual([]);
    expect(registry.at('/d/new/.a.X1')).toBe(inside);
    expect(inside.lastPath).toBe('/d/new/.a.X1');
    expect(registry.rsyncTransferFor('/d/new/a', false)).toBe(inside);
    expect(registry.rsyncTransferFor('/d/sub/a', false)).toBeUndefined();
    expect(registry.takeMovedFrom('/d/new/.b.X2')).toBe(moving);
    expect(registry.at('/d/subway')).toBe(outside); // a sibling whose name merely starts the same
  });
});

describe('RecentCreates', () => {
  it('take() answers once; entries expire after 10 s and the set keeps at most 4096', () => {
    const created = new RecentCreates();
    created.add('/d/a', 0);
    expect(created.take('/d/a')).toBe(true);
    expect(created.take('/d/a')).toBe(false);
    created.add('/d/old', 0);
    created.add('/d/new', 10_001); // adding prunes what expired
    expect(created.take('/d/old')).toBe(false);
    expect(created.take('/d/new')).toBe(true);
    for (let i = 0; i < 5000; i++) created.add(`/d/f${i}`, 20_000);
    expect(created.take('/d/f0')).toBe(false);
    expect(created.take('/d/f4999')).toBe(true);
  });

  it('repath() moves names below a renamed directory', () => {
    const created = new RecentCreates();
    created.add('/d/sub/a', 0);
    created.add('/d/subway', 0);
    created.repath('/d/sub', '/d/new');
    expect(created.take('/d/new/a')).toBe(true);
    expect(created.take('/d/subway')).toBe(true);
  });
});
