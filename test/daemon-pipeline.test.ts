/**
 * PipelineScheduler in a real inotifyd: steps in order with values passed
 * on, a failed step stopping that file only (failed/ + its log), retry on
 * request (`inotifyd --retry`), at most N files in flight, runs of one file
 * never overlapping, hostile names as one argument, and config errors that
 * name the file and the key.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { maxOverlap, prelude, readLog, runCli, startDaemon, tempDir, until } from './daemon-helpers.js';

const node = JSON.stringify(process.execPath);

/** A step command: appends {step, arg, ...} to the JSON-lines log, fails (exit 3, a stderr line) when the file's content says so for this step. */
function stepScript(dir: string): string {
  const script = path.join(dir, 'step.cjs');
  fs.writeFileSync(script, `const fs = require('node:fs');
const [step, file, out] = process.argv.slice(2);
const log = (ev) => fs.appendFileSync(${JSON.stringify(path.join(dir, 'log.jsonl'))}, JSON.stringify({ ev, step, p: file, env: process.env.INOTIFYD_VALUE_STEM, t: Date.now() }) + '\\n');
log('start');
const content = fs.readFileSync(file, 'utf8');
if (content.includes('fail:' + step)) { process.stderr.write('step ' + step + ' refuses ' + file + '\\n'); log('end'); process.exit(3); }
if (out) fs.writeFileSync(out, step + ' of ' + content);
setTimeout(() => { log('end'); }, content.includes('slow') ? 300 : 0);
`);
  return script;
}

function pipelineConfig(dir: string, watched: string, extra = ''): string {
  const script = stepScript(dir);
  return `${prelude(dir)}import { defineConfig, PipelineScheduler } from 'inotify-native';
const pipeline = new PipelineScheduler({
  failedDir: ${JSON.stringify(path.join(dir, 'failed'))},
  doneDir: ${JSON.stringify(path.join(dir, 'done'))},
  concurrency: 2,
  steps: [
    { name: 'check', cmd: [${node}, ${JSON.stringify(script)}, 'check', '{pathname}'], timeout: '30s' },
    { name: 'label', run: (file) => ({ label: 'L-' + file.values.stem }) },
    { name: 'convert', cmd: [${node}, ${JSON.stringify(script)}, 'convert', '{pathname}', ${JSON.stringify(path.join(dir, 'out'))} + '/{label}.out'], timeout: '30s' },
    { name: 'notify', cmd: [${node}, ${JSON.stringify(script)}, 'notify', '{pathname}'], timeout: '30s' },
  ],${extra}
});
export default defineConfig({
  watches: [{ path: ${JSON.stringify(watched)}, eventMap: { TRANSFER_COMPLETE: pipeline }, transfers: { settleTime: 100, quietPeriod: 200 } }],
  shutdownTimeout: '60s',
});
`;
}

