/**
 * The daemon's configuration: what a config module default-exports
 * (`defineConfig({...})`), and its validation, which reports the file, the
 * key, what was expected and what was given, before any watch starts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { FLAGS_BY_NAME, IN_ALL_EVENTS, IN_DELETE_SELF, IN_IGNORED, IN_Q_OVERFLOW, IN_UNMOUNT } from '../constants.js';
import { validatePollOption, type PollOption, type PollOptions } from '../poll/index.js';
import type { TransferTrackerOptions } from '../transfer/index.js';
import {
  LOG_LEVELS, TaskScheduler, isCancel, isScheduler, parseDuration, type CancelAction, type Duration, type Job,
  type LoggingOptions,
} from '../tasks/index.js';

/** The pseudo-event of a file that arrived complete (fed by the transfer tracker). */
export const TRANSFER_COMPLETE = 'TRANSFER_COMPLETE';

/** Event names an event map accepts: each IN_* event, the IN_CLOSE and IN_MOVE pairs, and TRANSFER_COMPLETE. */
export const EVENT_NAMES: readonly string[] = [
  'IN_ACCESS', 'IN_MODIFY', 'IN_ATTRIB', 'IN_CLOSE_WRITE', 'IN_CLOSE_NOWRITE', 'IN_OPEN', 'IN_MOVED_FROM',
  'IN_MOVED_TO', 'IN_CREATE', 'IN_DELETE', 'IN_DELETE_SELF', 'IN_MOVE_SELF', 'IN_UNMOUNT', 'IN_Q_OVERFLOW',
  'IN_IGNORED', 'IN_CLOSE', 'IN_MOVE', TRANSFER_COMPLETE,
];

/**
 * The scheduler kinds named in messages. Any subclass of TaskScheduler is
 * accepted (it carries the scheduler brand); a new built-in kind adds its
 * name here.
 */
export const SCHEDULER_KINDS: readonly string[] = ['TaskScheduler', 'ShellScheduler', 'FileManagerScheduler', 'PipelineScheduler'];

/** What an event name maps to: a scheduler, Cancel(scheduler), a bare job function, null (ignore), or a list. */
export type EventMapValue = TaskScheduler | CancelAction | Job | null | ReadonlyArray<TaskScheduler | CancelAction | Job>;

/** Event name -> what to do. */
export type EventMap = Partial<Record<string, EventMapValue>>;

/** One watched path. */
export interface WatchConfig {
  /** The directory (or file) to watch. */
  path: string;
  /** Event name -> scheduler(s), Cancel, null or a function. */
  eventMap?: EventMap;
  /** For events the map does not name (pyinotifyd's default_sched). */
  defaultSched?: TaskScheduler | Job;
  /** Watch the whole tree below `path` (default false, as pyinotifyd). */
  rec?: boolean;
  /** Watch directories created later (default false, as pyinotifyd). */
  autoAdd?: boolean;
  /** Paths neither watched nor reported: a list of patterns (strings match at the start, as Python's re.match; or RegExps), or the name of a file of patterns, one per line, `#` comments. */
  exclude?: ReadonlyArray<string | RegExp> | string;
  /** Options of the transfer tracker behind TRANSFER_COMPLETE (filter, settleTime, quietPeriod, ...). */
  transfers?: TransferTrackerOptions;
  /**
   * Poll this path instead of using inotify when it is on a network or FUSE
   * filesystem (NFS, SMB, sshfs...): `'auto'` or `{ interval, maxEntries }`;
   * always: `true` or `{ force: true }` (as watch()'s `poll`).
   */
  poll?: PollOption;
}

/** What a config module default-exports. */
export interface DaemonConfig {
  watches: WatchConfig[];
  /** How long SIGTERM/SIGINT wait for delayed and running tasks before cancelling them (default 30s). */
  shutdownTimeout?: Duration;
  logging?: LoggingOptions;
}

/** Returns the config as given: it exists so that an editor type-checks a config.mjs. */
export function defineConfig(config: DaemonConfig): DaemonConfig {
  return config;
}

/** A config that cannot be used: names the file and the key, what was expected and what was given. */
export class ConfigError extends Error {
  /** Always 'ERR_INOTIFYD_CONFIG'. */
  readonly code = 'ERR_INOTIFYD_CONFIG';
  /** The config file. */
  readonly file: string;
  /** The key at fault, e.g. `watches[0].eventMap.IN_WRITE_CLOSE`. */
  readonly key: string;
  constructor(file: string, key: string, expected: string, given: string) {
    super(`${file}: ${key}: expected ${expected}, given ${given}`);
    this.name = 'ConfigError';
    this.file = file;
    this.key = key;
  }
}

