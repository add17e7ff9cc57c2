// Everything the benchmark needs before it measures: the C programs, the peer
// packages (installed into bench/.work/peers, cached), inotify-tools and rsync,
// a tmpfs to run on, and a description of the machine for the report header.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

const sh = (cmd, args, opts = {}) => spawnSync(cmd, args, { encoding: 'utf8', ...opts });

export function compileC(benchDir, binDir) {
  mkdirSync(binDir, { recursive: true });
  const out = {};
  for (const [name, libs] of [
    ['raw_inotify', []],
    ['writer', ['-lm']],
  ]) {
    const src = join(benchDir, 'c', `${name}.c`);
    const bin = join(binDir, name);
    if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
      const r = sh('cc', ['-O2', '-Wall', '-o', bin, src, ...libs]);
      if (r.status !== 0) throw new Error(`cc ${name}.c failed:\n${r.stderr}`);
    }
    out[name] = bin;
  }
  return out;
}

const PEERS = [
  { pkg: '@parcel/watcher', spec: '@parcel/watcher@2' },
  { pkg: 'chokidar', spec: 'chokidar@6' },
  { pkg: 'inotify', spec: 'inotify@1', scripts: true },
];

/** First compiler error (or npm error) in an npm log, one line. */
function installReason(log) {
  const lines = log.split('\n').map((l) => l.replace(/^npm (error|ERR!) /, ''));
  const cc = lines.filter((l) => /\berror: /.test(l) && !/^gyp /.test(l));
  if (cc.length) {
    const first = cc[0].replace(/^.*?([\w./-]+\.(cc|cpp|c|h):\d+)/, '$1');
    return `build failed: ${first.trim()}${cc.length > 1 ? ` (and ${cc.length - 1} more compiler errors)` : ''}`;
  }
  const err = lines.filter((l) => l.trim() && !/complete log|^\s*$/.test(l) && /error|ERR|code/i.test(l));
  return `install failed: ${(err.slice(0, 3).join(' | ') || log.trim().split('\n').slice(-3).join(' | ')).slice(0, 300)}`;
}

/**
 * Installs each peer on its own into peersDir (so one that fails to build does
 * not take the others down) and caches the outcome per Node version.
 */
export function installPeers(peersDir, log) {
  mkdirSync(peersDir, { recursive: true });
  const pkgFile = join(peersDir, 'package.json');
  const cacheFile = join(peersDir, 'bench-peers.json');
  let cache = {};
  try {
    cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
  } catch {
    /* first run */
  }
  if (cache.node !== process.version) cache = { node: process.version, peers: {} };
  if (!existsSync(pkgFile)) writeFileSync(pkgFile, '{}\n');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  pkg.private = true;
  pkg.description = 'peers for the inotify-native benchmark (bench/run.mjs), installed here on demand';
  // npm >= 11 runs no dependency install scripts unless allowed here; `inotify` has to compile.
  pkg.allowScripts = Object.fromEntries(PEERS.filter((p) => p.scripts).map((p) => [p.pkg, true]));
  writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + '\n');

  const result = {};
  for (const peer of PEERS) {
    const pj = join(peersDir, 'node_modules', peer.pkg, 'package.json');
    const cached = cache.peers[peer.spec];
    if (cached && (cached.ok ? existsSync(pj) : true)) {
      result[peer.pkg] = cached;
      continue;
    }
    log(`installing ${peer.spec} into ${peersDir} ...`);
    const r = sh('npm', ['install', '--prefix', peersDir, '--no-audit', '--no-fund', '--save', peer.spec], {
      cwd: peersDir,
      timeout: 300_000,
    });
    const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
    let entry;
    if (r.status === 0 && existsSync(pj)) {
      const meta = JSON.parse(readFileSync(pj, 'utf8'));
      entry = { ok: true, version: meta.version, engines: meta.engines?.node ?? null };
      if (peer.scripts) {
        // the native part must load too
        const t = sh(process.execPath, ['-e', `require(${JSON.stringify(peer.pkg)})`], { cwd: peersDir });
        if (t.status !== 0) entry = { ok: false, version: meta.version, reason: `load failed: ${t.stderr.trim().split('\n')[0]}` };
      }
    } else {
      entry = { ok: false, version: versionOf(peer.spec), reason: installReason(text) };
    }
    cache.peers[peer.spec] = entry;
    result[peer.pkg] = entry;
    writeFileSync(cacheFile, JSON.stringify(cache, null, 2) + '\n');
  }
  return result;
}

function versionOf(spec) {
  const r = sh('npm', ['view', spec, 'version']);
  const v = (r.stdout ?? '').trim().split('\n').pop();
  return v ? v.replace(/^.*'(.+)'$/, '$1') : null;
}

/** inotifywait and rsync: use what is there, else apt-get install once. */
export function ensureTools(log) {
  const tools = { inotifywait: 'inotify-tools', rsync: 'rsync' };
  const out = {};
  for (const [bin, deb] of Object.entries(tools)) {
    let have = sh('sh', ['-c', `command -v ${bin}`]).status === 0;
    let reason = null;
    if (!have) {
      log(`${bin} missing: apt-get install -y ${deb}`);
      let r = sh('apt-get', ['install', '-y', deb], { timeout: 300_000 });
      if (r.status !== 0) {
        sh('apt-get', ['update'], { timeout: 300_000 });
        r = sh('apt-get', ['install', '-y', deb], { timeout: 300_000 });
      }
      have = sh('sh', ['-c', `command -v ${bin}`]).status === 0;
      if (!have) reason = `apt-get install ${deb} failed: ${(r.stderr || r.error || '').toString().trim().split('\n').pop()}`;
    }
    out[bin] = { ok: have, reason, version: have ? toolVersion(bin) : null };
  }
  return out;
}

function toolVersion(bin) {
  if (bin === 'inotifywait') {
    const r = sh('inotifywait', ['--help']);
    return `${r.stdout}${r.stderr}`.split('\n')[0].trim();
  }
  const r = sh(bin, ['--version']);
  return (r.stdout || '').split('\n')[0].replace(/\s+/g, ' ').trim();
}

/** Mounts a tmpfs at dir (we are usually root); returns false when that is not possible. */
export function mountTmpfs(dir) {
  mkdirSync(dir, { recursive: true });
  unmount(dir); // a leftover from a run that was killed
  const r = sh('mount', ['-t', 'tmpfs', '-o', 'size=4g,mode=0755', 'bench-tmpfs', dir]);
  return r.status === 0;
}

export function unmount(dir) {
  const mounted = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === dir);
  if (!mounted) return;
  if (sh('umount', [dir]).status !== 0) sh('umount', ['-l', dir]);
}

export function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const lim = (n) => {
    try {
      return Number(readFileSync(`/proc/sys/fs/inotify/${n}`, 'utf8'));
    } catch {
      return null;
    }
  };
  let distro = '';
  try {
    distro = /PRETTY_NAME="(.+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    /* none */
  }
  let cc = '';
  try {
    cc = execFileSync('cc', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    /* none */
  }
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    distro,
    node: process.version,
    cc,
    limits: {
      max_queued_events: lim('max_queued_events'),
      max_user_watches: lim('max_user_watches'),
      max_user_instances: lim('max_user_instances'),
    },
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function rmrf(p) {
  rmSync(p, { recursive: true, force: true });
}
