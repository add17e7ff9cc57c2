/**
 * A stand-in for the addon, for tests that must choose batch boundaries:
 * watch descriptors are handed out per inode of real files (as
 * inotify_add_watch does, IN_MASK_ADD included), and the test delivers the
 * batches. readSync finds what the test queued with queueReads(), else nothing.
 */
import { type Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import { IN_ONLYDIR, Inotify, encodeRecords } from '../../src/index.js';
import type { NativeBatchCallback, NativeInotify } from '../../src/native.js';

/** The fake native instance behind an Inotify. */
export type FakeNative = NativeInotify & {
  /** Hands `records` to the Inotify as one read batch. */
  deliver(records: Parameters<typeof encodeRecords>[0]): void;
  /** What the next synchronous reads find, one list per readSync() call (then nothing again). */
  queueReads(...reads: Array<Parameters<typeof encodeRecords>[0]>): void;
};

/** An Inotify over a fake native layer; `fake()` is its native instance. */
export function fakeInotify(): { inotify: Inotify; fake: () => FakeNative } {
  let instance: FakeNative | undefined;
  class Native implements NativeInotify {
    readonly fd = 99;
    readonly bufferSize = 65536;
    readonly buffer = new Uint8Array(65536);
    readonly #byInode = new Map<bigint, number>();
    #next = 1;
    #ref = true;
    constructor(private readonly onBatch: NativeBatchCallback) {
      instance = this as unknown as FakeNative;
    }

    addWatch(target: string | Buffer, mask: number): number {
      const stat = fs.statSync(target, { bigint: true });
      if (mask & IN_ONLYDIR && !stat.isDirectory()) throw Object.assign(new Error('ENOTDIR'), { code: 'ENOTDIR' });
      let wd = this.#byInode.get(stat.ino);
      if (wd === undefined) {
        wd = this.#next++;
        this.#byInode.set(stat.ino, wd);
      }
      return wd;
    }

    rmWatch(wd: number): void {
      for (const [ino, w] of this.#byInode) if (w === wd) this.#byInode.delete(ino);
    }

    readonly #reads: Array<Parameters<typeof encodeRecords>[0]> = [];

    readSync(): number {
      const records = this.#reads.shift();
      if (records === undefined || records.length === 0) return 0;
      const bytes = encodeRecords(records);
      this.buffer.set(bytes);
      return bytes.length;
    }

    queueReads(...reads: Array<Parameters<typeof encodeRecords>[0]>): void {
      this.#reads.push(...reads);
    }

    close(): void {}

    ref(): void {
      this.#ref = true;
    }

    unref(): void {
      this.#ref = false;
    }

    hasRef(): boolean {
      return this.#ref;
    }

    deliver(records: Parameters<typeof encodeRecords>[0]): void {
      // Like the addon: one reusable buffer, valid during the call.
      const bytes = encodeRecords(records);
      this.buffer.set(bytes);
      this.onBatch(null, this.buffer, bytes.length);
    }
  }
  const inotify = new Inotify({ native: Native });
  return { inotify, fake: () => instance as FakeNative };
}
