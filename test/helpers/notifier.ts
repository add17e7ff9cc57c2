/**
 * Helpers for tests of the WatchManager / Notifier layer on the real kernel:
 * managers and notifiers closed when the test ends, an event log that can be
 * awaited with a timeout, and the sentinel pattern (after an action, create
 * a file and wait for its event: the kernel queues events in order, so
 * everything the action caused, synthetic events included, is in the log by
 * then). Never a fixed sleep as synchronisation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onTestFinished } from 'vitest';
import { waitUntil } from './wait.js';
import {
  Notifier, WatchManager, type InotifyEvent, type NotifierOptions, type Processor, type WatchManagerOptions,
} from '../../src/index.js';

/** A WatchManager closed when the current test finishes. */
export function openWatchManager(options?: WatchManagerOptions): WatchManager {
  const wm = new WatchManager(options);
  onTestFinished(() => wm.close());
  return wm;
}

/** A Notifier closed (and its pending hooks awaited) when the current test finishes. */
export function openNotifier(wm: WatchManager, processor?: Processor, options?: NotifierOptions): Notifier {
  const notifier = new Notifier(wm, processor, options);
  onTestFinished(() => notifier.close());
  return notifier;
}

/** One line per event, for failure messages. */
export function describeEvents(events: readonly InotifyEvent[], limit = 200): string {
  const lines = events.slice(-limit).map((e) => `${e.maskname} ${e.pathname}${e.synthetic ? ' (synthetic)' : ''}${e.srcPathname === undefined ? '' : ` <- ${e.srcPathname}`}`);
  const skipped = events.length > limit ? `... ${events.length - limit} earlier events\n  ` : '';
  return skipped + (lines.join('\n  ') || '(nothing)');
}

/**
 * Resolves with the first event (already seen or future) for which
 * `predicate` holds; rejects after `timeoutMs` listing the last events seen.
 */
export function waitFor(notifier: Notifier, predicate: (event: InotifyEvent) => boolean, timeoutMs = 20_000): Promise<InotifyEvent> {
  return new EventLog(notifier).waitFor(predicate, timeoutMs);
}

/** Every event (and error, and overflow) a Notifier emits, in order, awaitable. */
export class EventLog {
  readonly events: InotifyEvent[] = [];
  readonly errors: Error[] = [];
  readonly overflows: InotifyEvent[] = [];
  readonly #waiters = new Set<() => void>();
  #sentinels = 0;

  constructor(readonly notifier: Notifier) {
    notifier.on('event', (event) => {
      this.events.push(event);
      for (const waiter of this.#waiters) waiter();
    });
    notifier.on('error', (error) => this.errors.push(error));
    notifier.on('overflow', (event) => this.overflows.push(event));
  }

  /** Resolves with the first logged event matching `predicate`, looking at past events too. */
  waitFor(predicate: (event: InotifyEvent) => boolean, timeoutMs = 20_000): Promise<InotifyEvent> {
    let index = 0;
    return waitUntil(this.#waiters, () => {
      for (; index < this.events.length; index++) {
        const event = this.events[index] as InotifyEvent;
        if (predicate(event)) return event;
      }
      return undefined;
    }, timeoutMs, () => `no matching event within ${timeoutMs} ms; saw ${this.events.length} events:\n  ${describeEvents(this.events)}`
      + (this.errors.length > 0 ? `\nerrors: ${this.errors.map(String).join('; ')}` : ''));
  }

  /**
   * Creates a new file `.sentinel-N` in `dir` (a watched directory) and waits
   * for an event about it. Every event caused before the call is logged by
   * the time this resolves. Returns the sentinel's path (exclude it from
   * assertions with {@link EventLog.without}). With `remove`, the file is
   * deleted again at once, for watches that report IN_DELETE but not the
   * creation.
   */
  async sentinel(dir: string, timeoutMs = 10_000, remove = false): Promise<string> {
    const file = path.join(dir, `.sentinel-${++this.#sentinels}`);
    const start = this.events.length;
    fs.writeFileSync(file, '');
    if (remove) fs.unlinkSync(file);
    await this.waitFor((e) => e.pathname === file && this.events.indexOf(e) >= start, timeoutMs);
    return file;
  }

  /**
   * {@link EventLog.sentinel} that survives a lost sentinel: when the kernel
   * queue overflows the sentinel's own event can be dropped, so a new one is
   * created every `retryMs` until one is reported.
   */
  async settle(dir: string, timeoutMs = 20_000, retryMs = 1000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.sentinel(dir, Math.min(retryMs, Math.max(1, deadline - Date.now())));
      } catch (error) {
        if (Date.now() >= deadline) throw error;
      }
    }
  }

  /** The logged events, without sentinel files. */
  without(): InotifyEvent[] {
    return this.events.filter((e) => !path.basename(e.pathname).startsWith('.sentinel-'));
  }

  /** Logged events whose pathname is `pathname`. */
  at(pathname: string): InotifyEvent[] {
    return this.events.filter((e) => e.pathname === pathname);
  }
}
