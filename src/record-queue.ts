/**
 * The Notifier's records not yet handled, in kernel order. Read batches are
 * kept as bytes (a copy: the addon's buffer is refilled by the next read,
 * and by any synchronous scan while a listener runs) and decoded one record
 * at a time as they are handled, so a batch never exists as thousands of
 * objects at once. Records the WatchManager drained during its scans arrive
 * already decoded and queue up behind.
 * @internal
 */
import { Buffer } from 'node:buffer';
import { BatchReader, type RawRecord } from './decode.js';

type Visit<T> = (wd: number, mask: number, cookie: number) => T | undefined;

// Decoded records, as an array segment with a cursor.
class ArraySegment {
  #index = 0;
  constructor(private readonly records: readonly RawRecord[]) {}

  get done(): boolean {
    return this.#index >= this.records.length;
  }

  next(): RawRecord {
    return this.records[this.#index++] as RawRecord;
  }

  scan<T>(visit: Visit<T>): T | undefined {
    for (let i = this.#index; i < this.records.length; i++) {
      const record = this.records[i] as RawRecord;
      const found = visit(record.wd, record.mask, record.cookie);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  scanRecords<T>(visit: (record: RawRecord) => T | undefined): T | undefined {
    for (let i = this.#index; i < this.records.length; i++) {
      const found = visit(this.records[i] as RawRecord);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  holdsAny(bits: number): boolean {
    for (let i = this.#index; i < this.records.length; i++) if ((this.records[i] as RawRecord).mask & bits) return true;
    return false;
  }

  rest(out: RawRecord[]): RawRecord[] {
    for (let i = this.#index; i < this.records.length; i++) out.push(this.records[i] as RawRecord);
    return out;
  }
}

type Segment = ArraySegment | BatchReader;

const MIN_SPARE = 4096;

/** The smallest power of two, at least MIN_SPARE, that holds `length` bytes. */
function spareSize(length: number): number {
  let size = MIN_SPARE;
  while (size < length) size *= 2;
  return size;
}

export class RecordQueue {
  #segments: Array<Segment | undefined> = [];
  // Where #segments starts: a shift() of an array moves every element.
  #first = 0;
  // One copy buffer kept from batch to batch, used whenever no segment reads from it.
  #spare: Buffer | undefined;
  #spareInUse: BatchReader | undefined;

  /** True when nothing is queued. */
  get empty(): boolean {
    return this.#first >= this.#segments.length;
  }

  /** Queues a copy of `length` bytes of a read batch. Throws a MalformedBatchError (queueing nothing) unless they are whole records. */
  pushBytes(bytes: Buffer, length: number): void {
    let copy: Buffer;
    let own = false;
    if (this.#spareInUse === undefined && length <= (this.#spare?.length ?? 0)) {
      copy = this.#spare as Buffer;
      own = true;
    } else if (this.#spareInUse === undefined) {
      // Sized to need, doubling: a watch that sees a few records at a time
      // keeps a few KiB, not the addon's whole buffer (256 KiB).
      this.#spare = copy = Buffer.allocUnsafeSlow(spareSize(length));
      own = true;
    } else {
      copy = Buffer.allocUnsafeSlow(length);
    }
    bytes.copy(copy, 0, 0, length);
    const reader = new BatchReader(copy, length);
    if (own) this.#spareInUse = reader;
    if (!reader.done) this.#push(reader);
    else if (own) this.#spareInUse = undefined;
  }

  /** Queues records already decoded. */
  pushRecords(records: readonly RawRecord[]): void {
    if (records.length !== 0) this.#push(new ArraySegment(records));
  }

  /**
   * The next record, removed from the queue; undefined when empty. With
   * `into`, a record of a batch kept as bytes is decoded into that object
   * (see {@link BatchReader.next}), which is returned, so it is valid only
   * until the next shift into it; records queued decoded are returned as they are.
   */
  shift(into?: RawRecord): RawRecord | undefined {
    while (this.#first < this.#segments.length) {
      const segment = this.#segments[this.#first] as Segment;
      if (!segment.done) {
        const record = segment instanceof BatchReader ? segment.next(into) : segment.next();
        if (segment.done) this.#drop();
        return record;
      }
      this.#drop();
    }
    return undefined;
  }

  /**
   * Calls `visit` with (wd, mask, cookie) of each queued record in order,
   * without decoding names or removing anything, until it returns something
   * other than undefined; returns that.
   */
  scan<T>(visit: Visit<T>): T | undefined {
    for (let i = this.#first; i < this.#segments.length; i++) {
      const found = (this.#segments[i] as Segment).scan(visit);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * Calls `visit` with each queued record in order, decoded (a batch's
   * records into one reused object, valid only during the call), without
   * removing any, until it returns something other than undefined; returns
   * that. Costs a decode per record: for rare questions (see holdsAny).
   */
  scanRecords<T>(visit: (record: RawRecord) => T | undefined): T | undefined {
    const scratch: RawRecord = { wd: 0, mask: 0, cookie: 0, name: '', nameBytes: undefined };
    for (let i = this.#first; i < this.#segments.length; i++) {
      const segment = this.#segments[i] as Segment;
      const found = segment instanceof BatchReader ? segment.scanRecords(visit, scratch) : segment.scanRecords(visit);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** Whether a queued record has a bit of `bits` in its mask (cheap when asked again with the same bits). */
  holdsAny(bits: number): boolean {
    for (let i = this.#first; i < this.#segments.length; i++) if ((this.#segments[i] as Segment).holdsAny(bits)) return true;
    return false;
  }

  /** Every queued record, decoded, without removing any. */
  toArray(): RawRecord[] {
    const out: RawRecord[] = [];
    for (let i = this.#first; i < this.#segments.length; i++) (this.#segments[i] as Segment).rest(out);
    return out;
  }

  #push(segment: Segment): void {
    if (this.empty) {
      this.#segments = [];
      this.#first = 0;
    }
    this.#segments.push(segment);
  }

  #drop(): void {
    if (this.#segments[this.#first] === this.#spareInUse) this.#spareInUse = undefined;
    this.#segments[this.#first++] = undefined; // let the garbage collector have it
  }
}
