/**
 * Many requests to a side at once, in bounded batches: a remote side answers
 * a batch in one stream instead of one round trip each, and a million paths
 * never become a million requests in flight.
 */

/** How many requests one batch sends before waiting for its answers. */
export const BATCH = 512;

/** `fn` of every item, in order; at most {@link BATCH} calls run at a time. */
export async function mapBatched<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += BATCH) {
    const batch = items.slice(start, start + BATCH);
    results.push(...await Promise.all(batch.map((item, i) => fn(item, start + i))));
  }
  return results;
}
