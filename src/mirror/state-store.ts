/**
 * A durable map of path key → record text, for two-way sync's "last synced"
 * state. Sized for a million paths: each change is one line appended to a
 * journal (never a rewrite of everything), and once the journal outgrows the
 * map a compacted snapshot replaces it, written atomically (temp file, fsync,
 * rename). On open the snapshot is read and the journal replayed over it; a
 * torn last journal line (the writer was killed mid-write) is ignored.
 * Records are kept as the strings they are stored as: one string per path.
 * A lock file keeps a second writer off the same directory; a reader
 * (`readOnly`, e.g. `--status`) takes no lock and writes nothing.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { systemError } from '../errors.js';

/** The journal is compacted once it has this many lines and more lines than the map has entries. */
const COMPACT_MIN_LINES = 50_000;

/** A snapshot or journal line: set `[key, record]`, or delete `[key]`. */
type Line = [string, string] | [string];

function parseLine(text: string): Line | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value) && typeof value[0] === 'string' && (value.length === 1 || (value.length === 2 && typeof value[1] === 'string'))) {
      return value as Line;
    }
  } catch {
    // not a line: the caller decides whether that is a torn end or damage
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The durable key → record map of one state directory (see the file comment). */
export class StateStore {
  /** The directory holding `NAME.snapshot`, `NAME.journal` and `NAME.lock`. */
  readonly dir: string;
  readonly #snapshotPath: string;
  readonly #journalPath: string;
  readonly #lockPath: string;
  readonly #records = new Map<string, string>();
  #pending: string[] = [];
  #journalFd: number | undefined;
  #journalLines = 0;
  #closed = false;
  readonly #readOnly: boolean;
  /** Lines of the journal that were ignored on open (a torn last line). */
  readonly tornLines: number = 0;

  /**
   * Opens (creating it if needed) the store `name` in `dir`, replaying what
   * was written before. Throws EBUSY when another live process holds it, and
   * EINVAL (with the path) for a damaged line that is not the journal's last.
   * With `readOnly`, reads what is there now (nothing when the directory
   * does not exist), takes no lock, and every write throws EBADF.
   */
  constructor(dir: string, name = 'state', options: { readOnly?: boolean } = {}) {
    this.dir = nodePath.resolve(dir);
    this.#readOnly = options.readOnly === true;
    this.#snapshotPath = nodePath.join(this.dir, `${name}.snapshot`);
    this.#journalPath = nodePath.join(this.dir, `${name}.journal`);
    this.#lockPath = nodePath.join(this.dir, `${name}.lock`);
    if (this.#readOnly) {
      this.#load(this.#snapshotPath, false);
      this.tornLines = this.#load(this.#journalPath, true);
      this.#closed = true;
      return;
    }
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.#lock();
    try {
      this.#load(this.#snapshotPath, false);
      this.tornLines = this.#load(this.#journalPath, true);
      this.#journalFd = fs.openSync(this.#journalPath, 'a');
    } catch (error) {
      fs.rmSync(this.#lockPath, { force: true });
      throw error;
    }
  }

  /** How many paths have a record. */
  get size(): number {
    return this.#records.size;
  }

  /** The record of `key`, or undefined. */
  get(key: string): string | undefined {
    return this.#records.get(key);
  }

  /** Sets the record of `key` (written by the next {@link flush}). */
  set(key: string, record: string): void {
    this.#writable();
    if (this.#records.get(key) === record) return;
    this.#records.set(key, record);
    this.#pending.push(JSON.stringify([key, record]));
  }

  /** Forgets `key` (written by the next {@link flush}). */
  delete(key: string): void {
    this.#writable();
    if (!this.#records.delete(key)) return;
    this.#pending.push(JSON.stringify([key]));
  }

  /** Every key (a snapshot of them: changing the store while iterating is safe). */
  keys(): string[] {
    return [...this.#records.keys()];
  }

  /** The keys equal to `prefix` or below it (`prefix/...`); all keys when prefix is ''. */
  keysUnder(prefix: string): string[] {
    if (prefix === '') return this.keys();
    const below = `${prefix}/`;
    const out: string[] = [];
    for (const key of this.#records.keys()) if (key === prefix || key.startsWith(below)) out.push(key);
    return out;
  }

  /**
   * Appends the changes made since the last flush to the journal in one
   * write (a crash loses at most the changes not yet flushed, and tears at
   * most the last line), then compacts when the journal has grown enough.
   */
  flush(): void {
    this.#writable();
    if (this.#pending.length === 0) return;
    const text = `${this.#pending.join('\n')}\n`;
    this.#journalLines += this.#pending.length;
    this.#pending = [];
    fs.writeSync(this.#journalFd as number, text);
    if (this.#journalLines >= COMPACT_MIN_LINES && this.#journalLines > this.#records.size) this.compact();
  }

  /**
   * Writes the whole map as the snapshot (temp file, fsync, rename, fsync of
   * the directory), then empties the journal. A crash in between only
   * replays a journal whose lines the snapshot already holds.
   */
  compact(): void {
    this.#writable();
    const temp = `${this.#snapshotPath}.tmp`;
    const fd = fs.openSync(temp, 'w', 0o600);
    try {
      let chunk: string[] = [];
      for (const [key, record] of this.#records) {
        chunk.push(JSON.stringify([key, record]));
        if (chunk.length === 4096) {
          fs.writeSync(fd, `${chunk.join('\n')}\n`);
          chunk = [];
        }
      }
      if (chunk.length > 0) fs.writeSync(fd, `${chunk.join('\n')}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, this.#snapshotPath);
    const dirFd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
    fs.ftruncateSync(this.#journalFd as number, 0);
    this.#journalLines = 0;
  }

  /** Flushes, fsyncs the journal and releases the lock. Idempotent. */
  close(): void {
    if (this.#closed) return; // closed, or read-only
    this.flush();
    this.#closed = true;
    fs.fsyncSync(this.#journalFd as number);
    fs.closeSync(this.#journalFd as number);
    fs.rmSync(this.#lockPath, { force: true });
  }

  #writable(): void {
    if (this.#closed) throw systemError('EBADF', 'write', this.#journalPath, this.#readOnly ? 'the state store is read-only' : 'the state store is closed');
  }

  #lock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(this.#lockPath, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const pid = Number.parseInt(fs.readFileSync(this.#lockPath, 'utf8'), 10);
        if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
          throw systemError('EBUSY', 'open', this.#lockPath, `the state is in use by process ${pid}`);
        }
        fs.rmSync(this.#lockPath, { force: true }); // left by a process that died (SIGKILL, power loss)
      }
    }
    throw systemError('EBUSY', 'open', this.#lockPath, 'the state lock could not be taken');
  }

  /** Applies the lines of `file`; returns how many trailing lines were torn (0 or 1). */
  #load(file: string, journal: boolean): number {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
    const lines = text.split('\n');
    // A complete file ends with '\n': the last element is ''. Anything else there is a torn write.
    const last = lines.pop() as string;
    let torn = last === '' ? 0 : 1;
    for (const [index, raw] of lines.entries()) {
      const line = parseLine(raw);
      if (line === undefined) {
        if (journal && index === lines.length - 1 && torn === 0) {
          torn = 1; // a torn line that a later append completed with its own newline
          continue;
        }
        throw systemError('EINVAL', 'read', file, `damaged state line ${index + 1}`);
      }
      if (line.length === 2) this.#records.set(line[0], line[1]);
      else this.#records.delete(line[0]);
      if (journal) this.#journalLines += 1;
    }
    if (torn === 1 && journal && !this.#readOnly) {
      // Cut the torn bytes off, so that the next append starts a clean line.
      fs.truncateSync(file, Buffer.byteLength(text) - Buffer.byteLength(last));
    }
    return torn;
  }
}
