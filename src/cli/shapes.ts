/**
 * Names the shape of each history (`--profile`): how the file got there.
 * The rules follow sequences observed on Linux 6.x with rsync 3.x, cp, mv
 * and editors (docs/cli.md lists them); a sequence that fits no rule is
 * reported as it is, named by what it did (modified in place, read...).
 */
import * as nodePath from 'node:path';
import { DEFAULT_TEMP_DIRS, DEFAULT_TEMP_PATTERNS, NameClassifier } from '../transfer/names.js';
import { relativePaths, type PathView } from './format.js';
import type { History, ProfileRecorder, Step } from './history.js';

/** Every shape the profile can name, with the label it prints. */
export const SHAPES = {
  rsync: 'rsync temp file + rename',
  inplace: 'rsync --inplace',
  copy: 'plain copy (cp)',
  empty: 'created empty (touch)',
  atomic: 'atomic save by rename',
  renamedIntoPlace: 'written, then renamed into place',
  movedIn: 'moved in from outside',
  mkdirTree: 'mkdir -p tree',
  mkdir: 'directory created',
  scanned: 'found in a new directory (written before it was watched)',
  renamed: 'renamed (mv inside the tree)',
  movedOut: 'moved out of the tree',
  deleted: 'deleted',
  tempFile: 'temporary file (created and deleted)',
  rsyncAbandoned: 'abandoned rsync temp file',
  stillOpen: 'created, still being written',
  modified: 'modified in place',
  read: 'read',
  attrib: 'metadata changed (chmod, touch)',
  dirMovedIn: 'directory moved in from outside',
  dirRenamed: 'directory renamed',
  dirDeleted: 'directory deleted',
  dirListed: 'directory listed',
  dirAttrib: 'directory metadata changed',
  dirChanged: 'directory changed',
  other: 'other',
} as const;

/** A shape's key in {@link SHAPES}. */
export type ShapeId = keyof typeof SHAPES;

/**
 * Names are read by the transfer tracker's classifier: rsync's temp names
 * (truncated ones included), its holding directories (`.~tmp~`,
 * `.rsync-partial`) and other programs' temporary names.
 */
const names = new NameClassifier(DEFAULT_TEMP_PATTERNS, DEFAULT_TEMP_DIRS);

/** One line of the profile. */
export interface ProfileEntry {
  /** The final path as printed: relative to the watched root, `/` after a directory, `./` for the root. */
  readonly display: string;
  readonly dir: boolean;
  readonly shape: ShapeId;
  /** The history, compacted: `CREATE .a.XXXXXX`, `MODIFY x3`, `MOVED_TO a`... */
  readonly sequence: readonly string[];
  /** For renamed files: the name the file was written under (e.g. the temp name). */
  readonly writtenAs: string | undefined;
  /** How a file that arrived then left: deleted, or moved out of the tree (when the shape does not say it). */
  readonly fate: 'deleted' | 'moved out' | undefined;
  /** The histories the line stands for (several for a mkdir -p tree). */
  readonly histories: readonly History[];
}

/** The whole profile. */
export interface Profile {
  readonly roots: readonly string[];
  readonly events: number;
  readonly elapsedMs: number;
  readonly overflowed: boolean;
  readonly entries: readonly ProfileEntry[];
}

const READS = new Set(['OPEN', 'ACCESS', 'CLOSE_NOWRITE']);

/** Turns the recorded histories into named entries, in the order they began. */
export function analyze(recorder: ProfileRecorder, now = Date.now()): Profile {
  const view = displayView(recorder.roots);
  const entries: Array<{ id: number; entry: ProfileEntry }> = [];
  // Directories created while watching group into trees, each counted from its top.
  const createdDirs = recorder.histories.filter((h) => h.dir && h.created && h.renames.length === 0 && h.ended === undefined && !h.movedIn);
  const createdPaths = new Set(createdDirs.map((h) => h.path));
  const trees = new Map<string, History[]>();
  for (const dir of createdDirs) {
    let top = dir.path;
    while (createdPaths.has(nodePath.dirname(top)) && nodePath.dirname(top) !== top) top = nodePath.dirname(top);
    const members = trees.get(top);
    if (members === undefined) trees.set(top, [dir]);
    else members.push(dir);
  }
  for (const members of trees.values()) {
    const top = members[0] as History; // histories are in creation order: a parent before its children
    if (members.length === 1) {
      entries.push({ id: top.id, entry: entryFor(top, 'mkdir', view) });
      continue;
    }
    const sequence = members.map((h) => `CREATE ${view(h.path)}${h.scanned ? ' (scan)' : ''}`);
    entries.push({
      id: top.id,
      entry: { display: `${view(top.path)}/`, dir: true, shape: 'mkdirTree', sequence, writtenAs: undefined, fate: undefined, histories: members },
    });
  }
  const grouped = new Set(createdDirs);
  for (const history of recorder.histories) {
    if (history.steps.length === 0 || grouped.has(history)) continue;
    const shape = history.dir ? classifyDirectory(history) : classifyFile(history);
    entries.push({ id: history.id, entry: entryFor(history, shape, view) });
  }
  entries.sort((a, b) => a.id - b.id);
  return {
    roots: recorder.roots,
    events: recorder.events,
    elapsedMs: now - recorder.startTime,
    overflowed: recorder.overflowed,
    entries: entries.map((e) => e.entry),
  };
}

