/**
 * pyinotify's ProcessEvent: subclass it and write `process_IN_CREATE(event)`,
 * `process_IN_MOVED_TO(event)`, `process_default(event)`. Hook names keep
 * pyinotify's spelling so a pyinotify script ports line by line.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import { invalidArgType } from './errors.js';
import { isPromiseLike } from './fan-out.js';
import type { InotifyEvent } from './event.js';

/** A hook: receives an event; may return a promise (see {@link Notifier} on how it is awaited). */
export type EventHook = (event: InotifyEvent) => unknown;

/** A processor to run before this one: a ProcessEvent or a function. */
export type ChainedProcessor = ProcessEvent | EventHook;

/**
 * Every hook name dispatch looks up: `process_default`, `process_<FLAG>` for
 * each event flag, and the families `process_IN_CLOSE`, `process_IN_MOVED`,
 * `process_IN_MOVE`.
 */
export const HOOK_NAMES: ReadonlySet<string> = new Set([
  'process_default',
  ...['ACCESS', 'MODIFY', 'ATTRIB', 'CLOSE_WRITE', 'CLOSE_NOWRITE', 'OPEN', 'MOVED_FROM', 'MOVED_TO', 'CREATE',
    'DELETE', 'DELETE_SELF', 'MOVE_SELF', 'UNMOUNT', 'Q_OVERFLOW', 'IGNORED', 'CLOSE', 'MOVED', 'MOVE']
    .map((flag) => `process_IN_${flag}`),
]);

/** The hooks a {@link ProcessEvent} subclass may define, each optional. */
export interface KnownProcessEventHooks {
  process_default?(event: InotifyEvent): unknown;
  process_IN_ACCESS?(event: InotifyEvent): unknown;
  process_IN_MODIFY?(event: InotifyEvent): unknown;
  process_IN_ATTRIB?(event: InotifyEvent): unknown;
  process_IN_CLOSE_WRITE?(event: InotifyEvent): unknown;
  process_IN_CLOSE_NOWRITE?(event: InotifyEvent): unknown;
  /** Both IN_CLOSE_WRITE and IN_CLOSE_NOWRITE, when no more specific hook exists. */
  process_IN_CLOSE?(event: InotifyEvent): unknown;
  process_IN_OPEN?(event: InotifyEvent): unknown;
  process_IN_MOVED_FROM?(event: InotifyEvent): unknown;
  process_IN_MOVED_TO?(event: InotifyEvent): unknown;
  /** Both halves of a move, when no more specific hook exists. */
  process_IN_MOVED?(event: InotifyEvent): unknown;
  process_IN_CREATE?(event: InotifyEvent): unknown;
  /** Also IN_DELETE_SELF, when no process_IN_DELETE_SELF exists. */
  process_IN_DELETE?(event: InotifyEvent): unknown;
  process_IN_DELETE_SELF?(event: InotifyEvent): unknown;
  /** IN_MOVE_SELF, when no process_IN_MOVE_SELF exists. */
  process_IN_MOVE?(event: InotifyEvent): unknown;
  process_IN_MOVE_SELF?(event: InotifyEvent): unknown;
  process_IN_UNMOUNT?(event: InotifyEvent): unknown;
  process_IN_Q_OVERFLOW?(event: InotifyEvent): unknown;
  process_IN_IGNORED?(event: InotifyEvent): unknown;
}

/** The `process_*` members of `T` that are no hook: each mapped to a type that names the mistake. */
type UnknownHooks<T> = {
  [K in keyof T as K extends `process_${string}` ? (K extends keyof KnownProcessEventHooks ? never : K) : never]:
    `${K & string} is not a ProcessEvent hook name (see ProcessEventHooks)`;
};

/**
 * The hooks a {@link ProcessEvent} subclass may define. Name your class as
 * the type argument and a misspelled hook is a compile error:
 *
 * ```ts
 * class Handler extends ProcessEvent implements ProcessEventHooks<Handler> {
 *   process_IN_CREAT(event: InotifyEvent) {} // error: not a ProcessEvent hook name
 * }
 * ```
 *
 * Without the type argument it only documents the hooks: TypeScript does not
 * reject extra members of a class that implements an interface. At run time
 * a misspelled `process_*` method is reported once per class by a process
 * warning (code INOTIFY_UNKNOWN_HOOK).
 */
export type ProcessEventHooks<Self = unknown> = KnownProcessEventHooks & UnknownHooks<Self>;

