#!/usr/bin/env node
/**
 * The `inotifyd` command: pyinotifyd for Node. Runs the tasks a config
 * module maps events to; see docs/daemon.md.
 *
 * Exit status: 0 after a clean stop, a passing --configtest or a --retry that
 * moved every file back; 1 for a bad config, a watch that cannot be set up or
 * a file --retry could not move; 2 for a command-line mistake.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Daemon } from '../daemon/daemon.js';
import { EVENT_NAMES, loadConfig } from '../daemon/config.js';
import { retryFailed } from '../tasks/failed-area.js';

const PROGRAM = 'inotifyd';
const DEFAULT_CONFIG = '/etc/inotifyd/config.mjs';
const UNIT_PATH = 'etc/systemd/system/inotifyd.service';
const CONFIG_PATH = 'etc/inotifyd/config.mjs';

const HELP = `Usage: ${PROGRAM} [options]

Runs tasks (commands, file rules, functions) when files change, as the
config module says (an ES module default-exporting defineConfig({...})).

Options:
  -c, --config PATH   the config module (default ${DEFAULT_CONFIG})
  -t, --configtest    load and check the config, then exit (0: good, 1: bad)
  -l, --list          print the event names an event map accepts
  -d, --debug         log at DEBUG level
      --dry-run       log what each task would do, run nothing
      --retry FILE    move a file from a pipeline's failed area back to where
                      it arrived (the running daemon runs its pipeline again);
                      may be given several times
      --install       write the systemd unit and a default config (under --root)
      --uninstall     remove the unit, and the config unless it was changed
      --root DIR      install/uninstall under DIR instead of / (or INOTIFYD_ROOT)
  -v, --version       print the version
  -h, --help          print this help

Signals: SIGTERM/SIGINT stop (tasks get the config's shutdownTimeout to
finish); SIGHUP reloads the config (a bad one is logged and ignored).
`;

class UsageError extends Error {}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** The default config --install writes (and --uninstall recognises as unchanged). */
export const DEFAULT_CONFIG_TEXT = `// inotifyd config: an ES module default-exporting defineConfig({...}). See docs/daemon.md.
// Check it with: inotifyd --configtest -c ${DEFAULT_CONFIG}
import { defineConfig, ShellScheduler } from 'inotify-native';

// Runs once per file that arrives complete in the spool (rsync, scp, cp, mv):
// the command is an argv list, {pathname} fills exactly one argument.
const arrived = new ShellScheduler({
  cmd: ['/usr/bin/logger', '-t', 'inotifyd', '--', 'arrived: {pathname}'],
  logname: 'arrived',
});

export default defineConfig({
  watches: [
    {
      path: '/var/spool/inotifyd/incoming',
      rec: true,
      autoAdd: true,
      eventMap: { TRANSFER_COMPLETE: arrived },
    },
  ],
  shutdownTimeout: '30s',
  logging: { level: 'INFO' },
});
`;

