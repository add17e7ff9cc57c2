/**
 * How inotify-profile prints: pyinotify's `<Event ... >` line (plain, or
 * coloured exactly as pyinotify's ColoredOutputFormat does), the `--json`
 * line, and pyinotify's `<Stats ... >` line and histogram.
 */
import * as tty from 'node:tty';
import type { InotifyEvent, Stats } from '../index.js';
import { formatElapsed } from '../process-event.js';

/** Maps an absolute path to the form printed (itself, or relative to its watched root). */
export type PathView = (absolute: string) => string;

/** The identity view. */
export const absolutePaths: PathView = (absolute) => absolute;

/**
 * A view printing each path relative to the watched root that contains it
 * (the longest one); a root itself prints as `.`. Paths outside every root
 * stay absolute.
 */
export function relativePaths(roots: readonly string[]): PathView {
  const sorted = [...roots].sort((a, b) => b.length - a.length);
  return (absolute) => {
    for (const root of sorted) {
      if (absolute === root) return '.';
      const prefix = root === '/' ? '/' : `${root}/`;
      if (absolute.startsWith(prefix)) return absolute.slice(prefix.length);
    }
    return absolute;
  };
}

/** The root (of `roots`) that contains `absolute`, the longest one; undefined when none does. */
export function rootOf(roots: readonly string[], absolute: string): string | undefined {
  let best: string | undefined;
  for (const root of roots) {
    const inside = absolute === root || absolute.startsWith(root === '/' ? '/' : `${root}/`);
    if (inside && (best === undefined || root.length > best.length)) best = root;
  }
  return best;
}

// pyinotify's ColoredOutputFormat codes.
const NORMAL = '\x1b[0m';
const RED = '\x1b[31m';
const BOLD = '\x1b[1m';
const BLUE = '\x1b[34m';
const PURPLE = '\x1b[35m';
const YELLOW = '\x1b[33m';

interface Palette {
  punctuation(s: string): string;
  className(s: string): string;
  fieldName(s: string): string;
  fieldValue(s: string): string;
  yellow(s: string): string;
}

const PLAIN: Palette = {
  punctuation: (s) => s, className: (s) => s, fieldName: (s) => s, fieldValue: (s) => s, yellow: (s) => s,
};

const COLOURED: Palette = {
  punctuation: (s) => `${NORMAL}${s}${NORMAL}`,
  className: (s) => `${RED}${BOLD}${s}${NORMAL}`,
  fieldName: (s) => `${BLUE}${s}${NORMAL}`,
  fieldValue: (s) => `${PURPLE}${s}${NORMAL}`,
  yellow: (s) => `${YELLOW}${s}${NORMAL}`,
};

/** The `key=value` fields of pyinotify's event line, in its (alphabetical) order. */
export function eventFields(event: InotifyEvent, view: PathView = absolutePaths): Array<[string, string]> {
  const hex = `0x${(event.mask >>> 0).toString(16)}`;
  if (event.wd === -1) return [['mask', hex], ['maskname', event.maskname]];
  const fields: Array<[string, string]> = [];
  if (event.cookie !== 0) fields.push(['cookie', String(event.cookie)]);
  fields.push(
    ['dir', event.dir ? 'True' : 'False'],
    ['mask', hex],
    ['maskname', event.maskname],
    ['name', event.name === '' ? "''" : event.name],
    ['path', view(event.path)],
    ['pathname', view(event.pathname)],
  );
  if (event.srcPathname !== undefined) fields.push(['src_pathname', view(event.srcPathname)]);
  fields.push(['wd', String(event.wd)]);
  return fields;
}

/**
 * pyinotify's line for an event: `<Event dir=False mask=0x100 ... wd=1 >`.
 * Plain it is byte for byte `python -m pyinotify -f`; coloured it is
 * pyinotify's default terminal output.
 */
export function eventLine(event: InotifyEvent, view: PathView, colour: boolean): string {
  const p = colour ? COLOURED : PLAIN;
  let fields = '';
  for (const [key, value] of eventFields(event, view)) fields += ` ${p.fieldName(key)}${p.punctuation('=')}${p.fieldValue(value)}`;
  return `${p.punctuation('<')}${p.className('Event')}${fields} ${p.punctuation('>')}`;
}

