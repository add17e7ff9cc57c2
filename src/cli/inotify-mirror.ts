#!/usr/bin/env node
/**
 * The `inotify-mirror` command: keeps DST equal to SRC, locally or over ssh,
 * or (--two-way) two directories equal to each other (B local or over ssh,
 * where `--serve` is its remote end), driven by events. See docs/mirror.md.
 *
 * Exit status: 0 after SIGINT/SIGTERM (or a finished --once), 1 when the
 * mirror cannot run (source missing, watches exhausted, rsync missing, a
 * --two-way state in use; with --once, an unreachable destination; --serve:
 * ROOT not a directory), 2 for a command-line mistake. --serve exits 0 when
 * its input ends.
 */
import { parseArgs } from 'node:util';
import { Mirror, parseDestination, remoteTwoWayStatus, twoWayStatus, type MirrorConflict, type TwoWayPendingPath, type MirrorOptions, type MirrorProgress, type MirrorReconcile, type MirrorSync } from '../mirror/index.js';
import { formatProgress } from '../mirror/progress.js';
import { MirrorServer } from '../mirror/serve.js';
import { packageVersion } from './args.js';
import { LineOutput } from './output.js';

const PROGRAM = 'inotify-mirror';

const HELP = `Usage: ${PROGRAM} [options] SRC DST
       ${PROGRAM} --two-way [--state DIR] [--remote-command CMD] [options] A B
       ${PROGRAM} --two-way --status [--json] [--state DIR] A B
       ${PROGRAM} --serve ROOT

Mirrors the directory SRC onto DST, one way: a reconcile first (rsync -a),
then each change as it happens: a file once it is complete (rsync, a burst
in one run, written to a temporary name and renamed into place), a rename
or directory move as a rename, a delete as a delete. DST is a local path or
[user@]host:path over ssh (your ~/.ssh/config and keys apply; rsync must be
installed on both ends). Changes wait while DST is unreachable and are
retried with backoff.

With --two-way, A (local) and B (local, or [user@]host:path over ssh) are
kept equal to each other: each side's changes go to the other. A file
changed on both sides since the last sync keeps both versions: the older
one is renamed to NAME.conflict-<side>-<YYYYMMDD-HHMMSS>.EXT (UTC) on both
sides, and a conflict is reported. An edit wins over a delete. The last
synced state is kept in --state DIR (default: under
$XDG_STATE_HOME/inotify-mirror/). For a remote B, "inotify-mirror --serve
B" runs on the host over ssh (see --remote-command): it watches B there and
applies renames and deletes, rsync moves the data; while the host is
unreachable changes wait, then both trees are merged.

Options:
      --exclude PATTERN  neither send nor delete matching paths (repeatable):
                         'name' or '*.tmp' at any depth, 'dir/sub' relative
                         to SRC (docs/patterns.md; no {a,b} alternatives)
      --delete           let the initial reconcile delete what SRC lacks on DST
                         (deletes seen while following are always replayed)
      --once             reconcile (--two-way: merge), then exit (1 if DST
                         cannot be reached)
  -n, --dry-run          show what would be sent, renamed, deleted; change nothing
      --json             one JSON object per line on stdout (progress included)
  -e, --rsh COMMAND      the ssh command, split at spaces (default "ssh"),
                         e.g. "ssh -p 2222 -i ~/.ssh/mirror_key"
      --two-way          sync both ways (B may be [user@]host:path)
      --remote-command CMD
                         with --two-way and a host:path B: how to start the
                         serving end on the host (default "inotify-mirror"):
                         one program path, or a JSON array of words, e.g.
                         '["node","/opt/inm/lib/cli/inotify-mirror.js"]'
                         (each word is quoted for the remote shell)
      --state DIR        where --two-way keeps its state (not inside A or B
                         unless excluded)
      --serve            be the remote end of a two-way mirror for ROOT:
                         JSON lines on stdin/stdout (run by ssh, not by
                         hand; docs/mirror.md "The --serve protocol")
      --status           with --two-way: list what is not in sync (what the
                         next sync will copy, delete or keep twice), reading
                         the state; changes nothing, works beside a running
                         mirror
  -v, --version          print the version
  -h, --help             print this help

Progress: redrawn on stderr when it is a terminal, a plain line every few
seconds otherwise. Exit status: 0 stopped by SIGINT/SIGTERM or --once done,
1 failure, 2 command-line mistake.
`;

