/**
 * The packaging proof: pack the package (its prepack step compiles lib/ and
 * builds the prebuilds), install the tarball into an empty project and use it
 * from CommonJS, ESM and TypeScript, with the addon loaded from the prebuild
 * (nothing compiled), then run the smoke suite that CI also runs on every
 * Node.js major and on arm64 (scripts/test-package.sh).
 *
 * The pack runs in a staged copy of the package sources, not in the
 * repository, so the checkout's lib/ and prebuilds/ are left alone. The arm64
 * prebuild needs Debian's cross compiler (g++-aarch64-linux-gnu, which .ci/run
 * installs); without it only linux-x64 is built here, and its checks are skipped.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { removeTree, repoRoot } from './helpers/index.js';

// Hang guards, not speed goals: `npm pack` builds both prebuilds (x64 and the
// arm64 cross build) and lib/, which took over 5 minutes on a 2-core machine
// at load 12. A command gets 15 minutes, the whole set-up 25.
const TIMEOUT = 900_000;
const SETUP_TIMEOUT = 1_500_000;
const prebuildDir = `${process.platform}-${process.arch}`;
const hasCrossCompiler = spawnSync('aarch64-linux-gnu-g++', ['--version']).status === 0;
const arches = process.arch === 'x64' && hasCrossCompiler ? ['x64', 'arm64'] : [process.arch];

/** The environment of a fresh shell: no npm_* variables from an enclosing `npm test`. */
const cleanEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'INIT_CWD'),
);

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: TIMEOUT, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return result;
}

function runOk(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv): string {
  const result = run(command, args, cwd, env);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${result.status}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
  return result.stdout;
}

let work = '';
let stage = '';
let tarball = '';
let tarballFiles: string[] = [];
let consumer = '';

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'inotify-package-'));

  // 1. Stage what `npm pack` needs: package.json, the tsconfigs, src/ and
  //    scripts/ for `prepack`, and every source entry of "files" (lib/ and
  //    prebuilds/ are built here).
  stage = path.join(work, 'stage');
  fs.mkdirSync(stage);
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { files?: string[] };
  const generated = new Set(['lib', 'prebuilds']);
  const entries = new Set(['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'scripts', 'LICENSE', ...(manifest.files ?? [])]);
  for (const entry of entries) {
    const name = entry.replace(/\/+$/, '');
    if (generated.has(name) || !fs.existsSync(path.join(repoRoot, name))) continue;
    fs.cpSync(path.join(repoRoot, name), path.join(stage, name), { recursive: true });
  }
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(stage, 'node_modules'));

  // 2. The tarball: npm pack runs `prepack` (tsc, then the prebuilds) first.
  const packed = path.join(work, 'packed');
  fs.mkdirSync(packed);
  runOk('npm', ['pack', '--pack-destination', packed], stage, { ...cleanEnv, PREBUILD_ARCHES: arches.join(' ') });
  const tgz = fs.readdirSync(packed).filter((name) => name.endsWith('.tgz'));
  expect(tgz).toHaveLength(1);
  tarball = path.join(packed, tgz[0] ?? '');
  tarballFiles = runOk('tar', ['-tzf', tarball], work).trim().split('\n');

  // 3. An empty project that installs the tarball (dependencies from the registry).
  consumer = path.join(work, 'consumer');
  fs.mkdirSync(consumer);
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
  runOk('npm', ['install', '--no-audit', '--no-fund', tarball], consumer);
}, SETUP_TIMEOUT);

afterAll(() => {
  if (work !== '') removeTree(work);
});

/** A script that watches a fresh dir, creates a file in it and prints the record and the addon it loaded. */
const USE = `
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inotify-consumer-'));
  const ino = new Inotify();
  const wd = ino.addWatch(dir, IN_CREATE);
  const timer = setTimeout(() => { console.log('TIMEOUT'); process.exit(1); }, 10000);
  ino.on('batch', (records) => {
    for (const r of records) console.log('RECORD', r.wd === wd, maskname(r.mask), r.name);
    const addon = fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').find((line) => line.endsWith('.node') && line.includes('inotify-native'));
    console.log('ADDON', addon ? addon.slice(addon.indexOf('/')) : 'none');
    clearTimeout(timer);
    ino.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  fs.writeFileSync(path.join(dir, 'hello.txt'), 'hi');
`;

