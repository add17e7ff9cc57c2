/**
 * Named loggers with levels DEBUG..CRITICAL, written to stderr; with
 * syslog-style `<N>` priority prefixes when stderr is the journal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fstatSync } from 'node:fs';

/** Log levels, lowest first (Python's logging names, as pyinotifyd uses). */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };
// sd-daemon(3) priorities: 7 debug, 6 info, 4 warning, 3 err, 2 crit.
const PRIORITY: Record<LogLevel, number> = { DEBUG: 7, INFO: 6, WARNING: 4, ERROR: 3, CRITICAL: 2 };

/** Logging settings: a default level and levels per log name. */
export interface LoggingOptions {
  /** The level of every log name not in `levels` (default 'INFO'). */
  level?: LogLevel;
  /** Levels per log name, e.g. `{ sched: 'DEBUG' }`. */
  levels?: Record<string, LogLevel>;
  /** Write `<N>` priority prefixes: true, false, or 'auto' (when stderr is the journal, per JOURNAL_STREAM). Default 'auto'. */
  journal?: boolean | 'auto';
  /**
   * Also send each line to the local syslog socket (`/dev/log`, or `socket`),
   * facility daemon, through one long-running `logger(1)` (Node cannot send
   * unix datagrams itself). Default false.
   */
  syslog?: boolean | SyslogOptions;
}

/** Where and how {@link LoggingOptions.syslog} sends. */
export interface SyslogOptions {
  /** The unix datagram socket (default /dev/log). */
  socket?: string;
  /** The tag (default 'inotifyd'). */
  tag?: string;
}

// daemon(3) facility, as syslog(3)'s LOG_DAEMON.
const LOG_DAEMON = 3;

/** True when stderr is the stream named by JOURNAL_STREAM (`dev:ino`), as systemd.exec(5) says to check. */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const stream = env.JOURNAL_STREAM;
  if (stream === undefined || stream === '') return false;
  try {
    const st = fstatSync(2);
    return `${st.dev}:${st.ino}` === stream;
  } catch {
    return false;
  }
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function timestamp(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())},${pad(date.getMilliseconds(), 3)}`;
}

/** Where log lines go; one per process by default, shared by every {@link Logger}. */
export class LogSink {
  #level: LogLevel = 'INFO';
  #levels = new Map<string, LogLevel>();
  #journal: boolean;
  #write: (line: string) => void;
  #syslog: ChildProcess | undefined;
  #syslogKey = '';

  constructor(options?: LoggingOptions, write?: (line: string) => void) {
    this.#write = write ?? ((line) => process.stderr.write(line));
    this.#journal = false;
    this.configure(options ?? {});
  }

  /** Applies new settings (on SIGHUP, or -d). */
  configure(options: LoggingOptions): void {
    this.#level = options.level ?? 'INFO';
    this.#levels = new Map(Object.entries(options.levels ?? {}));
    const journal = options.journal ?? 'auto';
    this.#journal = journal === 'auto' ? stderrIsJournal() : journal;
    this.#configureSyslog(options.syslog);
  }

  #configureSyslog(syslog: LoggingOptions['syslog']): void {
    const opts = syslog === true ? {} : syslog === false || syslog === undefined ? undefined : syslog;
    const key = opts === undefined ? '' : JSON.stringify([opts.socket ?? '', opts.tag ?? 'inotifyd']);
    if (key === this.#syslogKey) return;
    this.#syslog?.stdin?.end();
    this.#syslog = undefined;
    this.#syslogKey = key;
    if (opts === undefined) return;
    const args = ['--prio-prefix', '-t', opts.tag ?? 'inotifyd', ...(opts.socket === undefined ? [] : ['-d', '-u', opts.socket])];
    const child = spawn('logger', args, { stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('error', (error) => {
      this.#write(`[inotifyd: syslog disabled: cannot run logger(1): ${error.message}]\n`);
      if (this.#syslog === child) this.#syslog = undefined;
    });
    child.stdin?.on('error', () => undefined);
    // Neither the child nor its pipe keeps the daemon alive.
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.#syslog = child;
  }

  /** True when a message of `level` on `name` is written. */
  enabled(name: string, level: LogLevel): boolean {
    return RANK[level] >= RANK[this.#levels.get(name) ?? this.#level];
  }

  /** Writes one message; each line of a multi-line message gets its own prefix. */
  log(name: string, level: LogLevel, message: string): void {
    if (!this.enabled(name, level)) return;
    const lines = message.split('\n');
    let out = '';
    for (const line of lines) {
      out += this.#journal
        ? `<${PRIORITY[level]}>${name} ${level}: ${line}\n`
        : `[${timestamp(new Date())} ${name} ${level}] ${line}\n`;
    }
    this.#write(out);
    const syslog = this.#syslog?.stdin;
    if (syslog?.writable === true) {
      const pri = LOG_DAEMON * 8 + PRIORITY[level];
      syslog.write(lines.map((line) => `<${pri}>${name} ${level}: ${line}\n`).join(''));
    }
  }
}

/** The process's sink: what every Logger writes to unless given another. */
export const defaultSink = new LogSink();

/** A named logger, as Python's `logging.getLogger(name)`. */
export class Logger {
  /** The log name (what `logging.levels` keys on). */
  readonly name: string;
  /** Where its lines go. */
  readonly sink: LogSink;
  constructor(name: string, sink: LogSink = defaultSink) {
    this.name = name;
    this.sink = sink;
  }
  /** Logs `message` at DEBUG. */
  debug(message: string): void {
    this.sink.log(this.name, 'DEBUG', message);
  }
  /** Logs `message` at INFO. */
  info(message: string): void {
    this.sink.log(this.name, 'INFO', message);
  }
  /** Logs `message` at WARNING. */
  warning(message: string): void {
    this.sink.log(this.name, 'WARNING', message);
  }
  /** Logs `message` at ERROR. */
  error(message: string): void {
    this.sink.log(this.name, 'ERROR', message);
  }
  /** Logs `message` at CRITICAL. */
  critical(message: string): void {
    this.sink.log(this.name, 'CRITICAL', message);
  }
}
