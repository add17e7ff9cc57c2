/** The public shapes of transfer tracking: what a tracker reports and the options it takes. */
import {
  IN_ATTRIB, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO, IN_OPEN,
} from '../constants.js';
import type { InotifyEvent } from '../event.js';
import type { TransferFilter } from './names.js';

/**
 * The events a tracker needs from the kernel. Watch with at least this mask
 * (recursively, with autoAdd) when you build the WatchManager yourself.
 */
export const TRANSFER_EVENTS = (IN_CREATE | IN_OPEN | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
  | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE) >>> 0;

/**
 * How a file arrived:
 * - `rsync`: rsync's temporary file (`.name.XXXXXX`, or `.~tmp~/name` with
 *   --delay-updates, or a --partial-dir file) renamed to its final name;
 * - `atomic-rename`: another temporary name (`x.tmp`, `.x.swp`, `x~`,
 *   `sedXXXXXX`, ...), or a file still being settled, or a name the filter
 *   does not select, renamed to this name;
 * - `close-write`: written under its final name and closed, then left alone
 *   for `settleTime` (cp, scp, SFTP, `>`);
 * - `inplace`: written under its final name and touched again after being
 *   closed (rsync --inplace re-opens it to set attributes; writers that
 *   close and re-open), or an existing file rewritten in place (no
 *   IN_CREATE): complete after `quietPeriod` of silence;
 * - `moved-in`: renamed into the tree from outside it (or from a place the
 *   tracker cannot see, such as rsync --temp-dir), alone or inside a
 *   directory that was moved in;
 * - `found`: seen by a directory listing, not by its events, so how it was
 *   written is unknown: already in a directory when its watch was armed (a
 *   directory created, and filled, faster than it could be watched), there at
 *   start (`reportExisting`), or arrived or finished in a queue overflow's
 *   blind spot (the rescan found it); complete after `quietPeriod` of silence,
 *   and not while a process holds it open for writing.
 */
export type ArrivalKind = 'rsync' | 'atomic-rename' | 'close-write' | 'inplace' | 'moved-in' | 'found';

/** Why a transfer was given up. */
export type AbandonReason =
  /** Its file (the temp, or the file being written) was deleted (rsync deletes its temp on SIGTERM/SIGINT). */
  | 'deleted'
  /** Its file was renamed to a name the filter does not select, or to another program's temporary name. */
  | 'renamed'
  /** Another file was renamed over it before it was complete. */
  | 'replaced'
  /** Nothing happened to it for `abandonAfter` ms (e.g. rsync was SIGKILLed and left its temp). */
  | 'timeout'
  /** More than `maxTransfers` were in progress: the oldest was dropped. */
  | 'evicted';

/** A transfer began: a file that will become `finalPathname` is being written at `pathname`. */
export interface TransferStart {
  readonly type: 'start';
  /** Identifies the transfer in its later 'complete' or 'abandoned'. */
  readonly id: number;
  /** Where the data is being written (a temporary name, or the final name itself). */
  readonly pathname: string;
  /** Where the file is expected to end up (for rsync's temps, derived from the temp name). */
  readonly finalPathname: string;
  /** When the tracker saw it begin (ms since the epoch). */
  readonly time: number;
}

/** A file arrived and is complete. */
export interface TransferComplete {
  readonly type: 'complete';
  /** The id of its 'start' (a fresh id when no start was reported, e.g. for `moved-in`). */
  readonly id: number;
  /** The final pathname. Never a temporary name. */
  readonly pathname: string;
  /** How it arrived. */
  readonly via: ArrivalKind;
  /** The temporary (or earlier) name it was renamed from, if it was renamed into place. */
  readonly tempPathname: string | undefined;
  /** Its size from stat() at completion; undefined when stat failed with an error other than ENOENT. */
  readonly size: number | undefined;
  /** When its 'start' was reported (ms since the epoch); undefined when there was none. */
  readonly startedAt: number | undefined;
  /** When it was found complete (ms since the epoch). */
  readonly time: number;
}

