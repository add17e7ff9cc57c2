/** Waiting on a condition that a log or a child's output re-checks each time it grows. */

/**
 * Resolves with the first value `check` returns other than undefined; it is
 * tried now and each time a waiter in `waiters` is called (the owner calls
 * them all when something new arrives). A throw from `check` rejects;
 * after `timeoutMs` it rejects with `timeoutMessage()`.
 */
export function waitUntil<T>(
  waiters: Set<() => void>, check: () => T | undefined, timeoutMs: number, timeoutMessage: () => string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      let value: T | undefined;
      try {
        value = check();
      } catch (error) {
        done();
        reject(error);
        return;
      }
      if (value === undefined) return;
      done();
      resolve(value);
    };
    // On expiry, one more loop turn first: if the test blocked the loop past
    // the deadline, what arrived meanwhile is read before the verdict.
    let settled = false;
    const timer = setTimeout(() => setImmediate(() => {
      attempt();
      if (settled) return;
      done();
      reject(new Error(timeoutMessage()));
    }), timeoutMs);
    const done = (): void => {
      settled = true;
      clearTimeout(timer);
      waiters.delete(attempt);
    };
    waiters.add(attempt);
    attempt();
  });
}
