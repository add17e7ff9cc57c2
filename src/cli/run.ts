/**
 * inotify-profile's watching loop: a WatchManager and a Notifier from the
 * library, the events printed (pyinotify line or JSON), counted (-s) or
 * recorded for the profile, and a clean stop on Ctrl-C, SIGTERM, --count
 * and --timeout that always prints the statistics and the profile.
 */
import * as nodePath from 'node:path';
import {
  FLAGS_BY_NAME, IN_ALL_EVENTS, IN_IGNORED, Notifier, Stats, WatchError, WatchManager, type InotifyEvent,
} from '../index.js';
import { expandGlob } from '../glob.js';
import { compilePatterns } from '../pattern.js';
import { PROGRAM, UsageError, packageVersion, type CliOptions } from './args.js';
import { CommandRunner } from './command.js';
import {
  absolutePaths, debugLine, eventJson, eventLine, relativePaths, statsJson, statsLines, useColour,
} from './format.js';
import { ProfileRecorder, snapshot } from './history.js';
import { LineOutput } from './output.js';
import { analyze, profileJson, profileText } from './shapes.js';
import { skeleton } from './skeleton.js';

/** pyinotify's -s prints after each read, at most every read_freq = 5 seconds. */
const STATS_INTERVAL_MS = 5000;

/** A failure reported in one line, with an exit status (1: cannot watch). */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

/** Writes a line to stderr; a closed stderr is ignored. */
export function errorLine(text: string): void {
  try {
    process.stderr.write(`${text}\n`);
  } catch {
    // nowhere left to report to
  }
}

/** `-e` list to mask, as pyinotify: any flag name, and an unknown one is a usage error. */
export function parseEventsList(list: string): number {
  let mask = 0;
  for (const raw of list.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    const value = FLAGS_BY_NAME.get(name);
    if (value === undefined) throw new UsageError(`the event '${name}' specified with option -e is not valid`);
    mask = (mask | value) >>> 0;
  }
  if (mask === 0) throw new UsageError('option -e needs at least one event name');
  return mask;
}

/** Starts watching as `options` say; the process exits when it stops. Throws {@link UsageError} or {@link CliFailure}. */
export function run(options: CliOptions): void {
  const debug = options.verbose ? (message: string): void => errorLine(debugLine(PROGRAM, message)) : undefined;
  const warn = (message: string): void => errorLine(`${PROGRAM}: warning: ${message}`);
  const mask = options.eventsList === undefined ? IN_ALL_EVENTS : parseEventsList(options.eventsList);
  const given = options.paths.length > 0 ? options.paths : ['.'];
  const profiling = options.profile || options.skeleton;
  // Before the watches exist, so reading the tree causes no events.
  const present = profiling && !options.glob ? snapshot(given.map((p) => nodePath.resolve(p)), options.recursive) : undefined;

  const wm = new WatchManager({ excludeFilter: excludeFilter(given, options) });
  const armed = addWatches(wm, given, mask, options, warn);
  const roots = rootsOf(armed);
  debug?.(`mask 0x${mask.toString(16)}; ${armed.size} watches`);
  if (debug !== undefined) {
    let shown = 0;
    for (const [path, wd] of armed) {
      if (shown++ === 50) {
        debug(`... and ${armed.size - 50} more watches`);
        break;
      }
      debug(`new watch wd=${wd} path=${path}`);
    }
  }

  const view = options.relative ? relativePaths(roots) : absolutePaths;
  const colour = useColour(process.stdout, process.env, options.raw, options.json);
  const printEvents = options.json || options.raw || !(options.stats || profiling);
  const stats = options.stats ? new Stats() : undefined;
  const recorder = profiling ? new ProfileRecorder(roots, present) : undefined;
  const notifier = new Notifier(wm);

  let stopping = false;
  let seen = 0;
  let statsPrinted = -1;
  let batchPending = false;
  let timeoutTimer: NodeJS.Timeout | undefined;
  let statsTimer: NodeJS.Timeout | undefined;

  const out = new LineOutput(process.stdout, () => {
    // The reader went away (`| head`): nothing more can be shown.
    stopping = true;
    notifier.stop();
    process.exit(0);
  }, (error) => {
    errorLine(`${PROGRAM}: cannot write the output: ${error.message}`);
    process.exit(1);
  });
  const runner = options.command === undefined ? undefined : new CommandRunner(
    options.command, (message) => debug?.(`command ${message}`), warn, () => out.flush(),
  );

  const printStats = (): void => {
    if (stats === undefined) return;
    statsPrinted = seen;
    if (options.json) out.line(JSON.stringify(statsJson(stats)));
    else for (const line of statsLines(stats, colour)) out.line(line);
  };

  const finish = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    debug?.(`stopping: ${reason}`);
    clearTimeout(timeoutTimer);
    clearInterval(statsTimer);
    notifier.stop();
    printStats();
    if (recorder !== undefined) {
      const profile = analyze(recorder);
      if (options.profile) {
        if (options.json) out.line(JSON.stringify(profileJson(profile)));
        else for (const line of profileText(profile)) out.line(line);
      }
      if (options.skeleton) out.line(skeleton(profile, packageVersion()).trimEnd());
    }
    if (batchPending) runner?.trigger(); // the last batch gets its run too
    void (runner?.idle() ?? Promise.resolve()).then(() => out.end(() => process.exit(0)));
  };

  notifier.on('event', (event: InotifyEvent) => {
    if (stopping) return;
    debug?.(`event wd=${event.wd} mask=0x${(event.mask >>> 0).toString(16)} cookie=${event.cookie} name=${JSON.stringify(event.name)}${event.synthetic ? ' synthetic' : ''}`);
    if (event.wd === -1) {
      // pyinotify logs this instead of printing the event; --json keeps it as data.
      warn('the kernel event queue overflowed: events were lost (raise fs.inotify.max_queued_events)');
      recorder?.record(event);
      if (printEvents && options.json) out.line(JSON.stringify(eventJson(event, view, new Date())));
      return;
    }
    stats?.dispatch(event);
    recorder?.record(event);
    if (printEvents) {
      const now = new Date();
      if (options.json) out.line(JSON.stringify(eventJson(event, view, now)));
      else out.line(options.time ? `${now.toISOString()} ${eventLine(event, view, colour)}` : eventLine(event, view, colour));
    }
    if (runner !== undefined && !batchPending) {
      // Events of one read are delivered in one turn of the loop: one run per batch.
      batchPending = true;
      setImmediate(() => {
        batchPending = false;
        if (!stopping) runner.trigger();
      });
    }
    if (event.mask & IN_IGNORED) {
      setImmediate(() => {
        if (!stopping && wm.watches.size === 0) warn('nothing is watched any more (every watched path is gone)');
      });
    }
    seen++;
    if (options.count !== undefined && seen >= options.count) finish('--count');
  });
  notifier.on('error', (error) => warn(error.message));

  // A signal, like the timeout, is handled on the next turn, after any events
  // already readable have been delivered: they belong in the output.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      errorLine(`${PROGRAM}: ${signal} again: exiting without waiting for the command`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    setImmediate(() => finish(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (options.timeout !== undefined) {
    timeoutTimer = setTimeout(() => setImmediate(() => finish('--timeout')), options.timeout * 1000);
  }
  if (stats !== undefined) {
    statsTimer = setInterval(() => {
      if (seen !== statsPrinted) printStats();
    }, STATS_INTERVAL_MS);
    statsTimer.unref();
  }

  if (!options.quiet) {
    const how = [options.recursive ? 'recursive' : '', options.autoAdd ? 'auto-add' : '', `${wm.watches.size} ${wm.watches.size === 1 ? 'watch' : 'watches'}`];
    errorLine(`Watching ${roots.join(', ')} (${how.filter((s) => s !== '').join(', ')}) — press Ctrl-C to stop`);
  }
  runner?.trigger(); // pyinotify runs the command once before any event
}

