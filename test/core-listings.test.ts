/**
 * The listings kept for the overflow rescan (src/core/rescan.ts, Listings):
 * a directory's listing stays the one packed string the addon returned until
 * an event changes that directory, and reads the same either way.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { IN_CREATE, IN_DELETE, IN_ISDIR, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO } from '../src/constants.js';
import type { RawRecord } from '../src/decode.js';
import { Listings } from '../src/core/rescan.js';
import { WatchRecord, type WatchSettings } from '../src/core/watch-record.js';
import { parsePacked, readDirectory } from '../src/readdir.js';
import { tempDir } from './helpers/index.js';

const SETTINGS: WatchSettings = { mask: 0, flags: 0, kernelMask: 0, autoAdd: true, exclude: undefined, followSymlinks: false, procFun: undefined };

function dirWatch(wd: number, dir: string): WatchRecord {
  return new WatchRecord(wd, dir, undefined, SETTINGS, true, false);
}

function record(wd: number, mask: number, name: string): RawRecord {
  return { wd, mask, cookie: 0, name, nameBytes: undefined } as RawRecord;
}

describe('Listings', () => {
  test('a UTF-8 listing is kept packed, reads as name -> is-directory, and is unpacked by the first change', () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'b.txt'), '');
    fs.writeFileSync(path.join(dir, 'é-ü'), '');
    const listing = readDirectory(dir, { sorted: true });
    expect(listing.packed).toBe('b.txt\0sub\0é-ü\0fdf');
    expect(parsePacked(listing.packed as string)).toStrictEqual({ names: ['b.txt', 'sub', 'é-ü'], types: 'fdf' });

    const listings = new Listings();
    listings.remember(dirWatch(7, dir), listing);
    const expected = new Map([['b.txt', false], ['sub', true], ['é-ü', false]]);
    expect(listings.peek(7)).toStrictEqual(expected);
    expect(listings.peek(7)).toStrictEqual(expected); // peeking twice: still packed, still the same
    // Records that change no listing leave it alone.
    listings.note(record(7, IN_MODIFY, 'b.txt'));
    listings.note(record(8, IN_CREATE, 'elsewhere'));
    expect(listings.peek(7)).toStrictEqual(expected);

    listings.note(record(7, IN_CREATE | IN_ISDIR, 'new-dir'));
    listings.note(record(7, IN_DELETE, 'b.txt'));
    listings.note(record(7, IN_MOVED_FROM, 'é-ü'));
    listings.note(record(7, IN_MOVED_TO, 'moved-in'));
    expect(listings.get(7)).toStrictEqual(new Map([['sub', true], ['new-dir', true], ['moved-in', false]]));
    expect(listings.has(7)).toBe(true);
    listings.delete(7);
    expect(listings.has(7)).toBe(false);
    expect(listings.peek(7)).toBeUndefined();
  });

  test('an empty directory and a listing with a name that is not UTF-8 are kept too', () => {
    const empty = tempDir();
    const odd = tempDir();
    fs.writeFileSync(Buffer.concat([Buffer.from(`${odd}/`), Buffer.from([0x63, 0x61, 0x66, 0xe9])]), '');
    fs.writeFileSync(path.join(odd, 'plain'), '');
    const listings = new Listings();
    listings.remember(dirWatch(1, empty), readDirectory(empty, { sorted: true }));
    const oddListing = readDirectory(odd, { sorted: true });
    expect(oddListing.packed).toBeUndefined();
    listings.remember(dirWatch(2, odd), oddListing);
    expect(listings.peek(1)).toStrictEqual(new Map());
    expect(listings.peek(2)).toStrictEqual(new Map([['caf\uFFFD', false], ['plain', false]]));
    listings.note(record(1, IN_CREATE, 'first'));
    expect(listings.get(1)).toStrictEqual(new Map([['first', false]]));
  });

  test('a one-shot watch, or a file watch, keeps no listing', () => {
    const dir = tempDir();
    const listings = new Listings();
    listings.remember(new WatchRecord(3, dir, undefined, SETTINGS, false, false), readDirectory(dir));
    listings.remember(new WatchRecord(4, dir, undefined, { ...SETTINGS, flags: 0x80000000 }, true, false), readDirectory(dir));
    expect(listings.has(3)).toBe(false);
    expect(listings.has(4)).toBe(false);
  });
});