class UsageError extends Error {}

interface Parsed {
  readonly source: string;
  readonly destination: string;
  readonly options: MirrorOptions;
  readonly json: boolean;
  readonly once: boolean;
  readonly status: boolean;
}

/** `--serve ROOT`: the remote end, nothing else. */
interface ServeMode {
  readonly serve: string;
}

function parse(argv: string[]): Parsed | ServeMode | 'help' | 'version' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        exclude: { type: 'string', multiple: true },
        delete: { type: 'boolean' },
        once: { type: 'boolean' },
        'dry-run': { type: 'boolean', short: 'n' },
        json: { type: 'boolean' },
        rsh: { type: 'string', short: 'e' },
        'two-way': { type: 'boolean' },
        'remote-command': { type: 'string' },
        state: { type: 'string' },
        status: { type: 'boolean' },
        serve: { type: 'boolean' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nTry '${PROGRAM} --help'.`);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return 'help';
  if (values.version === true) return 'version';
  if (values.serve === true) {
    const others = Object.keys(values).filter((name) => name !== 'serve');
    if (others.length > 0) throw new UsageError(`--serve takes no other option (got --${others[0] as string})`);
    if (positionals.length !== 1) throw new UsageError(`--serve expects ROOT, got ${positionals.length} arguments\nTry '${PROGRAM} --help'.`);
    return { serve: positionals[0] as string };
  }
  const twoWay = values['two-way'] === true;
  if (values.state !== undefined && !twoWay) throw new UsageError('--state is for --two-way');
  if (twoWay && values.delete === true) throw new UsageError('--delete does not apply to --two-way: deletes follow the sync state');
  if (twoWay && values['dry-run'] === true) throw new UsageError('--dry-run is not available with --two-way (--status lists what is pending)');
  if (values.status === true && !twoWay) throw new UsageError('--status is for --two-way (a one-way mirror keeps no state: --dry-run shows what a reconcile would send)');
  const remoteCommand = values['remote-command'] === undefined ? undefined : parseRemoteCommand(values['remote-command']);
  if (remoteCommand !== undefined && !twoWay) throw new UsageError('--remote-command is for --two-way with a host:path B');
  if (positionals.length !== 2) throw new UsageError(`expected SRC and DST, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}\nTry '${PROGRAM} --help'.`);
  const ssh = values.rsh?.split(' ').filter((word) => word !== '');
  if (ssh?.length === 0) throw new UsageError('--rsh needs a command');
  const [source, destination] = positionals as [string, string];
  return {
    source,
    destination,
    json: values.json === true,
    once: values.once === true,
    status: values.status === true,
    options: {
      exclude: values.exclude, delete: values.delete === true, dryRun: values['dry-run'] === true, ssh,
      ...(twoWay ? { twoWay, state: values.state } : {}),
      ...(remoteCommand === undefined ? {} : { remoteCommand }),
    },
  };
}

/**
 * --remote-command: a JSON array of non-empty strings when it starts with
 * `[`, one program path otherwise (never split at spaces: a path may hold them).
 */
function parseRemoteCommand(text: string): string[] {
  if (!text.trimStart().startsWith('[')) {
    if (text === '') throw new UsageError('--remote-command needs a command');
    return [text];
  }
  let words: unknown;
  try {
    words = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--remote-command: not a JSON array (${(error as Error).message})`);
  }
  if (!Array.isArray(words) || words.length === 0 || words.some((word) => typeof word !== 'string' || word === '' || word.includes('\0'))) {
    throw new UsageError('--remote-command: the JSON array must hold one or more non-empty strings');
  }
  return words as string[];
}

