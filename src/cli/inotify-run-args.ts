/**
 * Command-line parsing for inotify-run: `inotify-run [options] <path...> --
 * <command> [args...]`. Kept free of the addon so `--help` works anywhere.
 */
import * as os from 'node:os';
import { parseArgs as nodeParseArgs } from 'node:util';
import { compilePatterns } from '../pattern.js';
import { parseDuration } from '../tasks/duration.js';
import { BUSY_POLICIES, type BusyPolicy } from '../tasks/serial-runner.js';
import { splitArgv } from '../tasks/shell.js';
import { UsageError } from './args.js';

/** The program name used in messages. */
export const PROGRAM = 'inotify-run';

/** Everything inotify-run's command line asked for. */
export interface RunCliOptions {
  paths: string[];
  /** The argv after `--` (with `--shell`: one script). */
  command: string[];
  exclude: string[];
  ignoreFiles: string[];
  defaultIgnores: boolean;
  /** Durations in ms. */
  debounce: number;
  maxDelay: number;
  minInterval: number;
  stopTimeout: number;
  initial: boolean;
  onBusy: BusyPolicy;
  busySignal: NodeJS.Signals;
  stopSignal: NodeJS.Signals;
  shell: boolean;
  nul: boolean;
  onFail: string[] | undefined;
  onFailExit: number[] | undefined;
  onFailMatch: RegExp | undefined;
  maxRetries: number;
  exitOnFail: boolean;
  json: boolean;
  quiet: boolean;
  help: boolean;
  version: boolean;
}

/** The `--help` text. */
export const HELP = `Usage: ${PROGRAM} [options] <path...> -- <command> [args...]

Watches each path (recursively) and runs the command whenever something in it
changes: never two runs at once, a burst of changes makes one run, changes
during a run make exactly one more run after it. The command is an argv (no
shell); it runs in its own process group with stdin closed, and gets the
changed paths in INOTIFY_RUN_PATHS (one per line) and in the file named by
INOTIFY_RUN_PATHS_FILE. Example (keep a server in sync):

  ${PROGRAM} src -- rsync -a --delete src/ server:/srv/app/

Watching:
  -e, --exclude PATTERN      ignore (and do not watch) matching paths: a name at
                             any depth (node_modules, '*.o'), a path or glob
                             relative to the watched path (build/out), or an
                             absolute path (docs/patterns.md); repeatable
      --ignore-file FILE     a .gitignore-style file (last matching line wins,
                             '!' re-includes); repeatable
      --no-default-ignores   also react to .git, .hg, .svn, editor swap files
Timing (durations: 500ms, 2s, 1m; a bare number is ms):
  -d, --debounce D           quiet time before a run (default 50ms)
      --max-delay D          run at the latest D after the first change, even
                             if changes keep coming (default 2s)
      --min-interval D       at least D between the starts of two runs
  -i, --initial              run once at start
Busy (changes while the command runs):
      --on-busy-update P     queue (default): one more run after it;
                             restart: stop it and run again; signal: send it
                             --signal (once per burst); do-nothing: drop them
  -r, --restart              same as --on-busy-update restart
  -s, --signal SIG           same as --on-busy-update signal, sending SIG
      --stop-signal SIG      how a run is stopped (default SIGTERM)...
      --stop-timeout D       ...then SIGKILL after D (default 10s)
Command:
      --shell                the command is one sh script: -- 'make && make
                             install'; paths only in the environment
  -0, --null                 the paths file is NUL-terminated
Failures:
      --on-fail CMD          when a run fails, run CMD (split into argv as sh
                             would, no shell) on this terminal, e.g. 'kinit
                             me', then run again
      --on-fail-exit LIST    only for these exit statuses (e.g. 255 or 5,255)
      --on-fail-match RE     only when the command's stderr matches RE
      --max-retries N        at most N on-fail rounds per run (default 3)
      --exit-on-fail         exit when a run fails for good, with its status
Output:
      --json                 this tool's messages as JSON lines (on stderr)
  -q, --quiet                only warnings and errors
  -h, --help                 print this help and exit
  -V, --version              print the version and exit

Ctrl-C or SIGTERM stops the command (--stop-signal, then SIGKILL) and exits
0; a second Ctrl-C kills it at once. SIGHUP, SIGUSR1 and SIGUSR2 are passed
to the command's process group.
Exit status: 0 stopped; 1 a path cannot be watched, or every directory given
was deleted (after the run for that); 2 a command-line error; with
--exit-on-fail, the failed run's status (128+N for signal N, 127 when the
program was not found).
`;

