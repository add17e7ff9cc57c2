/**
 * Forcing a real kernel queue overflow: fs.inotify.max_queued_events applies
 * to inotify instances created while it is set, so a tiny value set around
 * one constructor call gives that instance a tiny queue (and only it: the
 * original value is restored at once, even on failure).
 *
 * The setting is machine-wide and vitest runs test files in several
 * processes (and a machine may run two suites at once): two unguarded
 * set/restore pairs that interleave can read each other's tiny value as "the
 * original" and leave it set for good. A lock directory, shared by every
 * process, makes each set/restore pair whole.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const QUEUE_LIMIT = '/proc/sys/fs/inotify/max_queued_events';
const LOCK = path.join(os.tmpdir(), 'inotify-native-test-queue-limit.lock');
const OWNER = path.join(LOCK, 'pid');

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
  lock();
  try {
    const original = fs.readFileSync(QUEUE_LIMIT, 'utf8').trim();
    fs.writeFileSync(QUEUE_LIMIT, String(limit));
    try {
      return create();
    } finally {
      fs.writeFileSync(QUEUE_LIMIT, original);
    }
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Takes the lock (mkdir is atomic), waiting for its holder; a lock whose process is gone is taken over. */
function lock(): void {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      fs.writeFileSync(OWNER, String(process.pid));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (holderGone() || Date.now() > deadline) fs.rmSync(LOCK, { recursive: true, force: true });
    else Atomics.wait(pause, 0, 0, 2); // held for microseconds: a short sleep, synchronously (the caller is synchronous)
  }
}

function holderGone(): boolean {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(OWNER, 'utf8'));
  } catch {
    return false; // just made, its pid not written yet
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
