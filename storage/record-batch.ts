// Kafka RecordBatch v2 (magic 2), byte for byte as Kafka's DefaultRecordBatch, so a later
// Kafka-protocol listener can serve the stored bytes without re-encoding.
//
//   0  baseOffset            int64
//   8  batchLength           int32   bytes after this field (total = batchLength + 12)
//  12  partitionLeaderEpoch  int32   } outside the CRC: the log rewrites these two in place
//  16  magic                 int8    = 2
//  17  crc                   uint32  CRC-32C of bytes [21, end)
//  21  attributes            int16   bits 0-2 codec (storage/compression.ts); not transactional, not control
//  23  lastOffsetDelta       int32
//  27  baseTimestamp         int64   (firstTimestamp: the first record's timestamp)
//  35  maxTimestamp          int64
//  43  producerId            int64
//  51  producerEpoch         int16
//  53  baseSequence          int32
//  57  records count         int32
//  61  records...
//
// A record: length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
// keyLength varint (-1 = null), key, valueLength varint (-1 = null), value, headers count
// varint, then per header keyLength varint + utf8 key, valueLength varint (-1 = null) + value.
// Varints are zigzag LEB128 like Kafka's ByteUtils.writeVarint/writeVarlong.
//
// A compressed batch keeps the 61-byte header in the clear and compresses the records section
// as one stream (Kafka DefaultRecordBatch.compressedIterator). The log stores it as sent.

import { codecBits, codecOf, decompress, MAX_DECOMPRESSED_BATCH_BYTES } from './compression.ts';
import type { CompressionCodec } from './compression.ts';
import { crc32c } from './crc32c.ts';
import { LogError } from './partition-log/log-error.ts';

export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const BATCH_LOG_OVERHEAD = 12;
export const MAGIC_V2 = 2;
/** Attribute bit 4: the batch belongs to a transaction (Kafka DefaultRecordBatch.TRANSACTIONAL_FLAG_MASK). */
export const TRANSACTIONAL_FLAG = 0x10;
/** Attribute bit 5: a control batch (transaction markers; Kafka CONTROL_FLAG_MASK). */
export const CONTROL_FLAG = 0x20;

const LENGTH_AT = 8;
const EPOCH_AT = 12;
const MAGIC_AT = 16;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const BASE_TIMESTAMP_AT = 27;
const MAX_TIMESTAMP_AT = 35;
const PRODUCER_ID_AT = 43;
const PRODUCER_EPOCH_AT = 51;
const BASE_SEQUENCE_AT = 53;
const RECORD_COUNT_AT = 57;
/** The smallest legal batchLength: a header with no records. */
const MIN_BATCH_LENGTH = BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD;
const TWO_32 = 0x1_0000_0000;

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  headers: readonly RecordHeader[];
  /** Milliseconds since the epoch. */
  timestamp: number;
}

export interface DecodedRecord extends RecordInput {
  offset: number;
}

