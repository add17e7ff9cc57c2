/**
 * Two-way sync's state store: records survive a close and a reopen, a
 * compaction, and a writer SIGKILLed in the middle of its journal (a torn
 * last line is ignored, every line written before it is kept); a second
 * process is kept off a store in use. And the pieces around it: entry
 * encoding, conflict names, the default state directory.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { StateStore, defaultStateDir } from '../src/index.js';
import { conflictPath } from '../src/mirror/conflict-name.js';
import { decodeEntry, encodeEntry, readEntry } from '../src/mirror/entry.js';
import { RelPath } from '../src/mirror/rel-path.js';
import { checkStateDir } from '../src/mirror/state-dir.js';
import { ensureLib, spawnNode } from './helpers/child.js';
import { tempDir } from './helpers/index.js';

describe('StateStore', () => {
  it('keeps sets and deletes across close and reopen, any key bytes included', () => {
    const dir = tempDir('state-');
    const odd = Buffer.from([0x61, 0xff, 0x0a, 0x22, 0x5c]).toString('latin1');
    const store = new StateStore(dir);
    store.set('a', 'f 1 2 h');
    store.set(odd, 'd');
    store.set('b', 'x');
    store.delete('b');
    store.flush();
    store.set('c', 'unflushed but closed');
    store.close();
    const again = new StateStore(dir);
    expect(again.get('a')).toBe('f 1 2 h');
    expect(again.get(odd)).toBe('d');
    expect(again.get('b')).toBeUndefined();
    expect(again.get('c')).toBe('unflushed but closed');
    expect(again.size).toBe(3);
    expect(again.keysUnder('a').sort()).toEqual(['a']);
    again.close();
  });

  it('compacts to a snapshot and empties the journal; the reopened map is the same', () => {
    const dir = tempDir('state-');
    const store = new StateStore(dir);
    for (let i = 0; i < 1000; i++) store.set(`d/${i}`, `r${i}`);
    for (let i = 0; i < 1000; i += 2) store.delete(`d/${i}`);
    store.flush();
    store.compact();
    expect(fs.statSync(path.join(dir, 'state.journal')).size).toBe(0);
    expect(fs.existsSync(path.join(dir, 'state.snapshot.tmp'))).toBe(false);
    store.set('after', 'compaction');
    store.close();
    const again = new StateStore(dir);
    expect(again.size).toBe(501);
    expect(again.get('d/1')).toBe('r1');
    expect(again.get('d/2')).toBeUndefined();
    expect(again.keysUnder('d')).toHaveLength(500);
    again.close();
  });

  it('ignores a torn last line and says so; a damaged line before it is an EINVAL', () => {
    const dir = tempDir('state-');
    fs.writeFileSync(path.join(dir, 'state.journal'), '["a","1"]\n["b","2"]\n["c","3');
    const store = new StateStore(dir);
    expect(store.tornLines).toBe(1);
    expect([store.get('a'), store.get('b'), store.get('c')]).toEqual(['1', '2', undefined]);
    store.set('d', '4');
    store.close();
    const again = new StateStore(dir);
    expect(again.tornLines).toBe(0);
    expect(again.get('d')).toBe('4');
    again.close();
    const bad = tempDir('state-');
    fs.writeFileSync(path.join(bad, 'state.journal'), '["a","1"]\ngarbage\n["b","2"]\n');
    expect(() => new StateStore(bad)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'read' }) as Error);
    // The failed open released its lock.
    fs.writeFileSync(path.join(bad, 'state.journal'), '');
    new StateStore(bad).close();
  });

  it('keeps a second user off (EBUSY) and takes over the lock of a dead process', () => {
    const dir = tempDir('state-');
    const store = new StateStore(dir);
    expect(() => new StateStore(dir)).toThrow(expect.objectContaining({ code: 'EBUSY', path: path.join(dir, 'state.lock') }) as Error);
    store.close();
    fs.writeFileSync(path.join(dir, 'state.lock'), `${process.ppid}\n`);
    expect(() => new StateStore(dir)).toThrow(expect.objectContaining({ code: 'EBUSY' }) as Error);
    fs.writeFileSync(path.join(dir, 'state.lock'), '999999999\n');
    new StateStore(dir).close();
  });

  describe('a writer SIGKILLed mid-journal', () => {
    beforeAll(() => {
      ensureLib();
    });

    it('loses at most the lines not yet written; every flushed line is there', async () => {
      const dir = tempDir('state-kill-');
      const lib = ensureLib();
      // Flushes one numbered key at a time, with big records so that a kill can land inside a write; says each flush on stdout.
      const script = `
        const { StateStore } = require(${JSON.stringify(lib)});
        const store = new StateStore(${JSON.stringify(dir)});
        const big = 'x'.repeat(200000);
        for (let i = 0; ; i++) {
          store.set('k' + i, big + i);
          if (i % 7 === 0) store.delete('k' + (i - 1));
          store.flush();
          process.stdout.write(i + '\\n');
        }`;
      const child = spawnNode(['-e', script]);
      await child.waitForLine(/^40$/);
      child.kill('SIGKILL');
      await child.waitForExit();
      const flushed = Math.max(...child.stdout.trim().split('\n').map(Number));
      const store = new StateStore(dir); // the dead writer's lock is taken over
      // Every flush that was reported is there; at most the one being written when killed is past it.
      // Flush i + 1 deletes k<i> when i + 1 is a multiple of 7: done once reported, either way when it was the
      // flush under way at the kill (flushed + 1: written or not), not yet after that.
      for (let i = 0; i <= flushed; i++) {
        const value = store.get(`k${i}`);
        const kept = `${'x'.repeat(200000)}${i}`;
        const deleter = (i + 1) % 7 === 0 ? i + 1 : undefined;
        if (deleter !== undefined && deleter <= flushed) expect(value, `k${i}`).toBeUndefined();
        else if (deleter === flushed + 1) expect([undefined, kept], `k${i}`).toContain(value);
        else expect(value, `k${i}`).toBe(kept);
      }
      expect(store.size).toBeGreaterThanOrEqual(flushed + 1 - Math.ceil((flushed + 1) / 7));
      store.set('after', 'restart');
      store.close();
      expect(new StateStore(dir).get('after')).toBe('restart');
    });
  });
});

describe('two-way pieces', () => {
  it('encodes entries compactly and back', () => {
    for (const entry of [
      { kind: 'file', size: 12, mtime: '1764500000123456789', hash: 'abc+/=' },
      { kind: 'dir', size: 0, mtime: '0' },
      { kind: 'symlink', size: 0, mtime: '0', hash: 'target with spaces' },
    ] as const) {
      expect(decodeEntry(encodeEntry(entry))).toEqual(entry);
    }
    expect(decodeEntry(encodeEntry(undefined))).toBeUndefined();
    const dir = tempDir('entry-');
    fs.writeFileSync(path.join(dir, 'f'), 'abc');
    expect(readEntry(Buffer.from(path.join(dir, 'f')))).toMatchObject({ kind: 'file', size: 3 });
    expect(readEntry(Buffer.from(path.join(dir, 'f', 'below')))).toBeUndefined();
  });

  it('names conflicts name.conflict-<label>-<UTC time>.ext, free on both sides', async () => {
    const a = tempDir('conflict-');
    const b = tempDir('conflict-');
    const when = new Date(Date.UTC(2026, 10, 30, 9, 5, 7));
    const taken = (candidate: RelPath): Promise<boolean> =>
      Promise.resolve([a, b].some((root) => fs.existsSync(candidate.under(Buffer.from(root)))));
    expect((await conflictPath(RelPath.from('d/report.final.pdf'), 'lap top', taken, when)).text).toBe('d/report.final.conflict-lap_top-20261130-090507.pdf');
    expect((await conflictPath(RelPath.from('.bashrc'), 'b', taken, when)).text).toBe('.bashrc.conflict-b-20261130-090507');
    fs.writeFileSync(path.join(b, 'x.conflict-a-20261130-090507.txt'), '');
    expect((await conflictPath(RelPath.from('x.txt'), 'a', taken, when)).text).toBe('x.conflict-a-20261130-090507-2.txt');
  });

  it('puts the state under XDG_STATE_HOME, per pair, and never unexcluded inside a root', () => {
    const saved = process.env.XDG_STATE_HOME;
    process.env.XDG_STATE_HOME = '/var/tmp/xdg';
    try {
      expect(defaultStateDir('/a', '/b')).toMatch(/^\/var\/tmp\/xdg\/inotify-mirror\/[0-9a-f]{16}$/);
      expect(defaultStateDir('/a', '/b')).not.toBe(defaultStateDir('/b', '/a'));
    } finally {
      if (saved === undefined) delete process.env.XDG_STATE_HOME;
      else process.env.XDG_STATE_HOME = saved;
    }
    const none = (): boolean => false;
    expect(() => checkStateDir('/r/.state', ['/r', '/s'], [none, none])).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
    expect(() => checkStateDir('/r/.state', ['/r', '/s'], [(p) => p.startsWith('/r/.state'), none])).not.toThrow();
    expect(() => checkStateDir('/rx/.state', ['/r', '/s'], [none, none])).not.toThrow();
  });
});
