/**
 * Command-line parsing for inotify-profile: pyinotify's options (`python -m
 * pyinotify`) with the same meaning, plus this tool's own. Kept free of the
 * addon so `--help` and `--version` work even where it cannot load.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs as nodeParseArgs } from 'node:util';
import { compilePatterns } from '../pattern.js';

/** The program name used in messages. */
export const PROGRAM = 'inotify-profile';

/** Everything the command line asked for. */
export interface CliOptions {
  /** Paths to watch, as given (the current directory when none). */
  paths: string[];
  recursive: boolean;
  autoAdd: boolean;
  glob: boolean;
  /** `-e`: the comma-separated flag names, unparsed (parsing needs the addon's constants). */
  eventsList: string | undefined;
  stats: boolean;
  raw: boolean;
  command: string | undefined;
  verbose: boolean;
  help: boolean;
  version: boolean;
  json: boolean;
  relative: boolean;
  time: boolean;
  /** `--exclude`: patterns in the library's pattern language (docs/patterns.md), checked. */
  exclude: string[];
  /** `--exclude-regex`: regular expressions searched in the absolute path. */
  excludeRegex: RegExp[];
  count: number | undefined;
  /** Seconds. */
  timeout: number | undefined;
  profile: boolean;
  skeleton: boolean;
  quiet: boolean;
  /** `--strict`: a path that cannot be watched is fatal, even when others can be. */
  strict: boolean;
}

/** A command-line mistake: reported in one line, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Flag = 'recursive' | 'autoAdd' | 'glob' | 'stats' | 'raw' | 'verbose' | 'help' | 'version' | 'json'
  | 'relative' | 'time' | 'profile' | 'skeleton' | 'quiet' | 'strict';
type Valued = 'eventsList' | 'command' | 'exclude' | 'excludeRegex' | 'count' | 'timeout';

/** Every option as util.parseArgs takes it (long name, short letter), and where its value goes. */
const OPTIONS: Record<string, { type: 'boolean' | 'string'; short?: string; key: Flag | Valued }> = {
  recursive: { type: 'boolean', short: 'r', key: 'recursive' },
  'auto-add': { type: 'boolean', short: 'a', key: 'autoAdd' },
  auto_add: { type: 'boolean', key: 'autoAdd' },
  glob: { type: 'boolean', short: 'g', key: 'glob' },
  stats: { type: 'boolean', short: 's', key: 'stats' },
  'raw-format': { type: 'boolean', short: 'f', key: 'raw' },
  verbose: { type: 'boolean', short: 'v', key: 'verbose' },
  help: { type: 'boolean', short: 'h', key: 'help' },
  version: { type: 'boolean', short: 'V', key: 'version' },
  json: { type: 'boolean', key: 'json' },
  relative: { type: 'boolean', key: 'relative' },
  time: { type: 'boolean', key: 'time' },
  profile: { type: 'boolean', key: 'profile' },
  skeleton: { type: 'boolean', key: 'skeleton' },
  quiet: { type: 'boolean', short: 'q', key: 'quiet' },
  strict: { type: 'boolean', key: 'strict' },
  'events-list': { type: 'string', short: 'e', key: 'eventsList' },
  command: { type: 'string', short: 'c', key: 'command' },
  exclude: { type: 'string', key: 'exclude' },
  'exclude-regex': { type: 'string', key: 'excludeRegex' },
  count: { type: 'string', key: 'count' },
  timeout: { type: 'string', key: 'timeout' },
};

