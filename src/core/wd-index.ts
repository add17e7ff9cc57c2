/**
 * Values by watch descriptor, as a `ReadonlyMap<number, T>` whose storage is
 * an array indexed by wd. The kernel hands out each instance's wds as small
 * increasing integers (cyclically, from 1), so an array slot (8 bytes) does
 * what a Map entry (35-40 bytes) did. Holes are the wds removed; trailing
 * ones are trimmed. When the live wds are too few for the span they cover
 * (a long-lived watch at wd 1 and years of directories come and gone under
 * autoAdd), the array would hold mostly holes: the index then moves its
 * entries into a Map, in wd order, and stays a Map.
 * Iteration is in wd order: the order the kernel made the watches in (until
 * its wds wrap around at 2^31, after which later watches come last).
 * @internal
 */
import { inspect, type InspectOptionsStylized } from 'node:util';

/** Below this many slots an array is never called sparse. */
const MIN_SPARSE_SLOTS = 1024;
/** The array is sparse when it has more than this many slots per live wd. */
const MAX_SLOTS_PER_ENTRY = 4;

/** @internal */
export class WdIndex<T> implements ReadonlyMap<number, T> {
  // slots[wd]: the value of wd, or undefined. Unused once `sparse` is set.
  #slots: Array<T | undefined> = [];
  #sparse: Map<number, T> | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** True once the entries moved to a Map (see the file's comment). */
  get sparse(): boolean {
    return this.#sparse !== undefined;
  }

  get(wd: number): T | undefined {
    if (this.#sparse !== undefined) return this.#sparse.get(wd);
    return wd < this.#slots.length ? this.#slots[wd] : undefined;
  }

  has(wd: number): boolean {
    return this.get(wd) !== undefined;
  }

  set(wd: number, value: T): this {
    if (this.#sparse === undefined && wd >= this.#slots.length && wd + 1 > MIN_SPARSE_SLOTS
      && wd + 1 > MAX_SLOTS_PER_ENTRY * (this.#size + 1)) {
      this.#toSparse();
    }
    const sparse = this.#sparse;
    if (sparse !== undefined) {
      if (!sparse.has(wd)) this.#size++;
      sparse.set(wd, value);
      return this;
    }
    const slots = this.#slots;
    // Explicit undefined, never a gap: the array stays a plain (holey) array, not a dictionary.
    while (slots.length < wd) slots.push(undefined);
    if (slots[wd] === undefined) this.#size++;
    slots[wd] = value;
    return this;
  }

  delete(wd: number): boolean {
    const sparse = this.#sparse;
    if (sparse !== undefined) {
      if (!sparse.delete(wd)) return false;
      this.#size--;
      return true;
    }
    const slots = this.#slots;
    if (wd >= slots.length || slots[wd] === undefined) return false;
    slots[wd] = undefined;
    this.#size--;
    while (slots.length > 0 && slots[slots.length - 1] === undefined) slots.pop();
    if (slots.length > MIN_SPARSE_SLOTS && slots.length > MAX_SLOTS_PER_ENTRY * this.#size) this.#toSparse();
    return true;
  }

  clear(): void {
    this.#slots = [];
    this.#sparse = undefined;
    this.#size = 0;
  }

  // In wd order; the Map keeps that order, later wds being larger.
  #toSparse(): void {
    const sparse = new Map<number, T>();
    const slots = this.#slots;
    for (let wd = 0; wd < slots.length; wd++) {
      const value = slots[wd];
      if (value !== undefined) sparse.set(wd, value);
    }
    this.#sparse = sparse;
    this.#slots = [];
  }

  /**
   * Every entry in wd order. Live, as a Map's iterators are: an entry added
   * during the iteration is visited (if its wd is above the current one),
   * one deleted before it is reached is not.
   */
  *entries(): MapIterator<[number, T]> {
    let wd = 0;
    for (; this.#sparse === undefined; wd++) {
      const slots = this.#slots;
      if (wd >= slots.length) return;
      const value = slots[wd];
      if (value !== undefined) yield [wd, value];
    }
    // Moved to a Map (now, or during the iteration): what is left is above `wd - 1`.
    for (const entry of this.#sparse) if (entry[0] >= wd) yield entry;
  }

  *keys(): MapIterator<number> {
    for (const [wd] of this.entries()) yield wd;
  }

  *values(): MapIterator<T> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[number, T]> {
    return this.entries();
  }

  forEach(callback: (value: T, key: number, map: ReadonlyMap<number, T>) => void, thisArg?: unknown): void {
    for (const [wd, value] of this.entries()) callback.call(thisArg, value, wd, this);
  }

  get [Symbol.toStringTag](): string {
    return 'WdIndex';
  }

  /** console.log shows it as the Map it stands for. */
  [inspect.custom](depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
    return show(new Map(this), { ...options, depth: options.depth === null ? null : depth });
  }
}
