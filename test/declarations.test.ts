/**
 * The published declarations (lib/*.d.ts): members and types marked
 * `@internal` are stripped (stripInternal), and what remains type-checks on
 * its own, as a consumer's compiler sees it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { ensureLib } from './helpers/child.js';
import { repoRoot } from './helpers/index.js';

function declarations(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.d.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe('published declarations', () => {
  test('no @internal member (_armNew, _setConsumer, ...) is in lib/*.d.ts, and they type-check without skipLibCheck', () => {
    ensureLib();
    const files = declarations(path.join(repoRoot, 'lib'));
    expect(files.length).toBeGreaterThan(10);
    const leaked: string[] = [];
    for (const file of files) {
      const text = fs.readFileSync(file, 'utf8');
      for (const line of text.split('\n')) {
        if (line.includes('@internal') || /^\s+(readonly\s+)?_[A-Za-z]\w*[(:?]/.test(line)) leaked.push(`${path.relative(repoRoot, file)}: ${line.trim()}`);
      }
    }
    expect(leaked).toStrictEqual([]);
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [
      tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node',
      ...files,
    ], { cwd: repoRoot, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 120_000);
});
