/**
 * SerialRunner's scheduling, with a job the test finishes by hand (pure
 * logic, no processes): one run at a time, one re-run for any number of
 * changes during a run, the busy policies, bounded recovery and retries, and
 * a failed or stopped run's paths handed on. Waits are for its events.
 */
import { once } from 'node:events';
import { describe, expect, test, vi } from 'vitest';
import { SerialRunner, type RunBatch, type RunOutcome, type SerialRunnerOptions } from '../src/tasks/serial-runner.js';

const OK: RunOutcome = { ok: true, code: 0, signal: null };
const fail = (code: number): RunOutcome => ({ ok: false, code, signal: null });

/** A runner whose job waits until the test calls `finish(outcome)`; records every batch and abort. */
function harness(options: SerialRunnerOptions = {}) {
  const batches: RunBatch[] = [];
  const finishers: Array<(outcome: RunOutcome) => void> = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const aborted: number[] = [];
  const runner = new SerialRunner((batch, signal) => {
    batches.push(batch);
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    return new Promise<RunOutcome>((resolve) => {
      const done = (outcome: RunOutcome): void => {
        concurrent--;
        resolve(outcome);
      };
      signal.addEventListener('abort', () => {
        aborted.push(batch.run);
        finishers.splice(finishers.indexOf(done), 1);
        done({ ok: false, code: null, signal: 'SIGTERM', stopped: true });
      }, { once: true });
      finishers.push(done);
    });
  }, { debounce: 0, ...options });
  const started = async (count: number): Promise<void> => {
    while (batches.length < count) await once(runner, 'start');
  };
  const finish = (outcome: RunOutcome = OK): void => {
    const next = finishers.shift();
    if (next === undefined) throw new Error('no run is going');
    next(outcome);
  };
  return { runner, batches, finish, started, aborted, maxConcurrent: () => maxConcurrent };
}

