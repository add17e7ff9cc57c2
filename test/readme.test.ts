// The README's examples are real: the first one runs, and the pyinotify port shown is the one tested.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { ensureLib } from './helpers/child.js';
import { tempDir } from './helpers/index.js';

const repo = path.resolve(__dirname, '..');
const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');

/** The fenced blocks of `language` under the heading `## title`. */
function blocks(title: string, language: string): string[] {
  const start = readme.indexOf(`## ${title}\n`);
  expect(start, `README section "${title}"`).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1] ?? '');
}

describe('README', () => {
  test('the first example runs: it prints events and exits on Ctrl-C', async () => {
    ensureLib();
    const [code] = blocks('First example', 'ts');
    expect(code).toBeDefined();
    const js = ts.transpileModule(code ?? '', { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    // Inside the package, so that `import 'inotify-native'` resolves to this package itself.
    const scratch = fs.mkdtempSync(path.join(repo, '.readme-'));
    const watched = fs.realpathSync(tempDir());
    try {
      fs.writeFileSync(path.join(scratch, 'first.mjs'), js);
      const child = spawn(process.execPath, [path.join(scratch, 'first.mjs')], { cwd: watched, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Until the watch is up, files come and go unseen: write one every 50 ms until both kinds of
      // event were printed (the first file seen may have been created before the watch was up,
      // and its two lines may arrive in separate chunks).
      const deadline = Date.now() + 15_000;
      const printedBoth = () => /^IN_CREATE \/.*\/file\d+ $/m.test(out) && /^IN_CLOSE_WRITE \/.*\/file\d+ $/m.test(out);
      for (let i = 0; !printedBoth() && Date.now() < deadline; i++) {
        fs.writeFileSync(path.join(watched, `file${i}`), 'x');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(out).toMatch(/^IN_CREATE \/.*\/file\d+ $/m);
      expect(out).toMatch(/^IN_CLOSE_WRITE \/.*\/file\d+ $/m);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  test('every TypeScript block compiles against the package', () => {
    ensureLib();
    const all = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    expect(all.length).toBeGreaterThanOrEqual(3);
    const scratch = fs.mkdtempSync(path.join(repo, '.readme-'));
    try {
      const files = all.map((code, i) => {
        const file = path.join(scratch, `block${i}.mts`);
        fs.writeFileSync(file, code.includes('export ') || code.includes('import ') ? code : `export {};\n${code}`);
        return file;
      });
      const tsc = spawnSync(process.execPath, [
        path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--module', 'nodenext',
        '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', ...files,
      ], { cwd: repo, encoding: 'utf8' });
      expect(tsc.stdout + tsc.stderr).toBe('');
      expect(tsc.status).toBe(0);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  test('the pyinotify script and its port shown are the files the port test runs', () => {
    const [python] = blocks('Coming from pyinotify', 'python');
    const [port] = blocks('Coming from pyinotify', 'ts');
    expect(fs.readFileSync(path.join(repo, 'examples/pyinotify-port/watcher.py'), 'utf8')).toContain(python);
    expect(fs.readFileSync(path.join(repo, 'examples/pyinotify-port/watcher.mts'), 'utf8')).toContain(port);
  });
});
