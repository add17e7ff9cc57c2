/** The errors of the forward layer, each with a Node-style `code`. */
import type { CodedError } from '../errors.js';

/** Every `code` this layer gives its errors. */
export type ForwardErrorCode =
  /** The stream client package (`@nats-io/transport-node`, `@nats-io/jetstream`) is not installed. */
  | 'ERR_FORWARD_CLIENT_MISSING'
  /** The spool holds `maxMessages` or `maxBytes` already: the arrival was not accepted. */
  | 'ERR_FORWARD_SPOOL_FULL'
  /** Another live process holds the spool directory. */
  | 'ERR_FORWARD_SPOOL_LOCKED'
  /** A spool file that cannot be read back (set aside under `rejected/`). */
  | 'ERR_FORWARD_SPOOL_CORRUPT'
  /** The server refused a message for good (too large, no stream for its subject): set aside under `rejected/`. */
  | 'ERR_FORWARD_REJECTED'
  /** The publisher is closed. */
  | 'ERR_FORWARD_CLOSED';

/** An Error with one of the {@link ForwardErrorCode}s (and `path` when a file is at fault). */
export function forwardError(code: ForwardErrorCode, message: string, extra: { path?: string; cause?: unknown } = {}): CodedError {
  const error: CodedError = new Error(message, extra.cause === undefined ? undefined : { cause: extra.cause });
  error.code = code;
  if (extra.path !== undefined) error.path = extra.path;
  return error;
}
