/**
 * inotify-run as a user runs it, on real files with real processes: rsync
 * keeps a target equal to the source, runs never overlap (a lock the
 * command must take), a change during a run makes exactly one more run,
 * --restart stops a long run, --shell never runs a name, excludes hold.
 * Every wait is for a logged condition, with a bound; counts, not clocks.
 * Failures (--on-fail, bad input): run-cli-fail.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from './daemon-helpers.js';
import { RunProcess, diffTrees, logLines, loggedRuns, makeTree, recordScript, sourceDir, until } from './run-helpers.js';

const hasRsync = spawnSync('rsync', ['--version']).status === 0;

describe('inotify-run: keeping a copy in sync', () => {
  test.skipIf(!hasRsync)('rsync -a --delete: after a burst of edits, renames and deletes the target equals the source, in one or two runs', async () => {
    const dir = tempDir('inotify-run-');
    const src = makeTree(dir);
    const dst = path.join(dir, 'dst');
    fs.mkdirSync(dst);
    const record = recordScript(dir);
    // --debounce 1s: the burst below is written in one synchronous stretch, far shorter than that.
    const runner = new RunProcess(['--initial', '--debounce', '1s', src, '--', record, 'rsync', '-a', '--delete', `${src}/`, `${dst}/`]);
    await until(() => loggedRuns(dir).some((r) => r.ended), 'the initial run');
    expect(diffTrees(src, dst).status).toBe(0);

    // The burst: edits, a rename of a file and of a directory, deletes, a new directory tree.
    for (let i = 0; i < 20; i += 3) fs.appendFileSync(path.join(src, i % 2 === 0 ? 'sub' : '.', `f${i}.txt`), 'edited\n');
    fs.renameSync(path.join(src, 'f1.txt'), path.join(src, 'renamed.txt'));
    fs.renameSync(path.join(src, 'sub', 'deep'), path.join(src, 'moved-deep'));
    fs.rmSync(path.join(src, 'f5.txt'));
    fs.rmSync(path.join(src, 'sub', 'f4.txt'));
    fs.mkdirSync(path.join(src, 'new', 'a', 'b'), { recursive: true });
    fs.writeFileSync(path.join(src, 'new', 'a', 'b', 'leaf.txt'), 'leaf\n');
    fs.writeFileSync(path.join(src, 'last.txt'), 'last\n');

    const last = path.join(src, 'last.txt');
    await until(() => loggedRuns(dir).some((r) => r.ended && r.paths.includes(last)), 'a finished run that saw last.txt');
    const runs = loggedRuns(dir);
    expect(diffTrees(src, dst)).toEqual({ status: 0, output: '' });
    const burstRuns = runs.slice(1);
    expect(burstRuns.length).toBeGreaterThanOrEqual(1);
    expect(burstRuns.length).toBeLessThanOrEqual(2);
    // The changed paths were handed over: the renamed file, its old name, the deleted ones.
    const seen = new Set(burstRuns.flatMap((r) => r.paths));
    for (const name of ['renamed.txt', 'f1.txt', 'f5.txt', 'moved-deep', 'new', 'last.txt']) expect(seen, name).toContain(path.join(src, name));
    expect(await runner.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });

  test('a slow command and a writer making 500 changes: one run at a time, runs far fewer than changes, the last change followed by a finished run', async () => {
    const { dir, src } = sourceDir();
    const record = recordScript(dir);
    const runner = new RunProcess([src, '--', record], { env: { RECORD_SLEEP: '0.05' } });
    await runner.waitFor(/watching /);
    for (let i = 0; i < 500; i++) {
      fs.writeFileSync(path.join(src, `n${i % 50}`), `${i}\n`);
      // Halfway, wait for a run to start, so that the rest is written while runs go on.
      if (i === 249) await until(() => loggedRuns(dir).length > 0, 'the first run');
      else if (i % 25 === 24) await new Promise((resolve) => setImmediate(resolve));
    }
    const last = path.join(src, 'last');
    fs.writeFileSync(last, 'end\n');
    await until(() => loggedRuns(dir).some((r) => r.ended && r.paths.includes(last)), 'a finished run after the last change');
    const runs = loggedRuns(dir); // throws on an OVERLAP line
    expect(runs.every((r, i) => r.run === i + 1)).toBe(true);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThan(100);
    // Every one of the 50 names, and the last, reached some run.
    expect(new Set(runs.flatMap((r) => r.paths)).size).toBe(51);
    expect(runs.at(-1)?.paths).toContain(last);
    expect(await runner.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  test('changes made during a run make exactly one more run, with all their paths; the next change makes the next run', async () => {
    const { dir, src } = sourceDir();
    const record = recordScript(dir);
    const gate = path.join(dir, 'gate');
    const runner = new RunProcess([src, '--', record], { env: { RECORD_GATE: gate } });
    await runner.waitFor(/watching /);
    fs.writeFileSync(path.join(src, 'a'), 'a');
    await until(() => loggedRuns(dir).length === 1, 'run 1 to start');
    for (const name of ['b', 'c', 'd']) fs.writeFileSync(path.join(src, name), name);
    fs.rmSync(path.join(src, 'a'));
    fs.writeFileSync(gate, ''); // run 1 may end now
    await until(() => loggedRuns(dir).length === 2, 'run 2 to start');
    fs.writeFileSync(gate, '');
    await until(() => loggedRuns(dir)[1]?.ended === true, 'run 2 to end');
    fs.writeFileSync(path.join(src, 'z'), 'z');
    await until(() => loggedRuns(dir).length === 3, 'run 3 to start');
    fs.writeFileSync(gate, '');
    await until(() => loggedRuns(dir)[2]?.ended === true, 'run 3 to end');
    const runs = loggedRuns(dir);
    expect(runs.map((r) => r.paths)).toEqual([
      [path.join(src, 'a')],
      [path.join(src, 'b'), path.join(src, 'c'), path.join(src, 'd'), path.join(src, 'a')],
      [path.join(src, 'z')],
    ]);
    expect(await runner.stop()).toEqual({ code: 0, signal: null });
  });

  test('--restart: a change during a long run stops it (SIGTERM to its process group) and runs again with both runs\' paths', async () => {
    const { dir, src } = sourceDir();
    const log = path.join(dir, 'log');
    const script = path.join(dir, 'serve.sh');
    // A "server": logs its start and, on SIGTERM, its stop; its child sleep is in the same group.
    // The trap is set before the start is logged: a stop right after the start line must find it.
    fs.writeFileSync(script, `#!/bin/sh\ntrap 'echo "term $INOTIFY_RUN_NUMBER" >> ${JSON.stringify(log)}; exit 0' TERM\necho "start $INOTIFY_RUN_NUMBER $(tr '\\n' ' ' < "$INOTIFY_RUN_PATHS_FILE")" >> ${JSON.stringify(log)}\nsleep 600 & wait\n`, { mode: 0o755 });
    const lines = (): string[] => logLines(log);
    const runner = new RunProcess(['--restart', '--initial', src, '--', script]);
    await until(() => lines().length === 1, 'the initial run');
    fs.writeFileSync(path.join(src, 'x'), 'x');
    await until(() => lines().length === 3, 'the restart');
    expect(lines()).toEqual(['start 1 ', 'term 1', `start 2 ${path.join(src, 'x')} `]);
    // Ctrl-C stops the running command first (its trap runs), then inotify-run exits 0.
    expect(await runner.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(lines().at(-1)).toBe('term 2');
  });

  test('a stop ends the whole process group: a member that ignores the stop signal is killed at --stop-timeout, for a restart and at Ctrl-C, and outlives neither', async () => {
    const { dir, src } = sourceDir();
    const log = path.join(dir, 'log');
    const script = path.join(dir, 'stubborn.sh');
    // The leader stops on SIGTERM; its background child ignores it (the disposition survives exec) and records its pid.
    fs.writeFileSync(script, `#!/bin/sh\ntrap 'echo "term $INOTIFY_RUN_NUMBER" >> ${JSON.stringify(log)}; exit 0' TERM\nsh -c 'trap "" TERM; echo $$ > ${JSON.stringify(dir)}/child-$INOTIFY_RUN_NUMBER; exec sleep 600' &\nwhile [ ! -s ${JSON.stringify(dir)}/child-$INOTIFY_RUN_NUMBER ]; do sleep 0.01; done\necho "start $INOTIFY_RUN_NUMBER" >> ${JSON.stringify(log)}\nwait\n`, { mode: 0o755 });
    const lines = (): string[] => logLines(log);
    const alive = (run: number): boolean => {
      const pid = Number(fs.readFileSync(path.join(dir, `child-${run}`), 'utf8'));
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      return !/^\S+ \(.*\) [ZX] /.test(stat);
    };
    const aliveOrGone = (run: number): boolean => {
      try {
        return alive(run);
      } catch {
        return false; // no /proc entry: gone and reaped
      }
    };
    const runner = new RunProcess(['--restart', '--initial', '--stop-timeout', '1s', '--json', src, '--', script]);
    await until(() => lines().length === 1, 'the initial run');
    expect(aliveOrGone(1)).toBe(true);
    fs.writeFileSync(path.join(src, 'x'), 'x');
    await until(() => lines().length === 3, 'the restart');
    expect(lines()).toEqual(['start 1', 'term 1', 'start 2']);
    // Run 2 started only once run 1's whole group had ended.
    expect(aliveOrGone(1)).toBe(false);
    expect(await runner.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(aliveOrGone(2)).toBe(false);
    const ends = runner.stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { event: string; run?: number; stopped?: boolean; outlived?: number })
      .filter((event) => event.event === 'end');
    expect(ends.map(({ run, stopped, outlived }) => ({ run, stopped, outlived }))).toEqual([
      { run: 1, stopped: true, outlived: 1 },
      { run: 2, stopped: true, outlived: 1 },
    ]);
  });

  test('--signal HUP: changes during a long run send the signal to its process group, once per burst, and start no run', async () => {
    const { dir, src } = sourceDir();
    const log = path.join(dir, 'log');
    const script = path.join(dir, 'serve.sh');
    fs.writeFileSync(script, `#!/bin/sh\necho start >> ${JSON.stringify(log)}\ntrap 'echo hup >> ${JSON.stringify(log)}' HUP\nwhile :; do sleep 600 & wait; done\n`, { mode: 0o755 });
    const lines = (): string[] => logLines(log);
    const runner = new RunProcess(['--signal', 'HUP', '--initial', '--debounce', '500ms', src, '--', script]);
    await until(() => lines().length === 1, 'the initial run');
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, `f${i}`), 'x');
    await until(() => lines().includes('hup'), 'the HUP');
    await runner.waitFor(/changes? during the run: sent SIGHUP/);
    const hups = lines().filter((l) => l === 'hup').length;
    expect(lines()[0]).toBe('start');
    expect(lines().filter((l) => l === 'start')).toHaveLength(1);
    expect(hups).toBeGreaterThanOrEqual(1);
    expect(hups).toBeLessThan(20);
    expect(await runner.stop()).toEqual({ code: 0, signal: null });
  });

  test('--shell: the script gets the paths in the environment; names with spaces, quotes and $(...) are never run', async () => {
    const { dir, src } = sourceDir();
    const out = path.join(dir, 'out');
    const runner = new RunProcess(['--shell', src, '--', `cat "$INOTIFY_RUN_PATHS_FILE" >> '${out}'; echo "n=$INOTIFY_RUN_COUNT" >> '${out}'`], { cwd: dir });
    await runner.waitFor(/watching /);
    const evil = "a b '$(touch pwned)'; `touch pwned2`";
    fs.writeFileSync(path.join(src, evil), '');
    await until(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('n=1'), 'the run');
    expect(fs.readFileSync(out, 'utf8')).toBe(`${path.join(src, evil)}\nn=1\n`);
    expect(fs.existsSync(path.join(dir, 'pwned')) || fs.existsSync(path.join(dir, 'pwned2'))).toBe(false);
    await runner.stop();
  });

  test('--exclude and the default ignores: changes there start no run; the paths file is outside the tree', async () => {
    const dir = tempDir('inotify-run-');
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'build'), { recursive: true });
    fs.mkdirSync(path.join(src, '.git'));
    const record = recordScript(dir);
    // The command writes into the watched tree's build/: excluded, so its own output triggers nothing.
    const runner = new RunProcess(['-e', 'build', '-e', '*.tmp', src, '--', record, 'sh', '-c', `date > '${src}/build/out'`]);
    await runner.waitFor(/watching /);
    fs.writeFileSync(path.join(src, 'build', 'x'), '');
    fs.writeFileSync(path.join(src, 'y.tmp'), '');
    fs.writeFileSync(path.join(src, '.git', 'index'), '');
    fs.writeFileSync(path.join(src, '.main.c.swp'), '');
    fs.writeFileSync(path.join(src, 'main.c'), '');
    await until(() => loggedRuns(dir)[0]?.ended === true, 'run 1');
    fs.writeFileSync(path.join(src, 'second.c'), '');
    await until(() => loggedRuns(dir)[1]?.ended === true, 'run 2');
    expect(loggedRuns(dir).map((r) => r.paths)).toEqual([[path.join(src, 'main.c')], [path.join(src, 'second.c')]]);
    await runner.stop();
  });

  test('every watched directory deleted: the run the deletion calls for happens, then exit 1 saying so; one of two left keeps it running', async () => {
    const dir = tempDir('inotify-run-');
    const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
    for (const root of [a, b]) fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    const record = recordScript(dir);
    const runner = new RunProcess([a, b, '--', record]);
    await runner.waitFor(/watching /);
    fs.rmSync(a, { recursive: true });
    await until(() => loggedRuns(dir)[0]?.ended === true, 'the run for the deletion of a');
    // b is still watched: a change there is a run of its own.
    fs.writeFileSync(path.join(b, 'sub', 'f'), 'f');
    await until(() => loggedRuns(dir).some((r) => r.ended && r.paths.includes(path.join(b, 'sub', 'f'))), 'the run for b/sub/f');
    fs.rmSync(b, { recursive: true });
    expect(await runner.exited).toEqual({ code: 1, signal: null });
    expect(runner.stderr).toMatch(/every watched directory is gone/);
    // The deletion of b had its run before the exit.
    expect(loggedRuns(dir).at(-1)).toMatchObject({ ended: true, paths: expect.arrayContaining([b]) as unknown });
  });
});
