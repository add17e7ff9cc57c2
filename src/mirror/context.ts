/** What every mirror step needs to know about its two ends, built once by the Mirror. */
import type { Destination } from './destination.js';

/** The fixed settings of one mirror, shared by reconcile and apply. */
export interface MirrorContext {
  /** The source root, absolute, without a trailing slash. */
  readonly source: string;
  readonly destination: Destination;
  /** rsync's last two arguments: `SRC/` and `DST/` (or `host:DST/`). */
  readonly endpoints: readonly string[];
  /** rsync arguments every run takes: the excludes and, for ssh, `-e`. */
  readonly rsyncArgs: readonly string[];
  /** The rsync program. */
  readonly rsync: string;
  /** Delete on the destination what the source lacks during a reconcile. */
  readonly delete: boolean;
  /** Report what would be done; change nothing. */
  readonly dryRun: boolean;
}
