import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureLib } from './child.js';
import { repoRoot } from './index.js';

/**
 * Compiles every example with examples/tsconfig.json, as the README says
 * (`npx tsc -p examples`), into `outDir` (default examples/dist), after
 * building lib/ when it is stale. Throws with tsc's output on any error.
 */
export function compileExamples(outDir = path.join(repoRoot, 'examples', 'dist')): string {
  ensureLib();
  const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join('examples', 'tsconfig.json'), '--outDir', outDir], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`tsc -p examples failed:\n${result.stdout}\n${result.stderr}`);
  if (!fs.existsSync(outDir)) throw new Error(`tsc -p examples wrote nothing to ${outDir}`);
  return outDir;
}
