/**
 * The event history of each file, for `--profile`: every event is appended
 * to the history of its subject, and a history follows its file across
 * renames (by the move pairing's srcPathname and cookie), so a temp file and
 * the final name it is renamed to are one history, keyed by the final name.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { InotifyEvent } from '../index.js';

/** One event in a history (consecutive identical ones are counted, not repeated). */
export interface Step {
  /** The mask name without `IN_` and `|IN_ISDIR`: CREATE, MODIFY, MOVED_TO... */
  readonly kind: string;
  /** The subject's absolute path at that moment. */
  readonly path: string;
  /** Made up by the library (an entry found when a new directory was scanned). */
  readonly synthetic: boolean;
  /** 'from outside' on a lone IN_MOVED_TO, 'moved out' on an unpaired IN_MOVED_FROM, 'over existing' on a rename onto an existing name. */
  note: string | undefined;
  count: number;
}

/** A rename the history went through. */
export interface Rename {
  readonly from: string;
  readonly to: string;
  /** The target name existed before: the rename replaced that file. */
  readonly replaced: boolean;
}

/** Everything seen happen to one file or directory. */
export interface History {
  /** Order of the history's first event. */
  readonly id: number;
  readonly dir: boolean;
  /** The current (final) absolute path. */
  path: string;
  readonly steps: Step[];
  /** Began with IN_CREATE. */
  created: boolean;
  /** That IN_CREATE was synthetic (found by the scan of a new directory). */
  scanned: boolean;
  /** Began with an IN_MOVED_TO that had no IN_MOVED_FROM in the watched tree. */
  movedIn: boolean;
  readonly renames: Rename[];
  ended: 'deleted' | 'moved out' | undefined;
  /** A later history took this one's name (a rename onto it, or a re-creation). */
  replacedBy: History | undefined;
  /** How many events were recorded (steps count repeats once). */
  events: number;
  /** Steps past the cap were counted but not kept. */
  truncated: boolean;
}

const MAX_STEPS = 200;
const MAX_PRESENT = 200_000;

/** The mask name as a profile step: `IN_CREATE|IN_ISDIR` -> `CREATE`. */
export function stepKind(maskname: string): string {
  return maskname.split('|').filter((part) => part !== 'IN_ISDIR').map((part) => part.replace(/^IN_/, '')).join('|');
}

/**
 * Paths that exist under `roots` before watching starts (recursively with
 * `recursive`), so a rename onto one of them is known to replace a file.
 * Read before the watches exist, so the reads cause no events. Capped.
 */
export function snapshot(roots: readonly string[], recursive: boolean): Set<string> {
  const present = new Set<string>();
  for (const root of roots) {
    let names: string[];
    try {
      names = fs.readdirSync(root, { recursive, encoding: 'utf8' });
    } catch {
      continue; // not a directory, or unreadable: nothing to remember
    }
    for (const name of names) {
      if (present.size >= MAX_PRESENT) return present;
      present.add(nodePath.join(root, name));
    }
  }
  return present;
}

/** Builds the histories from the events, in order. */
export class ProfileRecorder {
  /** Every history, in the order each began. */
  readonly histories: History[] = [];
  /** Events recorded (the library's IN_IGNORED bookkeeping and duplicate self-reports excluded). */
  events = 0;
  /** The kernel queue overflowed: the histories miss events. */
  overflowed = false;
  readonly startTime = Date.now();
  readonly roots: readonly string[];
  readonly #rootSet: ReadonlySet<string>;
  readonly #current = new Map<string, History>();
  readonly #pendingMoves = new Map<number, History>();
  readonly #present: Set<string>;

  /**
   * @param roots the watched paths (absolute).
   * @param present paths that existed before watching started (see {@link snapshot}).
   */
  constructor(roots: readonly string[], present: Set<string> = new Set()) {
    this.roots = roots;
    this.#rootSet = new Set(roots);
    this.#present = present;
  }

