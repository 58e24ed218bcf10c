// The sparse time index of one segment (Kafka's TimeIndex): (timestamp, offset relative to the
// segment's base) pairs, 12 bytes each, a big-endian int64 then a uint32 (Kafka's layout).
// An entry (T, o) says: T is the largest record timestamp of the segment up to the entry, and
// o is the base offset of the first batch holding a record with timestamp T. So every record
// in a batch before o's has a timestamp < T, which is what makes a lookup safe (see lookup).
// Entries are added with the offset index's (every `indexIntervalBytes`) when the segment's
// largest timestamp grew since the last entry, and once more when the segment stops being
// active, so the last entry of an inactive segment holds its largest timestamp. Like the
// offset index it is a pure function of the batches and is rebuilt from them when in doubt.

export const TIME_INDEX_ENTRY_BYTES = 12;
const TWO_32 = 0x1_0000_0000;

/** A record's timestamp and offset (Kafka's TimestampAndOffset, without the epoch). */
export interface TimestampOffset {
  readonly timestamp: number;
  readonly offset: number;
}

export class TimeIndex {
  private buf: Buffer;
  // Invariant: entries [0, count) strictly increase in both timestamp and offset.
  private count = 0;

  constructor(readonly baseOffset: number) {
    this.buf = Buffer.alloc(TIME_INDEX_ENTRY_BYTES * 16);
  }

  /**
   * An index read from disk, or undefined when it is not trustworthy: a size that is not a
   * multiple of 12 (a torn write), entries out of order, or offsets outside
   * [baseOffset, nextOffset).
   */
  static fromBytes(baseOffset: number, bytes: Buffer, nextOffset: number): TimeIndex | undefined {
    if (bytes.length % TIME_INDEX_ENTRY_BYTES !== 0) return undefined;
    const index = new TimeIndex(baseOffset);
    for (let at = 0; at < bytes.length; at += TIME_INDEX_ENTRY_BYTES) {
      const timestamp = bytes.readInt32BE(at) * TWO_32 + bytes.readUInt32BE(at + 4);
      const offset = baseOffset + bytes.readUInt32BE(at + 8);
      const last = index.lastEntry();
      if (offset >= nextOffset) return undefined;
      if (last !== undefined && (timestamp <= last.timestamp || offset <= last.offset)) return undefined;
      index.append(timestamp, offset);
    }
    return index;
  }

  get entries(): number {
    return this.count;
  }

  /** Appends (timestamp, offset) when the timestamp is larger than the last entry's (Kafka maybeAppend). */
  maybeAppend(timestamp: number, offset: number): void {
    const last = this.lastEntry();
    if (last !== undefined && timestamp <= last.timestamp) return;
    if (last === undefined && timestamp < 0) return; // no record timestamp yet (Kafka NO_TIMESTAMP = -1)
    this.append(timestamp, offset);
  }

  /**
   * The last entry with timestamp <= `timestamp`, or undefined when none is. Every record in a
   * batch before the entry's offset has a smaller timestamp than the entry's, hence than
   * `timestamp`: the first record at or after `timestamp` is in the entry's batch or later.
   */
  lookup(timestamp: number): TimestampOffset | undefined {
    let lo = 0;
    let hi = this.count - 1;
    let found: TimestampOffset | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.entry(mid);
      if (e.timestamp <= timestamp) {
        found = e;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  lastEntry(): TimestampOffset | undefined {
    return this.count === 0 ? undefined : this.entry(this.count - 1);
  }

  clear(): void {
    this.count = 0;
  }

  /** The entries as stored on disk (a view, valid until the next append). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.count * TIME_INDEX_ENTRY_BYTES);
  }

  private entry(i: number): TimestampOffset {
    const at = i * TIME_INDEX_ENTRY_BYTES;
    return { timestamp: this.buf.readInt32BE(at) * TWO_32 + this.buf.readUInt32BE(at + 4), offset: this.baseOffset + this.buf.readUInt32BE(at + 8) };
  }

  private append(timestamp: number, offset: number): void {
    if (this.count * TIME_INDEX_ENTRY_BYTES === this.buf.length) {
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger);
      this.buf = bigger;
    }
    const at = this.count * TIME_INDEX_ENTRY_BYTES;
    const hi = Math.floor(timestamp / TWO_32);
    this.buf.writeInt32BE(hi, at);
    this.buf.writeUInt32BE(timestamp - hi * TWO_32, at + 4);
    this.buf.writeUInt32BE(offset - this.baseOffset, at + 8);
    this.count++;
  }
}
