/**
 * Turns the bytes of one read(2) batch into records. Each kernel record is
 * `struct inotify_event { int wd; uint32 mask, cookie, len; char name[len]; }`
 * with the name NUL-padded to `len` bytes.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import * as os from 'node:os';

/** One kernel event, decoded, in kernel order. */
export interface RawRecord {
  /** The watch descriptor; -1 for IN_Q_OVERFLOW. */
  wd: number;
  /** The event mask (unsigned). */
  mask: number;
  /** Links the IN_MOVED_FROM and IN_MOVED_TO of one rename; 0 otherwise. */
  cookie: number;
  /** The entry's name inside the watched directory; '' for events on the watch itself. */
  name: string;
  /** The exact name bytes, present only when the name is not valid UTF-8 (then `name` holds U+FFFD for the bad bytes). */
  nameBytes?: Buffer;
}

/** Size of the fixed part of a record. */
export const EVENT_HEADER_SIZE = 16;

const littleEndian = os.endianness() === 'LE';

/** Thrown when a batch is not a whole number of well-formed records (never the case for kernel data). */
export class MalformedBatchError extends RangeError {
  readonly code = 'ERR_INOTIFY_MALFORMED_BATCH';
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = 'MalformedBatchError';
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const fromCharCode = String.fromCharCode;

/**
 * An ASCII name (every byte below 0x80, so UTF-8 and char codes agree).
 * Short names, the usual case, are built by one String.fromCharCode call
 * with the bytes as arguments: no call into C++, about 15 ns for 8 bytes
 * against about 50 ns for `buffer.toString()` (Node 20, measured on the
 * bench machine). Longer ones are not worth a case each.
 */
function asciiName(b: Buffer, s: number, end: number): string {
  const c = (i: number): number => b[s + i] as number; // in bounds: s + i < end
  switch (end - s) {
    case 1: return fromCharCode(c(0));
    case 2: return fromCharCode(c(0), c(1));
    case 3: return fromCharCode(c(0), c(1), c(2));
    case 4: return fromCharCode(c(0), c(1), c(2), c(3));
    case 5: return fromCharCode(c(0), c(1), c(2), c(3), c(4));
    case 6: return fromCharCode(c(0), c(1), c(2), c(3), c(4), c(5));
    case 7: return fromCharCode(c(0), c(1), c(2), c(3), c(4), c(5), c(6));
    case 8: return fromCharCode(c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7));
    case 9: return fromCharCode(c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7), c(8));
    case 10: return fromCharCode(c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7), c(8), c(9));
    case 11: return fromCharCode(c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7), c(8), c(9), c(10));
    case 12: return fromCharCode(c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7), c(8), c(9), c(10), c(11));
    default: return b.toString('latin1', s, end);
  }
}

/**
 * Decodes `length` bytes of `bytes` (default: all of them). Names are
 * decoded as UTF-8; a name that is not valid UTF-8 never throws and keeps
 * its bytes in `nameBytes`. A truncated or inconsistent batch throws a
 * {@link MalformedBatchError}; nothing is ever read past `length`.
 */
export function decodeRecords(bytes: Uint8Array, length: number = bytes.byteLength, out: RawRecord[] = []): RawRecord[] {
  if (length > bytes.byteLength || length < 0) throw new MalformedBatchError(`batch length ${length} exceeds the buffer (${bytes.byteLength} bytes)`, 0);
  const buffer = asBuffer(bytes);
  const view = new DataView(buffer.buffer, buffer.byteOffset, length);
  let offset = 0;
  while (offset < length) {
    if (length - offset < EVENT_HEADER_SIZE) {
      throw new MalformedBatchError(`truncated inotify record header at byte ${offset} of ${length}`, offset);
    }
    const wd = view.getInt32(offset, littleEndian);
    const mask = view.getUint32(offset + 4, littleEndian);
    const cookie = view.getUint32(offset + 8, littleEndian);
    const nameLength = view.getUint32(offset + 12, littleEndian);
    const nameStart = offset + EVENT_HEADER_SIZE;
    const next = nameStart + nameLength;
    if (next > length) {
      throw new MalformedBatchError(`inotify record at byte ${offset} declares a ${nameLength}-byte name past the end of the batch (${length} bytes)`, offset);
    }
    let name = '';
    let nameBytes: Buffer | undefined;
    if (nameLength > 0) {
      // The name ends at its first NUL, searched for within the record only;
      // the same pass ORs the bytes together to tell an ASCII name.
      let nameEnd = nameStart;
      let bits = 0;
      while (nameEnd < next) {
        const byte = buffer[nameEnd] as number; // in bounds: nameEnd < next <= length
        if (byte === 0) break;
        bits |= byte;
        nameEnd++;
      }
      if (bits < 0x80) {
        name = asciiName(buffer, nameStart, nameEnd);
      } else {
        name = buffer.toString('utf8', nameStart, nameEnd);
        // toString never throws: it writes U+FFFD for invalid bytes. Keep the
        // exact bytes only then, so the common path allocates nothing more.
        if (name.includes('\uFFFD') && !isUtf8(buffer.subarray(nameStart, nameEnd))) {
          nameBytes = Buffer.from(buffer.subarray(nameStart, nameEnd));
        }
      }
    }
    out.push(nameBytes === undefined ? { wd, mask, cookie, name } : { wd, mask, cookie, name, nameBytes });
    offset = next;
  }
  return out;
}

/** Encodes records the way the kernel does (names NUL-padded to 16 bytes): for tests and fixtures. */
export function encodeRecords(records: ReadonlyArray<{ wd: number; mask: number; cookie?: number; name?: string | Buffer }>): Buffer {
  const parts: Buffer[] = [];
  for (const record of records) {
    const name = typeof record.name === 'string' ? Buffer.from(record.name) : (record.name ?? Buffer.alloc(0));
    const padded = name.length === 0 ? 0 : Math.ceil((name.length + 1) / EVENT_HEADER_SIZE) * EVENT_HEADER_SIZE;
    const part = Buffer.alloc(EVENT_HEADER_SIZE + padded);
    const write = littleEndian ? 'LE' : 'BE';
    part[`writeInt32${write}`](record.wd, 0);
    part[`writeUInt32${write}`](record.mask >>> 0, 4);
    part[`writeUInt32${write}`]((record.cookie ?? 0) >>> 0, 8);
    part[`writeUInt32${write}`](padded, 12);
    name.copy(part, EVENT_HEADER_SIZE);
    parts.push(part);
  }
  return Buffer.concat(parts);
}
