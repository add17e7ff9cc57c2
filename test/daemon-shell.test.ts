/**
 * ShellScheduler with hostile file names: each name reaches the command as
 * exactly one argument, and nothing else runs (no `pwned` file, the canary
 * survives `; rm -rf canary`). argv array, a command string split once, and
 * the explicit `shell: true` with positional parameters.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon, tempDir, until } from './daemon-helpers.js';
import { completeLines } from './helpers/lines.js';

const NAMES: Array<string | Buffer> = [
  'with space', '  leading and trailing  ', "single'quote", 'double"quote', '$(touch pwned)', '`touch pwned`',
  '; rm -rf canary', '&& touch pwned', '| touch pwned', 'new\nline', '-rf', '--help', '-', '$HOME', '${IFS}x',
  '*', '?', '[a]', '{pathname}', 'tab\there', '>pwned', '<in', 'back\\slash', '#comment', '~', 'a;b',
  "'; touch pwned; '", 'ümlaut', '\r\ncarriage', '!!',
  Buffer.from([0xff, 0xfe, 0x78]), Buffer.concat([Buffer.from('bad-'), Buffer.from([0xc3, 0x28])]),
];

/** Files named exactly `pwned` (or `in`, what `<in` would read) anywhere under `dir`. */
function findPwned(dir: string): string[] {
  const found = spawnSync('find', [dir, '(', '-name', 'pwned', '-o', '-name', 'in', ')', '-print'], { encoding: 'latin1' });
  expect(found.status).toBe(0);
  return found.stdout.split('\n').filter((l) => l !== '');
}

describe('inotifyd: ShellScheduler', () => {
  it(`${NAMES.length} hostile names each reach the command as exactly one argument; nothing else runs`, async () => {
    const dir = tempDir();
    const recorder = path.join(dir, 'record-args.cjs');
    const out = path.join(dir, 'args.jsonl');
    fs.writeFileSync(recorder, `require('node:fs').appendFileSync(${JSON.stringify(out)}, JSON.stringify({
  tag: process.env.TAG, argv: process.argv.slice(2), hex: process.env.INOTIFYD_PATHNAME_HEX }) + '\\n');\n`);
    fs.writeFileSync(path.join(dir, 'canary'), 'alive');
    const dirs = { array: path.join(dir, 'w1'), string: path.join(dir, 'w2'), shell: path.join(dir, 'w3') };
    for (const d of Object.values(dirs)) fs.mkdirSync(d);
    const node = process.execPath;
    const daemon = await startDaemon(dir, `import { defineConfig, ShellScheduler } from 'inotify-native';
const array = new ShellScheduler({ cmd: [${JSON.stringify(node)}, ${JSON.stringify(recorder)}, '{pathname}'], env: { TAG: 'array' }, concurrency: 4 });
const string = new ShellScheduler({ cmd: ${JSON.stringify(`${node} '${recorder}' {pathname}`)}, env: { TAG: 'string' }, concurrency: 4 });
const shell = new ShellScheduler({ cmd: ${JSON.stringify(`${node} '${recorder}' {pathname}`)}, shell: true, env: { TAG: 'shell' }, concurrency: 4 });
export default defineConfig({
  watches: [
    { path: ${JSON.stringify(dirs.array)}, eventMap: { IN_CLOSE_WRITE: array } },
    { path: ${JSON.stringify(dirs.string)}, eventMap: { IN_CLOSE_WRITE: string } },
    { path: ${JSON.stringify(dirs.shell)}, eventMap: { IN_CLOSE_WRITE: shell } },
  ],
  shutdownTimeout: '60s',
});
`);
    const expected = new Map<string, string[]>();
    for (const [tag, d] of Object.entries(dirs)) {
      const bytes = NAMES.map((name) => Buffer.concat([Buffer.from(`${d}/`), Buffer.isBuffer(name) ? name : Buffer.from(name)]));
      for (const file of bytes) fs.writeFileSync(file, 'x');
      expected.set(tag, bytes.map((b) => b.toString('hex')).sort());
    }
    const entries = (): Array<{ tag: string; argv: string[]; hex: string }> => completeLines(out).map((l) => JSON.parse(l) as never);
    await until(() => entries().length >= NAMES.length * 3, () => `${NAMES.length * 3} runs of the command`, 60_000);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    const runs = entries();
    expect(runs).toHaveLength(NAMES.length * 3);
    for (const [tag, hexes] of expected) {
      const mine = runs.filter((r) => r.tag === tag);
      expect(mine.map((r) => r.hex).sort()).toEqual(hexes);
      for (const run of mine) {
        expect(run.argv).toHaveLength(1);
        // argv is UTF-8 in Node: a name that is not valid UTF-8 arrives decoded (U+FFFD), its bytes in INOTIFYD_PATHNAME_HEX.
        expect(run.argv[0]).toBe(Buffer.from(run.hex, 'hex').toString('utf8'));
      }
    }
    expect(findPwned(dir)).toEqual([]);
    expect(fs.readFileSync(path.join(dir, 'canary'), 'utf8')).toBe('alive');
  }, 120_000);

  it('a timeout kills the whole process group; retries run again with backoff; the exit status is logged', async () => {
    const dir = tempDir();
    const w = path.join(dir, 'w');
    fs.mkdirSync(w);
    const daemon = await startDaemon(dir, `import { defineConfig, ShellScheduler } from 'inotify-native';
const slow = new ShellScheduler({ cmd: ['/bin/sh', '-c', 'sleep 300 & echo $! > "$0.child"; wait', '{pathname}'], timeout: 500 });
const flaky = new ShellScheduler({ cmd: ['/bin/sh', '-c', 'echo run >> "$0.runs"; exit 3', '{pathname}'], retries: 2, retryDelay: 10, logname: 'flaky' });
export default defineConfig({ watches: [{ path: ${JSON.stringify(w)}, eventMap: { IN_CLOSE_WRITE: slow, IN_ATTRIB: flaky } }], shutdownTimeout: '60s' });
`);
    fs.writeFileSync(path.join(w, 'slow'), '');
    await daemon.waitFor(/timeout after 500 ms: kill process group/);
    await daemon.waitFor(/exited with signal SIGTERM/);
    const childPid = Number(fs.readFileSync(path.join(w, 'slow.child'), 'utf8'));
    await until(() => {
      try {
        process.kill(childPid, 0);
        return false;
      } catch {
        return true;
      }
    }, 'the grandchild (sleep 300) to be gone');
    fs.chmodSync(path.join(w, 'slow'), 0o600);
    await daemon.waitFor(/flaky ERROR\] task .* failed/);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(fs.readFileSync(path.join(w, 'slow.runs'), 'utf8')).toBe('run\nrun\nrun\n');
    expect(daemon.stderr).toMatch(/attempt 1 failed; retry in 10 ms/);
    expect(daemon.stderr).toMatch(/attempt 2 failed; retry in 20 ms/);
    expect(daemon.stderr).toMatch(/exited with status 3/);
  }, 90_000);
});