/** A transfer that was started will not complete. */
export interface TransferAbandoned {
  readonly type: 'abandoned';
  /** The id of its 'start'. */
  readonly id: number;
  /** Where its data was last seen (usually the temporary name). */
  readonly pathname: string;
  /** Where it would have ended up. */
  readonly finalPathname: string;
  readonly reason: AbandonReason;
  /** When its 'start' was reported (ms since the epoch). */
  readonly startedAt: number;
  /** When it was given up (ms since the epoch). */
  readonly time: number;
}

/** Any of the three notifications. */
export type TransferNotification = TransferStart | TransferComplete | TransferAbandoned;

/** A transfer in progress, as {@link TransferTracker.inProgress} lists it. */
export interface TransferInProgress {
  readonly id: number;
  /** Where its data is now; undefined while it is between a rename's two halves or moved out of sight. */
  readonly pathname: string | undefined;
  readonly finalPathname: string;
  readonly state: 'writing' | 'settling' | 'quiet' | 'moved' | 'vanished';
  readonly startedAt: number;
}

/** Events of a {@link TransferTracker}. */
export interface TransferEvents {
  start: [transfer: TransferStart];
  complete: [transfer: TransferComplete];
  abandoned: [transfer: TransferAbandoned];
  /**
   * The kernel queue overflowed (IN_Q_OVERFLOW). Under a rescanning Notifier
   * (trackTransfers' default) the tree is re-read and what arrived meanwhile is
   * reported, as `found`; otherwise arrivals may have been missed. With no
   * listener, a 'warning' says so (see docs/transfers.md, "After a queue overflow").
   */
  overflow: [event: InotifyEvent];
  /** A hook failed, or (with trackTransfers) reading the kernel's queue failed: iterations end with it. */
  error: [error: Error];
  /**
   * (With trackTransfers) a problem that leaves watching intact, e.g. a new
   * directory that could not be watched (ENAMETOOLONG, EACCES, ENOSPC):
   * arrivals below it are not seen; everything else still is, and
   * iterations go on. Without a 'warning' listener it is a process warning
   * (`process.emitWarning`), never silent.
   */
  warning: [error: Error];
}

/** Options of {@link TransferTracker}. */
export interface TransferTrackerOptions {
  /**
   * Which final files matter, in the pattern language of docs/patterns.md:
   * `'*.raw'` (a name at any depth), a path or glob relative to the watched
   * directory (with trackTransfers; the current directory otherwise), an
   * absolute path, a RegExp or function of the pathname, or a list of these.
   * Files that do not match are neither tracked nor reported. Default: all.
   */
  filter?: TransferFilter;
  /**
   * How long (ms) a file written under its final name must stay untouched
   * after its last event before it is complete, when it was touched again
   * after a close or rewritten in place (`inplace`), or found by a scan
   * (`found`). Default 2000.
   */
  quietPeriod?: number;
  /**
   * How long (ms) a file must stay untouched after its writer closed it
   * (IN_CLOSE_WRITE) before it is complete as `close-write`. A rename, a
   * re-open or a new write within this time cancels it. Default 500.
   */
  settleTime?: number;
  /** How long (ms) an unfinished transfer may see no event before it is abandoned ('timeout'). Default 600000 (10 min). */
  abandonAfter?: number;
  /** More temporary-name patterns (tested against the basename), added to {@link DEFAULT_TEMP_PATTERNS}. */
  tempPatterns?: readonly RegExp[];
  /** Use {@link DEFAULT_TEMP_PATTERNS} (default true). */
  defaultTempPatterns?: boolean;
  /** More holding-directory names (e.g. your rsync `--partial-dir`), added to {@link DEFAULT_TEMP_DIRS}. */
  tempDirs?: readonly string[];
  /** At most this many transfers are tracked at once; the oldest is abandoned ('evicted') beyond it. Default 10000. */
  maxTransfers?: number;
}