/** How often (ms) a plain (not a terminal) progress line is printed. */
const PLAIN_PROGRESS_INTERVAL = 5000;

function describeConflict(conflict: MirrorConflict): string {
  const path = JSON.stringify(conflict.path);
  if (conflict.kind === 'delete-edit') return `conflict: ${path} deleted on the ${conflict.side} side but changed on the other: the change is kept`;
  const why = conflict.kind === 'both-changed' ? 'changed on both sides' : 'written while the mirror replaced it';
  return `conflict: ${path} ${why}: the ${conflict.side} side's version is kept as ${JSON.stringify(conflict.conflictPath)}`;
}

function describeSync(change: MirrorSync, dryRun: boolean): string {
  const would = dryRun ? 'would ' : '';
  const onto = change.target === undefined ? '' : ` (to ${change.target})`;
  return `${describeChange(change, would)}${onto}`;
}

function describeChange(change: MirrorSync, would: string): string {
  const show = (p: string): string => JSON.stringify(p);
  if (change.type === 'rename') return `${would}rename ${show(change.from)} -> ${show(change.to)}`;
  if (change.type === 'delete') return `${would}delete ${show(change.path)}`;
  const names = change.paths.slice(0, 3).map(show).join(' ') + (change.paths.length > 3 ? ` (+${change.paths.length - 3} more)` : '');
  return `${would}send ${names}: ${change.files} file${change.files === 1 ? '' : 's'}, ${change.bytes} bytes`;
}

function describeReconcile(result: MirrorReconcile, dryRun: boolean): string[] {
  const head = `reconcile (${result.reason}): ${dryRun ? 'would send' : 'sent'} ${result.files} file${result.files === 1 ? '' : 's'}, ${result.bytes} bytes`;
  return [head, ...result.changes.map((line) => `  ${line}`)];
}

function describePending(item: TwoWayPendingPath): string {
  const path = JSON.stringify(item.path);
  switch (item.action) {
    case 'copy': return `copy ${path} ${item.from} -> ${item.to}`;
    case 'delete': return `delete ${path} on ${item.to} (deleted on ${item.from})`;
    case 'delete-edit': return `restore ${path} ${item.from} -> ${item.to} (deleted on ${item.to}, changed on ${item.from}: the change wins)`;
    case 'conflict': return `conflict ${path}: changed on both sides; the ${item.renamed}'s version will be kept under a conflict name`;
    case 'record': return `record ${path} (the same change on both sides)`;
  }
}

/** An error of the arguments (ERR_INVALID_ARG_*...), not of reaching a remote end (ERR_MIRROR_*: exit 1). */
function isUsageMistake(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_') && !code.startsWith('ERR_MIRROR_');
}