type Spec = { type: 'boolean' | 'string'; short?: string; multiple?: boolean };
const OPTIONS: Record<string, Spec> = {
  exclude: { type: 'string', short: 'e', multiple: true },
  'ignore-file': { type: 'string', multiple: true },
  'no-default-ignores': { type: 'boolean' },
  debounce: { type: 'string', short: 'd' },
  'max-delay': { type: 'string' },
  'min-interval': { type: 'string' },
  initial: { type: 'boolean', short: 'i' },
  'on-busy-update': { type: 'string' },
  restart: { type: 'boolean', short: 'r' },
  signal: { type: 'string', short: 's' },
  'stop-signal': { type: 'string' },
  'stop-timeout': { type: 'string' },
  shell: { type: 'boolean' },
  null: { type: 'boolean', short: '0' },
  'on-fail': { type: 'string' },
  'on-fail-exit': { type: 'string', multiple: true },
  'on-fail-match': { type: 'string' },
  'max-retries': { type: 'string' },
  'exit-on-fail': { type: 'boolean' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
};

function duration(value: string, name: string): number {
  try {
    return parseDuration(/^\d+(\.\d+)?$/.test(value) ? Number(value) : value, name);
  } catch {
    throw new UsageError(`${name} needs a duration such as 200ms, 2s or 1m, not '${value}'`);
  }
}

function signalName(value: string, name: string): NodeJS.Signals {
  const upper = value.toUpperCase();
  const full = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (!(full in os.constants.signals)) throw new UsageError(`${name} needs a signal name such as SIGTERM or HUP, not '${value}'`);
  return full as NodeJS.Signals;
}

/** Parses `argv` (without node and the script). Throws {@link UsageError}. */
export function parseRunArgs(argv: readonly string[]): RunCliOptions {
  const split = argv.indexOf('--');
  const before = split < 0 ? argv : argv.slice(0, split);
  const command = split < 0 ? [] : argv.slice(split + 1);
  let parsed;
  try {
    parsed = nodeParseArgs({ args: [...before], options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    // util.parseArgs says "Unknown option '--x'. To specify a positional argument starting with a '-'..."
    throw new UsageError((error as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const str = (name: string): string | undefined => v[name] as string | undefined;
  const options: RunCliOptions = {
    paths: parsed.positionals, command, exclude: [], ignoreFiles: (v['ignore-file'] as string[] | undefined) ?? [],
    defaultIgnores: v['no-default-ignores'] !== true,
    debounce: 50, maxDelay: 2000, minInterval: 0, stopTimeout: 10_000, initial: v.initial === true,
    onBusy: 'queue', busySignal: 'SIGHUP', stopSignal: 'SIGTERM', shell: v.shell === true, nul: v.null === true,
    onFail: undefined, onFailExit: undefined, onFailMatch: undefined, maxRetries: 3, exitOnFail: v['exit-on-fail'] === true,
    json: v.json === true, quiet: v.quiet === true, help: v.help === true, version: v.version === true,
  };
  if (options.help || options.version) return options;

  for (const pattern of (v.exclude as string[] | undefined) ?? []) {
    try {
      compilePatterns(pattern, { name: '--exclude' });
    } catch (error) {
      throw new UsageError(`invalid pattern for --exclude: ${(error as Error).message}`);
    }
    options.exclude.push(pattern);
  }
  const d = str('debounce');
  if (d !== undefined) options.debounce = duration(d, '--debounce');
  const m = str('max-delay');
  options.maxDelay = m === undefined ? Math.max(2000, options.debounce) : duration(m, '--max-delay');
  if (options.maxDelay < options.debounce) throw new UsageError(`--max-delay (${options.maxDelay} ms) must not be shorter than --debounce (${options.debounce} ms)`);
  const mi = str('min-interval');
  if (mi !== undefined) options.minInterval = duration(mi, '--min-interval');
  const st = str('stop-timeout');
  if (st !== undefined) options.stopTimeout = duration(st, '--stop-timeout');
  const ss = str('stop-signal');
  if (ss !== undefined) options.stopSignal = signalName(ss, '--stop-signal');

  const busy = str('on-busy-update');
  const chosen = [busy !== undefined, v.restart === true, str('signal') !== undefined].filter(Boolean).length;
  if (chosen > 1) throw new UsageError('choose one of --on-busy-update, --restart and --signal');
  if (busy !== undefined) {
    if (!BUSY_POLICIES.includes(busy as BusyPolicy)) throw new UsageError(`--on-busy-update needs one of ${BUSY_POLICIES.join(', ')}, not '${busy}'`);
    options.onBusy = busy as BusyPolicy;
  }
  if (v.restart === true) options.onBusy = 'restart';
  const sig = str('signal');
  if (sig !== undefined) {
    options.onBusy = 'signal';
    options.busySignal = signalName(sig, '--signal');
  }

  const onFail = str('on-fail');
  if (onFail !== undefined) {
    try {
      options.onFail = splitArgv(onFail);
    } catch (error) {
      throw new UsageError(`--on-fail: ${(error as Error).message.replace(/^The "cmd" option/, 'the command')}`);
    }
    if (options.onFail.length === 0) throw new UsageError('--on-fail needs a command, e.g. --on-fail "kinit me@EXAMPLE.ORG"');
  }
  const exits = v['on-fail-exit'] as string[] | undefined;
  if (exits !== undefined) {
    options.onFailExit = exits.flatMap((list) => list.split(',')).map((text) => {
      const code = Number(text.trim());
      if (!/^\s*\d+\s*$/.test(text) || code > 255) throw new UsageError(`--on-fail-exit needs exit statuses 0-255 such as 255 or 5,255, not '${text}'`);
      return code;
    });
  }
  const match = str('on-fail-match');
  if (match !== undefined) {
    try {
      options.onFailMatch = new RegExp(match);
    } catch (error) {
      throw new UsageError(`invalid regular expression for --on-fail-match: ${(error as Error).message}`);
    }
  }
  if ((options.onFailExit !== undefined || options.onFailMatch !== undefined) && options.onFail === undefined) {
    throw new UsageError('--on-fail-exit and --on-fail-match choose which failures run --on-fail: give --on-fail too');
  }
  const retries = str('max-retries');
  if (retries !== undefined) {
    if (!/^\d+$/.test(retries)) throw new UsageError(`--max-retries needs a whole number >= 0, not '${retries}'`);
    options.maxRetries = Number(retries);
  }

  if (options.paths.length === 0) throw new UsageError('no path to watch: inotify-run [options] <path...> -- <command> [args...]');
  if (split < 0) throw new UsageError(`no command: put it after '--', e.g. ${PROGRAM} ${options.paths[0] ?? 'src'} -- make`);
  if (command.length === 0 || command[0] === '') throw new UsageError("no command after '--'");
  if (options.shell && command.length !== 1) {
    throw new UsageError(`--shell takes the script as one argument after '--' (quote it), not ${command.length} arguments`);
  }
  return options;
}