/** The shape of a file's history: how it arrived (or, for a file that was there before, what happened to it). */
export function classifyFile(h: History): ShapeId {
  const kinds = h.steps.map((s) => s.kind);
  if (h.movedIn) return 'movedIn';
  const first = h.renames[0];
  if (h.created && first !== undefined) {
    if (isRsyncTemp(first.from, first.to)) return 'rsync';
    return h.renames.some((r) => r.replaced) ? 'atomic' : 'renamedIntoPlace';
  }
  if (h.created && h.ended === 'deleted') {
    return names.classify(h.path).kind === 'rsync-temp' ? 'rsyncAbandoned' : 'tempFile';
  }
  if (!h.created && h.ended === 'moved out') return 'movedOut';
  if (!h.created && h.ended === 'deleted') return 'deleted';
  if (first !== undefined) return 'renamed';
  if (h.scanned) return 'scanned';
  if (isInplace(kinds)) return 'inplace';
  if (h.created) {
    if (!kinds.includes('CLOSE_WRITE')) return 'stillOpen';
    return kinds.includes('MODIFY') ? 'copy' : 'empty';
  }
  if (kinds.includes('MODIFY') || kinds.includes('CLOSE_WRITE')) return 'modified';
  if (kinds.every((k) => READS.has(k))) return 'read';
  if (kinds.every((k) => k === 'ATTRIB' || READS.has(k))) return 'attrib';
  return 'other';
}

/** Shapes that already say how the history ended. */
const ENDINGS: ReadonlySet<ShapeId> = new Set(['movedOut', 'deleted', 'tempFile', 'rsyncAbandoned', 'dirDeleted']);

/** The shape of a directory's history (created directories are grouped into trees by {@link analyze}). */
export function classifyDirectory(h: History): ShapeId {
  if (h.movedIn) return 'dirMovedIn';
  if (h.renames.length > 0) return 'dirRenamed';
  if (h.ended === 'deleted') return 'dirDeleted';
  if (h.ended === 'moved out') return 'movedOut';
  if (h.created) return 'mkdir';
  const kinds = h.steps.map((s) => s.kind);
  if (kinds.every((k) => READS.has(k))) return 'dirListed';
  if (kinds.every((k) => k === 'ATTRIB' || READS.has(k))) return 'dirAttrib';
  return 'dirChanged';
}

/**
 * `from` is rsync's temporary form of `to`, as the transfer tracker reads
 * it: `.name.XXXXXX` (in any directory of the tree: `--temp-dir` inside it;
 * the name cut short when rsync truncated it), or `name` in a holding
 * directory (`--delay-updates`, `--partial-dir`).
 */
export function isRsyncTemp(from: string, to: string): boolean {
  return names.isRsyncSourceOf(names.classify(from), to);
}

// rsync --inplace writes the file, closes it, then opens it again to set
// its attributes: CLOSE_WRITE followed by OPEN, ATTRIB, CLOSE_NOWRITE.
function isInplace(kinds: readonly string[]): boolean {
  const close = kinds.lastIndexOf('CLOSE_WRITE');
  if (close < 0) return false;
  const open = kinds.indexOf('OPEN', close + 1);
  if (open < 0) return false;
  const attrib = kinds.indexOf('ATTRIB', open + 1);
  return attrib >= 0 && kinds.indexOf('CLOSE_NOWRITE', attrib + 1) >= 0;
}

function displayView(roots: readonly string[]): PathView {
  const relative = relativePaths(roots);
  return roots.length === 1 ? relative : (absolute) => absolute;
}

function entryFor(h: History, shape: ShapeId, view: PathView): ProfileEntry {
  const name = view(h.path);
  const display = h.dir ? (name === '.' ? './' : `${name}/`) : name;
  const first = h.renames[0];
  return {
    display, dir: h.dir, shape, sequence: sequenceOf(h, view), writtenAs: first === undefined ? undefined : nodePath.basename(first.from),
    fate: ENDINGS.has(shape) ? undefined : h.ended, histories: [h],
  };
}

