/**
 * Running rsync: the argv, its progress output, its --stats, and what its
 * exit status means for a mirror (done, retry later, or give up on this batch).
 */
import type { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { systemError, type CodedError } from '../errors.js';

/** How rsync ended, as the mirror acts on it. */
export type RsyncOutcome =
  /** Success, or files that vanished meanwhile (24: their own events follow). */
  | 'ok'
  /** The destination cannot be reached now (ssh, socket, timeout): keep the work, try later. */
  | 'unreachable'
  /** Anything else (partial transfer, I/O error, usage): reported, not retried blindly. */
  | 'failed';

/** Exit statuses that mean "the other side is not there now" ([rsync errcode.h]; 255 is ssh's own). */
const UNREACHABLE = new Set([5, 10, 12, 30, 35, 255]);

/** What an rsync exit status means for the mirror. */
export function classifyExit(code: number | null): RsyncOutcome {
  if (code === 0 || code === 24) return 'ok';
  if (code === null || UNREACHABLE.has(code)) return 'unreachable';
  return 'failed';
}

/** One progress reading from `--info=progress2`. */
export interface RsyncProgressLine {
  /** Bytes transferred so far. */
  readonly bytes: number;
  /** Files transferred so far (`xfr#N`). */
  readonly files: number;
}

/** A `--info=progress2` line: `   1,234  45%  1.2MB/s  0:00:01 (xfr#3, to-chk=2/10)`. */
const PROGRESS = /^\s*([\d,]+)\s+\d+%.*?(?:xfr#(\d+))?/;

/** Parses a progress2 line (split at \r or \n), or undefined for any other line. */
export function parseProgressLine(line: string): RsyncProgressLine | undefined {
  const match = PROGRESS.exec(line);
  if (match === null) return undefined;
  return { bytes: Number((match[1] as string).replace(/,/g, '')), files: Number(match[2] ?? 0) };
}

/** The parts of `--stats` the mirror reads. */
export interface RsyncStats {
  /** "Number of regular files transferred". */
  readonly files: number;
  /** "Total transferred file size" (bytes of the files that were sent). */
  readonly bytes: number;
  /** "Literal data": bytes that really crossed (not matched from the old copy). */
  readonly literalBytes: number;
}

function statNumber(text: string, label: string): number {
  const match = new RegExp(`^${label}: ([\\d,]+)`, 'm').exec(text);
  return match === null ? 0 : Number((match[1] as string).replace(/,/g, ''));
}

/** Reads the numbers of `--stats` output (0 for a line that is absent). */
export function parseStats(text: string): RsyncStats {
  return {
    files: statNumber(text, 'Number of regular files transferred'),
    bytes: statNumber(text, 'Total transferred file size'),
    literalBytes: statNumber(text, 'Literal data'),
  };
}

/** The result of one rsync run. */
export interface RsyncResult {
  readonly code: number | null;
  readonly outcome: RsyncOutcome;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runRsync}. */
export interface RunRsyncOptions {
  /** The rsync program (default 'rsync'). */
  readonly rsync?: string;
  /** Bytes for rsync's stdin (e.g. a `--files-from=-` list). */
  readonly input?: Buffer;
  /** Called with each progress2 reading. */
  readonly onProgress?: (progress: RsyncProgressLine) => void;
  /** Kills rsync (SIGTERM) when aborted. */
  readonly signal?: AbortSignal;
}

/**
 * Runs rsync with `args` (an argv: no shell). Resolves with its status and
 * output; rejects only when rsync cannot be started (ENOENT with a hint).
 */
export function runRsync(args: readonly string[], options: RunRsyncOptions = {}): Promise<RsyncResult> {
  const program = options.rsync ?? 'rsync';
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (options.onProgress === undefined) return;
      const lines = (partial + chunk).split(/[\r\n]/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const progress = parseProgressLine(line);
        if (progress !== undefined) options.onProgress(progress);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdin.on('error', () => undefined); // rsync may exit before reading all of it; its status says why
    child.stdin.end(options.input);
    child.once('error', (error: CodedError) => {
      if (error.code === 'ENOENT') reject(systemError('ENOENT', 'spawn', program, 'rsync is needed: install the rsync package'));
      else if (error.name !== 'AbortError') reject(error);
    });
    child.once('close', (code) => {
      resolve({ code, outcome: classifyExit(code), stdout, stderr });
    });
  });
}
