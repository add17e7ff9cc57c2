#!/usr/bin/env node
/**
 * The `inotify-run` command: run a command whenever a tree changes,
 * serialized, with re-authentication on failure. A thin shell over
 * runOnChange(); see docs/run.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { packageVersion, UsageError } from './args.js';
import { HELP, PROGRAM, parseRunArgs, type RunCliOptions } from './inotify-run-args.js';
import type { ChangeRunner, runOnChange as RunOnChange } from '../tasks/run-on-change.js';
import type { RunBatch, RunOutcome } from '../tasks/serial-runner.js';

/** What a line of --json carries besides `event` and `time`. */
type Fields = Record<string, unknown>;

function writeErr(text: string): void {
  try {
    process.stderr.write(text);
  } catch {
    // nowhere left to report to
  }
}

function fail(error: unknown, usage: boolean): never {
  writeErr(`${PROGRAM}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(usage ? 2 : 1);
}

/** How a run ended, in words: "exit status 255", "signal SIGTERM", "cannot run x: ENOENT ...". */
function ending(outcome: RunOutcome): string {
  if (outcome.error !== undefined) return `cannot run the command: ${outcome.error.message}`;
  return outcome.signal !== null ? `signal ${outcome.signal}` : `exit status ${String(outcome.code)}`;
}

/** The exit status that stands for a run's failure: its own, 128+N for signal N. */
function statusOf(outcome: RunOutcome): number {
  if (outcome.signal !== null) return 128 + (os.constants.signals[outcome.signal] ?? 0);
  return outcome.code ?? 1;
}

function main(argv: readonly string[]): void {
  let options: RunCliOptions;
  try {
    options = parseRunArgs(argv);
  } catch (error) {
    fail(error, error instanceof UsageError);
  }
  process.stdout.on('error', () => undefined); // the command shares stdout; a closed pipe is its business
  if (options.help) {
    process.stdout.write(HELP);
    return;
  }
  if (options.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return;
  }
  for (const path of options.paths) {
    // Checked first, so a typo is one clear line before anything is watched.
    try {
      fs.statSync(path);
    } catch (error) {
      fail(new Error(`cannot watch ${path}: ${(error as Error).message}`), false);
    }
  }
  for (const file of options.ignoreFiles) {
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (error) {
      fail(new UsageError(`--ignore-file ${file}: ${(error as Error).message}`), true);
    }
  }
  // Loaded only now: --help works even where the addon cannot load.
  import('../tasks/run-on-change.js').then(({ runOnChange }) => start(options, runOnChange)).catch((error: unknown) => fail(error, false));
}

function start(options: RunCliOptions, runOnChange: typeof RunOnChange): void {
  const started = new Map<number, number>();
  const say = (event: string, fields: Fields, text: string, level: 'info' | 'warn' = 'info'): void => {
    if (options.json) writeErr(`${JSON.stringify({ event, time: new Date().toISOString(), ...fields })}\n`);
    else if (level === 'warn' || !options.quiet) writeErr(`${PROGRAM}: ${text}\n`);
  };
  let runner: ChangeRunner;
  try {
    runner = runOnChange(options.paths, options.command, {
      exclude: options.exclude, ignoreFile: options.ignoreFiles, defaultIgnores: options.defaultIgnores,
      debounce: options.debounce, maxDelay: options.maxDelay, minInterval: options.minInterval,
      onBusy: options.onBusy, busySignal: options.busySignal, stopSignal: options.stopSignal, stopTimeout: options.stopTimeout,
      initial: options.initial, shell: options.shell, nul: options.nul,
      onFail: options.onFail, onFailExit: options.onFailExit, onFailMatch: options.onFailMatch, maxRetries: options.maxRetries,
    });
  } catch (error) {
    fail(error, false);
  }
  const runName = (batch: RunBatch): string => (batch.attempt > 1 ? `run ${batch.run} (retry ${batch.attempt - 1})` : `run ${batch.run}`);
  runner.on('start', (batch) => {
    started.set(batch.run, performance.now());
    const what = batch.overflow ? 'events were lost (queue overflow), so it cannot say what changed'
      : batch.reason === 'initial' && batch.paths.length === 0 ? 'at start' : `${batch.paths.length} changed ${batch.paths.length === 1 ? 'path' : 'paths'}`;
    say('start', { run: batch.run, attempt: batch.attempt, reason: batch.reason, paths: batch.paths.length, overflow: batch.overflow }, `${runName(batch)}: ${what}`);
  });
  runner.on('end', (batch, outcome) => {
    const ms = Math.round(performance.now() - (started.get(batch.run) ?? performance.now()));
    const stopped = outcome.stopped === true;
    const outlived = outcome.outlived ?? 0;
    const fields = { run: batch.run, attempt: batch.attempt, ok: outcome.ok, code: outcome.code, signal: outcome.signal, stopped, ...(stopped ? { outlived } : {}), ms };
    const also = outlived === 0 ? '' : `; ${outlived} ${outlived === 1 ? 'process' : 'processes'} of its group outlived it and ${outlived === 1 ? 'was' : 'were'} stopped too`;
    if (outcome.ok) say('end', fields, `${runName(batch)} done in ${(ms / 1000).toFixed(1)} s${also}`);
    else if (stopped) say('end', fields, `${runName(batch)} stopped (${ending(outcome)})${also}; changes go to the next run`);
    else say('end', { ...fields, error: outcome.error?.message }, `${runName(batch)} failed: ${ending(outcome)}`, 'warn');
  });
  runner.on('recover', (batch, _outcome, retry) => {
    say('on-fail', { run: batch.run, retry, maxRetries: options.maxRetries },
      `running the --on-fail command (${retry} of ${options.maxRetries}): ${(options.onFail ?? []).join(' ')}`, 'warn');
  });
  runner.on('recovered', (batch, ok) => {
    say('on-fail-end', { run: batch.run, ok }, ok ? `--on-fail command succeeded: retrying run ${batch.run}`
      : '--on-fail command failed: no retry', ok ? 'info' : 'warn');
  });
  runner.on('failed', (batch, outcome) => {
    say('failed', { run: batch.run, code: outcome.code, signal: outcome.signal },
      `${runName(batch)} failed for good (${ending(outcome)}); its changes go to the next run`, 'warn');
    if (options.exitOnFail) void stop(statusOf(outcome), `--exit-on-fail: run ${batch.run} failed`);
  });
  runner.on('busy', (policy, changes) => {
    if (policy === 'signal') say('signal', { signal: options.busySignal, changes }, `${changes} ${changes === 1 ? 'change' : 'changes'} during the run: sent ${options.busySignal}`);
  });
  runner.on('warning', (error) => say('warning', { message: error.message }, `warning: ${error.message}`, 'warn'));

  let stopping = false;
  const stop = async (status: number, reason: string, drain = false): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say('stop', { reason, status }, `stopping (${reason})`, status === 0 ? 'info' : 'warn');
    await runner.close({ drain });
    process.exit(status);
  };
  // Nothing left to watch: the runs the deletions called for go first.
  runner.on('gone', () => void stop(1, `every watched directory is gone: ${runner.roots.join(', ')}`, true));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) {
        runner.kill('SIGKILL'); // a second Ctrl-C: no more waiting
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }
      void stop(0, signal);
    });
  }
  for (const signal of ['SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const) process.on(signal, () => runner.kill(signal));

  const how = [`debounce ${options.debounce} ms`, `on busy: ${options.onBusy}`].join(', ');
  say('watching', { paths: runner.roots, onBusy: options.onBusy, debounce: options.debounce },
    `watching ${runner.roots.join(', ')} (recursive, ${how}); running ${JSON.stringify(options.command)} on change — Ctrl-C stops`);
}

main(process.argv.slice(2));
