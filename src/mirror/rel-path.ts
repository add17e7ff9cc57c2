/**
 * A path inside the mirrored tree, relative to its root, kept as bytes (Linux
 * names are bytes: a name that is not UTF-8 must reach the destination
 * unchanged) with a UTF-8 rendering for messages and JSON.
 */
import { Buffer } from 'node:buffer';
import { invalidArgValue } from '../errors.js';

/** A path relative to a mirror root: `a/b/c`, never empty, absolute, or with a `.`/`..` segment. */
export class RelPath {
  /** The raw bytes, `/`-separated. */
  readonly bytes: Buffer;
  /** The path decoded as UTF-8 (lossy for names that are not UTF-8; for display only). */
  readonly text: string;

  private constructor(bytes: Buffer) {
    this.bytes = bytes;
    this.text = bytes.toString('utf8');
  }

  /**
   * Checks `bytes` and wraps them. Throws ERR_INVALID_ARG_VALUE for an empty
   * or absolute path, a NUL byte, or an empty, `.` or `..` segment: nothing
   * may name a place outside the root.
   */
  static from(bytes: Buffer | string): RelPath {
    const raw = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    const text = raw.toString('utf8');
    if (raw.length === 0 || raw[0] === 0x2f || raw.includes(0)) throw invalidArgValue('path', text, 'must be a relative path without NUL bytes');
    for (const segment of text.split('/')) {
      if (segment === '' || segment === '.' || segment === '..') throw invalidArgValue('path', text, 'must not have an empty, "." or ".." segment');
    }
    return new RelPath(raw);
  }

  /**
   * The path of `absolute` (bytes) below `root` (bytes, no trailing slash),
   * or undefined when it is the root itself or not below it.
   */
  static below(root: Buffer, absolute: Buffer): RelPath | undefined {
    const base = root.length === 1 && root[0] === 0x2f ? 0 : root.length;
    if (absolute.length <= base + 1 || absolute[base] !== 0x2f || !absolute.subarray(0, base).equals(root.subarray(0, base))) return undefined;
    try {
      return RelPath.from(absolute.subarray(base + 1));
    } catch {
      return undefined;
    }
  }

  /** The parent directory, or undefined at the top level. */
  parent(): RelPath | undefined {
    const slash = this.bytes.lastIndexOf(0x2f);
    return slash < 0 ? undefined : new RelPath(this.bytes.subarray(0, slash));
  }

  /** True when `other` is this path or below it. */
  contains(other: RelPath): boolean {
    return other.bytes.equals(this.bytes)
      || (other.bytes.length > this.bytes.length && other.bytes[this.bytes.length] === 0x2f
        && other.bytes.subarray(0, this.bytes.length).equals(this.bytes));
  }

  /** `root/this` as bytes (root without a trailing slash). */
  under(root: Buffer): Buffer {
    return Buffer.concat([root, Buffer.from('/'), this.bytes]);
  }

  /** A Map key: the bytes as latin1 (one char per byte, so distinct bytes stay distinct). */
  get key(): string {
    return this.bytes.toString('latin1');
  }
}