/** One thing an event leads to. */
export type Action = { readonly kind: 'schedule'; readonly scheduler: TaskScheduler } | { readonly kind: 'cancel'; readonly scheduler: TaskScheduler };

/** A validated watch. */
export interface ResolvedWatch {
  readonly path: string;
  /** Event name -> actions (an empty list: ignored). */
  readonly actions: ReadonlyMap<string, readonly Action[]>;
  readonly defaultActions: readonly Action[] | undefined;
  readonly transferActions: readonly Action[] | undefined;
  readonly rec: boolean;
  readonly autoAdd: boolean;
  readonly exclude: ReadonlyArray<string | RegExp> | undefined;
  readonly transfers: TransferTrackerOptions | undefined;
  /** Polling options, when the watch may poll. */
  readonly poll: Required<PollOptions> | undefined;
  /** The kernel mask: the events the map names (all, with a defaultSched). */
  readonly mask: number;
  /** Equal for two watches that can share one kernel watch across a reload. */
  readonly signature: string;
}

/** A validated config. */
export interface ResolvedConfig {
  readonly file: string;
  readonly watches: readonly ResolvedWatch[];
  readonly shutdownTimeout: number;
  readonly logging: LoggingOptions;
  /** Every scheduler the config uses, once each. */
  readonly schedulers: readonly TaskScheduler[];
}

/** A description of what was given, written as it is (not inspected as a value). */
class Described {
  constructor(readonly text: string) {}
}
const described = (text: string): Described => new Described(text);

