/**
 * A queue's bound: at most `max` items wait (or, with `size`, items whose
 * sizes add up to at most `max`); when more arrive, they are dropped, and
 * once the loop has taken the items before them it gets `overflow()` in
 * their place, once.
 * @internal
 */
export interface QueueBound<T> {
  readonly max: number;
  readonly overflow: () => T;
  /** How much of `max` an item takes (default 1). */
  readonly size?: (item: T) => number;
}

/**
 * The buffer behind one `for await` loop over an event source (a Notifier,
 * a TransferTracker): items in order, then the end or an error. Items wait
 * here while the loop body runs.
 * @internal
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  #items: T[] = [];
  #head = 0;
  #waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: Error) => void } | undefined;
  #ended = false;
  #error: Error | undefined;
  // With a bound: items dropped since the queue was full. Until the loop has
  // taken everything before them and then the overflow item, nothing more
  // is queued (as the kernel's own queue does).
  #lost = 0;
  // With a bound that has a `size`: the total size of the items waiting.
  #size = 0;

  /**
   * @param detach called once the loop ends, to stop feeding this queue.
   * @param bound see {@link QueueBound}.
   */
  constructor(
    private readonly detach: () => void,
    private readonly bound?: QueueBound<T>,
  ) {}

  push(item: T): void {
    if (this.#ended) return;
    if (this.#waiting !== undefined) {
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve({ value: item, done: false });
    } else if (this.bound !== undefined && (this.#lost > 0 || this.#full(item))) {
      this.#lost += 1;
    } else {
      if (this.bound?.size !== undefined) this.#size += this.bound.size(item);
      this.#items.push(item);
    }
  }

  // Whether `item` does not fit: `max` items wait already (or, with a size, the size would pass `max`;
  // an item larger than `max` alone still fits in an empty queue).
  #full(item: T): boolean {
    const bound = this.bound as QueueBound<T>;
    const waiting = this.#items.length - this.#head;
    if (bound.size === undefined) return waiting >= bound.max;
    return waiting > 0 && this.#size + bound.size(item) > bound.max;
  }

  /** Drops every item still waiting (the loop ends after them anyway). */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#lost = 0;
    this.#size = 0;
  }

  fail(error: Error): void {
    if (this.#ended) return;
    this.#error = error;
    this.#ended = true;
    this.detach();
    if (this.#waiting !== undefined) {
      const { reject } = this.#waiting;
      this.#waiting = undefined;
      this.#error = undefined;
      reject(error);
    }
  }

  end(): void {
    this.#ended = true;
    if (this.#waiting !== undefined) {
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head++] as T;
      if (this.bound?.size !== undefined) this.#size -= this.bound.size(value);
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#lost > 0 && this.bound !== undefined) {
      this.#lost = 0;
      return Promise.resolve({ value: this.bound.overflow(), done: false });
    }
    if (this.#error !== undefined) {
      const error = this.#error;
      this.#error = undefined;
      return Promise.reject(error);
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    this.clear();
    this.detach();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
