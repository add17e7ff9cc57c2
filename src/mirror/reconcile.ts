/**
 * A reconcile: one rsync of the whole tree (rsync -a, and --delete when asked),
 * measured first by a dry run so that progress has totals (files and bytes to
 * send, not the size of the tree). Used before following events, after a
 * queue overflow, and when pending changes outgrew their bound.
 */
import type { MirrorContext } from './context.js';
import { ProgressMeter, type MirrorProgress } from './progress.js';
import { parseStats, runRsync, type RsyncOutcome, type RsyncStats } from './rsync.js';

/** Why a reconcile ran. */
export type ReconcileReason = 'initial' | 'overflow' | 'backlog';

/** What a reconcile did. */
export interface ReconcileResult {
  readonly outcome: RsyncOutcome;
  /** rsync's numbers (of the dry run when `dryRun`). */
  readonly stats: RsyncStats;
  /** With `dryRun`: rsync's itemized changes (`>f+++++++++ a/b`, `*deleting x`), one per line. */
  readonly changes: readonly string[];
  /** rsync's error output when it failed. */
  readonly stderr: string;
}

/** How often (ms) progress is reported while rsync runs. */
const PROGRESS_INTERVAL = 250;

/** Runs the reconcile; `onProgress` gets readings at most every 250 ms and a final one. */
export async function reconcile(
  ctx: MirrorContext, onProgress: (progress: MirrorProgress) => void, signal?: AbortSignal,
): Promise<ReconcileResult> {
  const base = ['-a', '--no-inc-recursive', ...(ctx.delete ? ['--delete'] : []), ...ctx.rsyncArgs, ...ctx.endpoints];
  const measured = await runRsync(['-n', '-i', '--stats', ...base], { rsync: ctx.rsync, signal });
  const planned = parseStats(measured.stdout);
  if (measured.outcome !== 'ok' || ctx.dryRun) {
    const changes = measured.stdout.split('\n').filter((line) => /^([<>ch.*][fdLDS ]|\*deleting)/.test(line));
    return { outcome: measured.outcome, stats: planned, changes, stderr: measured.stderr };
  }
  const meter = new ProgressMeter(planned.files, planned.bytes);
  let last = 0;
  const run = await runRsync(['--info=progress2', '--stats', ...base], {
    rsync: ctx.rsync,
    signal,
    onProgress: ({ files, bytes }) => {
      meter.update(files, bytes);
      const now = Date.now();
      if (now - last < PROGRESS_INTERVAL) return;
      last = now;
      onProgress(meter.snapshot(now));
    },
  });
  if (run.outcome === 'ok') meter.finish();
  onProgress(meter.snapshot());
  return { outcome: run.outcome, stats: parseStats(run.stdout), changes: [], stderr: run.stderr };
}
