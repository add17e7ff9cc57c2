/** The WatchManager behind the one-call entry points (watch(), trackTransfers()). */
import type { ExcludeFilterLike } from './exclude-filter.js';
import { WatchManager } from './watch-manager.js';

/** How {@link watchTree} watches. */
export interface WatchTreeOptions {
  /** The whole tree with auto-add (default), or the directory alone. */
  readonly recursive: boolean;
  readonly exclude: ExcludeFilterLike | undefined;
  readonly followSymlinks: boolean | undefined;
  /** Keep directory listings from the first walk on, for overflow rescans. */
  readonly trackEntries?: boolean;
}

/** A new WatchManager watching `target` for `mask`; closed again (no fd left) if the watch cannot be added. */
export function watchTree(target: string | Buffer, mask: number, options: WatchTreeOptions): WatchManager {
  const wm = new WatchManager({ trackEntries: options.trackEntries === true });
  try {
    wm.addWatch(target, mask, {
      rec: options.recursive, autoAdd: options.recursive, excludeFilter: options.exclude, followSymlinks: options.followSymlinks,
    });
  } catch (error) {
    wm.close();
    throw error;
  }
  return wm;
}