/** The unit --install writes. */
export function unitText(execStart: string): string {
  return `# inotifyd: written by \`inotifyd --install\`. To change it, run \`systemctl edit inotifyd\` (a drop-in
# survives reinstalls); e.g. add the directories your file rules write to ReadWritePaths=, or
# set CapabilityBoundingSet= to empty when no rule changes owners. See docs/daemon.md.
[Unit]
Description=inotifyd: run tasks when files change (inotify-native)
After=local-fs.target

[Service]
Type=exec
ExecStart=${execStart}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2s
# Longer than the config's shutdownTimeout (default 30s): tasks get to finish.
TimeoutStopSec=45s
# SIGTERM to inotifyd only: it stops its commands' process groups itself.
KillMode=mixed
ConfigurationDirectory=inotifyd
ProtectSystem=strict
ReadWritePaths=-/var/spool/inotifyd -/srv
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
NoNewPrivileges=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
RestrictRealtime=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
# File rules with user=/group= need CAP_CHOWN; fileMode/dirMode on others' files need CAP_FOWNER.
CapabilityBoundingSet=CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE
UMask=0027
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

function install(root: string, configArg: string | undefined): void {
  const unit = join(root, UNIT_PATH);
  const config = join(root, CONFIG_PATH);
  const script = resolve(__filename);
  const configPath = configArg ?? DEFAULT_CONFIG;
  mkdirSync(dirname(unit), { recursive: true });
  writeFileSync(unit, unitText(`${process.execPath} ${script} --config ${configPath}`));
  process.stdout.write(`wrote ${unit}\n`);
  if (existsSync(config)) {
    process.stdout.write(`kept ${config} (it exists)\n`);
  } else {
    mkdirSync(dirname(config), { recursive: true });
    writeFileSync(config, DEFAULT_CONFIG_TEXT);
    process.stdout.write(`wrote ${config}\n`);
  }
  if (root === '/') process.stdout.write('now: systemctl daemon-reload && systemctl enable --now inotifyd\n');
}

function uninstall(root: string): void {
  const unit = join(root, UNIT_PATH);
  const config = join(root, CONFIG_PATH);
  if (existsSync(unit)) {
    unlinkSync(unit);
    process.stdout.write(`removed ${unit}\n`);
  }
  if (existsSync(config)) {
    if (readFileSync(config, 'utf8') === DEFAULT_CONFIG_TEXT) {
      unlinkSync(config);
      process.stdout.write(`removed ${config}\n`);
      try {
        rmdirSync(dirname(config));
      } catch { /* not empty: the user's files stay */ }
    } else {
      process.stdout.write(`kept ${config} (changed since it was installed)\n`);
    }
  }
}

/** --retry: each failed file back to where it arrived; 1 when any could not be moved. */
function retry(files: readonly string[]): number {
  let status = 0;
  for (const file of files) {
    try {
      const source = retryFailed(resolve(file));
      process.stdout.write(`moved back: ${resolve(file)} -> ${source}\n`);
    } catch (error) {
      process.stderr.write(`${PROGRAM}: --retry ${file}: ${(error as Error).message}\n`);
      status = 1;
    }
  }
  return status;
}

/** `module.registerHooks` (Node >= 22.15): in-thread, synchronous hooks. Not in Node 20's types. */
type RegisterHooks = (hooks: {
  resolve: (specifier: string, context: unknown, next: (specifier: string, context: unknown) => unknown) => unknown;
}) => unknown;

/** Makes `import ... from 'inotify-native'` in a config anywhere (/etc/inotifyd) resolve to this very copy of the library. */
function registerSelfResolution(): void {
  const target = pathToFileURL(join(__dirname, '..', 'esm.mjs')).href;
  // registerHooks where Node has it: Node 26 deprecates module.register() (DEP0205).
  const registerHooks = (nodeModule as { registerHooks?: RegisterHooks }).registerHooks;
  if (typeof registerHooks === 'function') {
    registerHooks({
      resolve: (specifier, context, next) => (specifier === 'inotify-native' ? { url: target, shortCircuit: true } : next(specifier, context)),
    });
    return;
  }
  const hooks = `export async function resolve(specifier, context, next) {
  if (specifier === 'inotify-native') return { url: ${JSON.stringify(target)}, shortCircuit: true };
  return next(specifier, context);
}`;
  nodeModule.register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        configtest: { type: 'boolean', short: 't' },
        list: { type: 'boolean', short: 'l' },
        debug: { type: 'boolean', short: 'd' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
        'dry-run': { type: 'boolean' },
        install: { type: 'boolean' },
        uninstall: { type: 'boolean' },
        root: { type: 'string' },
        retry: { type: 'string', multiple: true },
      },
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nTry '${PROGRAM} --help'.`);
  }
  const modes = ['configtest', 'list', 'version', 'help', 'install', 'uninstall', 'retry'].filter((m) => values[m as keyof typeof values] === true || (m === 'retry' && values.retry !== undefined));
  if (modes.length > 1) throw new UsageError(`--${modes[0] ?? ''} and --${modes[1] ?? ''} cannot be used together`);
  if (values.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version === true) {
    process.stdout.write(`${PROGRAM} ${version()}\n`);
    return 0;
  }
  if (values.retry !== undefined) return retry(values.retry);
  if (values.list === true) {
    process.stdout.write(`${EVENT_NAMES.join('\n')}\n`);
    return 0;
  }
  const root = resolve(values.root ?? process.env.INOTIFYD_ROOT ?? '/');
  if (values.root !== undefined && values.install !== true && values.uninstall !== true) throw new UsageError('--root goes with --install or --uninstall');
  if (values.install === true) {
    install(root, values.config);
    return 0;
  }
  if (values.uninstall === true) {
    uninstall(root);
    return 0;
  }
  registerSelfResolution();
  const configPath = resolve(values.config ?? DEFAULT_CONFIG);
  if (values.configtest === true) {
    const config = await loadConfig(configPath);
    process.stdout.write(`${configPath}: config OK (${config.watches.length} watch${config.watches.length === 1 ? '' : 'es'}, ${config.schedulers.length} scheduler${config.schedulers.length === 1 ? '' : 's'})\n`);
    return 0;
  }
  const daemon = new Daemon(configPath, { dryRun: values['dry-run'] === true, debug: values.debug === true });
  let signals = 0;
  const stop = (signal: string): void => {
    if (++signals > 1) {
      daemon.log.warning(`${signal} again: exit now`);
      process.exit(1);
    }
    daemon.log.info(`${signal}: shutting down`);
    void daemon.shutdown().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    daemon.log.info('SIGHUP: reloading the config');
    void daemon.reload();
  });
  await daemon.start();
  return -1;
}

main(process.argv.slice(2)).then((status) => {
  if (status >= 0) process.exitCode = status;
}, (error: Error & { code?: string }) => {
  process.stderr.write(`${PROGRAM}: ${error.message}\n`);
  if (process.argv.includes('-d') || process.argv.includes('--debug')) process.stderr.write(`${error.stack ?? ''}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