/**
 * Dispatches each event to the first of these methods that exists:
 * 1. `process_<MASKNAME>` with `|IN_ISDIR` stripped (`process_IN_CREATE`);
 * 2. `process_IN_<FAMILY>`, the second `_`-separated word of the name, so
 *    `process_IN_CLOSE` gets both CLOSE events, `process_IN_MOVED` both move
 *    halves, `process_IN_DELETE` also IN_DELETE_SELF, `process_IN_MOVE`
 *    IN_MOVE_SELF;
 * 3. `process_default`.
 *
 * With a `pevent` (chained processor), it runs first; a truthy return from
 * it stops the chain and this processor's methods are skipped. IN_Q_OVERFLOW
 * goes to `process_IN_Q_OVERFLOW`, whose default emits a process warning.
 *
 * @example
 * ```ts
 * class OnArrival extends ProcessEvent {
 *   process_IN_CLOSE_WRITE(event: InotifyEvent) { console.log('written', event.pathname); }
 *   process_IN_MOVED_TO(event: InotifyEvent) { console.log('moved in', event.pathname, 'from', event.srcPathname); }
 * }
 * new Notifier(wm, new OnArrival());
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own constraint on an event map
export class ProcessEvent<Events extends Record<keyof Events, any[]> | [never] = [never]> extends EventEmitter<Events> {
  readonly pevent: ChainedProcessor | undefined;
  readonly #hooks = new Map<string, EventHook>();

  /**
   * @param pevent a processor to run first (pyinotify's `pevent`).
   * @param options passed to {@link ProcessEvent.my_init} when a subclass defines it (pyinotify's `**kargs`).
   */
  constructor(pevent?: ChainedProcessor, options?: Record<string, unknown>) {
    if (pevent !== undefined && !(pevent instanceof ProcessEvent) && typeof pevent !== 'function') {
      throw invalidArgType('pevent', 'a ProcessEvent or a function', pevent);
    }
    if (options !== undefined && (options === null || typeof options !== 'object')) throw invalidArgType('options', 'of type object', options);
    super();
    this.pevent = pevent;
    checkHookNames(this as ProcessEvent);
    this.my_init(options ?? {});
  }

  /**
   * True when `name` (a `process_*` method) is a hook this class dispatches
   * to. Subclasses with hooks of their own (TransferTracker's
   * `process_transfer_complete`) extend it, so that a misspelled hook is
   * reported and theirs are not.
   */
  protected _isHookName(name: string): boolean {
    return HOOK_NAMES.has(name);
  }

  /** Override to initialise a subclass from the constructor's options (pyinotify's `my_init(**kargs)`). */
  my_init(_options: Record<string, unknown>): void {}

  /**
   * Runs the chain, then the matching hook; returns the hook's result.
   * pyinotify's `__call__`. When the chained processor returns a promise,
   * its resolved value decides (a promise object itself is always truthy)
   * and the hook runs once it has resolved; the promise of both is returned.
   */
  dispatch(event: InotifyEvent): unknown {
    if (this.pevent !== undefined) {
      const stop = this.pevent instanceof ProcessEvent ? this.pevent.dispatch(event) : this.pevent(event);
      if (isPromiseLike(stop)) return Promise.resolve(stop).then((value) => value || this.#hookFor(event.maskname).call(this, event));
      if (stop) return stop;
    }
    return this.#hookFor(event.maskname).call(this, event);
  }

  /** Called for every event with no more specific hook. Does nothing by default. */
  process_default(_event: InotifyEvent): unknown {
    return undefined;
  }

  /** The kernel queue overflowed: events were lost. Default: a process warning. */
  process_IN_Q_OVERFLOW(_event: InotifyEvent): unknown {
    process.emitWarning('The inotify event queue overflowed: events were lost (raise fs.inotify.max_queued_events)', 'InotifyOverflowWarning');
    return undefined;
  }

  // Looked up once per mask name, so dispatch is one Map lookup per event.
  #hookFor(maskname: string): EventHook {
    let hook = this.#hooks.get(maskname);
    if (hook === undefined) {
      const name = maskname.split('|')[0] ?? '';
      const family = `IN_${name.split('_')[1] ?? ''}`;
      const methods = this as unknown as Record<string, unknown>;
      const found = [`process_${name}`, `process_${family}`].map((key) => methods[key]).find((m) => typeof m === 'function');
      hook = (found as EventHook | undefined) ?? this.process_default;
      this.#hooks.set(maskname, hook);
    }
    return hook;
  }
}

/**
 * Writes each event's pyinotify line (`<Event ... >`) to a stream. pyinotify's
 * default processor; its constructor is ProcessEvent's, as in pyinotify:
 * `new PrintAllEvents(undefined, { out })` (`PrintAllEvents(out=f)`). The
 * older `new PrintAllEvents(out, pevent?)` is still accepted.
 */
export class PrintAllEvents extends ProcessEvent {
  declare out: NodeJS.WritableStream;

  constructor(pevent?: ChainedProcessor | NodeJS.WritableStream, options?: { out?: NodeJS.WritableStream } | ChainedProcessor) {
    if (isWritable(pevent)) {
      // The pre-1.0 signature: (out, pevent?).
      super(options as ChainedProcessor | undefined, { out: pevent });
    } else {
      super(pevent, options as Record<string, unknown> | undefined);
    }
  }

  /** pyinotify's `my_init(out=None)`: the stream to write to (default stdout). */
  override my_init(options: { out?: NodeJS.WritableStream }): void {
    const out = options.out ?? process.stdout;
    if (!isWritable(out)) throw invalidArgType('options.out', 'a writable stream', out);
    this.out = out;
  }

  override process_default(event: InotifyEvent): void {
    this.out.write(`${event.toString()}\n`);
  }