  /** Appends one event to its subject's history. */
  record(event: InotifyEvent): void {
    if (event.wd === -1) {
      this.overflowed = true;
      return;
    }
    const kind = stepKind(event.maskname);
    if (kind === 'IGNORED' || kind === '') return;
    // A watched subdirectory reports its own OPEN/ATTRIB/... with name '',
    // and its parent reports the same event by name: keep the parent's.
    if (event.name === '' && !this.#rootSet.has(event.pathname)) return;
    this.events++;
    const path = event.pathname;
    switch (kind) {
      case 'CREATE': {
        const history = this.#start(path, event.dir);
        history.created = true;
        history.scanned = event.synthetic;
        this.#push(history, kind, path, event.synthetic);
        this.#present.add(path);
        break;
      }
      case 'MOVED_FROM': {
        const history = this.#at(path, event.dir);
        this.#push(history, kind, path, event.synthetic, 'moved out');
        history.ended = 'moved out'; // until its IN_MOVED_TO arrives
        this.#current.delete(path);
        this.#present.delete(path);
        this.#pendingMoves.set(event.cookie, history);
        break;
      }
      case 'MOVED_TO':
        this.#movedTo(event, path);
        break;
      case 'DELETE':
      case 'DELETE_SELF': {
        const history = this.#at(path, event.dir);
        this.#push(history, kind, path, event.synthetic);
        history.ended = 'deleted';
        this.#current.delete(path);
        this.#present.delete(path);
        break;
      }
      default:
        this.#push(this.#at(path, event.dir), kind, path, event.synthetic);
    }
  }

  #movedTo(event: InotifyEvent, path: string): void {
    const source = event.srcPathname;
    const history = source === undefined ? undefined : this.#pendingMoves.get(event.cookie);
    if (history !== undefined) this.#pendingMoves.delete(event.cookie);
    const replaced = this.#present.has(path);
    if (history === undefined || source === undefined) {
      const arrived = this.#start(path, event.dir);
      arrived.movedIn = true;
      this.#push(arrived, 'MOVED_TO', path, event.synthetic, 'from outside');
      this.#present.add(path);
      return;
    }
    // The pair is one rename: its MOVED_FROM step becomes this MOVED_TO.
    const last = history.steps[history.steps.length - 1];
    if (last !== undefined && last.kind === 'MOVED_FROM' && last.count === 1) history.steps.pop();
    else if (last !== undefined && last.kind === 'MOVED_FROM') last.count--;
    this.#retire(path, history);
    history.ended = undefined;
    history.renames.push({ from: source, to: path, replaced });
    this.#push(history, 'MOVED_TO', path, event.synthetic, replaced ? 'over existing' : undefined);
    history.path = path;
    this.#current.set(path, history);
    this.#present.add(path);
    if (history.dir) this.#rekey(source, path);
  }

  // A directory was renamed: what is below it moved with it.
  #rekey(from: string, to: string): void {
    const prefix = `${from}/`;
    for (const [path, history] of [...this.#current]) {
      if (!path.startsWith(prefix)) continue;
      this.#current.delete(path);
      history.path = to + path.slice(from.length);
      this.#current.set(history.path, history);
    }
    for (const path of [...this.#present]) {
      if (!path.startsWith(prefix)) continue;
      this.#present.delete(path);
      this.#present.add(to + path.slice(from.length));
    }
  }

  #at(path: string, dir: boolean): History {
    return this.#current.get(path) ?? this.#start(path, dir);
  }

  #start(path: string, dir: boolean): History {
    const history: History = {
      id: this.histories.length, dir, path, steps: [], created: false, scanned: false, movedIn: false, renames: [],
      ended: undefined, replacedBy: undefined, events: 0, truncated: false,
    };
    this.#retire(path, history);
    this.histories.push(history);
    this.#current.set(path, history);
    return history;
  }

  // `successor` takes `path` over from whatever history held it.
  #retire(path: string, successor: History): void {
    const previous = this.#current.get(path);
    if (previous === undefined || previous === successor) return;
    previous.replacedBy = successor;
    this.#current.delete(path);
  }

  #push(history: History, kind: string, path: string, synthetic: boolean, note?: string): void {
    history.events++;
    const last = history.steps[history.steps.length - 1];
    if (last !== undefined && last.kind === kind && last.path === path && last.synthetic === synthetic && last.note === note) {
      last.count++;
      return;
    }
    if (history.steps.length >= MAX_STEPS) {
      history.truncated = true;
      return;
    }
    history.steps.push({ kind, path, synthetic, note, count: 1 });
  }
}
