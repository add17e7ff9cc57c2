/**
 * The inotifyd daemon: watches from a config, events to schedulers, a
 * shutdown that lets tasks finish (up to a timeout), SIGHUP reload.
 */
import { IN_ISDIR, IN_Q_OVERFLOW, maskname } from '../constants.js';
import { ExcludeFilter } from '../exclude-filter.js';
import { choosePolling, Poller } from '../poll/index.js';
import type { InotifyEvent } from '../event.js';
import { Notifier } from '../notifier.js';
import { trackTransfers, type TransferComplete, type TransferTracker } from '../transfer/index.js';
import { WatchManager } from '../watch-manager.js';
import { Logger, LogSink, type TaskEvent, type TaskScheduler } from '../tasks/index.js';
import { loadConfig, TRANSFER_COMPLETE, type Action, type ResolvedConfig, type ResolvedWatch } from './config.js';

/** Options of {@link Daemon}. */
export interface DaemonOptions {
  /** Where log lines go (default: stderr). */
  sink?: LogSink;
  /** Log every task instead of running it. */
  dryRun?: boolean;
  /** DEBUG for every log name, whatever the config says. */
  debug?: boolean;
}

/** A running watch: its kernel side, and the map it feeds (swapped on reload). */
interface Running {
  watch: ResolvedWatch;
  notifier: Notifier | undefined;
  tracker: TransferTracker | undefined;
  poller: Poller | undefined;
}

/** The pseudo-event a completed transfer becomes (`root`: the watch's path). */
function transferEvent(transfer: TransferComplete, root: string): TaskEvent & { transfer: TransferComplete; root: string } {
  return { maskname: TRANSFER_COMPLETE, pathname: transfer.pathname, srcPathname: transfer.tempPathname, dir: false, transfer, root };
}

/**
 * pyinotifyd's daemon. Unlike pyinotifyd, a reload keeps the kernel watches
 * of unchanged watch entries (only the event map is swapped, so no event is
 * handled twice or missed there), and a failed reload keeps the old config.
 */
export class Daemon {
  /** The config module's path. */
  readonly configPath: string;
  /** Where every log line goes. */
  readonly sink: LogSink;
  /** The 'daemon' logger. */
  readonly log: Logger;
  readonly #dryRun: boolean;
  readonly #debug: boolean;
  #config: ResolvedConfig | undefined;
  #running: Running[] = [];
  #stopping: Promise<void> | undefined;
  #reloading: Promise<boolean> = Promise.resolve(true);
  /** Schedulers of earlier configs, finishing their tasks. */
  readonly #retired = new Set<TaskScheduler>();

  constructor(configPath: string, options: DaemonOptions = {}) {
    this.configPath = configPath;
    this.sink = options.sink ?? new LogSink();
    this.log = new Logger('daemon', this.sink);
    this.#dryRun = options.dryRun === true;
    this.#debug = options.debug === true;
  }

  /** The config in use. */
  get config(): ResolvedConfig | undefined {
    return this.#config;
  }

  /** Loads and validates the config (nothing is watched before it is valid), then starts every watch. */
  async start(): Promise<void> {
    const config = await loadConfig(this.configPath);
    this.#useConfig(config);
    this.#running = config.watches.map((watch) => this.#startWatch(watch));
    this.log.info(`inotifyd started${this.#dryRun ? ' (dry run)' : ''}: ${config.watches.length} watch${config.watches.length === 1 ? '' : 'es'} from ${config.file}`);
  }