  override process_IN_Q_OVERFLOW(event: InotifyEvent): void {
    this.process_default(event);
  }
}

/**
 * Runs `func` on each event and stops the chain when it returns false:
 * `new MyHandler(new ChainIfTrue((e) => e.name.endsWith('.csv')))`.
 */
export class ChainIfTrue extends ProcessEvent {
  readonly #func: (event: InotifyEvent) => boolean;

  constructor(func: (event: InotifyEvent) => boolean) {
    super();
    this.#func = func;
  }

  override process_default(event: InotifyEvent): boolean {
    return !this.#func(event);
  }

  override process_IN_Q_OVERFLOW(event: InotifyEvent): boolean {
    return this.process_default(event);
  }
}

/** Counts events by flag (each `|`-separated part of the mask name, IN_ISDIR included). pyinotify's Stats. */
export class Stats extends ProcessEvent {
  readonly startTime = Date.now();
  readonly counts = new Map<string, number>();

  override process_default(event: InotifyEvent): void {
    for (const part of event.maskname.split('|')) this.counts.set(part, (this.counts.get(part) ?? 0) + 1);
  }

  override process_IN_Q_OVERFLOW(event: InotifyEvent): void {
    this.process_default(event);
  }

  /** pyinotify's one-line summary: `<Stats ElapsedTime=5sec IN_CREATE=2 ... >`. */
  summary(now = Date.now()): string {
    const fields = [`ElapsedTime=${formatElapsed(now - this.startTime)}`];
    for (const name of [...this.counts.keys()].sort()) fields.push(`${name}=${this.counts.get(name)}`);
    return `<Stats ${fields.join(' ')} >`;
  }

  /** pyinotify's histogram: one `%-26s%-46s%s` row per flag, bars of `@` scaled to `scale`. */
  override toString(scale = 45): string {
    const max = Math.max(0, ...this.counts.values());
    if (max === 0) return '';
    // pyinotify's arithmetic exactly: int(count * (scale / max)), which rounds
    // down to one '@' less than (count * scale) / max in some cases (39 of 39 -> 44).
    const unity = scale / max;
    return [...this.counts.keys()].sort().map((name) => {
      const count = this.counts.get(name) ?? 0;
      const bar = '@'.repeat(Math.trunc(count * unity));
      return `${name.padEnd(26)}${bar.padEnd(46)}${count}`;
    }).join('\n');
  }

  /** Writes the histogram to a new file (fails if it exists, mode 0600), as pyinotify's `dump`. */
  dump(filename: string): void {
    fs.writeFileSync(filename, `${this.toString()}\n`, { flag: 'wx', mode: 0o600 });
  }
}

/** @internal A processor option (a ProcessEvent or a function) as one function; undefined stays undefined. */
export function toHook(processor: unknown, name: string): EventHook | undefined {
  if (processor === undefined) return undefined;
  if (processor instanceof ProcessEvent) return (event) => processor.dispatch(event);
  if (typeof processor === 'function') return processor as EventHook;
  throw invalidArgType(name, 'a ProcessEvent or a function', processor);
}

function isWritable(value: unknown): value is NodeJS.WritableStream {
  return typeof value === 'object' && value !== null && !(value instanceof ProcessEvent)
    && typeof (value as { write?: unknown }).write === 'function';
}

// Each class's methods are checked once, however many instances it has.
const checkedPrototypes = new WeakSet<object>();

/** Warns (once per class) about `process_*` methods that no event dispatches to: a misspelled hook never runs. */
function checkHookNames(processor: ProcessEvent): void {
  const isHook = (name: string): boolean => (processor as unknown as { _isHookName(n: string): boolean })._isHookName(name);
  for (let proto = Object.getPrototypeOf(processor) as object | null; proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null) {
    if (checkedPrototypes.has(proto)) break;
    checkedPrototypes.add(proto);
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (!name.startsWith('process_') || isHook(name)) continue;
      if (typeof Object.getOwnPropertyDescriptor(proto, name)?.value !== 'function') continue;
      const near = nearest(name, [...HOOK_NAMES].filter(isHook));
      const hint = near === undefined ? '' : ` Did you mean ${near}?`;
      process.emitWarning(`${proto.constructor.name}.${name} is not a ProcessEvent hook: no event is dispatched to it.${hint}`,
        { type: 'InotifyHookWarning', code: 'INOTIFY_UNKNOWN_HOOK' });
    }
  }
}

/** The candidate closest to `name` by edit distance, when it is close (at most 3 edits). */
function nearest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of candidates) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** pyinotify's elapsed-time format: `Nsec`, `NmnNsec`, `NhNmn` or `NdNh`. */
export function formatElapsed(ms: number): string {
  const total = Math.floor(ms / 1000);
  const minutes = Math.floor(total / 60);
  const hours = Math.floor(minutes / 60);
  const days = Math.floor(hours / 24);
  if (days > 0) return `${days}d${hours % 24}h`;
  if (hours > 0) return `${hours}h${minutes % 60}mn`;
  if (minutes > 0) return `${minutes}mn${total % 60}sec`;
  return `${total}sec`;
}
