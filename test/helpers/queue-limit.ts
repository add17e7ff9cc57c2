/**
 * Forcing a real kernel queue overflow: fs.inotify.max_queued_events applies
 * to inotify instances created while it is set, so a tiny value set around
 * one constructor call gives that instance a tiny queue (and only it: the
 * original value is restored at once, even on failure).
 */
import * as fs from 'node:fs';

const QUEUE_LIMIT = '/proc/sys/fs/inotify/max_queued_events';

/** Whether this process may set the limit (root, outside a read-only /proc/sys): tests that need it skip otherwise. */
export const canLimitQueue = ((): boolean => {
  try {
    fs.accessSync(QUEUE_LIMIT, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
})();

/** Runs `create` (which must create the inotify instance) with max_queued_events at `limit`, restoring it at once. */
export function withQueueLimit<T>(limit: number, create: () => T): T {
  const original = fs.readFileSync(QUEUE_LIMIT, 'utf8').trim();
  fs.writeFileSync(QUEUE_LIMIT, String(limit));
  try {
    return create();
  } finally {
    fs.writeFileSync(QUEUE_LIMIT, original);
  }
}
