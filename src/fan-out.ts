/**
 * Hands one item to every consumer of an event source (the Notifier's
 * events, the transfer tracker's notifications): EventEmitter listeners,
 * `for await` iterators and a processor's hooks. One consumer's exception
 * never takes the item away from another: a listener's throw is reported as
 * Node reports any listener error (an uncaught exception, in a microtask)
 * after the others ran; a hook's throw or rejection goes to `onHookError`.
 * @internal
 */
import type { EventEmitter } from 'node:events';
import { AsyncQueue } from './async-queue.js';

/** Whether `value` is a thenable (a hook's asynchronous result). */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Reports `error` as an uncaught exception (process 'uncaughtException')
 * without unwinding the caller. A microtask, not process.nextTick: a throw
 * from a tick callback leaves the rest of the tick and microtask queues
 * waiting until after the next macrotask, and only the first two of several
 * throws were reported before it.
 */
export function reportUncaught(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** @internal */
export class FanOut<T> {
  readonly #iterators = new Set<AsyncQueue<T>>();
  readonly #pending = new Set<Promise<unknown>>();
  #ended = false;

  /**
   * @param onHookError where a hook's throw or rejection goes (an 'error' event).
   * @param onListenerError where a listener's throw goes, after every listener ran (default: an uncaught exception).
   */
  constructor(
    private readonly onHookError: (error: Error) => void,
    private readonly onListenerError: (error: unknown) => void = reportUncaught,
  ) {}

  /** Whether a `for await` loop is running. */
  get iterating(): boolean {
    return this.#iterators.size !== 0;
  }

  /**
   * Calls every listener of `name` with `value`, each on its own: the
   * remaining listeners still run after one throws, and each throw then goes
   * to onListenerError. Returns false when there was no listener.
   */
  emit(emitter: EventEmitter, name: string, value: unknown): boolean {
    const count = emitter.listenerCount(name);
    if (count === 0) return false;
    if (count === 1) {
      // One listener (the common case): emit() itself, no copy of the listener list.
      try {
        emitter.emit(name, value);
      } catch (error) {
        this.onListenerError(error);
      }
      return true;
    }
    let errors: unknown[] | undefined;
    // rawListeners: a copy (a listener may remove itself), and a once() wrapper removes itself when called.
    for (const listener of emitter.rawListeners(name) as Array<(value: unknown) => unknown>) {
      try {
        listener.call(emitter, value);
      } catch (error) {
        (errors ??= []).push(error);
      }
    }
    if (errors !== undefined) for (const error of errors) this.onListenerError(error);
    return true;
  }

  /** Queues `item` for every running `for await` loop. */
  push(item: T): void {
    if (this.#iterators.size !== 0) for (const iterator of this.#iterators) iterator.push(item);
  }

  /** Runs a hook: a throw or a rejection goes to onHookError; a promise is waited for by {@link FanOut.settled}. */
  call(hook: () => unknown): void {
    let result: unknown;
    try {
      result = hook();
    } catch (error) {
      this.onHookError(toError(error));
      return;
    }
    if (isPromiseLike(result)) this.#track(Promise.resolve(result));
  }

  /** A new `for await` loop, fed from now on (ended at once after {@link FanOut.end}). */
  iterator(): AsyncQueue<T> {
    const queue = new AsyncQueue<T>(() => this.#iterators.delete(queue));
    if (this.#ended) queue.end();
    else this.#iterators.add(queue);
    return queue;
  }

  /** Ends every loop (no more items), now and for loops started later. */
  end(): void {
    this.#ended = true;
    for (const iterator of this.#iterators) iterator.end();
    this.#iterators.clear();
  }

  /** Makes every running loop throw `error`. */
  fail(error: Error): void {
    for (const iterator of [...this.#iterators]) iterator.fail(error);
  }

  /** Resolves once every pending asynchronous hook has settled (also those started meanwhile). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #track(promise: Promise<unknown>): void {
    const settled: Promise<void> = promise.then(() => undefined, (error: unknown) => this.onHookError(toError(error)))
      .finally(() => this.#pending.delete(settled));
    this.#pending.add(settled);
  }
}
