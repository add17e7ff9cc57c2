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
 * {@link MalformedBatchError} (before any record is appended to `out`);
 * nothing is ever read past `length`.
 */
export function decodeRecords(bytes: Uint8Array, length: number = bytes.byteLength, out: RawRecord[] = []): RawRecord[] {
  const reader = new BatchReader(asBuffer(bytes), length);
  while (!reader.done) out.push(reader.next());
  return out;
}

/**
 * A cursor over one batch, checked whole when made, that decodes a record
 * only when asked for it. The Notifier reads batches this way: a batch
 * decoded at once keeps every record and name of it alive until the last is
 * handled, and each scavenge during that time copies them all (measured:
 * the larger part of the garbage collector's time on a backlog drain).
 * @internal
 */
export class BatchReader {
  readonly #buffer: Buffer;
  readonly #view: DataView;
  readonly #length: number;
  #offset = 0;
  // See holdsAny: the bits last asked about and the last record that has one.
  #markedBits = 0;
  #lastMarked = -1;

  /** Throws a {@link MalformedBatchError} unless the first `length` bytes of `buffer` are whole records. */
  constructor(buffer: Buffer, length: number) {
    if (length > buffer.byteLength || length < 0) throw new MalformedBatchError(`batch length ${length} exceeds the buffer (${buffer.byteLength} bytes)`, 0);
    this.#buffer = buffer;
    this.#view = new DataView(buffer.buffer, buffer.byteOffset, length);
    this.#length = length;
    for (let offset = 0; offset < length; offset = this.#end(offset)) {
      if (length - offset < EVENT_HEADER_SIZE) {
        throw new MalformedBatchError(`truncated inotify record header at byte ${offset} of ${length}`, offset);
      }
      const nameLength = this.#view.getUint32(offset + 12, littleEndian);
      if (this.#end(offset) > length) {
        throw new MalformedBatchError(`inotify record at byte ${offset} declares a ${nameLength}-byte name past the end of the batch (${length} bytes)`, offset);
      }
    }
  }

  /** True when every record was read. */
  get done(): boolean {
    return !(this.#offset < this.#length); // also for a NaN length, which reads nothing
  }

  /**
   * The record at the cursor, decoded; the cursor moves past it. Only when
   * not {@link BatchReader.done}. With `into`, its fields are written there
   * (`nameBytes` too, undefined for a valid name) and `into` is returned:
   * no object per record.
   */
  next(into?: RawRecord): RawRecord {
    const offset = this.#offset;
    this.#offset = this.#end(offset);
    return this.#decode(offset, into);
  }

  /**
   * Calls `visit` with the header of each record from the cursor on, in
   * order, without decoding names or moving the cursor, until it returns
   * something other than undefined; returns that.
   */
  scan<T>(visit: (wd: number, mask: number, cookie: number) => T | undefined): T | undefined {
    const view = this.#view;
    for (let offset = this.#offset; offset < this.#length; offset = this.#end(offset)) {
      const found = visit(view.getInt32(offset, littleEndian), view.getUint32(offset + 4, littleEndian), view.getUint32(offset + 8, littleEndian));
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * Like {@link BatchReader.scan}, with each record decoded (name included)
   * into `scratch`, which is valid only during the call of `visit`.
   */
  scanRecords<T>(visit: (record: RawRecord) => T | undefined, scratch: RawRecord): T | undefined {
    for (let offset = this.#offset; offset < this.#length; offset = this.#end(offset)) {
      const found = visit(this.#decode(offset, scratch));
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * Whether a record from the cursor on has a bit of `bits` in its mask. The
   * last such record's offset is found once per `bits` and kept, so asking
   * again as the cursor moves costs nothing.
   */
  holdsAny(bits: number): boolean {
    if (this.#markedBits !== bits) {
      this.#markedBits = bits;
      this.#lastMarked = -1;
      const view = this.#view;
      for (let offset = 0; offset < this.#length; offset = this.#end(offset)) {
        if (view.getUint32(offset + 4, littleEndian) & bits) this.#lastMarked = offset;
      }
    }
    return this.#lastMarked >= this.#offset;
  }

  /** Every record from the cursor on, decoded, without moving the cursor. */
  rest(out: RawRecord[] = []): RawRecord[] {
    for (let offset = this.#offset; offset < this.#length; offset = this.#end(offset)) out.push(this.#decode(offset));
    return out;
  }

  #end(offset: number): number {
    return offset + EVENT_HEADER_SIZE + this.#view.getUint32(offset + 12, littleEndian);
  }

  #decode(offset: number, into?: RawRecord): RawRecord {
    const view = this.#view;
    const buffer = this.#buffer;
    const wd = view.getInt32(offset, littleEndian);
    const mask = view.getUint32(offset + 4, littleEndian);
    const cookie = view.getUint32(offset + 8, littleEndian);
    const nameStart = offset + EVENT_HEADER_SIZE;
    const next = this.#end(offset);
    let name = '';
    let nameBytes: Buffer | undefined;
    if (next > nameStart) {
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
    if (into === undefined) return nameBytes === undefined ? { wd, mask, cookie, name } : { wd, mask, cookie, name, nameBytes };
    into.wd = wd;
    into.mask = mask;
    into.cookie = cookie;
    into.name = name;
    into.nameBytes = nameBytes;
    return into;
  }
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
