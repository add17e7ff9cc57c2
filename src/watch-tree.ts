/** The WatchManager behind the one-call entry points (watch(), trackTransfers()). */
import * as nodePath from 'node:path';
import { compileExclude, type ExcludeOption } from './pattern.js';
import { WatchManager } from './watch-manager.js';

/** How {@link watchTree} watches. */
export interface WatchTreeOptions {
  /** The whole tree with auto-add (default), or the directory alone. */
  readonly recursive: boolean;
  /** In the pattern language of docs/patterns.md, relative to `target`. */
  readonly exclude: ExcludeOption | undefined;
  readonly followSymlinks: boolean | undefined;
  /** Keep directory listings from the first walk on, for overflow rescans. */
  readonly trackEntries?: boolean;
}

/** A new WatchManager watching `target` for `mask`; closed again (no fd left) if the watch cannot be added. */
export function watchTree(target: string | Buffer, mask: number, options: WatchTreeOptions): WatchManager {
  const root = nodePath.resolve(typeof target === 'string' ? target : target.toString('utf8'));
  // Compiled before the WatchManager exists, so a bad pattern leaves nothing open.
  const excludeFilter = compileExclude(options.exclude, { roots: [root], name: 'options.exclude' });
  const wm = new WatchManager({ trackEntries: options.trackEntries === true });
  try {
    wm.addWatch(target, mask, {
      rec: options.recursive, autoAdd: options.recursive, excludeFilter, followSymlinks: options.followSymlinks,
    });
  } catch (error) {
    wm.close();
    throw error;
  }
  return wm;
}
