// Decompression of a v2 batch's records section, per the codec in attributes bits 0-2
// (Kafka CompressionType: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd). The log stores compressed
// batches as sent; only readers that need the records (HTTP consumers, the offsets topic)
// decompress, and always under a byte bound so a small batch cannot expand into the node's
// memory (a decompression bomb).
//
// Framing per codec, as Kafka's clients write it:
// - gzip: RFC 1952 members (java.util.zip.GZIPOutputStream, librdkafka's zlib).
// - snappy: the Java client wraps raw snappy blocks in Xerial framing (snappy-java
//   SnappyOutputStream: an 8-byte magic, two int32 versions, then int32-length-prefixed raw
//   blocks); librdkafka and kafkajs-snappy may write one raw snappy block. Both are read.
// - lz4: the LZ4 frame format (Kafka's KafkaLZ4BlockOutputStream; magic 2 fixed the header
//   checksum bug of magic 0/1, KIP-57).
// - zstd: standard zstd frames (zstd-jni ZstdOutputStream, often with no content size).

import { gunzipSync } from 'node:zlib';
import { Decompress } from 'fzstd';
import { decompressFrameSync } from 'lz4-napi';
import { uncompress as snappyUncompress } from 'snappyjs';
import { LogError } from './partition-log/log-error.ts';

export type CompressionCodec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

const CODECS: readonly CompressionCodec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/**
 * The default cap on a batch's decompressed records. Well above a 1 MiB max.message.bytes of
 * ordinary data at ordinary ratios (Kafka's producers compress batch.size of 16 KiB-1 MiB).
 */
export const MAX_DECOMPRESSED_BATCH_BYTES = 64 * 1024 * 1024;

/**
 * Largest zstd window accepted. The zstd format spec recommends decoders support at least
 * 8 MiB; levels 1-19 stay within it (windowLog <= 23). The decoder allocates the window up
 * front, so a header claiming more is refused before any allocation.
 */
export const MAX_ZSTD_WINDOW_BYTES = 8 * 1024 * 1024;

/** The codec of a batch's attributes; CORRUPT_MESSAGE for the unassigned values 5-7. */
export function codecOf(attributes: number): CompressionCodec {
  const codec = CODECS[attributes & 0x07];
  if (codec === undefined) throw corrupt(`compression type ${attributes & 0x07} is not one Kafka defines`);
  return codec;
}

/** The attributes bits 0-2 that name `codec`. */
export function codecBits(codec: CompressionCodec): number {
  return CODECS.indexOf(codec);
}

/**
 * The records section of a compressed batch, decompressed. Throws LogError CORRUPT_MESSAGE when
 * the payload is malformed, truncated, or would decompress to more than `maxBytes`.
 */