/** The compacted labels of a history's steps. */
function sequenceOf(h: History, view: PathView): string[] {
  const renamed = h.renames.length > 0;
  const labels: Array<{ text: string; count: number }> = [];
  let previousPath = h.steps[0]?.path ?? h.path;
  for (const step of h.steps) {
    const text = labelOf(step, renamed, previousPath, view);
    previousPath = step.path;
    const last = labels[labels.length - 1];
    if (last !== undefined && last.text === text) last.count += step.count;
    else labels.push({ text, count: step.count });
  }
  const sequence = labels.map((l) => (l.count > 1 ? `${l.text} x${l.count}` : l.text));
  if (h.truncated) sequence.push('...');
  if (h.replacedBy !== undefined && h.ended === undefined) sequence.push('(replaced)');
  return sequence;
}

function labelOf(step: Step, renamed: boolean, previousPath: string, view: PathView): string {
  const scan = step.synthetic ? ' (scan)' : '';
  switch (step.kind) {
    case 'CREATE':
      return renamed ? `CREATE ${nodePath.basename(step.path)}${scan}` : `CREATE${scan}`;
    case 'MOVED_TO': {
      if (step.note === 'from outside') return 'MOVED_TO (from outside)';
      const sameDir = nodePath.dirname(previousPath) === nodePath.dirname(step.path);
      const target = sameDir ? nodePath.basename(step.path) : view(step.path);
      return `MOVED_TO ${target}${step.note === 'over existing' ? ' (over existing)' : ''}`;
    }
    case 'MOVED_FROM':
      return 'MOVED_FROM (moved out)';
    default:
      return `${step.kind}${scan}`;
  }
}

/** The profile as text: a header, one line per entry, then a count per shape. */
export function profileText(profile: Profile): string[] {
  const where = profile.roots.join(', ');
  // A name that went through several histories (replaced, re-created) is one file.
  const files = new Set(profile.entries.filter((e) => !e.dir).map((e) => e.display)).size;
  const dirs = new Set(profile.entries.filter((e) => e.dir).map((e) => e.display)).size;
  const seconds = Math.floor(profile.elapsedMs / 1000);
  const lines = [`Profile of ${where}: ${profile.events} events, ${files} ${files === 1 ? 'file' : 'files'}, `
    + `${dirs} ${dirs === 1 ? 'directory' : 'directories'} in ${seconds}sec`];
  if (profile.overflowed) lines.push('warning: the kernel event queue overflowed; events are missing from this profile');
  for (const entry of profile.entries) lines.push(`${entry.display}: ${entry.sequence.join(' -> ')}  [${shapeLabel(entry)}]`);
  const byShape = shapeCounts(profile);
  if (byShape.size > 0) {
    lines.push('Shapes:');
    const width = Math.max(...[...byShape.keys()].map((s) => SHAPES[s].length));
    for (const [shape, entries] of byShape) {
      const distinct = [...new Set(entries.map((e) => e.display))];
      const names = distinct.slice(0, 5).join(', ') + (distinct.length > 5 ? ', ...' : '');
      lines.push(`  ${SHAPES[shape].padEnd(width)}  ${String(entries.length).padStart(4)}  ${names}`);
    }
  }
  return lines;
}

/** The shape's label, with how the file left when it did: `plain copy (cp), then deleted`. */
export function shapeLabel(entry: ProfileEntry): string {
  return entry.fate === undefined ? SHAPES[entry.shape] : `${SHAPES[entry.shape]}, then ${entry.fate}`;
}

/** The `--json` form of the profile. */
export function profileJson(profile: Profile): Record<string, unknown> {
  const shapes: Record<string, number> = {};
  for (const [shape, entries] of shapeCounts(profile)) shapes[SHAPES[shape]] = entries.length;
  return {
    profile: {
      roots: profile.roots,
      events: profile.events,
      elapsedMs: profile.elapsedMs,
      overflowed: profile.overflowed,
      entries: profile.entries.map((e) => ({
        path: e.display, dir: e.dir, shape: SHAPES[e.shape], shapeId: e.shape, fate: e.fate ?? null, sequence: e.sequence,
      })),
      shapes,
    },
  };
}

/** Entries per shape, most frequent first. */
export function shapeCounts(profile: Profile): Map<ShapeId, ProfileEntry[]> {
  const byShape = new Map<ShapeId, ProfileEntry[]>();
  for (const entry of profile.entries) {
    const list = byShape.get(entry.shape);
    if (list === undefined) byShape.set(entry.shape, [entry]);
    else list.push(entry);
  }
  return new Map([...byShape].sort((a, b) => b[1].length - a[1].length));
}
