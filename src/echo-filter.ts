/**
 * Kernel IN_CREATE events that only repeat a synthetic one. The kernel makes
 * a new entry visible to readdir a moment before it queues its IN_CREATE
 * (vfs_mkdir/vfs_create, then fsnotify), so a scan can see an entry whose
 * event is not queued yet: the scan synthesizes it, then the kernel reports
 * it too. Each synthesized creation is remembered briefly; the kernel's
 * IN_CREATE for the same (wd, name) with no deletion in between is the echo.
 */
import { IN_CREATE, IN_DELETE, IN_MOVED_FROM } from './constants.js';
import type { RawRecord } from './decode.js';

const RELEVANT = (IN_CREATE | IN_DELETE | IN_MOVED_FROM) >>> 0;

export class EchoFilter {
  readonly #expiry = new Map<string, number>();

  /** @param ttlMs how long an echo is expected: the gap is microseconds; this only bounds memory. */
  constructor(private readonly ttlMs = 2_000) {}

  /** A scan synthesized IN_CREATE for `name` in the directory of `wd`. */
  expect(wd: number, name: string, now = Date.now()): void {
    this.#expiry.set(`${wd}\0${name}`, now + this.ttlMs);
  }

  /**
   * True when `record` is the kernel's late IN_CREATE for an entry already reported.
   * Called for every kernel event: the clock is read only when an expectation
   * matches (a `now = Date.now()` default read it on every call, ~30 ns each).
   */
  isEcho(record: RawRecord, now?: number): boolean {
    if (this.#expiry.size === 0 || !(record.mask & RELEVANT)) return false;
    const key = `${record.wd}\0${record.name}`;
    const expiry = this.#expiry.get(key);
    if (expiry === undefined) return false;
    this.#expiry.delete(key); // a deletion ends the expectation; a creation fulfils it
    return (record.mask & IN_CREATE) !== 0 && expiry >= (now ?? Date.now());
  }

  /** Forgets expectations that are past their time. */
  expire(now?: number): void {
    if (this.#expiry.size === 0) return; // the common case, at the end of every batch: no clock read
    now ??= Date.now();
    for (const [key, expiry] of this.#expiry) if (expiry < now) this.#expiry.delete(key);
  }

  get size(): number {
    return this.#expiry.size;
  }
}