describe('SerialRunner', () => {
  test('queue: any number of changes during a run make exactly one more run, with their paths in first-change order', async () => {
    const h = harness();
    h.runner.change('/t/a');
    await h.started(1);
    for (const name of ['b', 'c', 'a', 'b', 'd']) h.runner.change(`/t/${name}`);
    expect(h.runner.pending).toBe(true);
    h.finish();
    await h.started(2);
    h.finish();
    await h.runner.idle();
    expect(h.batches.map((b) => [b.run, b.reason, b.paths])).toEqual([
      [1, 'change', ['/t/a']],
      [2, 'change', ['/t/b', '/t/c', '/t/a', '/t/d']],
    ]);
    expect(h.maxConcurrent()).toBe(1);
    expect(h.runner.runs).toBe(2);
  });

  test('restart: a change during a run aborts it; the next run gets the stopped run\'s paths too', async () => {
    const h = harness({ onBusy: 'restart' });
    const ends: RunOutcome[] = [];
    h.runner.on('end', (_batch, outcome) => ends.push(outcome));
    h.runner.change('/t/a');
    await h.started(1);
    h.runner.change('/t/b');
    await h.started(2);
    expect(h.aborted).toEqual([1]);
    expect(ends[0]?.stopped).toBe(true);
    expect(h.batches[1]?.paths).toEqual(['/t/a', '/t/b']);
    h.finish();
    await h.runner.idle();
    expect(h.maxConcurrent()).toBe(1);
  });

  test('do-nothing drops changes during a run; signal sends one signal per burst and queues nothing', async () => {
    const quiet = harness({ onBusy: 'do-nothing' });
    quiet.runner.change('/t/a');
    await quiet.started(1);
    quiet.runner.change('/t/b');
    expect(quiet.runner.pending).toBe(false);
    quiet.finish();
    await quiet.runner.idle();
    expect(quiet.runner.runs).toBe(1);

    let signals = 0;
    const loud = harness({ onBusy: 'signal', sendSignal: () => signals++ });
    loud.runner.change('/t/a');
    await loud.started(1);
    const busy = once(loud.runner, 'busy');
    loud.runner.change('/t/b');
    loud.runner.change('/t/c');
    expect(await busy).toEqual(['signal', 2]);
    expect(signals).toBe(1);
    loud.finish();
    await loud.runner.idle();
    expect(loud.runner.runs).toBe(1);
  });

  test('recovery: a classified failure runs recover(), then the run again with what changed meanwhile, until it succeeds', async () => {
    const recovered: number[] = [];
    const h = harness({ recovery: { recover: async () => { recovered.push(h.batches.length); return true; }, when: (o) => o.code === 255, maxRetries: 3 } });
    const failed: RunBatch[] = [];
    h.runner.on('failed', (batch) => failed.push(batch));
    h.runner.change('/t/a');
    await h.started(1);
    h.finish(fail(255));
    await h.started(2);
    h.runner.change('/t/b'); // during attempt 2: part of the next attempt, not another run
    h.finish(fail(255));
    await h.started(3);
    h.finish();
    await h.runner.idle();
    expect(recovered).toEqual([1, 2]);
    expect(h.batches.map((b) => [b.run, b.attempt, b.paths])).toEqual([[1, 1, ['/t/a']], [1, 2, ['/t/a']], [1, 3, ['/t/a', '/t/b']]]);
    expect(failed).toEqual([]);
    expect(h.runner.runs).toBe(1);
  });

  test('retries are bounded; an unclassified failure gets none; a failed run\'s paths go to the next run', async () => {
    let recoveries = 0;
    const h = harness({ recovery: { recover: async () => { recoveries++; return true; }, when: (o) => o.code === 255, maxRetries: 2 } });
    const failed: number[] = [];
    h.runner.on('failed', (batch) => failed.push(batch.attempt));
    h.runner.change('/t/a');
    for (let attempt = 1; attempt <= 3; attempt++) {
      await h.started(attempt);
      h.finish(fail(255));
    }
    await h.runner.idle();
    expect([recoveries, failed]).toEqual([2, [3]]);

    h.runner.change('/t/b');
    await h.started(4);
    h.finish(fail(1)); // not classified
    await h.runner.idle();
    expect([recoveries, failed]).toEqual([2, [3, 1]]);
    h.runner.change('/t/c');
    await h.started(5);
    h.finish();
    await h.runner.idle();
    expect(h.batches[4]?.paths).toEqual(['/t/a', '/t/b', '/t/c']);
  });

  test('a failed recovery stops the retries; a job that throws is a failure, not a crash', async () => {
    const h = harness({ recovery: { recover: async () => false } });
    const failed: RunOutcome[] = [];
    h.runner.on('failed', (_batch, outcome) => failed.push(outcome));
    h.runner.change('/t/a');
    await h.started(1);
    h.finish(fail(255));
    await h.runner.idle();
    expect(h.batches).toHaveLength(1);
    expect(failed.map((o) => o.code)).toEqual([255]);

    const throwing = new SerialRunner(() => Promise.reject(new Error('boom')), { debounce: 0 });
    const outcome = once(throwing, 'failed');
    throwing.trigger();
    const [, result] = await outcome as [RunBatch, RunOutcome];
    expect(result.error?.message).toBe('boom');
  });

  test('overflow makes a run marked overflow; maxDelay caps the debounce; initial runs without a change', async () => {
    const h = harness({ debounce: 600_000, maxDelay: 0 });
    h.runner.change('/t/a');
    h.runner.overflow();
    await h.started(1); // at once, despite the 10-minute debounce
    h.finish();
    await h.runner.idle();
    expect([h.batches[0]?.reason, h.batches[0]?.overflow, h.batches[0]?.paths]).toEqual(['overflow', true, ['/t/a']]);

    const i = harness();
    i.runner.trigger('initial');
    await i.started(1);
    expect([i.batches[0]?.reason, i.batches[0]?.paths]).toEqual(['initial', []]);
    i.finish();
    await i.runner.idle();
  });

  test('close() aborts the running job and resolves when it ended; later changes are ignored', async () => {
    const h = harness();
    h.runner.change('/t/a');
    await h.started(1);
    h.runner.change('/t/b');
    await h.runner.close();
    expect(h.aborted).toEqual([1]);
    h.runner.change('/t/c');
    await h.runner.idle();
    expect(h.batches).toHaveLength(1);
  });

  test('bad arguments throw in Node\'s shapes', () => {
    const job = async (): Promise<RunOutcome> => OK;
    expect(() => new SerialRunner('job' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new SerialRunner(job, { debounce: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new SerialRunner(job, { maxDelay: '2s' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new SerialRunner(job, { onBusy: 'later' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new SerialRunner(job, { recovery: { recover: async () => true, maxRetries: 1.5 } })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  test('timing on a fake clock: the quiet time restarts with each change, maxDelay caps it, minInterval spaces the starts', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const h = harness({ debounce: 100, maxDelay: 1000, minInterval: 500 });
      h.runner.change('/t/a');
      await vi.advanceTimersByTimeAsync(99);
      h.runner.change('/t/b'); // t=99: the quiet time starts again
      await vi.advanceTimersByTimeAsync(99);
      expect(h.batches).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1); // t=199: 100 ms after the last change
      expect(h.batches.map((b) => b.paths)).toEqual([['/t/a', '/t/b']]);
      h.finish();
      h.runner.change('/t/c'); // t=199: quiet at 299, but not before 199 + 500
      await vi.advanceTimersByTimeAsync(499);
      expect(h.batches).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1); // t=699
      expect(h.batches).toHaveLength(2);
      h.finish();
      // A change every 50 ms never leaves 100 ms of quiet: maxDelay starts the run 1000 ms after the first.
      const first = performance.now();
      for (let i = 0; i < 100 && h.batches.length === 2; i++) {
        h.runner.change(`/t/busy${Math.round(performance.now() - first)}`);
        await vi.advanceTimersByTimeAsync(50);
      }
      expect(h.batches[2]?.paths).toHaveLength(20); // changes at 0, 50, ..., 950; the run started at 1000
      h.finish();
      await h.runner.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
