/**
 * watch()'s opt-in `coalesce` option: events are gathered for a window of
 * `ms` and delivered as one batch, with the events of each path merged into
 * one {@link PathChange}. The default (no `coalesce`) delivers each event at
 * once, in kernel order; this module is not on that path.
 */
import { IN_Q_OVERFLOW, maskname } from './constants.js';
import { invalidArgType, outOfRange } from './errors.js';
import { InotifyEvent } from './event.js';

/** Options of watch()'s `coalesce`. */
export interface CoalesceOptions {
  /**
   * The window (ms): the first event after a quiet time opens it, and when
   * it ends, everything seen in it is delivered as one batch. So no event
   * waits longer than `ms`, however busy the tree.
   */
  ms: number;
}

/** Everything that happened to one path within a window. */
export interface PathChange {
  /** The path (for a queue overflow: ''). */
  readonly pathname: string;
  /** The event bits seen for it, OR-ed (IN_ISDIR included when it is a directory). */
  readonly mask: number;
  /** `mask` as pyinotify names it (`IN_CREATE|IN_CLOSE_WRITE`). */
  readonly maskname: string;
  /** True for a directory. */
  readonly dir: boolean;
  /** Where it was renamed from, when one of its events was a paired IN_MOVED_TO (the last such). */
  readonly srcPathname: string | undefined;
  /** Its events, in kernel order. */
  readonly events: readonly InotifyEvent[];
}

/** One window's changes, one per path, ordered by each path's first event. */
export type EventBatch = readonly PathChange[];

/** Checks the `coalesce` option; returns the window in ms. */
export function validateCoalesce(value: unknown, name = 'options.coalesce'): number {
  if (typeof value !== 'object' || value === null) throw invalidArgType(name, 'an object like { ms: 100 }', value);
  const ms = (value as { ms?: unknown }).ms;
  if (typeof ms !== 'number') throw invalidArgType(`${name}.ms`, 'of type number', ms);
  if (!Number.isFinite(ms) || ms < 0 || ms > 0x7fffffff) throw outOfRange(`${name}.ms`, '>= 0 and <= 2147483647', ms);
  return ms;
}

interface Entry {
  pathname: string;
  mask: number;
  srcPathname: string | undefined;
  events: InotifyEvent[];
}

/**
 * Gathers events for a window and hands each window's batch to `deliver`.
 * A window holds at most `maxEvents` events: the ones after are dropped
 * until it is delivered, and one IN_Q_OVERFLOW event (wd -1, a change with
 * pathname '') stands in the batch where they would have been.
 */
export class Coalescer {
  readonly #ms: number;
  readonly #maxEvents: number;
  readonly #deliver: (batch: EventBatch) => void;
  #entries = new Map<string, Entry>();
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  #ref = true;

  constructor(ms: number, maxEvents: number, deliver: (batch: EventBatch) => void) {
    this.#ms = ms;
    this.#maxEvents = maxEvents;
    this.#deliver = deliver;
  }

  /** Adds an event to the current window (opening one if none is open). */
  push(event: InotifyEvent): void {
    if (this.#count > this.#maxEvents) return; // full: its overflow marker is in already
    this.#count += 1;
    this.#add(this.#count > this.#maxEvents ? new InotifyEvent(-1, IN_Q_OVERFLOW, '', '', '', false) : event);
  }

  #add(event: InotifyEvent): void {
    const key = event.pathname;
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#entries.set(key, { pathname: key, mask: event.mask >>> 0, srcPathname: event.srcPathname, events: [event] });
    } else {
      entry.mask = (entry.mask | event.mask) >>> 0;
      if (event.srcPathname !== undefined) entry.srcPathname = event.srcPathname;
      entry.events.push(event);
    }
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), this.#ms);
      if (!this.#ref) this.#timer.unref();
    }
  }

  /** The window's timer keeps the process alive as the watcher does (`ref: false` lets it exit). */
  setRef(ref: boolean): void {
    this.#ref = ref;
    if (ref) this.#timer?.ref();
    else this.#timer?.unref();
  }

  /** Delivers the open window now (nothing when it is empty). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#entries.size === 0) return;
    const entries = this.#entries;
    this.#entries = new Map();
    this.#count = 0;
    const batch: PathChange[] = [];
    for (const entry of entries.values()) {
      const dir = entry.events.some((e) => e.dir);
      batch.push(Object.freeze({
        pathname: entry.pathname, mask: entry.mask, maskname: maskname(entry.mask), dir, srcPathname: entry.srcPathname,
        events: Object.freeze(entry.events),
      }));
    }
    this.#deliver(Object.freeze(batch));
  }
}