describe('the published package', () => {
  test('npm pack wrote prebuilds/<platform>-<arch>/*.node', () => {
    const dir = path.join(stage, 'prebuilds', prebuildDir);
    expect(fs.readdirSync(dir).filter((name) => name.endsWith('.node')).length).toBeGreaterThan(0);
  });

  test.skipIf(!arches.includes('arm64'))('the tarball holds a linux-arm64 (glibc) prebuild of aarch64 code', () => {
    expect(tarballFiles).toContain('package/prebuilds/linux-arm64/inotify-native.glibc.node');
    expect(tarballFiles).toContain('package/prebuilds/linux-x64/inotify-native.glibc.node');
    const elf = fs.readFileSync(path.join(stage, 'prebuilds', 'linux-arm64', 'inotify-native.glibc.node'));
    expect(elf.readUInt16LE(18)).toBe(183); // e_machine: EM_AARCH64
  });

  test('the docs that README and --help link to are in the package; source maps carry their sources', () => {
    const files = new Set(tarballFiles.map((name) => name.replace(/^package\//, '')));
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const help = fs.readFileSync(path.join(repoRoot, 'src', 'cli', 'args.ts'), 'utf8');
    const linked = new Set([...`${readme}\n${help}`.matchAll(/\b(docs\/[\w.-]+\.md)\b/g)].map((m) => m[1] as string));
    expect(linked.size).toBeGreaterThan(0);
    for (const doc of linked) expect(files, doc).toContain(doc);
    expect(files).toContain('LICENSE');
    const maps = [...files].filter((name) => name.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    const installed = path.join(consumer, 'node_modules', 'inotify-native');
    for (const map of maps) {
      const parsed = JSON.parse(fs.readFileSync(path.join(installed, map), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
      expect(parsed.sourcesContent?.length, map).toBe(parsed.sources.length);
    }
  });

  test('the smoke suite CI runs on every Node and on arm64 passes here', () => {
    fs.copyFileSync(path.join(repoRoot, 'test', 'package-smoke', 'smoke.mjs'), path.join(consumer, 'smoke.mjs'));
    const result = run(process.execPath, ['--test-reporter=tap', 'smoke.mjs'], consumer);
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/^# pass 7$/m);
    expect(result.stdout).toMatch(/^# fail 0$/m);
  });

  test('the tarball holds the compiled JS, declarations, ESM entry, native sources, binding.gyp and the prebuild', () => {
    const files = tarballFiles.map((name) => name.replace(/^package\//, ''));
    for (const expected of ['package.json', 'lib/index.js', 'lib/index.d.ts', 'lib/esm.mjs', 'lib/esm.d.mts', 'binding.gyp']) {
      expect(files, expected).toContain(expected);
    }
    expect(files.filter((name) => /^native\/[^/]+\.cc$/.test(name)).length).toBeGreaterThanOrEqual(4);
    expect(files.filter((name) => /^native\/[^/]+\.h$/.test(name)).length).toBeGreaterThanOrEqual(1);
    expect(files.some((name) => name.startsWith(`prebuilds/${prebuildDir}/`) && name.endsWith('.node'))).toBe(true);
    // Nothing that belongs to the repository only.
    expect(files.filter((name) => /^(src|test|bench|build|node_modules)\//.test(name))).toStrictEqual([]);
  });

  test('installing it compiles nothing: no build/ directory, the addon comes from the prebuild', () => {
    const installed = path.join(consumer, 'node_modules', 'inotify-native');
    expect(fs.existsSync(path.join(installed, 'package.json'))).toBe(true);
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'prebuilds', prebuildDir))).toBe(true);
  });

  test('require() from CommonJS: watch a dir and see IN_CREATE', () => {
    const script = `
      const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path');
      const { Inotify, IN_CREATE, maskname } = require('inotify-native');
      ${USE}`;
    const out = runOk(process.execPath, ['-e', script], consumer);
    expect(out).toContain('RECORD true IN_CREATE hello.txt');
    expect(out).toMatch(new RegExp(`ADDON .*/consumer/node_modules/inotify-native/prebuilds/${prebuildDir}/[^/]+\\.node`));
  });

  test('import from ESM: the same API (and the same class as require())', () => {
    const script = `
      import * as fs from 'node:fs'; import * as os from 'node:os'; import * as path from 'node:path';
      import { createRequire } from 'node:module';
      import { Inotify, IN_CREATE, maskname } from 'inotify-native';
      console.log('SAME', createRequire(import.meta.url)('inotify-native').Inotify === Inotify);
      ${USE}`;
    const out = runOk(process.execPath, ['--input-type=module', '-e', script], consumer);
    expect(out).toContain('SAME true');
    expect(out).toContain('RECORD true IN_CREATE hello.txt');
    expect(out).toMatch(new RegExp(`ADDON .*/prebuilds/${prebuildDir}/`));
  });

  describe('TypeScript consumers (nodenext, strict)', () => {
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    // --incremental: the second run reuses the first one's check of @types/node and our .d.ts.
    const flags = ['--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--strict', '--target', 'es2022', '--incremental', '--tsBuildInfoFile', 'tsbuildinfo.json'];

    beforeAll(() => {
      // A TypeScript project has @types/node; link the repository's.
      const types = path.join(consumer, 'node_modules', '@types');
      fs.mkdirSync(types, { recursive: true });
      if (!fs.existsSync(path.join(types, 'node'))) fs.symlinkSync(path.join(repoRoot, 'node_modules', '@types', 'node'), path.join(types, 'node'));
      const body = `
        const ino = new Inotify({ ref: false });
        const wd: number = ino.addWatch('/tmp', IN_CREATE | IN_ISDIR);
        ino.addWatch(Buffer.from('/tmp'), IN_CREATE);
        ino.on('batch', (records: RawRecord[]) => {
          for (const record of records) {
            const name: string = maskname(record.mask);
            const bytes: Buffer | undefined = record.nameBytes;
            console.log(name, record.wd, record.cookie, record.name, bytes);
          }
        });
        ino.on('error', (error: Error) => console.log(error.message));
        const decoded: RawRecord[] = decodeRecords(new Uint8Array(0));
        ino.rmWatch(wd);
        ino.unref().ref();
        ino.close();
        console.log(decoded, ino.hasRef(), ino.closed, ino.fd);
      `;
      const imports = `import { Inotify, IN_CREATE, IN_ISDIR, maskname, decodeRecords, type RawRecord } from 'inotify-native';`;
      fs.writeFileSync(path.join(consumer, 'consumer.cts'), `${imports}\n${body}`);
      fs.writeFileSync(path.join(consumer, 'consumer.mts'), `${imports}\n${body}\nexport {};\n`);
      fs.writeFileSync(
        path.join(consumer, 'wrong.cts'),
        `import { Inotify } from 'inotify-native';\nconst ino = new Inotify();\nino.addWatch(42, 1);\n`,
      );
    });

    test('a .cts and an .mts file using the types compile', () => {
      const result = run(process.execPath, [tsc, ...flags, 'consumer.cts', 'consumer.mts'], consumer);
      expect(`${result.stdout}${result.stderr}`).toBe('');
      expect(result.status).toBe(0);
    }, 120_000); // a full type-check of @types/node and ours: ~25 s on a loaded 2-core machine

    test('a wrong use (addWatch(42, 1)) does not compile', () => {
      const result = run(process.execPath, [tsc, ...flags, 'wrong.cts'], consumer);
      expect(result.status).not.toBe(0);
      const errors = result.stdout.split('\n').filter((line) => line.includes('error TS'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^wrong\.cts\(3,14\): error TS2345: Argument of type 'number' is not assignable to parameter of type 'PathLike'/);
    });
  });
});