/** `--exclude` patterns (relative ones relative to each watched path) and `--exclude-regex` as one predicate. */
function excludeFilter(given: readonly string[], options: CliOptions): ((pathname: string) => boolean) | undefined {
  if (options.exclude.length === 0 && options.excludeRegex.length === 0) return undefined;
  const roots = options.glob ? given.flatMap((p) => expandGlob(p)) : given.map((p) => nodePath.resolve(p));
  return compilePatterns([...options.exclude, ...options.excludeRegex], { roots, name: '--exclude' });
}

function addWatches(
  wm: WatchManager, given: readonly string[], mask: number, options: CliOptions, warn: (message: string) => void,
): Map<string, number> {
  const settings = { rec: options.recursive, autoAdd: options.autoAdd, doGlob: options.glob };
  let armed: Map<string, number>;
  try {
    armed = wm.addWatch([...given], mask, settings);
  } catch (error) {
    if (!(error instanceof WatchError)) {
      wm.close();
      throw new CliFailure(error instanceof Error ? error.message : String(error));
    }
    // A path that cannot be watched: reported, and the others are watched
    // (pyinotify's behaviour), unless --strict or nothing could be watched.
    // A directory below a path is always only a warning (pyinotify logs it).
    const givenPaths = new Set(given.map((p) => nodePath.resolve(p)));
    const fatal = error.armed.size === 0 || (options.strict && error.failed.some((f) => givenPaths.has(f.path)));
    if (fatal) {
      wm.close();
      const lines = error.failed.map((f) => f.error.message);
      throw new CliFailure(lines.join(`\n${PROGRAM}: `));
    }
    for (const failure of error.failed) warn(failure.error.message);
    armed = error.armed;
  }
  if (armed.size === 0) {
    wm.close();
    throw new CliFailure(`nothing to watch: ${options.glob ? 'no path matches' : 'every path is excluded'} (${given.join(' ')})`);
  }
  return armed;
}

/** The watched paths that are not below another watched path: the roots the user gave (or the glob matched). */
function rootsOf(armed: ReadonlyMap<string, number>): string[] {
  const roots: string[] = [];
  for (const path of armed.keys()) {
    let inside = false;
    for (let here = path, up = nodePath.dirname(path); up !== here && !inside; here = up, up = nodePath.dirname(up)) {
      inside = armed.has(up);
    }
    if (!inside) roots.push(path);
  }
  return roots;
}
