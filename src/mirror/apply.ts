/**
 * Applying changes to the destination: files by one rsync per batch
 * (--files-from, NUL-separated, so any name passes), renames and deletes by
 * one sh script per run of them (locally or over ssh, see destination.ts).
 * rsync writes each file to a temporary name and renames it into place, so a
 * reader of the destination never sees a partial file (never --inplace).
 */
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import type { MirrorContext } from './context.js';
import { rootBytes, shellArgv } from './destination.js';
import type { RelPath } from './rel-path.js';
import { parseStats, runRsync, type RsyncOutcome, type RsyncStats } from './rsync.js';
import { shellCommand, shellQuote } from './shell-quote.js';

/** The result of sending one batch. */
export interface SendResult {
  readonly outcome: RsyncOutcome;
  readonly stats: RsyncStats;
  readonly stderr: string;
}

/**
 * Sends `paths` with one rsync. `deep`: directories are sent with their
 * whole content (-r); otherwise a listed directory is created empty (its
 * files come as their own entries). Paths gone meanwhile are skipped
 * (--ignore-missing-args): their delete or rename events follow.
 * `signal` stops rsync (SIGTERM: its temporary file is removed, the old copy stays).
 */
export async function sendPaths(ctx: MirrorContext, paths: readonly RelPath[], deep: boolean, signal?: AbortSignal): Promise<SendResult> {
  const list = Buffer.concat(paths.flatMap((path) => [path.bytes, Buffer.from([0])]));
  const args = [
    '-a', '--from0', '--files-from=-', '--ignore-missing-args', '--stats', ...(deep ? ['-r'] : []),
    ...(ctx.dryRun ? ['-n'] : []), ...ctx.rsyncArgs, ...ctx.endpoints,
  ];
  const result = await runRsync(args, { rsync: ctx.rsync, input: list, signal });
  return { outcome: result.outcome, stats: parseStats(result.stdout), stderr: result.stderr };
}

/** A rename or a delete on the destination. */
export type TreeOp =
  | { readonly type: 'rename'; readonly from: RelPath; readonly to: RelPath }
  | { readonly type: 'delete'; readonly path: RelPath };

/** How one {@link TreeOp} went: done, its source was not there (`missing`), or failed with a status. */
export type TreeOpStatus = 'done' | 'missing' | { readonly failed: number };

/** The status a rename reports when its source is absent on the destination. */
const MISSING = 200;

/** The sh lines of one op, ending by printing its status on a line of its own. */
function scriptLines(root: Buffer, op: TreeOp): Buffer {
  const nl = Buffer.from('\n');
  if (op.type === 'delete') {
    return Buffer.concat([shellCommand(['rm', '-rf', '--', op.path.under(root)]), Buffer.from('; echo "$?"'), nl]);
  }
  const from = shellQuote(op.from.under(root));
  const to = op.to.under(root);
  const parent = op.to.parent()?.under(root) ?? root;
  return Buffer.concat([
    Buffer.from('if [ -e '), from, Buffer.from(' ] || [ -h '), from, Buffer.from(' ]; then '),
    shellCommand(['mkdir', '-p', '--', parent]), Buffer.from(' && '),
    shellCommand(['mv', '-f', '-T', '--', op.from.under(root), to]),
    Buffer.from(`; echo "$?"; else echo ${MISSING}; fi`), nl,
  ]);
}

/** The result of one script: each op's status, or the destination was unreachable. */
export type ScriptResult =
  | { readonly outcome: 'ok'; readonly statuses: readonly TreeOpStatus[] }
  | { readonly outcome: 'unreachable'; readonly stderr: string };

/**
 * Runs `ops` in order in one sh at the destination. An op that fails does not
 * stop the next (each reports its own status). When fewer statuses come back
 * than ops (ssh could not connect, or the link dropped), the destination was
 * unreachable: nothing can be assumed done, and the caller keeps them all
 * (each op is idempotent: a rename done already reports `missing`).
 */
export function runTreeOps(ctx: MirrorContext, ops: readonly TreeOp[]): Promise<ScriptResult> {
  if (ctx.dryRun) return Promise.resolve({ outcome: 'ok', statuses: ops.map(() => 'done' as const) });
  const root = rootBytes(ctx.destination);
  const script = Buffer.concat(ops.map((op) => scriptLines(root, op)));
  const [program, ...args] = shellArgv(ctx.destination) as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdin.on('error', () => undefined); // ssh may fail before reading: its status says so
    child.stdin.end(script);
    child.once('error', reject);
    child.once('close', () => {
      const codes = stdout.split('\n').filter((line) => /^\d+$/.test(line)).map(Number);
      if (codes.length < ops.length) {
        resolve({ outcome: 'unreachable', stderr: stderr.trim() || `${program} ended before running every change` });
        return;
      }
      resolve({
        outcome: 'ok',
        statuses: codes.slice(0, ops.length).map((code) => (code === 0 ? 'done' : code === MISSING ? 'missing' : { failed: code })),
      });
    });
  });
}
