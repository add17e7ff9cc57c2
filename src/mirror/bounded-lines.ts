/**
 * Splitting a byte stream into lines with a cap on a line's length, so that
 * a peer that never sends a newline cannot make this end hold unbounded
 * memory (readline has no such cap). A line longer than the cap is skipped
 * up to its newline and reported as one `tooLong` item, then reading goes on.
 */
import { Buffer } from 'node:buffer';
import type { Readable } from 'node:stream';

/** One line (without its newline, `\r\n` accepted), or the place of one that was too long. */
export type BoundedLine = { readonly line: string } | { readonly tooLong: number };

/**
 * The lines of `input` (UTF-8), each at most `max` bytes; a longer one
 * yields `{ tooLong: bytes }` (its length, counted up to its newline) instead.
 */
export async function* boundedLines(input: Readable, max: number): AsyncGenerator<BoundedLine> {
  let parts: Buffer[] = [];
  let held = 0;
  /** Bytes of the current line when it went past `max` (its bytes are not kept). */
  let skipping: number | undefined;
  const finish = (rest: Buffer): BoundedLine => {
    if (skipping !== undefined) {
      const item = { tooLong: skipping + rest.length };
      skipping = undefined;
      return item;
    }
    const bytes = parts.length === 0 ? rest : Buffer.concat([...parts, rest]);
    parts = [];
    held = 0;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    return { line: bytes.toString('utf8', 0, end) };
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (;;) {
      const newline = data.indexOf(0x0a);
      const piece = newline < 0 ? data : data.subarray(0, newline);
      if (skipping === undefined && held + piece.length > max) {
        skipping = held;
        parts = [];
        held = 0;
      }
      if (newline < 0) {
        if (skipping === undefined) {
          parts.push(Buffer.from(piece));
          held += piece.length;
        } else {
          skipping += piece.length;
        }
        break;
      }
      yield finish(piece);
      data = data.subarray(newline + 1);
    }
  }
  if (held > 0 || skipping !== undefined) yield finish(Buffer.alloc(0));
}
