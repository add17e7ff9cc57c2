/** Builds the {@link ArrivalMessage} of a file: stat, optional hash, stable id. */
import type { Buffer } from 'node:buffer';
import { lstat } from 'node:fs/promises';
import { hostname } from 'node:os';
import * as nodePath from 'node:path';
import { sha256File } from './hash-file.js';
import { ARRIVAL_SCHEMA_VERSION, isUtf8Bytes, type ArrivalMessage } from './message.js';
import { recoverPathBytes } from './path-bytes.js';

/** What is known about an arrival before the file is looked at. */
export interface ArrivalFacts {
  /** The pathname (a lossy string is recovered as bytes) or its exact bytes. */
  pathname: string | Buffer;
  /** How it arrived (`via`): a transfer kind or an event name. */
  via: string;
  /** The event's name (default `TRANSFER_COMPLETE`). */
  event?: string;
  /** When the event happened, ms since the epoch (default now). */
  time?: number;
  /** The name it was renamed from. */
  srcPathname?: string | undefined;
}

/** Options of {@link describeArrival}. */
export interface DescribeOptions {
  /** The host name in the message and the id (default os.hostname()). */
  host?: string;
  /** The watched directory (gives `root` and `relpath`). */
  root?: string | undefined;
  /** Add the content's sha256 (streamed). Default false. */
  hash?: boolean;
  /** Aborts the hashing. */
  signal?: AbortSignal;
}

/**
 * Stats the file (lstat: a symbolic link is described, not followed),
 * hashes it when asked, and returns its message. Rejects with the stat's
 * error (ENOENT when the file went away before it could be described).
 */
export async function describeArrival(facts: ArrivalFacts, options: DescribeOptions = {}): Promise<ArrivalMessage> {
  const bytes = typeof facts.pathname === 'string' ? recoverPathBytes(facts.pathname) : facts.pathname;
  const stat = await lstat(bytes, { bigint: true });
  const host = options.host ?? hostname();
  const pathname = bytes.toString('utf8');
  const size = Number(stat.size);
  const root = options.root === undefined ? null : nodePath.resolve(options.root);
  const inside = root !== null && (pathname === root || pathname.startsWith(root === '/' ? '/' : `${root}/`));
  const sha256 = options.hash === true && stat.isFile() ? await sha256File(bytes, options.signal) : undefined;
  const message: ArrivalMessage = {
    v: ARRIVAL_SCHEMA_VERSION,
    id: `${host}:${stat.dev}:${stat.ino}:${stat.mtimeNs}:${stat.size}`,
    host,
    root,
    pathname,
    ...(isUtf8Bytes(bytes) ? {} : { pathname_b64: bytes.toString('base64') }),
    relpath: inside ? nodePath.relative(root, pathname) : null,
    size,
    mtime: new Date(Number(stat.mtimeMs)).toISOString(),
    mtime_ns: stat.mtimeNs.toString(),
    dev: stat.dev.toString(),
    ino: stat.ino.toString(),
    ...(sha256 === undefined ? {} : { sha256 }),
    via: facts.via,
    event: facts.event ?? 'TRANSFER_COMPLETE',
    event_time: new Date(facts.time ?? Date.now()).toISOString(),
    ...(facts.srcPathname === undefined ? {} : { src_pathname: facts.srcPathname }),
  };
  return message;
}