  #useConfig(config: ResolvedConfig): void {
    this.sink.configure(this.#debug ? { ...config.logging, level: 'DEBUG', levels: {} } : config.logging);
    for (const scheduler of config.schedulers) scheduler._configure(this.sink, this.#dryRun);
    this.#config = config;
  }

  #startWatch(watch: ResolvedWatch): Running {
    const running: Running = { watch, notifier: undefined, tracker: undefined, poller: undefined };
    const watchLog = new Logger('watch', this.sink);
    const { poll, remote } = choosePolling(watch.path, watch.poll);
    const polling = poll !== undefined;
    if (remote !== undefined) watchLog.warning(`${remote.message} [${remote.code}]${polling ? `; polling it every ${watch.poll?.interval ?? 0} ms` : ''}`);
    if (watch.actions.size > 0 || watch.defaultActions !== undefined) {
      if (polling) {
        running.poller = this.#startPoller(running, watchLog);
      } else {
        const wm = new WatchManager();
        try {
          wm.addWatch(watch.path, watch.mask, { rec: watch.rec, autoAdd: watch.autoAdd, excludeFilter: watch.exclude });
        } catch (error) {
          wm.close();
          throw error;
        }
        // rescan: after a queue overflow the library re-reads the tree and reports what it missed as events.
        const notifier = new Notifier(wm, (event) => this.#dispatch(running, event), { rescan: true });
        notifier.on('overflow', () => watchLog.warning(`${watch.path}: the kernel queue overflowed: events were lost; rescanning, arrivals found are handled as events`));
        notifier.on('error', (error) => watchLog.error(`${watch.path}: ${error.message}`));
        running.notifier = notifier;
      }
    }
    if (watch.transferActions !== undefined) {
      const options = { ...watch.transfers, recursive: watch.rec, exclude: watch.exclude };
      // The same choice as above: polled with { force: true }, or inotify.
      const tracker = trackTransfers(watch.path, { ...options, poll: poll === undefined ? false : { ...poll, force: true } });
      tracker.on('complete', (transfer) => {
        const actions = running.watch.transferActions;
        if (actions !== undefined) this.#run(actions, transferEvent(transfer, running.watch.path));
      });
      tracker.on('overflow', () => watchLog.warning(`${watch.path}: the kernel queue overflowed (transfer tracking): arrivals may have been missed`));
      tracker.on('error', (error) => watchLog.error(`${watch.path}: ${error.message}`));
      // The remote filesystem warning is logged above, once per watch.
      tracker.on('warning', (warning) => {
        if ((warning as { code?: string }).code !== 'INOTIFY_REMOTE_FS') watchLog.warning(`${watch.path}: ${warning.message}`);
      });
      running.tracker = tracker;
    }
    watchLog.debug(`${polling ? 'polling' : 'watching'} ${watch.path} (mask ${maskname(watch.mask) || '0'}${watch.rec ? ', rec' : ''}${watch.autoAdd ? ', autoAdd' : ''})`);
    return running;
  }

  /** Polls a watch's path for its event map (a network or FUSE filesystem). */
  #startPoller(running: Running, watchLog: Logger): Poller {
    const watch = running.watch;
    const exclude = watch.exclude === undefined ? undefined : new ExcludeFilter(watch.exclude);
    const poller = new Poller(watch.path, { ...watch.poll, recursive: watch.rec, exclude: exclude === undefined ? undefined : (p) => exclude.matches(p) });
    poller.on('event', (event) => {
      if (((event.mask & ~IN_ISDIR) & running.watch.mask) !== 0 || running.watch.defaultActions !== undefined) this.#dispatch(running, event);
    });
    poller.on('warning', (warning) => watchLog.warning(warning.message));
    poller.on('error', (error) => watchLog.error(`${watch.path}: ${error.message}`));
    return poller;
  }