function given(value: unknown): string {
  if (value instanceof Described) return value.text;
  if (typeof value === 'function') return `a function${value.name === '' ? '' : ` (${value.name})`}`;
  if (Array.isArray(value)) return `an array (${inspect(value, { depth: 1, breakLength: Infinity })})`;
  if (value === null) return 'null';
  if (value === undefined) return 'nothing (undefined)';
  return `${typeof value} ${inspect(value, { depth: 1, breakLength: Infinity })}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RegExp);
}

const WATCH_KEYS = ['path', 'eventMap', 'defaultSched', 'rec', 'autoAdd', 'exclude', 'transfers', 'poll'];
const TOP_KEYS = ['watches', 'shutdownTimeout', 'logging'];

/** Reads a pyinotifyd-style exclude file: one pattern per line, `#` comments, blank lines ignored. */
export function readExcludeFile(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').map((line) => line.replace(/(^|\s)#.*$/, '').trim()).filter((line) => line !== '');
}

/**
 * Validates a config object (what the module default-exported). Throws a
 * {@link ConfigError} for the first problem found.
 */
export function resolveConfig(config: unknown, file: string): ResolvedConfig {
  const fail = (key: string, expected: string, value: unknown): never => {
    throw new ConfigError(file, key, expected, given(value));
  };
  if (!isPlainObject(config)) fail('default export', 'an object made by defineConfig({ watches: [...] })', config);
  const top = config as Record<string, unknown>;
  for (const key of Object.keys(top)) if (!TOP_KEYS.includes(key)) fail(key, `one of the keys ${TOP_KEYS.join(', ')}`, described(`a key named ${JSON.stringify(key)}`));
  const watchesValue = top.watches;
  if (!Array.isArray(watchesValue) || watchesValue.length === 0) fail('watches', 'a non-empty array of { path, eventMap }', watchesValue);
  let shutdownTimeout = 30_000;
  try {
    if (top.shutdownTimeout !== undefined) shutdownTimeout = parseDuration(top.shutdownTimeout, 'shutdownTimeout');
  } catch {
    fail('shutdownTimeout', "a number of ms or a duration string such as '30s'", top.shutdownTimeout);
  }
  const logging = top.logging ?? {};
  if (!isPlainObject(logging)) fail('logging', 'an object { level, levels, journal }', logging);
  const log = logging as Record<string, unknown>;
  if (log.level !== undefined && !LOG_LEVELS.includes(log.level as never)) fail('logging.level', `one of ${LOG_LEVELS.join(', ')}`, log.level);
  if (log.levels !== undefined) {
    if (!isPlainObject(log.levels)) fail('logging.levels', 'an object of log name -> level', log.levels);
    for (const [name, level] of Object.entries(log.levels as Record<string, unknown>)) {
      if (!LOG_LEVELS.includes(level as never)) fail(`logging.levels.${name}`, `one of ${LOG_LEVELS.join(', ')}`, level);
    }
  }
  if (log.journal !== undefined && typeof log.journal !== 'boolean' && log.journal !== 'auto') fail('logging.journal', "true, false or 'auto'", log.journal);
  if (log.syslog !== undefined && typeof log.syslog !== 'boolean') {
    if (!isPlainObject(log.syslog)) fail('logging.syslog', 'true, false or { socket, tag }', log.syslog);
    const syslog = log.syslog as Record<string, unknown>;
    for (const key of Object.keys(syslog)) {
      if ((key !== 'socket' && key !== 'tag') || typeof syslog[key] !== 'string') fail(`logging.syslog.${key}`, 'socket or tag, a string', syslog[key]);
    }
  }

  const schedulers = new Set<TaskScheduler>();
  const wrapped = new Map<Job, TaskScheduler>();
  const toAction = (value: unknown, key: string): Action => {
    if (isCancel(value)) {
      schedulers.add(value.scheduler);
      return { kind: 'cancel', scheduler: value.scheduler };
    }
    if (isScheduler(value)) {
      schedulers.add(value);
      return { kind: 'schedule', scheduler: value };
    }
    if (typeof value === 'function') {
      // pyinotifyd wraps a bare coroutine as TaskScheduler(job); one scheduler per function.
      let scheduler = wrapped.get(value as Job);
      if (scheduler === undefined) {
        scheduler = new TaskScheduler({ job: value as Job, logname: value.name === '' ? 'sched' : value.name });
        wrapped.set(value as Job, scheduler);
      }
      schedulers.add(scheduler);
      return { kind: 'schedule', scheduler };
    }
    return fail(key, `a scheduler (${SCHEDULER_KINDS.join(', ')}), Cancel(scheduler), a function, null, or a list of them`, value);
  };

  const watches = (watchesValue as unknown[]).map((w, i): ResolvedWatch => {
    const at = `watches[${i}]`;
    if (!isPlainObject(w)) fail(at, 'an object { path, eventMap }', w);
    const watch = w as Record<string, unknown>;
    for (const key of Object.keys(watch)) if (!WATCH_KEYS.includes(key)) fail(`${at}.${key}`, `one of the keys ${WATCH_KEYS.join(', ')}`, described(`a key named ${JSON.stringify(key)}`));
    if (typeof watch.path !== 'string' || watch.path === '') fail(`${at}.path`, 'a path (a non-empty string)', watch.path);
    const path = resolve(watch.path as string);
    try {
      statSync(path);
    } catch (error) {
      fail(`${at}.path`, 'an existing directory or file', described(`${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}: ${(error as Error).message})`));
    }
    for (const key of ['rec', 'autoAdd']) if (watch[key] !== undefined && typeof watch[key] !== 'boolean') fail(`${at}.${key}`, 'a boolean', watch[key]);
    let exclude: ReadonlyArray<string | RegExp> | undefined;
    if (typeof watch.exclude === 'string') {
      try {
        exclude = readExcludeFile(resolve(watch.exclude));
      } catch (error) {
        fail(`${at}.exclude`, 'a readable file of patterns, or a list of patterns', described(`${String(watch.exclude)} (${(error as Error).message})`));
      }
    } else if (Array.isArray(watch.exclude) && watch.exclude.every((p) => typeof p === 'string' || p instanceof RegExp)) {
      exclude = watch.exclude as Array<string | RegExp>;
    } else if (watch.exclude !== undefined) {
      fail(`${at}.exclude`, 'a list of patterns (strings or RegExps) or the name of a file of patterns', watch.exclude);
    }
    for (const pattern of exclude ?? []) {
      if (typeof pattern === 'string') {
        try {
          new RegExp(pattern);
        } catch (error) {
          fail(`${at}.exclude`, 'patterns that compile as regular expressions', described(`${JSON.stringify(pattern)} (${(error as Error).message})`));
        }
      }
    }
    if (watch.transfers !== undefined && !isPlainObject(watch.transfers)) fail(`${at}.transfers`, 'an object of transfer tracker options', watch.transfers);
    let poll: Required<PollOptions> | undefined;
    if (watch.poll !== undefined) {
      try {
        poll = validatePollOption(watch.poll, `${at}.poll`);
      } catch (error) {
        fail(`${at}.poll`, "true, false, 'auto' or { interval (ms, >= 10), maxEntries (>= 1), force (boolean) }", described(`${given(watch.poll)} (${(error as Error).message})`));
      }
    }
    const eventMap = watch.eventMap ?? {};
    if (!isPlainObject(eventMap)) fail(`${at}.eventMap`, 'an object of event name -> scheduler', eventMap);
    const actions = new Map<string, readonly Action[]>();
    let mask = 0;
    for (const [name, value] of Object.entries(eventMap as Record<string, unknown>)) {
      const key = `${at}.eventMap.${name}`;
      if (!EVENT_NAMES.includes(name)) fail(key, `an event name, one of ${EVENT_NAMES.join(', ')}`, described(`the unknown event name ${JSON.stringify(name)}`));
      const list = value === null ? [] : Array.isArray(value) ? value.map((v, j) => toAction(v, `${key}[${j}]`)) : [toAction(value, key)];
      const names = name === 'IN_CLOSE' ? ['IN_CLOSE_WRITE', 'IN_CLOSE_NOWRITE'] : name === 'IN_MOVE' ? ['IN_MOVED_FROM', 'IN_MOVED_TO'] : [name];
      for (const n of names) {
        actions.set(n, [...(actions.get(n) ?? []), ...list]);
        if (n !== TRANSFER_COMPLETE) mask |= FLAGS_BY_NAME.get(n) ?? 0;
      }
    }
    let defaultActions: Action[] | undefined;
    if (watch.defaultSched !== undefined && watch.defaultSched !== null) {
      const action = toAction(watch.defaultSched, `${at}.defaultSched`);
      if (action.kind !== 'schedule') fail(`${at}.defaultSched`, 'a scheduler or a function', watch.defaultSched);
      defaultActions = [action];
      mask |= IN_ALL_EVENTS;
    }
    if (actions.size === 0 && defaultActions === undefined) fail(`${at}.eventMap`, 'at least one event name, or a defaultSched', eventMap);
    const transferActions = actions.get(TRANSFER_COMPLETE);
    actions.delete(TRANSFER_COMPLETE);
    // The kernel always sends these three; asking for them is EINVAL.
    mask = (mask & ~(IN_Q_OVERFLOW | IN_IGNORED | IN_UNMOUNT)) >>> 0;
    if (mask === 0 && actions.size > 0) mask = IN_DELETE_SELF;
    const rec = watch.rec === true;
    const autoAdd = watch.autoAdd === true;
    const signature = JSON.stringify([path, rec, autoAdd, mask, (exclude ?? []).map(String), transferActions !== undefined, watch.transfers ?? null, poll ?? null]);
    return {
      path, actions, defaultActions, transferActions, rec, autoAdd, exclude, mask, signature, poll,
      transfers: watch.transfers as TransferTrackerOptions | undefined,
    };
  });
  return { file, watches, shutdownTimeout, logging: logging as LoggingOptions, schedulers: [...schedulers] };
}

let loads = 0;

/**
 * Imports a config module and validates its default export. A module that
 * fails to load (a syntax error, a scheduler or rule given bad options) is a
 * {@link ConfigError} too, carrying the original message and `code`.
 */
export async function loadConfig(file: string): Promise<ResolvedConfig> {
  const path = resolve(file);
  try {
    statSync(path);
  } catch (error) {
    throw new ConfigError(path, 'config file', 'a readable ES module (config.mjs)', `${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}: ${(error as Error).message})`);
  }
  let module: Record<string, unknown>;
  try {
    // A fresh instance on each load (SIGHUP): the query makes it a new module.
    module = (await import(`${pathToFileURL(path).href}?load=${++loads}`)) as Record<string, unknown>;
  } catch (error) {
    const err = error as Error & { code?: string };
    let where = (err.stack ?? '').split('\n').find((line) => line.includes(path));
    // import() gives a SyntaxError no location; `node --check` prints it (path:line, first line).
    if (err.name === 'SyntaxError') {
      const check = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8', timeout: 30_000 });
      const line = new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)`).exec(check.stderr ?? '')?.[1];
      if (line !== undefined) where = `at line ${line}`;
    }
    throw new ConfigError(path, 'module', 'a module that loads',
      `${err.name}${err.code === undefined ? '' : ` [${err.code}]`}: ${err.message}${where === undefined ? '' : ` (${where.trim()})`}`);
  }
  if (!('default' in module)) throw new ConfigError(path, 'default export', 'export default defineConfig({ watches: [...] })', 'a module without a default export');
  return resolveConfig(module.default, path);
}
