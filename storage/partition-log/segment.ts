// One segment of a partition log: `<baseOffset, 20 digits>.log` holding whole v2 batches
// back to back, its sparse offset index `<baseOffset>.index` and its sparse time index
// `<baseOffset>.timeindex` (both kept in memory; written to disk when the segment stops being
// active and on close; rebuilt from the batches when missing, torn or stale).

import { writeSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BATCH_HEADER_BYTES,
  MAGIC_V2,
  batchBaseOffset,
  batchLastOffset,
  batchMaxTimestamp,
  batchTotalBytes,
  decodeRecords,
  verifyBatch,
} from '../record-batch.ts';
import { writeFileAtomic } from './checkpoint-file.ts';
import { OffsetIndex } from './offset-index.ts';
import { TimeIndex } from './time-index.ts';
import type { TimestampOffset } from './time-index.ts';

const MAGIC_AT = 16;
/** Recovery and truncation read the file in chunks of this size. */
const SCAN_CHUNK_BYTES = 1 << 20;

export function segmentFileName(baseOffset: number, suffix: '.log' | '.index' | '.timeindex'): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}

export interface ScanResult {
  /** File position where the valid prefix ends. */
  end: number;
  /** The offset after the last valid batch. */
  nextOffset: number;
  /** Why the scan stopped before the end of the file; undefined when it reached it. */
  problem: string | undefined;
}

/** Counters the tests and metrics read. */
export interface ReadStats {
  /** Bytes of batches skipped while looking for the batch holding a read's offset. */
  scannedBytes: number;
}

