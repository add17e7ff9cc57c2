/**
 * Every program in examples/ runs the way the README's "Running the examples"
 * says: compiled by `npx tsc -p examples` into examples/dist/ (any Node), and
 * as the .mts file itself on a Node that strips types (>= 22.18; this file
 * runs on 22, 24 and 26 in `npm run test:node-versions`).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { spawnNode, type Child } from './helpers/child.js';
import { compileExamples } from './helpers/examples.js';
import { repoRoot, tempDir } from './helpers/index.js';

const examplesDir = path.join(repoRoot, 'examples');
const distDir = path.join(examplesDir, 'dist');
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const stripsTypes = major > 22 || (major === 22 && minor >= 18);

/** Examples that are inotifyd configs, not programs: each run by its own test (sftp-ingest: test/sftp-ingest.test.ts). */
const daemonConfigs = /^sftp-ingest\//;

/** examples/**\/*.mts, relative to examples/ (dist/ and test build folders left out). */
const examples = fs
  .readdirSync(examplesDir, { recursive: true, encoding: 'utf8' })
  .filter((name) => name.endsWith('.mts') && !/^(dist|\.dist-[^/]*)\//.test(name) && !daemonConfigs.test(name))
  .sort();

/** What each example does when run on a fresh directory, checked from its output. */
const scenarios: Record<string, (child: Child, dir: string) => Promise<void>> = {
  'pyinotify-port/watcher.mts': async (child, dir) => {
    // It prints nothing until its watch is up, and a file created before then
    // is seen only partly: write new files until one is reported whole.
    const whole = (): boolean => /^created file (.+)\n(?:.*\n)*?written \1$/m.test(child.stdout);
    for (let i = 0; !whole(); i++) {
      if (!child.running) throw new Error(`the example exited:\n${child.stdout}\n${child.stderr}`);
      if (i > 600) throw new Error(`no file reported whole after ${i} tries:\n${child.stdout}`);
      fs.writeFileSync(path.join(dir, `f${i}`), 'x');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  },
  'watchdog-port/simple.mts': async (child, dir) => {
    // It prints nothing until an event: make files until one is reported (its watch may not be up for the first).
    const created = new RegExp(`^INFO:root:Created: FileCreatedEvent\\(src_path='${dir}/f\\d+', dest_path='', event_type='created', is_directory=False, is_synthetic=False\\)$`, 'm');
    for (let i = 0; !created.test(child.stdout); i++) {
      if (!child.running) throw new Error(`the example exited:\n${child.stdout}\n${child.stderr}`);
      if (i > 600) throw new Error(`no file reported after ${i} tries:\n${child.stdout}`);
      fs.writeFileSync(path.join(dir, `f${i}`), 'x');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  },
  'fleet-worker/worker.mts': async (child) => {
    await child.waitForLine(/^waiting .*(ECONNREFUSED|connection refused)/i, 30_000);
  },
  'incoming-processor.mts': async (child, dir) => {
    await child.waitForLine(/^watching /, 30_000);
    const file = path.join(dir, 'arrived.bin');
    fs.writeFileSync(file, 'payload');
    const sha = createHash('sha256').update('payload').digest('hex');
    await child.waitForLine(new RegExp(`^ok ${file} sha256=${sha} bytes=7 via=close-write ms=\\d+$`), 30_000);
  },
};

const args: Record<string, (dir: string) => string[]> = {
  // No server on port 1: the worker keeps trying (test/forward-workers.test.ts runs it against a real one).
  'fleet-worker/worker.mts': (dir) => ['--servers', 'nats://127.0.0.1:1', '--copy-to', dir],
  'incoming-processor.mts': (dir) => [dir, '--quiet-period', '200', '--settle-time', '100'],
};

beforeAll(() => {
  compileExamples(); // `npx tsc -p examples`, into examples/dist
}, 180_000);

test('examples/ holds the programs this file runs, each one compiled into examples/dist', () => {
  expect(examples).toEqual(Object.keys(scenarios).sort());
  for (const name of examples) expect(fs.existsSync(path.join(distDir, name.replace(/\.mts$/, '.mjs'))), name).toBe(true);
});

describe.each(examples)('%s', (name) => {
  const modes = [
    { how: 'compiled: node examples/dist/<name>.mjs', file: path.join(distDir, name.replace(/\.mts$/, '.mjs')), skip: false },
    { how: 'type-stripped: node examples/<name>.mts', file: path.join(examplesDir, name), skip: !stripsTypes },
  ];
  for (const { how, file, skip } of modes) {
    test.skipIf(skip)(`${how}: does its job, then stops on SIGINT with status 0`, async () => {
      const dir = fs.realpathSync(tempDir());
      const child = spawnNode([file, ...(args[name]?.(dir) ?? [dir])], { cwd: repoRoot });
      await scenarios[name]?.(child, dir);
      child.kill('SIGINT');
      const result = await child.waitForExit(30_000);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    }, 120_000);
  }
});
