/**
 * inotify-run as a user runs it (`node lib/cli/inotify-run.js ...`), and a
 * recording command: a shell script that logs each run's start and end, the
 * paths it was given, and any overlap (a lock directory it must create).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot, tempDir, until } from './daemon-helpers.js';
import { ensureLib, spawnNode, type Child } from './helpers/child.js';
import { completeLines } from './helpers/lines.js';

export const RUN_CLI = path.join(repoRoot, 'lib', 'cli', 'inotify-run.js');

/** A running inotify-run (a {@link Child}: output accumulated, killed when the test ends). */
export class RunProcess {
  readonly #child: Child;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    ensureLib();
    this.#child = spawnNode([RUN_CLI, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env } });
    this.exited = this.#child.waitForExit(120_000).then(({ code, signal }) => ({ code, signal }));
  }

  get stderr(): string {
    return this.#child.stderr;
  }

  /** Waits until stderr matches `pattern` at least `count` times (fails early if the process exits). */
  async waitFor(pattern: RegExp, count = 1): Promise<void> {
    const matches = (): number => (this.stderr.match(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`)) ?? []).length;
    try {
      await until(() => matches() >= count || !this.#child.running, () => `${String(pattern)} x${count} in inotify-run's stderr`);
    } catch (error) {
      throw new Error(`${(error as Error).message}; stderr so far:\n${this.stderr}`);
    }
    if (matches() < count) throw new Error(`inotify-run exited before ${String(pattern)} x${count}:\n${this.stderr}`);
  }

  /** Sends a signal and waits for the exit. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.#child.kill(signal);
    return this.exited;
  }
}

/** One run as the recording command logged it. */
export interface LoggedRun {
  run: number;
  paths: string[];
  ended: boolean;
}

/**
 * Writes `record.sh` in `dir`: it takes a lock dir (logging OVERLAP if it is
 * taken), logs `start N`, the paths file's lines, waits for `$RECORD_GATE`
 * to exist when that is set (or sleeps $RECORD_SLEEP), runs "$@", then logs
 * `end N`. Returns the script's path.
 */
export function recordScript(dir: string): string {
  const file = path.join(dir, 'record.sh');
  fs.writeFileSync(file, `#!/bin/sh
log=${JSON.stringify(path.join(dir, 'runs.log'))}
lock=${JSON.stringify(path.join(dir, 'lock'))}
mkdir "$lock" 2>/dev/null || { echo "OVERLAP $INOTIFY_RUN_NUMBER" >> "$log"; exit 99; }
{ echo "start $INOTIFY_RUN_NUMBER"; sed 's/^/path /' "$INOTIFY_RUN_PATHS_FILE"; } >> "$log"
if [ -n "$RECORD_GATE" ]; then while [ ! -e "$RECORD_GATE" ]; do sleep 0.02; done; rm -f "$RECORD_GATE"; fi
[ -n "$RECORD_SLEEP" ] && sleep "$RECORD_SLEEP"
status=0
[ $# -gt 0 ] && { "$@" || status=$?; }
rmdir "$lock"
echo "end $INOTIFY_RUN_NUMBER" >> "$log"
exit $status
`, { mode: 0o755 });
  return file;
}

/** The runs `record.sh` logged, in order; throws on an OVERLAP line. */
export function loggedRuns(dir: string): LoggedRun[] {
  const file = path.join(dir, 'runs.log');
  const runs: LoggedRun[] = [];
  for (const line of completeLines(file)) {
    if (line.startsWith('OVERLAP')) throw new Error(`two runs at once: ${line}`);
    const [word, rest = ''] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
    if (word === 'start') runs.push({ run: Number(rest), paths: [], ended: false });
    else if (word === 'path') runs.at(-1)?.paths.push(rest);
    else if (word === 'end') {
      const run = runs.at(-1);
      if (run === undefined || run.run !== Number(rest)) throw new Error(`end ${rest} without its start:\n${fs.readFileSync(file, 'utf8')}`);
      run.ended = true;
    }
  }
  return runs;
}

/** A tree of 21 files in `dir`/src (and subdirectories); returns the src path. */
export function makeTree(dir: string): string {
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'sub', 'deep'), { recursive: true });
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, i % 2 === 0 ? 'sub' : '.', `f${i}.txt`), `file ${i}\n`);
  fs.writeFileSync(path.join(src, 'sub', 'deep', 'keep.txt'), 'keep\n');
  return src;
}

/** `diff -r a b`: status 0 when the trees are equal. */
export function diffTrees(a: string, b: string): { status: number | null; output: string } {
  const r = spawnSync('diff', ['-r', a, b], { encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

/** A fresh temp dir (removed when the test ends) with an empty `src/` inside: returns both. */
export function sourceDir(): { dir: string; src: string } {
  const dir = tempDir('inotify-run-');
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  return { dir, src };
}

/** The complete non-empty lines of a log file a test command appends to ([] while it does not exist). */
export const logLines = completeLines;

export { until };
