/**
 * What a file name says about a transfer: an rsync temporary file (and the
 * final name it will get), a file inside a holding directory (rsync's
 * `--delay-updates` / `--partial-dir`), another program's temporary file
 * (editors, downloaders, `sed -i`), or a final name. Pure functions of the
 * path: the tracker's state machine lives in tracker.ts.
 */
import { Buffer } from 'node:buffer';
import * as nodePath from 'node:path';
import { compilePatterns, globToRegExp, type PathPatterns } from '../pattern.js';

/**
 * rsync's temporary name: `.` + the final basename + `.` + 6 characters from
 * mkstemp (`.file1.raw.NguTqN`), created in the target's directory. rsync
 * cuts the basename to NAME_MAX - 8 = 247 bytes so the temp name fits.
 */
export const RSYNC_TEMP = /^\.(.+)\.[A-Za-z0-9]{6}$/s;

/** The length at which rsync has truncated the basename inside its temp name. */
const RSYNC_TRUNCATED = 247;

/**
 * Names other programs write before renaming (or deleting) them; a file with
 * such a name is never reported as complete, and a rename from it to a name
 * that matters is an arrival (`atomic-rename`).
 */
export const DEFAULT_TEMP_PATTERNS: readonly RegExp[] = Object.freeze([
  /~$/, //                         backups and editors' save temps: x~
  /^\..+\.sw[a-px]$/, //           vim swap files: .x.swp, .x.swo ... .x.swa, and its .x.swx probe
  /^4913$/, //                     vim's "can I write here" probe
  /^#.*#$/, //                     emacs auto-save: #x#
  /^\.#/, //                       emacs lock links: .#x
  /\.(?:tmp|temp)$/i, //          x.tmp, x.TMP, x.temp
  /\.tmp\.\d+$/, //                x.tmp.1234 (atomic-write libraries)
  /\.(?:part|partial|filepart|crdownload|download|!qB)$/i, // downloaders, WinSCP
  /___jb_(?:tmp|old)___$/, //      JetBrains safe write
  /^\.goutputstream-/, //          GIO / gedit
  /^sed[A-Za-z0-9]{6}$/, //        sed -i
  /\.kate-swp$/, //               Kate
]);

/**
 * Directories whose files are never final: rsync renames files out of them
 * into the parent directory. `.~tmp~` is rsync's `--delay-updates` holding
 * directory (and its default `--partial-dir` with it); add your own
 * `--partial-dir` name with the `tempDirs` option.
 */
export const DEFAULT_TEMP_DIRS: readonly string[] = Object.freeze(['.~tmp~', '.rsync-partial']);

/** What a path is, for the tracker. */
export type NameClass =
  /** A final name: the file the user wants. */
  | { readonly kind: 'final' }
  /** rsync's temp (`.name.XXXXXX`): `final` is where it will be renamed (a prefix of the real name when `truncated`). */
  | { readonly kind: 'rsync-temp'; readonly final: string; readonly truncated: boolean }
  /** A file in a holding directory (`dir/.~tmp~/name`): `final` is `dir/name`. */
  | { readonly kind: 'held'; readonly final: string }
  /** Some other program's temporary file: its final name is only known when it is renamed. */
  | { readonly kind: 'temp' };

const FINAL: NameClass = Object.freeze({ kind: 'final' });
const TEMP: NameClass = Object.freeze({ kind: 'temp' });

/** Classifies paths with a fixed set of patterns. */
export class NameClassifier {
  readonly #tempPatterns: readonly RegExp[];
  readonly #tempDirs: ReadonlySet<string>;

  constructor(tempPatterns: readonly RegExp[], tempDirs: readonly string[]) {
    this.#tempPatterns = tempPatterns;
    this.#tempDirs = new Set(tempDirs);
  }

  /** True when `name` (a basename) is a holding directory's, as `.~tmp~`. */
  isHoldingDir(name: string): boolean {
    return this.#tempDirs.has(name);
  }

  classify(pathname: string): NameClass {
    const dir = nodePath.dirname(pathname);
    const name = nodePath.basename(pathname);
    if (this.#tempDirs.has(nodePath.basename(dir))) return { kind: 'held', final: joinName(nodePath.dirname(dir), name) };
    const rsync = RSYNC_TEMP.exec(name);
    if (rsync !== null) {
      const base = rsync[1] as string;
      return { kind: 'rsync-temp', final: joinName(dir, base), truncated: Buffer.byteLength(base) >= RSYNC_TRUNCATED };
    }
    for (const pattern of this.#tempPatterns) {
      pattern.lastIndex = 0;
      if (pattern.test(name)) return TEMP;
    }
    return FINAL;
  }

  /**
   * True when `source` (the class of a rename's source) is rsync's temporary
   * form of `target`: a temp whose embedded name is the target's basename
   * (compared by basename, as with `--temp-dir` inside the tree the temp
   * lives in another directory), or a held file of the same basename.
   */
  isRsyncSourceOf(source: NameClass, target: string): boolean {
    if (source.kind !== 'rsync-temp' && source.kind !== 'held') return false;
    const base = nodePath.basename(source.final);
    const targetBase = nodePath.basename(target);
    return source.kind === 'rsync-temp' && source.truncated ? targetBase.startsWith(base) : base === targetBase;
  }
}

function joinName(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/**
 * What the `filter` option accepts: which final files matter, in the one
 * pattern language (docs/patterns.md): `'*.raw'` (a name at any depth),
 * `'incoming/**\/*.csv'` (relative to the watched root), an absolute path, a
 * RegExp on the pathname, a function of the pathname, or a list of these.
 */
export type TransferFilter = PathPatterns;

/**
 * Compiles a filter (see {@link TransferFilter}); relative patterns are
 * relative to `roots` (trackTransfers passes its directory; otherwise the
 * current directory). A list matches when any item does.
 */
export function compileFilter(filter: TransferFilter | undefined, roots?: readonly string[]): ((pathname: string) => boolean) | undefined {
  // An empty list selects nothing (an empty exclude list excludes nothing).
  if (Array.isArray(filter) && filter.length === 0) return () => false;
  return compilePatterns(filter, { roots, name: 'options.filter' });
}

export { globToRegExp };