/** The `--json` object for an event; its keys are the stable schema documented in docs/cli.md. */
export function eventJson(event: InotifyEvent, view: PathView, time: Date): Record<string, unknown> {
  const overflow = event.wd === -1;
  return {
    time: time.toISOString(),
    wd: event.wd,
    mask: event.mask >>> 0,
    maskname: event.maskname,
    name: event.name,
    path: overflow ? null : view(event.path),
    pathname: overflow ? null : view(event.pathname),
    srcPathname: event.srcPathname === undefined ? null : view(event.srcPathname),
    cookie: event.cookie,
    dir: event.dir,
    synthetic: event.synthetic,
  };
}

/**
 * pyinotify's `-s` output: `repr(stats)` then `str(stats)` (the histogram,
 * omitted while nothing was counted). Coloured like pyinotify's, including
 * its padding, which counts the colour codes.
 */
export function statsLines(stats: Stats, colour: boolean, now = Date.now()): string[] {
  const p = colour ? COLOURED : PLAIN;
  const names = [...stats.counts.keys()].sort();
  let summary = ` ${p.fieldName('ElapsedTime')}=${p.fieldValue(formatElapsed(now - stats.startTime))}`;
  for (const name of names) summary += ` ${p.fieldName(name)}=${p.fieldValue(String(stats.counts.get(name)))}`;
  const lines = [`<${p.className('Stats')}${summary} >`];
  const max = Math.max(0, ...stats.counts.values());
  if (max === 0) return lines;
  const scale = 45;
  const barWidth = p.fieldValue('@'.repeat(scale)).length + 1;
  for (const name of names) {
    const count = stats.counts.get(name) ?? 0;
    // pyinotify computes `int(count * (scale / max))` in floating point, which
    // is sometimes one short (39 of 39 gives 44): the same arithmetic keeps
    // the bars identical.
    const bar = '@'.repeat(Math.trunc(count * (scale / max)));
    lines.push(`${p.fieldName(name).padEnd(26)}${p.fieldValue(bar).padEnd(barWidth)}${p.yellow(String(count))}`);
  }
  return lines;
}

/** `--json` form of the statistics. */
export function statsJson(stats: Stats, now = Date.now()): Record<string, unknown> {
  const counts: Record<string, number> = {};
  for (const name of [...stats.counts.keys()].sort()) counts[name] = stats.counts.get(name) ?? 0;
  return { stats: { elapsed: formatElapsed(now - stats.startTime), elapsedMs: now - stats.startTime, counts } };
}

/**
 * Whether to colour, as Node decides for its own output (`stream.hasColors()`):
 * on a terminal unless NODE_DISABLE_COLORS, TERM=dumb or FORCE_COLOR=0; also
 * through a pipe when FORCE_COLOR forces it. NO_COLOR set to anything but ''
 * always turns it off (https://no-color.org), and -f and --json never colour.
 */
export function useColour(
  stream: { isTTY?: boolean; hasColors?: (env?: object) => boolean }, env: NodeJS.ProcessEnv, raw: boolean, json: boolean,
): boolean {
  if (raw || json) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  // Node reads NO_COLOR='' as set; no-color.org does not.
  const nodeEnv = env.NO_COLOR === '' ? { ...env, NO_COLOR: undefined } : env;
  if (nodeEnv.NO_COLOR === undefined) delete nodeEnv.NO_COLOR;
  if (stream.isTTY === true && typeof stream.hasColors === 'function') return stream.hasColors(nodeEnv);
  // Not a terminal: only FORCE_COLOR colours (Node's colour depth reads nothing but the environment).
  return nodeEnv.FORCE_COLOR !== undefined && tty.WriteStream.prototype.getColorDepth.call(undefined as never, nodeEnv) > 1;
}

/** `[2024-05-01 12:00:00,123 inotify-profile DEBUG] message`, pyinotify's log line shape. */
export function debugLine(program: string, message: string, now = new Date()): string {
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const stamp = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} `
    + `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())},${pad(now.getMilliseconds(), 3)}`;
  return `[${stamp} ${program} DEBUG] ${message}`;
}
