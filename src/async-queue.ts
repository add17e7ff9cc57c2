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

  /** @param detach called once the loop ends, to stop feeding this queue. */
  constructor(private readonly detach: () => void) {}

  push(item: T): void {
    if (this.#waiting !== undefined) {
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve({ value: item, done: false });
    } else {
      this.#items.push(item);
    }
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
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
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
    this.detach();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
