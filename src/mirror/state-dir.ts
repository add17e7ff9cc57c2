/**
 * Where two-way sync keeps its state: `--state DIR`, or by default a
 * directory per pair of roots under the XDG state home
 * (`$XDG_STATE_HOME/inotify-mirror/<hash>`, `~/.local/state/...` when unset),
 * so that the same two roots find their state again and other pairs never
 * share it.
 */
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { systemError } from '../errors.js';

/** The default state directory of the pair (`first`, `second`), both absolute. */
export function defaultStateDir(first: string, second: string): string {
  const home = process.env.XDG_STATE_HOME !== undefined && nodePath.isAbsolute(process.env.XDG_STATE_HOME)
    ? process.env.XDG_STATE_HOME
    : nodePath.join(os.homedir(), '.local', 'state');
  const pair = createHash('sha256').update(`${first}\0${second}`).digest('hex').slice(0, 16);
  return nodePath.join(home, 'inotify-mirror', pair);
}

/**
 * Checks that `dir` is not inside a synced root (its journal would be synced
 * and rewritten with every change) unless `excluded` says that root skips it.
 * Throws EINVAL naming the directory.
 */
export function checkStateDir(dir: string, roots: readonly string[], excluded: readonly ((pathname: string) => boolean)[]): void {
  for (const [i, root] of roots.entries()) {
    const inside = dir === root || dir.startsWith(`${root}/`);
    if (inside && excluded[i]?.(dir) !== true) {
      throw systemError('EINVAL', 'mirror', dir, `the state directory is inside the synced root ${root}: choose another --state or --exclude it`);
    }
  }
}
