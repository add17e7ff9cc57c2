/** The kernel's inotify limits, read from /proc/sys/fs/inotify. */
import * as fs from 'node:fs';

/** Per-user inotify limits (sysctl fs.inotify.*). */
export interface InotifyLimits {
  /** fs.inotify.max_user_watches: watches per user, across all instances. */
  maxUserWatches: number;
  /** fs.inotify.max_user_instances: inotify instances per user. */
  maxUserInstances: number;
  /** fs.inotify.max_queued_events: events queued per instance before IN_Q_OVERFLOW. */
  maxQueuedEvents: number;
}

function read(name: string): number {
  return Number.parseInt(fs.readFileSync(`/proc/sys/fs/inotify/${name}`, 'utf8'), 10);
}

/** Reads the current limits. Throws fs errors if /proc is not mounted. */
export function limits(): InotifyLimits {
  return {
    maxUserWatches: read('max_user_watches'),
    maxUserInstances: read('max_user_instances'),
    maxQueuedEvents: read('max_queued_events'),
  };
}
