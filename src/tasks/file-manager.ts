/**
 * FileManagerScheduler: move, copy or delete what lands in a watched tree,
 * by the first matching rule. Never leaves a half file under a destination name.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TaskScheduler, validateSchedulerOptions, type JobContext, type SchedulerOptions, type TaskEvent } from './scheduler.js';

/** What a rule does. */
export type FileAction = 'move' | 'copy' | 'delete';

/** Options of {@link FileManagerRule} (pyinotifyd's, camelCased). */
export interface FileManagerRuleOptions {
  action: FileAction;
  /**
   * Matched at the start of the pathname (as Python's `re.match`). A string
   * may use Python's `(?P<name>…)`.
   */
  srcRe: RegExp | string;
  /**
   * The destination: the matched part of the pathname is replaced by this
   * template. Groups: `\1`, `$1`, `\g<1>` (numbered), `\g<name>`, `$<name>`
   * (named); `$$` and `\\` are a literal `$` and `\`. Required for move and copy.
   */
  dstRe?: string;
  /** Create missing destination directories (mode `dirMode`, owner `user`/`group`). Default false. */
  autoCreate?: boolean;
  /** Replace an existing destination. Default false (the task fails and says so). */
  overwrite?: boolean;
  /** pyinotifyd's documented spelling of `overwrite`. */
  override?: boolean;
  /** Mode of each file copied or moved (e.g. 0o640). */
  fileMode?: number;
  /** Mode of each directory created, copied or moved (e.g. 0o750). */
  dirMode?: number;
  /** Owner: a user name or uid. */
  user?: string | number;
  /** Group: a group name or gid. */
  group?: string | number;
  /** Act on a directory with what it holds (copy, move across filesystems, delete). Default false. */
  rec?: boolean;
}

function ruleError(message: string): TypeError {
  const error = new TypeError(message) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_VALUE';
  return error;
}

function lookupId(file: string, name: string, what: string): number {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch { /* no such database: treated as not found */ }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined) return Number(fields[2]);
  }
  throw ruleError(`The "${what}" option names an unknown ${what}: ${name} (not in ${file})`);
}

function resolveId(value: string | number | undefined, file: string, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  if (typeof value === 'string' && value !== '') return lookupId(file, value, what);
  throw ruleError(`The "${what}" option must be a name or an id >= 0. Received ${JSON.stringify(value)}`);
}

/** Expands a `dstRe` template with a match's groups. */
export function expandTemplate(template: string, match: RegExpExecArray): string {
  return template.replace(/\\g<(\w+)>|\$<(\w+)>|\\(\d+)|\$(\d+)|\$\$|\\\\/g, (token, gName?: string, dName?: string, bNum?: string, dNum?: string) => {
    if (token === '$$') return '$';
    if (token === '\\\\') return '\\';
    const ref = gName ?? dName ?? bNum ?? dNum ?? '';
    const value = /^\d+$/.test(ref) ? match[Number(ref)] : match.groups?.[ref];
    if (value === undefined && !(/^\d+$/.test(ref) ? Number(ref) < match.length : match.groups !== undefined && ref in match.groups)) {
      throw ruleError(`The "dstRe" template refers to group ${ref}, which "srcRe" does not have`);
    }
    return value ?? '';
  });
}

/** pyinotifyd's FileManagerRule. */
export class FileManagerRule {
  /** What the rule does. */
  readonly action: FileAction;
  /** `srcRe`, sticky (matches at the start only). */
  readonly srcRe: RegExp;
  /** The destination template. */
  readonly dstRe: string;
  /** Create missing destination directories. */
  readonly autoCreate: boolean;
  /** Replace an existing destination (`overwrite` or `override`). */
  readonly overwrite: boolean;
  /** Mode of files copied or moved. */
  readonly fileMode: number | undefined;
  /** Mode of directories created, copied or moved. */
  readonly dirMode: number | undefined;
  /** Owner uid (from `user`). */
  readonly uid: number | undefined;
  /** Owner gid (from `group`). */
  readonly gid: number | undefined;
  /** Act on directories with their contents. */
  readonly rec: boolean;