describe('inotifyd: PipelineScheduler', () => {
  it('runs the steps in order, stops a failing file only (failed/ + log), and retries it on request', async () => {
    const dir = tempDir();
    const watched = path.join(dir, 'in');
    fs.mkdirSync(watched);
    fs.mkdirSync(path.join(dir, 'out'));
    const daemon = await startDaemon(dir, pipelineConfig(dir, watched));
    const names = ['a.txt', 'b c.txt', "$(touch pwned) 'q'.txt", 'bad.txt', 'e.txt'];
    for (const name of names) fs.writeFileSync(path.join(watched, name), name === 'bad.txt' ? 'fail:convert' : `slow ${name}`);
    const entries = (sub: string): string[] => (fs.existsSync(path.join(dir, sub)) ? fs.readdirSync(path.join(dir, sub)) : []);
    await until(() => entries('done').length === 4 && entries('failed').includes('bad.txt.failure.json'), () => `4 files in done/ and bad.txt in failed/:\n${daemon.stderr}`);
    const log = readLog(dir);
    // Each good file: check, convert, notify once each, in that order; the label value reached the argv.
    for (const name of names.filter((n) => n !== 'bad.txt')) {
      const steps = log.filter((e) => e.ev === 'start' && e.p === path.join(watched, name)).map((e) => e.step);
      expect(steps, name).toEqual(['check', 'convert', 'notify']);
      const stem = name.replace(/\.txt$/, '');
      expect(fs.readFileSync(path.join(dir, 'out', `L-${stem}.out`), 'utf8'), name).toBe(`convert of slow ${name}`);
      expect(log.find((e) => e.p === path.join(watched, name))?.env, 'INOTIFYD_VALUE_STEM').toBe(stem);
    }
    // The failing file: convert failed, notify never ran; the file and its log are in failed/.
    expect(log.filter((e) => e.ev === 'start' && e.p === path.join(watched, 'bad.txt')).map((e) => e.step)).toEqual(['check', 'convert']);
    const failure = JSON.parse(fs.readFileSync(path.join(dir, 'failed', 'bad.txt.failure.json'), 'utf8')) as Record<string, unknown> & { steps: Array<Record<string, unknown>> };
    expect(failure.source).toBe(path.join(watched, 'bad.txt'));
    expect(failure.failedStep).toBe('convert');
    expect(failure.steps.map((s) => [s.step, s.ok])).toEqual([['check', true], ['label', true], ['convert', false]]);
    expect(failure.steps[2]).toMatchObject({ exitCode: 3, signal: null, timedOut: false, error: 'status 3', stderrTail: `step convert refuses ${path.join(watched, 'bad.txt')}\n` });
    expect((failure.steps[2]?.argv as string[]).slice(-2)).toEqual([path.join(watched, 'bad.txt'), path.join(dir, 'out', 'L-bad.out')]);
    expect(fs.existsSync(path.join(watched, 'bad.txt'))).toBe(false);
    expect(daemon.stderr).toMatch(/step convert failed \(status 3\); moved to .*failed\/bad\.txt/);
    expect(fs.existsSync(path.join(watched, 'pwned')) || fs.existsSync(path.join(dir, 'pwned'))).toBe(false);
    // At most 2 files in flight: the step log's start/end pairs never overlap more than that.
    expect(maxOverlap(log)).toBeLessThanOrEqual(2);

    // Not retried by itself; on request (the content fixed first) it runs from the first step and succeeds.
    fs.writeFileSync(path.join(dir, 'failed', 'bad.txt'), 'fixed');
    const retried = runCli(['--retry', path.join(dir, 'failed', 'bad.txt')], dir);
    expect(retried, retried.stderr).toMatchObject({ status: 0, stdout: `moved back: ${path.join(dir, 'failed', 'bad.txt')} -> ${path.join(watched, 'bad.txt')}\n` });
    expect(fs.existsSync(path.join(dir, 'failed', 'bad.txt.failure.json'))).toBe(false);
    await until(() => fs.existsSync(path.join(dir, 'done', 'bad.txt')), () => `bad.txt in done/ after --retry:\n${daemon.stderr}`);
    const again = readLog(dir).filter((e) => e.ev === 'start' && e.p === path.join(watched, 'bad.txt')).map((e) => e.step);
    expect(again).toEqual(['check', 'convert', 'check', 'convert', 'notify']);
    // --retry of something that is not a failed file: exit 1, the reason named.
    const wrong = runCli(['--retry', path.join(dir, 'done', 'a.txt')], dir);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/--retry .*a\.txt: ENOENT: no such file or directory, open '.*a\.txt\.failure\.json'/);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  }, 90_000);

  it('a timed-out step is killed and fails its file; runs of one file never overlap', async () => {
    const dir = tempDir();
    const watched = path.join(dir, 'in');
    fs.mkdirSync(watched);
    const counter = path.join(dir, 'runs.cjs');
    // Records start/end per run; a run that finds another run of the same file in progress says so.
    fs.writeFileSync(counter, `const fs = require('node:fs');
const file = process.argv[2];
const lock = ${JSON.stringify(dir)} + '/lock-' + require('node:path').basename(file);
const log = (ev) => fs.appendFileSync(${JSON.stringify(path.join(dir, 'log.jsonl'))}, JSON.stringify({ ev, p: file }) + '\\n');
try { fs.writeFileSync(lock, '', { flag: 'wx' }); } catch { log('overlap'); }
log('start');
setTimeout(() => { fs.rmSync(lock, { force: true }); log('end'); }, 400);
`);
    const hangDir = path.join(dir, 'hang');
    fs.mkdirSync(hangDir);
    const daemon = await startDaemon(dir, `${prelude(dir)}import { defineConfig, PipelineScheduler } from 'inotify-native';
const counted = new PipelineScheduler({
  failedDir: ${JSON.stringify(path.join(dir, 'failed'))},
  steps: [{ name: 'count', cmd: [${node}, ${JSON.stringify(counter)}, '{pathname}'] }],
});
const hanging = new PipelineScheduler({
  failedDir: ${JSON.stringify(path.join(dir, 'failed'))},
  steps: [
    { name: 'pick', run: (file) => (file.values.name === 'typo' ? {} : { seconds: '30' }) },
    { name: 'hang', cmd: ['/bin/sleep', '{seconds}'], timeout: 300 },
  ],
});
export default defineConfig({ watches: [
  { path: ${JSON.stringify(watched)}, eventMap: { IN_CLOSE_WRITE: counted } },
  { path: ${JSON.stringify(hangDir)}, eventMap: { IN_CLOSE_WRITE: hanging } },
] });
`);
    // Writes to one file while its pipeline runs: never two runs at once; one more run after the last write.
    const file = path.join(watched, 'same.txt');
    for (let i = 0; i < 10; i++) {
      fs.writeFileSync(file, `v${i}`);
      if (i === 0) await until(() => readLog(dir).some((e) => e.ev === 'start'), 'a first run');
    }
    fs.writeFileSync(path.join(hangDir, 'sleepy'), 'x');
    fs.writeFileSync(path.join(hangDir, 'typo'), 'x');
    await until(() => fs.existsSync(path.join(dir, 'failed', 'sleepy.failure.json')) && fs.existsSync(path.join(dir, 'failed', 'typo.failure.json')),
      () => `both hang/ files in failed/:\n${daemon.stderr}`);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    const log = readLog(dir);
    expect(log.filter((e) => e.ev === 'overlap')).toEqual([]);
    const starts = log.filter((e) => e.ev === 'start').length;
    expect(starts).toBeGreaterThanOrEqual(2);
    expect(starts).toBeLessThanOrEqual(10);
    expect(log.filter((e) => e.ev === 'end').length).toBe(starts);
    const sleepy = JSON.parse(fs.readFileSync(path.join(dir, 'failed', 'sleepy.failure.json'), 'utf8')) as { steps: Array<Record<string, unknown>> };
    expect(sleepy.steps[1]).toMatchObject({ step: 'hang', argv: ['/bin/sleep', '30'], exitCode: null, signal: 'SIGTERM', timedOut: true, ok: false, error: 'signal SIGTERM (timeout)' });
    const typo = JSON.parse(fs.readFileSync(path.join(dir, 'failed', 'typo.failure.json'), 'utf8')) as { steps: Array<Record<string, unknown>> };
    expect(typo.steps[1]).toMatchObject({ step: 'hang', ok: false });
    expect(String(typo.steps[1]?.error)).toMatch(/^unknown value \{seconds\} \(known: pathname, source, /);
  }, 90_000);

  it('a gate that says not ready keeps the file and runs nothing until it changes; a failed step leaves no partial output', async () => {
    const dir = tempDir();
    const watched = path.join(dir, 'in');
    const out = path.join(dir, 'out');
    fs.mkdirSync(watched);
    fs.mkdirSync(out);
    // whole: exit 1 unless the file ends with END. convert: writes its output in two parts; fails between
    // them (exit 3) on 'fail', exits 0 without writing on 'noout'.
    const script = path.join(dir, 'steps.cjs');
    fs.writeFileSync(script, `const fs = require('node:fs');
const [step, file, output] = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(path.join(dir, 'log.jsonl'))}, JSON.stringify({ ev: 'start', step, p: file }) + '\\n');
const content = fs.readFileSync(file, 'utf8');
if (step === 'whole') process.exit(content.endsWith('END') ? 0 : 1);
if (content.includes('noout')) process.exit(0);
fs.writeFileSync(output, 'converted: ');
if (content.includes('fail')) { process.stderr.write('cannot convert\\n'); process.exit(3); }
fs.appendFileSync(output, content);
`);
    const daemon = await startDaemon(dir, `${prelude(dir)}import { defineConfig, PipelineScheduler } from 'inotify-native';
const pipeline = new PipelineScheduler({
  failedDir: ${JSON.stringify(path.join(dir, 'failed'))},
  doneDir: ${JSON.stringify(path.join(dir, 'done'))},
  steps: [
    { name: 'whole', gate: true, cmd: [${node}, ${JSON.stringify(script)}, 'whole', '{pathname}'] },
    { name: 'convert', cmd: [${node}, ${JSON.stringify(script)}, 'convert', '{pathname}', '{output}'], output: ${JSON.stringify(out)} + '/{stem}.out' },
  ],
});
export default defineConfig({
  watches: [{ path: ${JSON.stringify(watched)}, eventMap: { TRANSFER_COMPLETE: pipeline }, transfers: { settleTime: 100, quietPeriod: 200 } }],
});
`);
    const part = path.join(watched, 'part.txt');
    const starts = (step: string, file: string): number => readLog(dir).filter((e) => e.step === step && e.p === file).length;
    fs.writeFileSync(part, 'the first half, ');
    await until(() => daemon.stderr.includes(`${part}: not ready (step whole: status 1); it stays`), () => `part.txt not ready:\n${daemon.stderr}`);
    expect(fs.existsSync(part)).toBe(true);
    // Closed after a write open but not changed: skipped, the gate does not run again.
    fs.closeSync(fs.openSync(part, 'r+'));
    await until(() => daemon.stderr.includes(`${part}: unchanged since step whole found it not ready; still waiting`), () => `part.txt unchanged:\n${daemon.stderr}`);
    expect([starts('whole', part), starts('convert', part)]).toEqual([1, 0]);
    // The rest arrives: the gate passes and the pipeline runs to the end, once.
    fs.appendFileSync(part, 'the rest END');
    await until(() => fs.existsSync(path.join(dir, 'done', 'part.txt')), () => `part.txt done:\n${daemon.stderr}`);
    expect([starts('whole', part), starts('convert', part)]).toEqual([2, 1]);
    expect(fs.readFileSync(path.join(out, 'part.out'), 'utf8')).toBe('converted: the first half, the rest END');

    // A convert that fails after writing part of its output, and one that exits 0 without writing it.
    fs.writeFileSync(path.join(watched, 'bad.txt'), 'fail END');
    fs.writeFileSync(path.join(watched, 'lazy.txt'), 'noout END');
    await until(() => fs.existsSync(path.join(dir, 'failed', 'bad.txt.failure.json')) && fs.existsSync(path.join(dir, 'failed', 'lazy.txt.failure.json')), () => `bad and lazy in failed/:\n${daemon.stderr}`);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    const bad = JSON.parse(fs.readFileSync(path.join(dir, 'failed', 'bad.txt.failure.json'), 'utf8')) as { steps: Array<Record<string, unknown>> };
    expect(bad.steps[1]).toMatchObject({ step: 'convert', ok: false, exitCode: 3, error: 'status 3', stderrTail: 'cannot convert\n' });
    expect(String(bad.steps[1]?.removedOutput)).toMatch(new RegExp(`^${out}/\\.bad\\.out\\.inotifyd-\\S+\\.out \\(11 bytes\\)$`));
    expect((bad.steps[1]?.argv as string[]).at(-1)).toBe(String(bad.steps[1]?.removedOutput).replace(/ \(11 bytes\)$/, ''));
    const lazy = JSON.parse(fs.readFileSync(path.join(dir, 'failed', 'lazy.txt.failure.json'), 'utf8')) as { steps: Array<Record<string, unknown>> };
    expect(lazy.steps[1]).toMatchObject({ step: 'convert', ok: false, exitCode: 0 });
    expect(String(lazy.steps[1]?.error)).toMatch(/^exited 0 but did not write its output \{output\} \(.*\/\.lazy\.out\.inotifyd-\S+\.out\)$/);
    // Only the finished output: no partial, no hidden temporary name.
    expect(fs.readdirSync(out)).toEqual(['part.out']);
  }, 90_000);

  it('config errors name the file and the key: unknown scheduler and step options, a step with both cmd and run', () => {
    const dir = tempDir();
    const cases: Array<[string, RegExp]> = [
      ["new ShellScheduler({ cmd: ['true'], timout: '5s' })", /The "timout" option is not an option of ShellScheduler\. Known options: .*timeout/],
      ["new TaskScheduler({ job: () => {}, dealy: 5 })", /The "dealy" option is not an option of TaskScheduler/],
      ["new PipelineScheduler({ failedDir: '/tmp/f', steps: [{ name: 's', cmd: ['true'], timeuot: 1 }] })", /The "steps\[0\]\.timeuot" option is not an option of a pipeline step/],
      ["new PipelineScheduler({ failedDir: '/tmp/f', steps: [{ name: 's', cmd: ['true'], run: () => {} }] })", /must have exactly one of "cmd" \(an argv array\) and "run"/],
      ["new PipelineScheduler({ failedDir: '/tmp/f', steps: [{ name: 's', cmd: 'rm -rf {pathname}' }] })", /"steps\[0\]\.cmd" option must be a non-empty argv array/],
      ["new PipelineScheduler({ steps: [{ name: 's', cmd: ['true'] }] })", /"failedDir" option must be a directory path/],
      ["new PipelineScheduler({ failedDir: '/tmp/f', steps: [{ name: 's', cmd: ['true'] }, { name: 'g', gate: true, cmd: ['true'] }] })", /The "steps\[1\]" step \(g\) is a gate after other steps: gates come first/],
      ["new PipelineScheduler({ failedDir: '/tmp/f', steps: [{ name: 'g', gate: 'yes', cmd: ['true'] }] })", /The "steps\[0\]\.gate" option must be a boolean/],
      ["new PipelineScheduler({ failedDir: '/tmp/f', steps: [{ name: 'c', cmd: ['cp', '{pathname}', '/tmp/x'], output: '/tmp/x' }] })", /The "steps\[0\]\.cmd" option must use \{output\}/],
      ["new PipelineScheduler({ failedDir: '/tmp/f', steps: [{ name: 'c', run: () => {}, output: '/tmp/x' }] })", /The "steps\[0\]\.output" option applies to "cmd" steps only/],
    ];
    for (const [expression, message] of cases) {
      fs.writeFileSync(path.join(dir, 'config.mjs'), `import { defineConfig, PipelineScheduler, ShellScheduler, TaskScheduler } from 'inotify-native';
const s = ${expression};
export default defineConfig({ watches: [{ path: ${JSON.stringify(dir)}, eventMap: { IN_CLOSE_WRITE: s } }] });
`);
      const r = runCli(['--configtest', '-c', path.join(dir, 'config.mjs')], dir);
      expect(r.status, expression).toBe(1);
      expect(r.stderr, expression).toMatch(message);
      expect(r.stderr, expression).toContain(`${path.join(dir, 'config.mjs')}: module: expected a module that loads`);
      expect(r.stderr, expression).toMatch(/config\.mjs(\?load=\d+)?:2/);
    }
  }, 90_000);
});