export function decompress(codec: Exclude<CompressionCodec, 'none'>, payload: Buffer, maxBytes = MAX_DECOMPRESSED_BATCH_BYTES): Buffer {
  let out: Buffer;
  try {
    switch (codec) {
      case 'gzip':
        // maxOutputLength stops inflating at the bound (ERR_BUFFER_TOO_LARGE), not after.
        out = gunzipSync(payload, { maxOutputLength: maxBytes });
        break;
      case 'snappy':
        out = snappy(payload, maxBytes);
        break;
      case 'lz4':
        lz4FrameBound(payload, maxBytes);
        out = decompressFrameSync(payload);
        break;
      case 'zstd':
        out = zstd(payload, maxBytes);
        break;
      default:
        return assertNever(codec);
    }
  } catch (err) {
    if (err instanceof LogError) throw err;
    throw corrupt(`${codec} records do not decompress: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (out.length > maxBytes) throw corrupt(`${codec} records decompress to ${out.length} bytes, over the ${maxBytes}-byte bound`);
  return out;
}

function corrupt(message: string): LogError {
  return new LogError('CORRUPT_MESSAGE', `record batch: ${message}`);
}

function assertNever(x: never): never {
  throw new Error(`unexpected codec ${String(x)}`);
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

// ---- snappy ----

/** snappy-java SnappyCodec.MAGIC_HEADER: 0x82 'SNAPPY' 0x00, then int32 version, int32 compatible version. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

/**
 * Xerial-framed when it starts with the magic. A raw stream cannot: 0x82 0x53 would be a
 * 10626-byte length preamble followed by a copy tag ('N') before any literal, which is invalid.
 */
function snappy(payload: Buffer, maxBytes: number): Buffer {
  if (!payload.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) return asBuffer(snappyUncompress(payload, maxBytes));
  if (payload.length < XERIAL_HEADER_BYTES) throw corrupt('xerial snappy: header past the end');
  const blocks: Buffer[] = [];
  let total = 0;
  let at = XERIAL_HEADER_BYTES;
  while (at < payload.length) {
    if (at + 4 > payload.length) throw corrupt('xerial snappy: block length past the end');
    const length = payload.readInt32BE(at);
    at += 4;
    if (length < 0 || at + length > payload.length) throw corrupt('xerial snappy: block past the end');
    const block = asBuffer(snappyUncompress(payload.subarray(at, at + length), maxBytes - total));
    total += block.length;
    blocks.push(block);
    at += length;
  }
  return blocks.length === 1 ? (blocks[0] as Buffer) : Buffer.concat(blocks, total);
}

// ---- lz4 ----

const LZ4_MAGIC = 0x184d2204;
/** BD bits 6-4: 4 = 64 KiB, 5 = 256 KiB, 6 = 1 MiB, 7 = 4 MiB (LZ4 frame format §Block Maximum Size). */
const LZ4_BLOCK_MAX_BYTES: Readonly<Record<number, number>> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };

/**
 * Walks one LZ4 frame's block headers (no decompression) and refuses it when its blocks could
 * expand past `maxBytes`: a compressed block decodes to at most the frame's block maximum size,
 * so the sum bounds the output before any allocation. Also refuses trailing bytes.
 */
function lz4FrameBound(payload: Buffer, maxBytes: number): void {
  if (payload.length < 7 || payload.readUInt32LE(0) !== LZ4_MAGIC) throw corrupt('lz4: no LZ4 frame magic');
  const flg = payload[4] as number;
  if (flg >> 6 !== 1) throw corrupt(`lz4: frame version ${flg >> 6}, expected 1`);
  const blockChecksum = (flg & 0x10) !== 0;
  const contentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const dictId = (flg & 0x01) !== 0;
  const blockMax = LZ4_BLOCK_MAX_BYTES[((payload[5] as number) >> 4) & 0x07];
  if (blockMax === undefined) throw corrupt('lz4: invalid block maximum size');
  let at = 6;
  if (contentSize) {
    if (at + 8 > payload.length) throw corrupt('lz4: frame header past the end');
    const size = payload.readBigUInt64LE(at);
    if (size > BigInt(maxBytes)) throw corrupt(`lz4: content size ${size} over the ${maxBytes}-byte bound`);
    at += 8;
  }
  if (dictId) at += 4;
  at += 1; // header checksum, verified by the decoder
  let bound = 0;
  for (;;) {
    if (at + 4 > payload.length) throw corrupt('lz4: block header past the end');
    const word = payload.readUInt32LE(at);
    at += 4;
    if (word === 0) break; // EndMark
    const size = word & 0x7fffffff;
    const stored = word >>> 31 === 1;
    if (size > blockMax) throw corrupt(`lz4: a ${size}-byte block in a frame of ${blockMax}-byte blocks`);
    bound += stored ? size : blockMax;
    if (bound > maxBytes) throw corrupt(`lz4: blocks may decompress past the ${maxBytes}-byte bound`);
    at += size + (blockChecksum ? 4 : 0);
  }
  if (contentChecksum) at += 4;
  if (at !== payload.length) throw corrupt(`lz4: ${payload.length - at} bytes where the frame should end`);
}

// ---- zstd ----

/**
 * Streams the frames through fzstd, stopping once the output passes `maxBytes`. Each frame's
 * header is checked first: fzstd allocates the window (or the declared content size) up front.
 */
function zstd(payload: Buffer, maxBytes: number): Buffer {
  zstdFrameHeadersWithin(payload, maxBytes);
  const parts: Buffer[] = [];
  let total = 0;
  const stream = new Decompress((chunk) => {
    total += chunk.length;
    if (total > maxBytes) throw corrupt(`zstd: records decompress past the ${maxBytes}-byte bound`);
    parts.push(Buffer.from(chunk));
  });
  stream.push(payload, true);
  return Buffer.concat(parts, total);
}

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames: magic 0x184D2A50-0x184D2A5F, int32 LE size, data. */
const ZSTD_SKIPPABLE_MASK = 0xfffffff0;
const ZSTD_SKIPPABLE = 0x184d2a50;
const ZSTD_BLOCK_MAX_BYTES = 128 * 1024;

/**
 * Walks every frame's header and block headers (RFC 8878 §3.1.1): refuses a window over
 * MAX_ZSTD_WINDOW_BYTES, a declared content size over `maxBytes`, or block sizes that could
 * expand past `maxBytes`.
 */
function zstdFrameHeadersWithin(payload: Buffer, maxBytes: number): void {
  let at = 0;
  let bound = 0;
  while (at < payload.length) {
    if (at + 4 > payload.length) throw corrupt('zstd: frame magic past the end');
    const magic = payload.readUInt32LE(at);
    if ((magic & ZSTD_SKIPPABLE_MASK) >>> 0 === ZSTD_SKIPPABLE) {
      if (at + 8 > payload.length) throw corrupt('zstd: skippable frame past the end');
      at += 8 + payload.readUInt32LE(at + 4);
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw corrupt('zstd: no zstd frame magic');
    if (at + 5 > payload.length) throw corrupt('zstd: frame header past the end');
    const fhd = payload[at + 4] as number;
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd & 0x20) !== 0;
    const checksum = (fhd & 0x04) !== 0;
    const dictBytes = [0, 1, 2, 4][fhd & 0x03] as number;
    at += 5;
    let window = 0;
    if (!singleSegment) {
      if (at >= payload.length) throw corrupt('zstd: frame header past the end');
      const wd = payload[at++] as number;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 0x07);
    }
    at += dictBytes;
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : 1 << fcsFlag;
    if (at + fcsBytes > payload.length) throw corrupt('zstd: frame header past the end');
    if (fcsBytes > 0) {
      const size = fcsBytes === 8 ? Number(payload.readBigUInt64LE(at)) : payload.readUIntLE(at, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
      if (size > maxBytes) throw corrupt(`zstd: content size ${size} over the ${maxBytes}-byte bound`);
      if (singleSegment) window = size;
    }
    at += fcsBytes;
    if (window > MAX_ZSTD_WINDOW_BYTES) throw corrupt(`zstd: a ${window}-byte window, over the ${MAX_ZSTD_WINDOW_BYTES}-byte limit`);
    const blockMax = Math.min(window, ZSTD_BLOCK_MAX_BYTES);
    for (let last = false; !last; ) {
      if (at + 3 > payload.length) throw corrupt('zstd: block header past the end');
      const header = payload.readUIntLE(at, 3);
      at += 3;
      last = (header & 1) === 1;
      const type = (header >> 1) & 0x03;
      const size = header >>> 3;
      if (type === 3) throw corrupt('zstd: reserved block type');
      // Raw: size bytes follow. RLE: one byte, repeated size times. Compressed: size bytes
      // that decode to at most the block maximum.
      bound += type === 2 ? blockMax : size;
      if (bound > maxBytes) throw corrupt(`zstd: blocks may decompress past the ${maxBytes}-byte bound`);
      at += type === 1 ? 1 : size;
    }
    if (checksum) at += 4;
  }
  if (at !== payload.length) throw corrupt('zstd: frame past the end');
}