  constructor(options: FileManagerRuleOptions) {
    if (options === null || typeof options !== 'object') throw ruleError('A FileManagerRule needs an options object');
    const { action } = options;
    if (action !== 'move' && action !== 'copy' && action !== 'delete') {
      throw ruleError(`The "action" option must be 'move', 'copy' or 'delete'. Received ${JSON.stringify(action)}`);
    }
    this.action = action;
    let source: string;
    let flags = 'y';
    if (options.srcRe instanceof RegExp) {
      source = options.srcRe.source;
      flags = options.srcRe.flags.replace(/[gy]/g, '') + 'y';
    } else if (typeof options.srcRe === 'string') {
      source = options.srcRe.replace(/\(\?P<(\w+)>/g, '(?<$1>');
    } else {
      throw ruleError(`The "srcRe" option must be a RegExp or a string. Received ${JSON.stringify(options.srcRe)}`);
    }
    try {
      this.srcRe = new RegExp(source, flags);
    } catch (error) {
      throw ruleError(`The "srcRe" option does not compile: ${(error as Error).message}`);
    }
    if (action !== 'delete' && (typeof options.dstRe !== 'string' || options.dstRe === '')) {
      throw ruleError(`The "dstRe" option must be a non-empty string for action '${action}'. Received ${JSON.stringify(options.dstRe)}`);
    }
    this.dstRe = options.dstRe ?? '';
    for (const name of ['autoCreate', 'overwrite', 'override', 'rec'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'boolean') throw ruleError(`The "${name}" option must be a boolean. Received ${JSON.stringify(options[name])}`);
    }
    for (const name of ['fileMode', 'dirMode'] as const) {
      const mode = options[name];
      if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777)) throw ruleError(`The "${name}" option must be a mode between 0 and 0o7777. Received ${JSON.stringify(mode)}`);
    }
    this.autoCreate = options.autoCreate === true;
    this.overwrite = (options.overwrite ?? options.override) === true;
    this.fileMode = options.fileMode;
    this.dirMode = options.dirMode;
    this.uid = resolveId(options.user, '/etc/passwd', 'user');
    this.gid = resolveId(options.group, '/etc/group', 'group');
    this.rec = options.rec === true;
  }

  /** The match of `srcRe` at the start of `pathname`, if any. */
  match(pathname: string): RegExpExecArray | null {
    this.srcRe.lastIndex = 0;
    return this.srcRe.exec(pathname);
  }

  /** The destination for `pathname` (the matched part replaced by the expanded template). */
  destination(pathname: string, match: RegExpExecArray): string {
    return expandTemplate(this.dstRe, match) + pathname.slice(match[0].length);
  }
}

/** Options of {@link FileManagerScheduler}. */
export interface FileManagerSchedulerOptions extends Omit<SchedulerOptions, 'singleJob'> {
  /** Tried in order; the first whose `srcRe` matches the pathname runs. */
  rules: readonly FileManagerRule[];
}