/** --status: what is not in sync, from the state; exit 0. */
async function printStatus(parsed: Parsed): Promise<number> {
  let status;
  try {
    const { state, exclude, ssh, remoteCommand } = parsed.options;
    status = parseDestination(parsed.destination).kind === 'local'
      ? twoWayStatus(parsed.source, parsed.destination, { state, exclude })
      : await remoteTwoWayStatus(parsed.source, parsed.destination, { state, exclude, ssh, remoteCommand });
  } catch (error) {
    throw isUsageMistake(error) ? new UsageError((error as Error).message) : error;
  }
  const lines = parsed.json
    ? [...status.pending.map((item) => JSON.stringify({ event: 'pending', ...item })),
      JSON.stringify({ event: 'status', state: status.state, synced: status.synced, pending: status.pending.length })]
    : [...status.pending.map(describePending),
      `${status.pending.length} path${status.pending.length === 1 ? '' : 's'} pending, ${status.synced} synced (state ${status.state})`];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parse(argv);
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (parsed === 'version') {
    process.stdout.write(`${PROGRAM} ${packageVersion()}\n`);
    return 0;
  }
  if ('serve' in parsed) {
    // stdout is the channel: nothing else may be written to it.
    await new MirrorServer(parsed.serve, process.stdin, process.stdout).run();
    return 0;
  }
  if (parsed.status) return printStatus(parsed);
  let mirror: Mirror;
  try {
    mirror = new Mirror(parsed.source, parsed.destination, parsed.options);
  } catch (error) {
    // Bad --exclude or DST: a command-line mistake.
    throw isUsageMistake(error) ? new UsageError((error as Error).message) : error;
  }
  const out = new LineOutput(process.stdout, () => void mirror.close().then(() => process.exit(0)), (error) => {
    process.stderr.write(`${PROGRAM}: ${error.message}\n`);
  });
  const dryRun = parsed.options.dryRun === true;
  const tty = !parsed.json && process.stderr.isTTY;
  let lastPlain = 0;
  let drawn = false;
  const clearLine = (): void => {
    if (drawn) process.stderr.write('\r\x1b[K');
    drawn = false;
  };
  const line = (text: string): void => {
    clearLine();
    out.line(text);
  };
  mirror.on('progress', (progress: MirrorProgress, reason) => {
    if (parsed.json) {
      out.line(JSON.stringify({ event: 'progress', reason, ...progress }));
    } else if (tty) {
      process.stderr.write(`\r\x1b[K${reason}: ${formatProgress(progress)}`);
      drawn = true;
    } else if (Date.now() - lastPlain >= PLAIN_PROGRESS_INTERVAL || progress.files.done === progress.files.total) {
      lastPlain = Date.now();
      out.line(`${reason}: ${formatProgress(progress)}`);
    }
  });
  mirror.on('reconcile', (result) => {
    if (parsed.json) out.line(JSON.stringify({ event: 'reconcile', ...result }));
    else for (const text of describeReconcile(result, dryRun)) line(text);
  });
  mirror.on('ready', () => {
    if (parsed.json) out.line(JSON.stringify({ event: 'ready' }));
    else if (!parsed.once) line(`following changes in ${mirror.source}`);
  });
  mirror.on('sync', (change) => {
    if (parsed.json) out.line(JSON.stringify({ event: 'sync', ...change }));
    else line(describeSync(change, dryRun));
  });
  mirror.on('conflict', (conflict) => {
    if (parsed.json) out.line(JSON.stringify({ event: 'conflict', ...conflict }));
    else line(describeConflict(conflict));
  });
  mirror.on('offline', (error, retryIn) => {
    if (parsed.json) out.line(JSON.stringify({ event: 'offline', message: error.message, retryIn, pending: mirror.pending }));
    else line(`${parsed.options.twoWay === true ? 'a side is' : 'destination'} unreachable (${error.message}); ${mirror.pending} change(s) waiting, retry in ${Math.round(retryIn / 1000)} s`);
  });
  mirror.on('online', () => {
    if (parsed.json) out.line(JSON.stringify({ event: 'online' }));
    else line(parsed.options.twoWay === true ? 'both sides reachable again: merging' : 'destination reachable again');
  });
  mirror.on('warning', (error) => {
    clearLine();
    if (parsed.json) out.line(JSON.stringify({ event: 'warning', message: error.message }));
    else process.stderr.write(`${PROGRAM}: warning: ${error.message}\n`);
  });
  const failed = new Promise<never>((_, reject) => mirror.once('error', reject));
  failed.catch(() => undefined);
  if (parsed.once) {
    mirror.once('offline', (error) => {
      void mirror.close();
      process.stderr.write(`${PROGRAM}: ${error.message}\n`);
      process.exitCode = 1;
    });
    try {
      await Promise.race([mirror.start(), failed]);
    } catch (error) {
      if (process.exitCode === 1) return 1; // reported above
      throw error;
    }
    await mirror.close();
    return 0;
  }
  const stop = (): void => {
    clearLine();
    void mirror.close().then(() => out.end(() => process.exit(0)));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await Promise.race([mirror.start(), failed]);
  await failed;
  return 1;
}

main(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
}, (error: Error) => {
  process.stderr.write(`${PROGRAM}: ${error.message}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
