#!/usr/bin/env node
/**
 * The `inotify-profile` command: pyinotify's `python -m pyinotify` on this
 * library, plus --json, --profile and --skeleton. See docs/cli.md.
 *
 * Every failure is one line on stderr: exit status 2 for a command-line
 * mistake, 1 when a path cannot be watched; never a stack trace (-v adds it).
 */
import { HELP, PROGRAM, UsageError, packageVersion, parseArgs, type CliOptions } from './args.js';

function fail(error: unknown, verbose: boolean): never {
  const message = error instanceof Error ? error.message : String(error);
  try {
    process.stderr.write(`${PROGRAM}: ${message}\n`);
    if (verbose && error instanceof Error && error.stack !== undefined) process.stderr.write(`${error.stack}\n`);
  } catch {
    // stderr is gone too
  }
  process.exit(error instanceof UsageError ? 2 : 1);
}

function main(argv: readonly string[]): void {
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (error) {
    fail(error, false);
  }
  const verbose = options.verbose;
  process.on('uncaughtException', (error) => fail(error, verbose));
  process.on('unhandledRejection', (error) => fail(error, verbose));
  // `inotify-profile -h | head -1` must not crash either.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
  });
  if (options.help) {
    process.stdout.write(HELP);
    return;
  }
  if (options.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return;
  }
  // Loaded only now: --help and --version work even where the addon cannot load.
  import('./run.js').then(({ run }) => run(options)).catch((error: unknown) => fail(error, verbose));
}

main(process.argv.slice(2));
