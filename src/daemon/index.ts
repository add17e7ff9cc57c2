/** inotifyd: the config model and the daemon. */
export {
  ConfigError, EVENT_NAMES, SCHEDULER_KINDS, TRANSFER_COMPLETE, defineConfig, loadConfig, readExcludeFile, resolveConfig,
  type DaemonConfig, type EventMap, type EventMapValue, type ResolvedConfig, type WatchConfig,
} from './config.js';
export { Daemon, type DaemonOptions } from './daemon.js';