function tempName(dir: string, base: string): string {
  return join(dir, `.${base}.inotifyd-${randomBytes(6).toString('hex')}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * pyinotifyd's FileManagerScheduler. Moves across filesystems copy to a
 * temporary name in the destination directory, fsync, rename into place,
 * then unlink the source: the destination name only ever holds a whole file.
 */
export class FileManagerScheduler extends TaskScheduler {
  static override readonly optionKeys: readonly string[] = ['job', 'rules'];
  /** The rules, tried in order. */
  readonly rules: readonly FileManagerRule[];

  constructor(options: FileManagerSchedulerOptions) {
    validateSchedulerOptions(options, 'FileManagerScheduler', ['rules']);
    super({ ...options, singleJob: false, logname: options.logname ?? 'filemgr', job: (event, id, context) => this.#runTask(event, id, context) });
    if (!Array.isArray(options.rules) || options.rules.length === 0 || !options.rules.every((rule) => rule instanceof FileManagerRule || (typeof rule === 'object' && rule !== null && 'srcRe' in rule && 'action' in rule))) {
      throw ruleError('The "rules" option must be a non-empty array of FileManagerRule');
    }
    this.rules = options.rules.map((rule) => (rule instanceof FileManagerRule ? rule : new FileManagerRule(rule as FileManagerRuleOptions)));
  }

  protected override _handlesDryRun(): boolean {
    return true;
  }

  async #runTask(event: TaskEvent, id: string, context: JobContext): Promise<void> {
    const path = event.pathname;
    for (const rule of this.rules) {
      const match = rule.match(path);
      if (match === null) continue;
      const dst = rule.action === 'delete' ? undefined : rule.destination(path, match);
      const what = dst === undefined ? `${rule.action} ${path}` : `${rule.action} ${path} -> ${dst}`;
      if (context.dryRun) {
        context.log.info(`dry run: task ${id} would ${what}`);
        return;
      }
      let st;
      try {
        st = await fs.lstat(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          context.log.info(`task ${id}: ${path} is gone; nothing to ${rule.action}`);
          return;
        }
        throw error;
      }
      if (rule.action === 'delete') {
        if (st.isDirectory()) {
          if (rule.rec) await fs.rm(path, { recursive: true, force: true });
          else await fs.rmdir(path);
        } else {
          await fs.unlink(path);
        }
      } else if (dst !== undefined) {
        await this.#transfer(rule, path, dst, st.isDirectory(), context);
      }
      context.log.info(`task ${id}: ${what}`);
      return;
    }
    context.log.debug(`task ${id}: no rule matches ${path}`);
  }

  async #mkdirs(rule: FileManagerRule, dir: string): Promise<void> {
    if (await exists(dir)) return;
    if (!rule.autoCreate) {
      const error = new Error(`ENOENT: destination directory does not exist (set autoCreate to create it), '${dir}'`) as NodeJS.ErrnoException;
      error.code = 'ENOENT';
      error.path = dir;
      throw error;
    }
    await this.#mkdirs(rule, dirname(dir));
    try {
      await fs.mkdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw error;
    }
    await this.#own(rule, dir, true);
  }

  async #own(rule: FileManagerRule, path: string, dir: boolean): Promise<void> {
    const mode = dir ? rule.dirMode : rule.fileMode;
    if (rule.uid !== undefined || rule.gid !== undefined) await fs.lchown(path, rule.uid ?? -1, rule.gid ?? -1);
    if (mode !== undefined) await fs.chmod(path, mode);
  }

  async #ownTree(rule: FileManagerRule, path: string): Promise<void> {
    const st = await fs.lstat(path);
    if (st.isSymbolicLink()) return;
    await this.#own(rule, path, st.isDirectory());
    if (st.isDirectory() && rule.rec) {
      for (const name of await fs.readdir(path)) await this.#ownTree(rule, join(path, name));
    }
  }

  async #transfer(rule: FileManagerRule, src: string, dst: string, isDir: boolean, context: JobContext): Promise<void> {
    await this.#mkdirs(rule, dirname(dst));
    if (!rule.overwrite && await exists(dst)) {
      const error = new Error(`EEXIST: destination exists (set overwrite to replace it), '${dst}'`) as NodeJS.ErrnoException;
      error.code = 'EEXIST';
      error.path = dst;
      throw error;
    }
    if (rule.action === 'move') {
      try {
        await this.#place(rule, src, dst, isDir, async (tmp) => fs.rename(src, tmp), src);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        if (isDir && !rule.rec) {
          // A copy would need to take what the directory holds: only with rec (never an empty copy and a deleted source).
          const refused = new Error(`EXDEV: moving a directory to another filesystem needs rec: true, '${src}' -> '${dst}'`) as NodeJS.ErrnoException;
          refused.code = 'EXDEV';
          refused.path = src;
          throw refused;
        }
        context.log.debug(`${src} -> ${dst}: another filesystem (EXDEV): copy, fsync, rename, unlink`);
      }
    }
    if (isDir && !rule.rec) {
      await this.#place(rule, src, dst, true, async (tmp) => fs.mkdir(tmp));
    } else {
      await this.#place(rule, src, dst, isDir, async (tmp) => copyDurably(src, tmp));
    }
    if (rule.action === 'move') await fs.rm(src, { recursive: true, force: true });
  }

  /**
   * Makes the entry under a temporary name in the destination directory,
   * sets its modes and owner, then renames it into place: `dst` never names
   * a partial entry. Without overwrite, link() refuses an existing file.
   */
  async #place(rule: FileManagerRule, _src: string, dst: string, isDir: boolean, make: (tmp: string) => Promise<void>, restore?: string): Promise<void> {
    const tmp = tempName(dirname(dst), basename(dst));
    await make(tmp);
    try {
      await this.#ownTree(rule, tmp);
      if (!rule.overwrite && !isDir) {
        await fs.link(tmp, dst);
        await fs.unlink(tmp);
      } else {
        if (isDir && rule.overwrite && await exists(dst)) await fs.rm(dst, { recursive: true, force: true });
        await fs.rename(tmp, dst);
      }
    } catch (error) {
      // A move puts the source back where it was; a copy drops its temporary.
      if (restore !== undefined) await fs.rename(tmp, restore).catch(() => undefined);
      else await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  }
}

/** Copies a file (or, recursively, a directory) and fsyncs every file written. */
async function copyDurably(src: string, dst: string): Promise<void> {
  const st = await fs.lstat(src);
  if (st.isDirectory()) {
    await fs.mkdir(dst, { mode: st.mode & 0o7777 });
    for (const name of await fs.readdir(src)) await copyDurably(join(src, name), join(dst, name));
    return;
  }
  if (st.isSymbolicLink()) {
    await fs.symlink(await fs.readlink(src), dst);
    return;
  }
  await fs.copyFile(src, dst, fs.constants.COPYFILE_EXCL);
  await fs.chmod(dst, st.mode & 0o7777);
  await fs.utimes(dst, st.atime, st.mtime);
  const handle = await fs.open(dst, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