export interface BatchHeader {
  baseOffset: number;
  /** The int32 field: bytes after it. */
  batchLength: number;
  /** The whole batch on disk: batchLength + 12. */
  totalBytes: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  /** baseOffset + lastOffsetDelta. */
  lastOffset: number;
  firstTimestamp: number;
  maxTimestamp: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface BuildBatchOptions {
  baseOffset?: number;
  leaderEpoch?: number;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
}

// ---- zigzag varints (Kafka ByteUtils) ----

/** Zigzag in float arithmetic so varlongs work for any safe integer (timestamps, deltas). */
function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

function unzigzag(u: number): number {
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

function unsignedVarintSize(u: number): number {
  let n = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

export function varintSize(v: number): number {
  return unsignedVarintSize(zigzag(v));
}

function writeVarint(buf: Buffer, at: number, v: number): number {
  let u = zigzag(v);
  while (u >= 0x80) {
    buf[at++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[at++] = u;
  return at;
}

/** A cursor over one batch's records; throws RangeError on malformed input. */
class Reader {
  constructor(
    readonly buf: Buffer,
    public at: number,
    readonly end: number,
  ) {}

  varint(): number {
    let u = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.end) throw new RangeError('record batch: varint past the end');
      const b = this.buf[this.at++] as number;
      u += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return unzigzag(u);
      scale *= 128;
    }
    throw new RangeError('record batch: varint too long');
  }

  int8(): number {
    if (this.at >= this.end) throw new RangeError('record batch: record past the end');
    return this.buf.readInt8(this.at++);
  }

  bytes(len: number): Buffer {
    if (len < 0 || this.at + len > this.end) throw new RangeError('record batch: field past the end');
    const b = this.buf.subarray(this.at, this.at + len);
    this.at += len;
    return b;
  }

  nullableBytes(): Buffer | null {
    const len = this.varint();
    return len === -1 ? null : this.bytes(len);
  }
}

function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

function writeInt64(buf: Buffer, at: number, v: number): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`record batch: ${v} is not a safe integer`);
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(v - hi * TWO_32, at + 4);
}

function recordBodySize(r: RecordInput, timestampDelta: number, offsetDelta: number): number {
  let n = 1 + varintSize(timestampDelta) + varintSize(offsetDelta);
  n += r.key === null ? 1 : varintSize(r.key.length) + r.key.length;
  n += r.value === null ? 1 : varintSize(r.value.length) + r.value.length;
  n += varintSize(r.headers.length);
  for (const h of r.headers) {
    const kl = Buffer.byteLength(h.key, 'utf8');
    n += varintSize(kl) + kl;
    n += h.value === null ? 1 : varintSize(h.value.length) + h.value.length;
  }
  return n;
}

/**
 * Encodes one uncompressed v2 batch. Sizes are computed first so the batch is one allocation.
 * baseTimestamp is the first record's timestamp (deltas may be negative), as Kafka's builder.
 */
export function buildBatch(records: readonly RecordInput[], opts: BuildBatchOptions = {}): Buffer {
  const first = records[0];
  if (first === undefined) throw new RangeError('record batch: a batch needs at least one record');
  const baseTimestamp = first.timestamp;
  let maxTimestamp = baseTimestamp;
  let total = BATCH_HEADER_BYTES;
  const bodySizes = new Array<number>(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as RecordInput;
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
    const body = recordBodySize(r, r.timestamp - baseTimestamp, i);
    bodySizes[i] = body;
    total += varintSize(body) + body;
  }
  if (total - BATCH_LOG_OVERHEAD > 0x7fffffff) throw new RangeError('record batch: too large');
  const buf = Buffer.allocUnsafe(total);
  writeInt64(buf, 0, opts.baseOffset ?? 0);
  buf.writeInt32BE(total - BATCH_LOG_OVERHEAD, LENGTH_AT);
  buf.writeInt32BE(opts.leaderEpoch ?? -1, EPOCH_AT);
  buf.writeInt8(MAGIC_V2, MAGIC_AT);
  buf.writeInt16BE(0, ATTRIBUTES_AT);
  buf.writeInt32BE(records.length - 1, LAST_OFFSET_DELTA_AT);
  writeInt64(buf, BASE_TIMESTAMP_AT, baseTimestamp);
  writeInt64(buf, MAX_TIMESTAMP_AT, maxTimestamp);
  buf.writeBigInt64BE(opts.producerId ?? -1n, PRODUCER_ID_AT);
  buf.writeInt16BE(opts.producerEpoch ?? -1, PRODUCER_EPOCH_AT);
  buf.writeInt32BE(opts.baseSequence ?? -1, BASE_SEQUENCE_AT);
  buf.writeInt32BE(records.length, RECORD_COUNT_AT);
  let at = BATCH_HEADER_BYTES;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as RecordInput;
    at = writeVarint(buf, at, bodySizes[i] as number);
    buf[at++] = 0; // record attributes: unused in v2
    at = writeVarint(buf, at, r.timestamp - baseTimestamp);
    at = writeVarint(buf, at, i);
    at = writeNullableBytes(buf, at, r.key);
    at = writeNullableBytes(buf, at, r.value);
    at = writeVarint(buf, at, r.headers.length);
    for (const h of r.headers) {
      at = writeVarint(buf, at, Buffer.byteLength(h.key, 'utf8'));
      at += buf.write(h.key, at, 'utf8');
      at = writeNullableBytes(buf, at, h.value);
    }
  }
  if (at !== total) throw new Error(`record batch: wrote ${at} bytes, sized ${total}`);
  buf.writeUInt32BE(crc32c(buf, ATTRIBUTES_AT, total), CRC_AT);
  return buf;
}

function writeNullableBytes(buf: Buffer, at: number, b: Buffer | null): number {
  if (b === null) return writeVarint(buf, at, -1);
  at = writeVarint(buf, at, b.length);
  b.copy(buf, at);
  return at + b.length;
}

