/**
 * The watch table: wd -> watch (an array indexed by wd, see WdIndex) and
 * path -> watch, both O(1), kept exact across moves and removals; and the
 * settings objects the watches share. Pure data: no syscalls (the
 * WatchManager arms and removes kernel watches, then tells the registry).
 * @internal
 */
import { Buffer, isUtf8 } from 'node:buffer';
import type { ExcludePredicate } from '../exclude-filter.js';
import type { EventHook } from '../process-event.js';
import { WdIndex } from './wd-index.js';
import { sameSettings, type WatchRecord, type WatchSettings } from './watch-record.js';

/** @internal */
export class WatchRegistry {
  readonly #byWd = new WdIndex<WatchRecord>();
  readonly #byPath = new Map<string, WatchRecord>();
  // The highest wd seen: the kernel hands them out in increasing order
  // (cyclically), so a larger one is a new watch without a look-up.
  #maxWd = 0;
  // The last two settings objects handed out: a walk, an auto-add or an
  // update of a subtree asks for the same settings again and again.
  #lastSettings: WatchSettings | undefined;
  #previousSettings: WatchSettings | undefined;

  /** Every watch by wd (a live view). */
  get byWd(): ReadonlyMap<number, WatchRecord> {
    return this.#byWd;
  }

  get size(): number {
    return this.#byWd.size;
  }

  get(wd: number): WatchRecord | undefined {
    return this.#byWd.get(wd);
  }

  has(wd: number): boolean {
    return this.#byWd.has(wd);
  }

  /** The watch at `path` (a watch that left the tree is at no path). */
  at(path: string): WatchRecord | undefined {
    return this.#byPath.get(path);
  }

  values(): IterableIterator<WatchRecord> {
    return this.#byWd.values();
  }

  /**
   * The watch the kernel's `wd` names, when it is one already known; records
   * `wd` as seen. Above every wd seen so far, no Map look-up is needed.
   */
  existing(wd: number): WatchRecord | undefined {
    if (wd > this.#maxWd) {
      this.#maxWd = wd;
      return undefined;
    }
    return this.#byWd.get(wd);
  }

  add(watch: WatchRecord): void {
    if (watch.wd > this.#maxWd) this.#maxWd = watch.wd;
    this.#byWd.set(watch.wd, watch);
    this.#byPath.set(watch.path, watch);
  }

  /** Removes `watch` from both maps (its path entry only if it is still its own). */
  delete(watch: WatchRecord): void {
    if (this.#byWd.get(watch.wd) === watch) this.#byWd.delete(watch.wd);
    if (this.#byPath.get(watch.path) === watch) this.#byPath.delete(watch.path);
  }

  /** Takes `watch` out of the path map only (it left the tree; its wd still resolves). */
  unpath(watch: WatchRecord): void {
    if (this.#byPath.get(watch.path) === watch) this.#byPath.delete(watch.path);
  }

  /** The watch at `path` and every watch below it. */
  subtree(path: string): WatchRecord[] {
    const prefix = path === '/' ? '/' : `${path}/`;
    const result: WatchRecord[] = [];
    for (const watch of this.#byWd.values()) {
      if (watch.path === path || watch.path.startsWith(prefix)) result.push(watch);
    }
    return result;
  }

  /**
   * A directory moved from `from` to `to` (`toBytes`: its exact bytes when
   * not UTF-8): rewrites its path and every path below it, bytes included.
   * Returns the watch that was at `from`, marked `repathed`.
   */
  repath(from: string, to: string, toBytes: Buffer | undefined): WatchRecord | undefined {
    const moved = this.#byPath.get(from);
    const fromBytes = moved?.pathBytes ?? Buffer.from(from);
    const targets = this.subtree(from);
    for (const watch of targets) this.unpath(watch);
    for (const watch of targets) {
      const suffix = watch.path.slice(from.length);
      const bytesChanged = watch.pathBytes !== undefined || toBytes !== undefined;
      // The old path's bytes, read before the path is rewritten.
      const oldBytes = bytesChanged ? watch.pathBytes ?? Buffer.from(watch.path) : undefined;
      const newBytes = oldBytes !== undefined
        ? Buffer.concat([toBytes ?? Buffer.from(to), oldBytes.subarray(fromBytes.length)])
        : undefined;
      watch.moveTo(to + suffix, newBytes !== undefined && isUtf8(newBytes) ? undefined : newBytes);
      this.#byPath.set(watch.path, watch);
    }
    if (moved !== undefined) moved.repathed = true;
    return moved;
  }

  /**
   * A settings object with these values: `candidate` (the arming parent's,
   * say) or one handed out lately when the values are the same, else a new
   * one. Settings objects are never changed, so any two watches may share one.
   */
  share(
    candidate: WatchSettings | undefined, mask: number, flags: number, kernelMask: number, autoAdd: boolean,
    exclude: ExcludePredicate | undefined, followSymlinks: boolean, procFun: EventHook | undefined,
  ): WatchSettings {
    // Unrolled: this runs once per directory a walk arms.
    if (candidate !== undefined && sameSettings(candidate, mask, flags, kernelMask, autoAdd, exclude, followSymlinks, procFun)) return candidate;
    const last = this.#lastSettings;
    if (last !== undefined && sameSettings(last, mask, flags, kernelMask, autoAdd, exclude, followSymlinks, procFun)) return last;
    const previous = this.#previousSettings;
    if (previous !== undefined && sameSettings(previous, mask, flags, kernelMask, autoAdd, exclude, followSymlinks, procFun)) {
      this.#previousSettings = last;
      this.#lastSettings = previous;
      return previous;
    }
    const made: WatchSettings = { mask, flags, kernelMask, autoAdd, exclude, followSymlinks, procFun };
    this.#previousSettings = this.#lastSettings;
    this.#lastSettings = made;
    return made;
  }

  clear(): void {
    this.#byWd.clear();
    this.#byPath.clear();
  }
}
