/**
 * Quoting for a POSIX shell, on bytes. ssh hands the remote side a command
 * string for the user's shell, never an argv, so every argument of a remote
 * command is quoted here: inside single quotes nothing is special, and a
 * single quote itself is written as '\'' (close, escaped quote, reopen).
 */
import { Buffer } from 'node:buffer';
import { invalidArgValue } from '../errors.js';

const QUOTE = Buffer.from("'");
const ESCAPED_QUOTE = Buffer.from("'\\''");

/** One argument, single-quoted for sh (any bytes, newlines and leading '-' included). */
export function shellQuote(arg: Buffer | string): Buffer {
  const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
  const parts: Buffer[] = [QUOTE];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x27) continue;
    parts.push(bytes.subarray(start, i), ESCAPED_QUOTE);
    start = i + 1;
  }
  parts.push(bytes.subarray(start), QUOTE);
  return Buffer.concat(parts);
}

/** A command line: each argument quoted, joined by spaces. */
export function shellCommand(argv: readonly (Buffer | string)[]): Buffer {
  const parts: Buffer[] = [];
  for (const arg of argv) {
    if (parts.length > 0) parts.push(Buffer.from(' '));
    parts.push(shellQuote(arg));
  }
  return Buffer.concat(parts);
}

/**
 * An argument for rsync's `-e COMMAND`, which rsync splits at spaces and
 * where single or double quotes (not backslashes) keep spaces together.
 * Throws ERR_INVALID_ARG_VALUE for an argument holding both kinds of quote.
 */
export function rsyncRshWord(arg: string): string {
  if (arg !== '' && !/[\s'"]/.test(arg)) return arg;
  if (!arg.includes("'")) return `'${arg}'`;
  if (!arg.includes('"')) return `"${arg}"`;
  throw invalidArgValue('ssh', arg, "holds both ' and \", which rsync's -e cannot pass");
}