/** Reads the 61-byte header at `at`. Throws RangeError when fewer than 61 bytes remain. */
export function readBatchHeader(buf: Buffer, at = 0): BatchHeader {
  if (at + BATCH_HEADER_BYTES > buf.length) throw new RangeError('record batch: header past the end');
  const baseOffset = readInt64(buf, at);
  const batchLength = buf.readInt32BE(at + LENGTH_AT);
  const lastOffsetDelta = buf.readInt32BE(at + LAST_OFFSET_DELTA_AT);
  return {
    baseOffset,
    batchLength,
    totalBytes: batchLength + BATCH_LOG_OVERHEAD,
    partitionLeaderEpoch: buf.readInt32BE(at + EPOCH_AT),
    magic: buf.readInt8(at + MAGIC_AT),
    crc: buf.readUInt32BE(at + CRC_AT),
    attributes: buf.readInt16BE(at + ATTRIBUTES_AT),
    lastOffsetDelta,
    lastOffset: baseOffset + lastOffsetDelta,
    firstTimestamp: readInt64(buf, at + BASE_TIMESTAMP_AT),
    maxTimestamp: readInt64(buf, at + MAX_TIMESTAMP_AT),
    producerId: buf.readBigInt64BE(at + PRODUCER_ID_AT),
    producerEpoch: buf.readInt16BE(at + PRODUCER_EPOCH_AT),
    baseSequence: buf.readInt32BE(at + BASE_SEQUENCE_AT),
    recordCount: buf.readInt32BE(at + RECORD_COUNT_AT),
  };
}

// Allocation-free field readers for the log's append/read/scan paths.

export function batchBaseOffset(buf: Buffer, at: number): number {
  return readInt64(buf, at);
}

/** batchLength + 12: the whole batch. Needs 12 bytes at `at`. */
export function batchTotalBytes(buf: Buffer, at: number): number {
  return buf.readInt32BE(at + LENGTH_AT) + BATCH_LOG_OVERHEAD;
}

export function batchLastOffset(buf: Buffer, at: number): number {
  return readInt64(buf, at) + buf.readInt32BE(at + LAST_OFFSET_DELTA_AT);
}

export function batchMaxTimestamp(buf: Buffer, at: number): number {
  return readInt64(buf, at + MAX_TIMESTAMP_AT);
}

export function batchLeaderEpoch(buf: Buffer, at: number): number {
  return buf.readInt32BE(at + EPOCH_AT);
}

/** Rewrites baseOffset in place. Outside the v2 CRC, so the CRC stays valid. */
export function setBaseOffset(buf: Buffer, at: number, baseOffset: number): void {
  writeInt64(buf, at, baseOffset);
}

/** Rewrites partitionLeaderEpoch in place. Outside the v2 CRC, so the CRC stays valid. */
export function setPartitionLeaderEpoch(buf: Buffer, at: number, epoch: number): void {
  buf.writeInt32BE(epoch, at + EPOCH_AT);
}

/**
 * Rewrites the producer id, epoch and base sequence of the batch at 0 and recomputes its CRC
 * (they are inside it). For a batch its builder stamps just before sending it, never for one a
 * client sent: those are stored as sent.
 */
export function stampProducer(buf: Buffer, producerId: bigint, producerEpoch: number, baseSequence: number): void {
  buf.writeBigInt64BE(producerId, PRODUCER_ID_AT);
  buf.writeInt16BE(producerEpoch, PRODUCER_EPOCH_AT);
  buf.writeInt32BE(baseSequence, BASE_SEQUENCE_AT);
  buf.writeUInt32BE(crc32c(buf, ATTRIBUTES_AT, batchTotalBytes(buf, 0)), CRC_AT);
}

/**
 * True when a whole, sane v2 batch starts at `at`: header present, magic 2, batchLength at
 * least a header and within the buffer, lastOffsetDelta >= 0, and the CRC-32C matches.
 */
export function verifyBatch(buf: Buffer, at: number): boolean {
  if (at < 0 || at + BATCH_HEADER_BYTES > buf.length) return false;
  if (buf.readInt8(at + MAGIC_AT) !== MAGIC_V2) return false;
  const batchLength = buf.readInt32BE(at + LENGTH_AT);
  if (batchLength < MIN_BATCH_LENGTH) return false;
  const end = at + batchLength + BATCH_LOG_OVERHEAD;
  if (end > buf.length) return false;
  if (buf.readInt32BE(at + LAST_OFFSET_DELTA_AT) < 0) return false;
  return crc32c(buf, at + ATTRIBUTES_AT, end) === buf.readUInt32BE(at + CRC_AT);
}