export class Segment {
  /** Bytes of whole batches in the file; reads never look past it. */
  size = 0;
  /** The offset after the last batch (== baseOffset when empty). */
  nextOffset: number;
  /**
   * Largest maxTimestamp of this segment's batches (-1 when none); drives time retention and
   * picks the segment a timestamp lookup searches.
   */
  maxTimestamp = -1;
  /** Base offset of the first batch whose maxTimestamp is `maxTimestamp` (Kafka's shallow offsetOfMaxTimestampSoFar). */
  private offsetOfMaxTimestamp: number;
  /** Written since the last fsync. */
  dirty = false;
  readonly index: OffsetIndex;
  /** Replaced whole when loaded from disk. */
  private timeIndex: TimeIndex;
  private bytesSinceIndexEntry = 0;
  private refs = 0;
  private closed = false;
  private closing: { resolve: () => void; done: Promise<void> } | undefined;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private readonly handle: FileHandle,
    private readonly indexIntervalBytes: number,
  ) {
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    this.index = new OffsetIndex(baseOffset);
    this.timeIndex = new TimeIndex(baseOffset);
  }

  get logPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.log'));
  }

  get indexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.index'));
  }

  get timeIndexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.timeindex'));
  }

  /** A new, empty segment (an existing file of that name is emptied). */
  static async create(dir: string, baseOffset: number, indexIntervalBytes: number): Promise<Segment> {
    const handle = await open(join(dir, segmentFileName(baseOffset, '.log')), 'w+');
    return new Segment(dir, baseOffset, handle, indexIntervalBytes);
  }

  /** An existing segment; `size` is the raw file size until recover() or loadIndex() runs. */
  static async open(dir: string, baseOffset: number, indexIntervalBytes: number): Promise<Segment> {
    const handle = await open(join(dir, segmentFileName(baseOffset, '.log')), 'r+');
    const seg = new Segment(dir, baseOffset, handle, indexIntervalBytes);
    seg.size = (await handle.stat()).size;
    return seg;
  }

  /**
   * Full recovery: scans every batch from the start, verifying CRCs and offset contiguity,
   * truncates the file at the first torn, corrupt or non-contiguous batch and rebuilds the
   * index. Returns the scan result (problem says what was dropped, if anything).
   */
  async recover(): Promise<ScanResult & { droppedBytes: number }> {
    const fileSize = this.size;
    this.resetDerived();
    const result = await this.scan(0, fileSize, this.baseOffset, true, (pos, base, total, last, maxTs) => this.noteBatch(pos, base, total, last, maxTs));
    this.size = result.end;
    if (result.end < fileSize) {
      await this.handle.truncate(result.end);
      await this.handle.datasync();
    }
    return { ...result, droppedBytes: fileSize - result.end };
  }

  /**
   * Trusts the index files of a non-active segment if both are well formed and the batches
   * from the offset index's last entry to the end of the file check out (CRC, contiguity,
   * ending exactly at the file size). That tail scan also yields nextOffset. The time index's
   * last entry holds the segment's largest timestamp (appended when it became inactive), so
   * a tail batch with a larger one means the time index is stale. A segment without a time
   * index (written before there was one) is recovered, which rebuilds it. Returns false when
   * the caller must run recover() instead.
   */
  async loadIndex(): Promise<boolean> {
    let bytes: Buffer;
    let timeBytes: Buffer;
    try {
      bytes = await readFile(this.indexPath);
      timeBytes = await readFile(this.timeIndexPath);
    } catch {
      return false;
    }
    const fileSize = this.size;
    const index = OffsetIndex.fromBytes(this.baseOffset, bytes, fileSize);
    if (index === undefined) return false;
    const last = index.lastEntry() ?? { offset: this.baseOffset, position: 0 };
    let tailMax = -1;
    let tailMaxOffset = this.baseOffset;
    const tail = await this.scan(last.position, fileSize, last.offset, true, (_p, base, _t, _l, ts) => {
      if (ts > tailMax) {
        tailMax = ts;
        tailMaxOffset = base;
      }
    });
    if (tail.problem !== undefined || tail.end !== fileSize) return false;
    const timeIndex = TimeIndex.fromBytes(this.baseOffset, timeBytes, tail.nextOffset);
    const lastTime = timeIndex?.lastEntry();
    if (timeIndex === undefined || tailMax > (lastTime?.timestamp ?? -1)) return false;
    this.resetDerived();
    this.size = fileSize;
    for (let i = 0, b = index.bytes(); i < b.length; i += 8) this.index.append(this.baseOffset + b.readUInt32BE(i), b.readUInt32BE(i + 4));
    this.timeIndex = timeIndex;
    this.nextOffset = tail.nextOffset;
    this.maxTimestamp = lastTime?.timestamp ?? tailMax;
    this.offsetOfMaxTimestamp = lastTime?.offset ?? tailMaxOffset;
    // Index entries are a function of batch sizes; the tail length since the last entry is
    // all that decides the next one.
    this.bytesSinceIndexEntry = this.size - last.position;
    return true;
  }

  /**
   * Appends whole batches (already validated) at the end of the file. The write is synchronous:
   * it only copies into the page cache (fsync is separate and async), and on the produce and
   * replication paths a thread-pool round trip cost more than the copy (two wake-ups per
   * append, on each of the leader and the followers, inside every acks=all request).
   */
  append(buf: Buffer, from: number, to: number): void {
    const position = this.size;
    let done = 0;
    while (done < to - from) done += writeSync(this.handle.fd, buf, from + done, to - from - done, position + done);
    this.dirty = true;
    // Publish only after the bytes are in the file: readers never look past `size`.
    for (let at = from; at < to; ) {
      const total = batchTotalBytes(buf, at);
      this.noteBatch(position + at - from, batchBaseOffset(buf, at), total, batchLastOffset(buf, at), batchMaxTimestamp(buf, at));
      at += total;
    }
  }

  /**
   * Drops the batch holding `offset` and everything after it; returns the new nextOffset (the
   * base offset of that batch). Rebuilds both indexes and maxTimestamp by rescanning what stays:
   * truncation is rare (follower reconciliation) and this keeps them exact.
   */
  async truncateTo(offset: number): Promise<number> {
    const stats = { scannedBytes: 0 };
    const cut = offset <= this.baseOffset ? 0 : await this.positionOf(offset, stats);
    this.resetDerived();
    const result = await this.scan(0, cut, this.baseOffset, false, (pos, base, total, last, maxTs) => this.noteBatch(pos, base, total, last, maxTs));
    this.size = result.end;
    await this.handle.truncate(result.end);
    this.dirty = true;
    return this.nextOffset;
  }

  /**
   * Whole batches starting with the one holding `offset`, up to `maxBytes` (at least one), none
   * with lastOffset >= `upperBound`. Uses the index then a short forward scan, never a scan
   * from the segment start (unless the index says so). The result is a view of one read.
   */
  async read(offset: number, maxBytes: number, upperBound: number, stats: ReadStats): Promise<{ records: Buffer; nextOffset: number }> {
    const empty = { records: Buffer.alloc(0), nextOffset: offset };
    const end = this.size;
    let pos = this.index.lookup(offset);
    let chunkPos = pos;
    let chunk = await this.readAt(pos, Math.min(end - pos, this.indexIntervalBytes + Math.max(maxBytes, BATCH_HEADER_BYTES)));
    for (;;) {
      if (pos >= end) return empty;
      let rel = pos - chunkPos;
      if (rel + BATCH_HEADER_BYTES > chunk.length) {
        chunk = await this.readAt(pos, Math.min(end - pos, Math.max(maxBytes, BATCH_HEADER_BYTES) + this.indexIntervalBytes));
        chunkPos = pos;
        rel = 0;
        // Fewer bytes than a header: a concurrent truncation shortened the file.
        if (chunk.length < BATCH_HEADER_BYTES) return empty;
      }
      if (batchLastOffset(chunk, rel) >= offset) break;
      const total = batchTotalBytes(chunk, rel);
      pos += total;
      stats.scannedBytes += total;
    }
    let rel = pos - chunkPos;
    const firstTotal = batchTotalBytes(chunk, rel);
    const span = Math.min(end - pos, Math.max(firstTotal, maxBytes));
    if (rel + span > chunk.length) {
      chunk = await this.readAt(pos, span);
      rel = 0;
    }
    const limit = Math.min(chunk.length, rel + span);
    let at = rel;
    let nextOffset = offset;
    while (at + BATCH_HEADER_BYTES <= limit) {
      const total = batchTotalBytes(chunk, at);
      if (at + total > limit) break;
      const last = batchLastOffset(chunk, at);
      if (last >= upperBound) break;
      nextOffset = last + 1;
      at += total;
    }
    return at === rel ? empty : { records: chunk.subarray(rel, at), nextOffset };
  }

  /** fdatasync of the log file; false when the segment is already closed (nothing to do). */
  async sync(): Promise<boolean> {
    if (this.closed || this.closing !== undefined) return false;
    this.dirty = false;
    this.acquire();
    try {
      await this.handle.datasync();
      return true;
    } finally {
      this.release();
    }
  }

  /**
   * The segment stops taking appends (a roll, or recovery of an older segment): the time
   * index gets its last entry, the segment's largest timestamp (Kafka onBecomeInactiveSegment).
   */
  markInactive(): void {
    this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
  }

  /**
   * Writes the index files (caches: see loadIndex), both before the caller creates the next
   * segment, so an inactive segment's pair always describes the same batches.
   */
  async writeIndex(sync: boolean): Promise<void> {
    await writeFileAtomic(this.timeIndexPath, this.timeIndex.bytes(), sync);
    await writeFileAtomic(this.indexPath, this.index.bytes(), sync);
  }

  /**
   * Kafka LogSegment.findOffsetByTimestamp: the first record with timestamp >= `timestamp`,
   * from the time index entry at or below it, through the offset index, then a scan of batch
   * headers; only the batch that matches is decoded. Undefined when no record here qualifies.
   */
  async findOffsetByTimestamp(timestamp: number, stats: ReadStats): Promise<TimestampOffset | undefined> {
    const from = this.timeIndex.lookup(timestamp);
    let pos = from === undefined ? 0 : this.index.lookup(from.offset);
    const end = this.size;
    const header = Buffer.alloc(BATCH_HEADER_BYTES);
    while (pos + BATCH_HEADER_BYTES <= end) {
      const { bytesRead } = await this.handle.read(header, 0, BATCH_HEADER_BYTES, pos);
      // Fewer bytes than a header: a concurrent truncation shortened the file.
      if (bytesRead < BATCH_HEADER_BYTES) return undefined;
      const total = batchTotalBytes(header, 0);
      if (batchMaxTimestamp(header, 0) >= timestamp) {
        const batch = await this.readAt(pos, total);
        if (batch.length < total) return undefined;
        // Compressed batches are decompressed (bounded) by decodeRecords.
        for (const r of decodeRecords(batch, 0)) {
          if (r.timestamp >= timestamp) return { timestamp: r.timestamp, offset: r.offset };
        }
      }
      pos += total;
      stats.scannedBytes += total;
    }
    return undefined;
  }

  /** Readers hold a reference so a concurrent delete or close waits for them. */
  acquire(): void {
    if (this.closed) throw new Error(`segment ${this.baseOffset} is closed`);
    this.refs++;
  }

  release(): void {
    this.refs--;
    if (this.refs === 0 && this.closing !== undefined) this.closing.resolve();
  }

  get isClosed(): boolean {
    return this.closed || this.closing !== undefined;
  }

  /** Closes the file once in-flight readers are done. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.closing === undefined) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      this.closing = { resolve, done };
      if (this.refs === 0) resolve();
    }
    const closing = this.closing;
    await closing.done;
    if (!this.closed) {
      this.closed = true;
      await this.handle.close();
    }
  }

  /** Unlinks both files now (open readers keep reading the unlinked inode), closes after them. */
  async remove(): Promise<void> {
    await rm(this.logPath, { force: true });
    await rm(this.indexPath, { force: true });
    await rm(this.timeIndexPath, { force: true });
    await this.close();
  }

  private resetDerived(): void {
    this.index.clear();
    this.timeIndex.clear();
    this.bytesSinceIndexEntry = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = this.baseOffset;
    this.size = 0;
  }

  private noteBatch(position: number, baseOffset: number, totalBytes: number, lastOffset: number, maxTimestamp: number): void {
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = baseOffset;
    }
    // Kafka LogSegment.append: an entry once more than the interval was written since the last;
    // the time index gets one with it when the largest timestamp grew.
    if (this.bytesSinceIndexEntry >= this.indexIntervalBytes) {
      this.index.append(baseOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += totalBytes;
    this.size = position + totalBytes;
    this.nextOffset = lastOffset + 1;
  }

  /** File position of the batch holding `offset` (or `size` when offset is past the end). */
  private async positionOf(offset: number, stats: ReadStats): Promise<number> {
    let pos = this.index.lookup(offset);
    const header = Buffer.alloc(BATCH_HEADER_BYTES);
    while (pos < this.size) {
      const { bytesRead } = await this.handle.read(header, 0, BATCH_HEADER_BYTES, pos);
      if (bytesRead < BATCH_HEADER_BYTES) break;
      if (batchLastOffset(header, 0) >= offset) return pos;
      const total = batchTotalBytes(header, 0);
      pos += total;
      stats.scannedBytes += total;
    }
    return this.size;
  }

  /**
   * Walks batches in [from, to) expecting the first at `expectedOffset`. Stops at a torn
   * header or batch, a bad magic or length, a CRC failure (when `verify`) or an offset gap.
   */
  private async scan(
    from: number,
    to: number,
    expectedOffset: number,
    verify: boolean,
    onBatch: (position: number, baseOffset: number, totalBytes: number, lastOffset: number, maxTimestamp: number) => void,
  ): Promise<ScanResult> {
    let pos = from;
    let next = expectedOffset;
    let chunk: Buffer = Buffer.alloc(0);
    let chunkPos = from;
    const stop = (problem: string): ScanResult => ({ end: pos, nextOffset: next, problem });
    while (pos < to) {
      let rel = pos - chunkPos;
      if (rel + BATCH_HEADER_BYTES > chunk.length) {
        if (to - pos < BATCH_HEADER_BYTES) return stop(`torn header: ${to - pos} bytes at position ${pos}`);
        chunk = await this.readAt(pos, Math.min(SCAN_CHUNK_BYTES, to - pos));
        chunkPos = pos;
        rel = 0;
      }
      const total = batchTotalBytes(chunk, rel);
      if (total < BATCH_HEADER_BYTES || chunk.readInt8(rel + MAGIC_AT) !== MAGIC_V2) return stop(`bad batch header at position ${pos}`);
      if (pos + total > to) return stop(`torn batch at position ${pos}: ${to - pos} of ${total} bytes`);
      if (rel + total > chunk.length) {
        chunk = await this.readAt(pos, Math.min(Math.max(SCAN_CHUNK_BYTES, total), to - pos));
        chunkPos = pos;
        rel = 0;
      }
      if (verify && !verifyBatch(chunk, rel)) return stop(`CRC or length check failed for the batch at position ${pos}`);
      const base = batchBaseOffset(chunk, rel);
      const last = batchLastOffset(chunk, rel);
      if (base !== next || last < base) return stop(`batch at position ${pos} has offsets ${base}..${last}, expected ${next}`);
      onBatch(pos, base, total, last, batchMaxTimestamp(chunk, rel));
      next = last + 1;
      pos += total;
    }
    return { end: pos, nextOffset: next, problem: undefined };
  }

  private async readAt(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(Math.max(0, length));
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.handle.read(buf, got, length - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  }
}
