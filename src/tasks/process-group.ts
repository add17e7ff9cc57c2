/**
 * What is left of a stopped run's process group once its leader has exited.
 *
 * A member can miss the stop signal: dash, for one, takes a signal that lands
 * between its fork of a background job and that job's exec in the child's
 * copy of its handler, then execs the job anyway, so `sleep 600 &` outlives a
 * SIGTERM sent to the whole group. Such a process keeps whatever it inherited
 * (a port, our stdout) and would outlive a restart or our exit. A stop
 * therefore ends only when no live member is left.
 */
import * as fs from 'node:fs';

/** How often the group is looked at while waiting for it to empty (each look reads every /proc/N/stat). */
const POLL_MS = 100;
/** After SIGKILL, how long to wait for the kernel to finish the members (one in uninterruptible sleep may take long). */
const AFTER_KILL_MS = 2000;

/**
 * The pids in process group `pgid` that are alive: zombies do not count (a
 * member whose parent exited is reparented, and an init that does not reap,
 * as in many containers, leaves it a zombie for good).
 */
export function liveMembers(pgid: number): number[] {
  try {
    process.kill(-pgid, 0);
  } catch {
    return []; // ESRCH: the group is empty
  }
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return []; // no /proc: nothing to look at, and nothing more to wait for
  }
  for (const entry of entries) {
    const first = entry.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    if (Number(fields[2]) === pgid && state !== 'Z' && state !== 'X') pids.push(Number(entry));
  }
  return pids;
}

/**
 * After a stopped run's leader exited: sends `signal` once more to members
 * still alive (they may have missed it), then SIGKILL at `killAt` (a
 * `performance.now()` time), and resolves when none is alive. Resolves with
 * how many members were found alive at the start (0 in the usual case).
 */
export async function endGroup(pgid: number, signal: NodeJS.Signals, killAt: number): Promise<number> {
  const left = liveMembers(pgid).length;
  if (left === 0) return 0;
  const send = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // gone meanwhile
    }
  };
  send(signal);
  let killed = false;
  let giveUpAt = Infinity;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (liveMembers(pgid).length === 0) return left;
    const now = performance.now();
    if (!killed && now >= killAt) {
      killed = true;
      send('SIGKILL');
      giveUpAt = now + AFTER_KILL_MS;
    } else if (now >= giveUpAt) {
      return left; // SIGKILL sent: what remains is the kernel's to finish
    }
  }
}