/** The `--help` text. */
export const HELP = `Usage: ${PROGRAM} [options] [path ...]

Watches paths with inotify and prints every event as pyinotify does
(python -m pyinotify), or profiles how files arrive (--profile).
Without a path it watches the current directory (pyinotify watches /tmp).

pyinotify's options:
  -r, --recursive          also watch every directory below each path
  -a, --auto-add           watch directories created later (also --auto_add)
  -g, --glob               expand *, ? and [...] in the paths
  -e, --events-list LIST   events to watch, comma-separated, e.g.
                           IN_CREATE,IN_MODIFY (default: ALL_EVENTS)
  -s, --stats              count events instead of printing them: print
                           <Stats ...> and a histogram every 5 s when the
                           counts changed, and at exit
  -f, --raw-format         plain pyinotify lines, never coloured (colour is
                           only used on a terminal, never when NO_COLOR is set)
  -c, --command CMD        run CMD with /bin/sh at start and after each batch
                           of events; runs never overlap (a batch that arrives
                           during a run causes one more run after it)
  -v, --verbose            debug messages on stderr
  -V, --version            print the version and exit
  -h, --help               print this help and exit

More:
      --json               one JSON object per event and line (docs/cli.md)
      --relative           paths relative to the watched path
      --time               prefix each line with the time (ISO 8601, UTC)
      --exclude PATTERN    neither watch nor report paths matching PATTERN:
                           a name at any depth (node_modules, '*.tmp'), a
                           path or glob relative to each watched path
                           (build/out, 'src/**/*.o'), or an absolute path;
                           an excluded directory is not watched (repeatable)
      --exclude-regex RE   the same for a regular expression searched in the
                           absolute path (repeatable)
      --count N            exit after N events
      --timeout SECONDS    exit after SECONDS
      --profile            at exit, print each file's history (followed across
                           renames) and name its shape: rsync temp file +
                           rename, rsync --inplace, plain copy, atomic save...
      --skeleton           at exit, print a TypeScript ProcessEvent subclass
                           with the hooks the seen shapes need
  -q, --quiet              no "Watching ..." line on stderr
      --strict             exit when any path cannot be watched (by default
                           it is reported and the other paths are watched)

--stats, --profile and --skeleton replace the event lines; add -f or --json
to get the events as well. Ctrl-C, SIGTERM, --count and --timeout stop
cleanly: statistics and profile are printed, and the exit status is 0.
Exit status 1: no path can be watched (any path, with --strict);
2: a command-line error.
`;

/** Parses `argv` (without node and the script) with util.parseArgs. Throws {@link UsageError}. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const options: CliOptions = {
    paths: [], recursive: false, autoAdd: false, glob: false, eventsList: undefined, stats: false, raw: false,
    command: undefined, verbose: false, help: false, version: false, json: false, relative: false, time: false,
    exclude: [], excludeRegex: [], count: undefined, timeout: undefined, profile: false, skeleton: false, quiet: false,
    strict: false,
  };
  // Not strict: the tokens are checked here, so that the messages stay this tool's (and pyinotify's).
  const config = Object.fromEntries(Object.entries(OPTIONS).map(([name, o]) => [
    name, o.short === undefined ? { type: o.type, multiple: true } : { type: o.type, short: o.short, multiple: true },
  ]));
  const { tokens } = nodeParseArgs({ args: [...argv], options: config, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'positional') {
      options.paths.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    const option = OPTIONS[token.name];
    if (option === undefined) throw new UsageError(`unknown option ${token.rawName}`);
    if (option.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`option ${token.rawName} takes no value`);
      options[option.key as Flag] = true;
    } else {
      if (token.value === undefined) throw new UsageError(`option ${token.rawName} needs a value`);
      setValue(options, option.key as Valued, token.rawName, token.value);
    }
  }
  return options;
}

function setValue(options: CliOptions, key: Valued, name: string, value: string): void {
  switch (key) {
    case 'eventsList':
      options.eventsList = options.eventsList === undefined ? value : `${options.eventsList},${value}`;
      return;
    case 'command':
      options.command = value;
      return;
    case 'exclude':
      try {
        compilePatterns(value, { name });
      } catch (error) {
        throw new UsageError(`invalid pattern for ${name}: ${(error as Error).message}`);
      }
      options.exclude.push(value);
      return;
    case 'excludeRegex':
      try {
        options.excludeRegex.push(new RegExp(value));
      } catch (error) {
        throw new UsageError(`invalid regular expression for ${name}: ${(error as Error).message}`);
      }
      return;
    case 'count': {
      const count = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(count) || count < 1) {
        throw new UsageError(`${name} needs a whole number of events >= 1, not '${value}'`);
      }
      options.count = count;
      return;
    }
    case 'timeout': {
      const seconds = Number(value);
      if (value.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) {
        throw new UsageError(`${name} needs a number of seconds > 0, not '${value}'`);
      }
      options.timeout = seconds;
      return;
    }
  }
}

/** The package version, read from the package.json two levels up (lib/cli or src/cli). */
export function packageVersion(): string {
  const file = path.join(__dirname, '..', '..', 'package.json');
  const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
