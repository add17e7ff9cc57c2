/**
 * Errors raised on the JavaScript side, in Node's own shapes: argument
 * errors like Node's ERR_INVALID_ARG_TYPE, and system errors like fs errors
 * (`code`, `errno`, `syscall`, `path`, message `CODE: text, syscall 'path'`).
 */
import { getSystemErrorMap, inspect } from 'node:util';
import * as os from 'node:os';

/** An Error carrying Node's error `code` (and, for system errors, errno/syscall/path). */
export type CodedError = Error & NodeJS.ErrnoException;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `an instance of ${name}` : inspect(value, { depth: -1 });
  }
  return `type ${typeof value} (${inspect(value).slice(0, 28)})`;
}

/** A TypeError like Node's: `The "path" argument must be of type string. Received type number (1)`. */
export function invalidArgType(name: string, expected: string, actual: unknown): CodedError {
  const error: CodedError = new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`);
  error.code = 'ERR_INVALID_ARG_TYPE';
  return error;
}

/** A TypeError like Node's ERR_INVALID_ARG_VALUE. */
export function invalidArgValue(name: string, actual: unknown, reason: string): CodedError {
  const error: CodedError = new TypeError(`The argument '${name}' ${reason}. Received ${inspect(actual).slice(0, 60)}`);
  error.code = 'ERR_INVALID_ARG_VALUE';
  return error;
}

/** A RangeError like Node's ERR_OUT_OF_RANGE. */
export function outOfRange(name: string, range: string, actual: unknown): CodedError {
  const error: CodedError = new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${inspect(actual)}`);
  error.code = 'ERR_OUT_OF_RANGE';
  return error;
}

/** libuv's text for an errno name, as Node's own fs errors print it (`ENOENT` -> `no such file or directory`). */
function systemMessage(code: string): string {
  const errnum = (os.constants.errno as Record<string, number | undefined>)[code];
  const entry = errnum === undefined ? undefined : getSystemErrorMap().get(-errnum);
  return entry?.[1] ?? code.toLowerCase();
}

/** A system error built in JS, shaped exactly like the addon's and fs's. */
export function systemError(code: string, syscall: string, path?: string, hint?: string): CodedError {
  const text = systemMessage(code);
  let message = `${code}: ${text}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  if (hint !== undefined) message += ` (${hint})`;
  const error: CodedError = new Error(message);
  const errnum = (os.constants.errno as Record<string, number | undefined>)[code];
  if (errnum !== undefined) error.errno = -errnum;
  error.code = code;
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  return error;
}

/** True for an Error that carries a Node-style `code`. */
export function isCodedError(value: unknown): value is CodedError {
  return value instanceof Error && typeof (value as CodedError).code === 'string';
}