/**
 * Decodes the records of the batch at `at`. For an uncompressed batch keys and values are views
 * into `buf`, not copies; malformed records throw RangeError. A compressed batch's records are
 * decompressed (at most `maxDecompressedBytes`) and any fault in them is a LogError
 * CORRUPT_MESSAGE.
 */
export function decodeRecords(buf: Buffer, at = 0, maxDecompressedBytes = MAX_DECOMPRESSED_BATCH_BYTES): DecodedRecord[] {
  const h = readBatchHeader(buf, at);
  if (h.magic !== MAGIC_V2) throw new RangeError(`record batch: magic ${h.magic}, expected 2`);
  const end = at + h.totalBytes;
  if (h.batchLength < MIN_BATCH_LENGTH || end > buf.length) throw new RangeError('record batch: length past the end');
  const codec = codecOf(h.attributes);
  if (codec === 'none') return readRecords(h, buf, at + BATCH_HEADER_BYTES, end);
  const records = decompress(codec, buf.subarray(at + BATCH_HEADER_BYTES, end), maxDecompressedBytes);
  try {
    return readRecords(h, records, 0, records.length);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new LogError('CORRUPT_MESSAGE', `${err.message} (in ${codec} records of the batch at offset ${h.baseOffset})`);
  }
}

/** The h.recordCount records in buf[at, end), which must hold exactly them. */
function readRecords(h: BatchHeader, buf: Buffer, at: number, end: number): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  const r = new Reader(buf, at, end);
  for (let i = 0; i < h.recordCount; i++) {
    const length = r.varint();
    const recordEnd = r.at + length;
    if (length < 0 || recordEnd > end) throw new RangeError('record batch: record past the end');
    r.int8(); // attributes
    const timestamp = h.firstTimestamp + r.varint();
    const offset = h.baseOffset + r.varint();
    const key = r.nullableBytes();
    const value = r.nullableBytes();
    const headerCount = r.varint();
    if (headerCount < 0) throw new RangeError('record batch: negative header count');
    const headers: RecordHeader[] = [];
    for (let j = 0; j < headerCount; j++) {
      const hk = r.bytes(r.varint()).toString('utf8');
      headers.push({ key: hk, value: r.nullableBytes() });
    }
    if (r.at !== recordEnd) throw new RangeError('record batch: record length mismatch');
    out.push({ offset, timestamp, key, value, headers });
  }
  return out;
}

/**
 * The uncompressed batch `batch` with its records section replaced by `compressed` (those
 * records compressed with `codec` by the caller), the codec set in attributes, batchLength and
 * CRC recomputed. How a producer builds a compressed batch; runnel itself never re-encodes one.
 */
export function withCompressedRecords(batch: Buffer, codec: Exclude<CompressionCodec, 'none'>, compressed: Buffer): Buffer {
  const total = BATCH_HEADER_BYTES + compressed.length;
  const out = Buffer.allocUnsafe(total);
  batch.copy(out, 0, 0, BATCH_HEADER_BYTES);
  compressed.copy(out, BATCH_HEADER_BYTES);
  out.writeInt32BE(total - BATCH_LOG_OVERHEAD, LENGTH_AT);
  out.writeInt16BE((out.readInt16BE(ATTRIBUTES_AT) & ~0x07) | codecBits(codec), ATTRIBUTES_AT);
  out.writeUInt32BE(crc32c(out, ATTRIBUTES_AT, total), CRC_AT);
  return out;
}

/** The records section of the uncompressed batch at 0: what a producer compresses. */
export function recordsSection(batch: Buffer): Buffer {
  return batch.subarray(BATCH_HEADER_BYTES, batchTotalBytes(batch, 0));
}

/**
 * Iterates consecutive batches in `buf` from its start. Stops at a partial trailing batch (or
 * at a header whose length is impossible); does not verify CRCs (see verifyBatch).
 */
export function* batches(buf: Buffer): Generator<{ at: number; header: BatchHeader }> {
  let at = 0;
  while (at + BATCH_HEADER_BYTES <= buf.length) {
    const header = readBatchHeader(buf, at);
    if (header.batchLength < MIN_BATCH_LENGTH || at + header.totalBytes > buf.length) return;
    yield { at, header };
    at += header.totalBytes;
  }
}