  #dispatch(running: Running, event: InotifyEvent): void {
    const watch = running.watch;
    let mask = (event.mask & ~IN_ISDIR) >>> 0;
    if ((mask & IN_Q_OVERFLOW) !== 0) mask = IN_Q_OVERFLOW;
    // One event may carry several flags (never in practice, but the mask allows it): each name is looked up.
    for (let bit = 1; bit !== 0 && bit <= mask; bit = (bit << 1) >>> 0) {
      if ((mask & bit) === 0) continue;
      const name = maskname(bit);
      const actions = watch.actions.has(name) ? watch.actions.get(name) : watch.defaultActions;
      if (actions !== undefined) this.#run(actions, event);
    }
  }

  #run(actions: readonly Action[], event: TaskEvent): void {
    for (const action of actions) {
      if (action.kind === 'cancel') action.scheduler.cancel(event);
      else action.scheduler.schedule(event);
    }
  }

  /**
   * SIGHUP: loads the config again. A config that does not load or validate
   * changes nothing (resolves false and logs why). Unchanged watch entries
   * keep their kernel watches and get the new map at once; new ones start
   * before removed ones stop. Schedulers no longer used finish their tasks.
   */
  reload(): Promise<boolean> {
    this.#reloading = this.#reloading.then(() => this.#reload());
    return this.#reloading;
  }

  async #reload(): Promise<boolean> {
    if (this.#stopping !== undefined) return false;
    const old = this.#config;
    let config: ResolvedConfig;
    try {
      config = await loadConfig(this.configPath);
    } catch (error) {
      this.log.error(`reload failed; the running config stays in use: ${(error as Error).message}`);
      return false;
    }
    const unused = new Map<string, Running[]>();
    for (const running of this.#running) unused.set(running.watch.signature, [...(unused.get(running.watch.signature) ?? []), running]);
    const next: Running[] = [];
    const started: Running[] = [];
    try {
      for (const watch of config.watches) {
        const same = unused.get(watch.signature)?.shift();
        if (same !== undefined) {
          next.push(same);
        } else {
          const running = this.#startWatch(watch);
          started.push(running);
          next.push(running);
        }
      }
    } catch (error) {
      for (const running of started) await this.#stopWatch(running);
      this.log.error(`reload failed; the running config stays in use: ${(error as Error).message}`);
      return false;
    }
    // From here on the new config is in use: swap each kept watch's map in one step.
    this.#useConfig(config);
    for (let i = 0; i < next.length; i++) (next[i] as Running).watch = config.watches[i] as ResolvedWatch;
    const stale = [...unused.values()].flat();
    this.#running = next;
    for (const running of stale) await this.#stopWatch(running);
    const retired = (old?.schedulers ?? []).filter((s) => !config.schedulers.includes(s));
    for (const scheduler of retired) {
      this.#retired.add(scheduler);
      void scheduler.shutdown(config.shutdownTimeout).finally(() => this.#retired.delete(scheduler));
    }
    this.log.info(`config reloaded from ${config.file}: ${config.watches.length} watch${config.watches.length === 1 ? '' : 'es'} (${next.length - started.length} kept, ${started.length} started, ${stale.length} stopped)`);
    return true;
  }

  async #stopWatch(running: Running): Promise<void> {
    await running.notifier?.close();
    running.poller?.close();
    await running.tracker?.close();
  }

  /**
   * SIGTERM/SIGINT: stops watching, lets delayed and running tasks finish
   * for up to `shutdownTimeout`, then cancels the rest (each logged).
   */
  shutdown(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    await this.#reloading.catch(() => undefined);
    const config = this.#config;
    this.log.info('stopping: no more events are taken');
    for (const running of this.#running) await this.#stopWatch(running);
    this.#running = [];
    if (config === undefined) return;
    const schedulers: TaskScheduler[] = [...config.schedulers, ...this.#retired];
    const pending = schedulers.reduce((n, s) => n + s.pending, 0);
    if (pending > 0) this.log.info(`waiting up to ${config.shutdownTimeout} ms for ${pending} task${pending === 1 ? '' : 's'}`);
    const cancelled = (await Promise.all(schedulers.map((s) => s.shutdown(config.shutdownTimeout)))).reduce((a, b) => a + b, 0);
    this.log.info(`stopped${cancelled > 0 ? `; ${cancelled} task${cancelled === 1 ? '' : 's'} cancelled` : ''}`);
  }
}
