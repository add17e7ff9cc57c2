/**
 * The arrival message: what a host tells the fleet about one file that
 * arrived complete, as JSON, bytes-safe for names that are not UTF-8.
 */
import { Buffer } from 'node:buffer';
import { invalidArgValue } from '../errors.js';

/** The schema version in every message (`v`). */
export const ARRIVAL_SCHEMA_VERSION = 1;

/** One arrival, as published (JSON). Field names are snake_case: other languages read them too. */
export interface ArrivalMessage {
  /** Schema version: {@link ARRIVAL_SCHEMA_VERSION}. */
  readonly v: number;
  /**
   * The stable id of this arrival: `host:dev:ino:mtime_ns:size`. The same file
   * (same inode, unchanged) always gets the same id, so the stream drops a re-send.
   */
  readonly id: string;
  /** The host that saw the file arrive (os.hostname() unless configured). */
  readonly host: string;
  /** The watched directory the file arrived in; null when unknown. */
  readonly root: string | null;
  /** The absolute pathname on `host`. Bytes that are not UTF-8 appear as U+FFFD: use `pathname_b64` then. */
  readonly pathname: string;
  /** The exact bytes of the pathname, base64; present only when they are not valid UTF-8. */
  readonly pathname_b64?: string;
  /** `pathname` relative to `root` (null without a root, or when the file is outside it). */
  readonly relpath: string | null;
  /** Size in bytes when the arrival was described. */
  readonly size: number;
  /** Modification time, ISO 8601 (ms precision). */
  readonly mtime: string;
  /** Modification time in ns since the epoch, as a decimal string (exact). */
  readonly mtime_ns: string;
  /** Device and inode numbers, decimal strings (inodes may exceed 2^53). */
  readonly dev: string;
  readonly ino: string;
  /** The sha256 of the content, hex, when hashing was asked for. */
  readonly sha256?: string;
  /** How it arrived: the transfer tracker's kind (`rsync`, `close-write`, ...) or the inotify event's name. */
  readonly via: string;
  /** The event that reported it: `TRANSFER_COMPLETE` or an IN_* mask name. */
  readonly event: string;
  /** When the event happened, ISO 8601. */
  readonly event_time: string;
  /** The temporary (or earlier) name it was renamed from, when it was renamed into place. */
  readonly src_pathname?: string;
}

/** A received message with its pathname as exact bytes. */
export interface DecodedArrival extends ArrivalMessage {
  /** The exact pathname bytes (from `pathname_b64` when present): open the file with it. */
  readonly pathnameBytes: Buffer;
}

/** True when `bytes` decode as UTF-8 without replacement. */
export function isUtf8Bytes(bytes: Buffer): boolean {
  return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

/** The message as the bytes published. */
export function encodeArrival(message: ArrivalMessage): Uint8Array {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

const REQUIRED_STRINGS = ['id', 'host', 'pathname', 'mtime', 'mtime_ns', 'dev', 'ino', 'via', 'event', 'event_time'] as const;

/**
 * Parses a received message (bytes or string), checks its shape, and adds
 * `pathnameBytes`. Throws ERR_INVALID_ARG_VALUE for anything else.
 */
export function decodeArrival(data: Uint8Array | string): DecodedArrival {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  } catch (error) {
    throw invalidArgValue('data', String(data).slice(0, 60), `is not JSON (${(error as Error).message})`);
  }
  const record = value as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || record.v !== ARRIVAL_SCHEMA_VERSION) {
    throw invalidArgValue('data', value, `is not an arrival message of schema version ${ARRIVAL_SCHEMA_VERSION}`);
  }
  for (const key of REQUIRED_STRINGS) {
    if (typeof record[key] !== 'string') throw invalidArgValue('data', value, `has no string "${key}"`);
  }
  if (typeof record.size !== 'number') throw invalidArgValue('data', value, 'has no number "size"');
  const message = value as ArrivalMessage;
  const pathnameBytes = message.pathname_b64 === undefined ? Buffer.from(message.pathname, 'utf8') : Buffer.from(message.pathname_b64, 'base64');
  return { ...message, pathnameBytes };
}
