/**
 * The name a losing version of a conflict is kept under:
 * `name.conflict-<label>-<YYYYMMDD-HHMMSS>.ext` (UTC), next to the original,
 * so that it sorts beside it and keeps its extension (it still opens in the
 * same program). `-2`, `-3`... are added when that name is taken.
 */
import { Buffer } from 'node:buffer';
import { RelPath } from './rel-path.js';

function stamp(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}-`
    + `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
}

/** A label safe in a file name: letters, digits, '.', '_' and '-' (anything else becomes '_'). */
export function conflictLabel(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'side';
}

/**
 * A free conflict name for `path`: `taken` says whether a candidate exists
 * (on either side: it becomes a path on both). `label` says whose version it holds.
 */
export async function conflictPath(path: RelPath, label: string, taken: (candidate: RelPath) => Promise<boolean>, now = new Date()): Promise<RelPath> {
  const slash = path.bytes.lastIndexOf(0x2f);
  const dir = path.bytes.subarray(0, slash + 1);
  const base = path.bytes.subarray(slash + 1);
  const dot = base.lastIndexOf(0x2e);
  // A leading dot (.bashrc) is part of the name, not an extension.
  const [stem, ext] = dot > 0 ? [base.subarray(0, dot), base.subarray(dot)] : [base, Buffer.alloc(0)];
  const tag = `.conflict-${conflictLabel(label)}-${stamp(now)}`;
  for (let n = 1; ; n++) {
    const candidate = RelPath.from(Buffer.concat([dir, stem, Buffer.from(n === 1 ? tag : `${tag}-${n}`), ext]));
    if (!await taken(candidate)) return candidate;
  }
}
