// The sparse offset index of one segment: (offset relative to the segment's base, file
// position) pairs, 8 bytes each, big-endian uint32s (Kafka's OffsetIndex layout). Each entry
// points at the start of a batch whose base offset is `base + relative`. A new entry is added
// once `indexIntervalBytes` of batches were appended since the previous one, so the result is a
// pure function of the batch sizes and can always be rebuilt from the segment.

export const INDEX_ENTRY_BYTES = 8;

export class OffsetIndex {
  private buf: Buffer;
  // Invariant: entries [0, count) strictly increase in both offset and position.
  private count = 0;

  constructor(readonly baseOffset: number) {
    this.buf = Buffer.alloc(INDEX_ENTRY_BYTES * 16);
  }

  /**
   * An index read from disk, or undefined when it is not trustworthy: a size that is not a
   * multiple of 8, entries out of order, or positions beyond the segment's size.
   */
  static fromBytes(baseOffset: number, bytes: Buffer, segmentBytes: number): OffsetIndex | undefined {
    if (bytes.length % INDEX_ENTRY_BYTES !== 0) return undefined;
    const index = new OffsetIndex(baseOffset);
    for (let at = 0; at < bytes.length; at += INDEX_ENTRY_BYTES) {
      const rel = bytes.readUInt32BE(at);
      const pos = bytes.readUInt32BE(at + 4);
      const last = index.lastEntry();
      if (pos >= segmentBytes) return undefined;
      if (last !== undefined && (baseOffset + rel <= last.offset || pos <= last.position)) return undefined;
      index.append(baseOffset + rel, pos);
    }
    return index;
  }

  get entries(): number {
    return this.count;
  }

  append(offset: number, position: number): void {
    if (this.count * INDEX_ENTRY_BYTES === this.buf.length) {
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger);
      this.buf = bigger;
    }
    const at = this.count * INDEX_ENTRY_BYTES;
    this.buf.writeUInt32BE(offset - this.baseOffset, at);
    this.buf.writeUInt32BE(position, at + 4);
    this.count++;
  }

  /** File position of the last entry with offset <= `offset`; 0 (the segment start) if none. */
  lookup(offset: number): number {
    const rel = offset - this.baseOffset;
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.buf.readUInt32BE(mid * INDEX_ENTRY_BYTES) <= rel) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? 0 : this.buf.readUInt32BE(found * INDEX_ENTRY_BYTES + 4);
  }

  lastEntry(): { offset: number; position: number } | undefined {
    if (this.count === 0) return undefined;
    const at = (this.count - 1) * INDEX_ENTRY_BYTES;
    return { offset: this.baseOffset + this.buf.readUInt32BE(at), position: this.buf.readUInt32BE(at + 4) };
  }

  clear(): void {
    this.count = 0;
  }

  /** The entries as stored on disk (a view, valid until the next append). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.count * INDEX_ENTRY_BYTES);
  }
}
