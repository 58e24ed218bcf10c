import { gzipSync } from 'node:zlib';
import { compress as zstdCompress, init as zstdInit } from '@bokuweb/zstd-wasm';
import fc from 'fast-check';
import { compressFrameSync } from 'lz4-napi';
import { compress as snappyCompress } from 'snappyjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { decompress, MAX_ZSTD_WINDOW_BYTES } from '../../storage/compression.ts';
import type { CompressionCodec } from '../../storage/compression.ts';
import { LogError } from '../../storage/partition-log/log-error.ts';
import { buildBatch, decodeRecords, readBatchHeader, recordsSection, verifyBatch, withCompressedRecords } from '../../storage/record-batch.ts';
import type { DecodedRecord, RecordInput } from '../../storage/record-batch.ts';

type Codec = Exclude<CompressionCodec, 'none'>;

beforeAll(async () => {
  await zstdInit();
});

/** snappy-java's SnappyOutputStream framing: magic, version 1, compatible 1, int32-length blocks. */
function xerial(...blocks: Buffer[]): Buffer {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const parts: Buffer[] = [header];
  for (const b of blocks) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

const compressors: Record<Codec | 'xerial-snappy', { codec: Codec; compress: (raw: Buffer) => Buffer }> = {
  gzip: { codec: 'gzip', compress: (raw) => gzipSync(raw) },
  snappy: { codec: 'snappy', compress: (raw) => Buffer.from(snappyCompress(raw)) },
  'xerial-snappy': { codec: 'snappy', compress: (raw) => xerial(Buffer.from(snappyCompress(raw))) },
  lz4: { codec: 'lz4', compress: (raw) => compressFrameSync(raw) },
  zstd: { codec: 'zstd', compress: (raw) => Buffer.from(zstdCompress(raw, 3)) },
};

function compressed(records: RecordInput[], how: keyof typeof compressors, baseOffset = 0): Buffer {
  const plain = buildBatch(records, { baseOffset });
  const c = compressors[how];
  return withCompressedRecords(plain, c.codec, c.compress(recordsSection(plain)));
}

function caught(fn: () => unknown): LogError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LogError) return err;
    throw err;
  }
  throw new Error('expected a LogError, nothing was thrown');
}

const codeOf = (fn: () => unknown): string => caught(fn).code;

const plain = (rs: DecodedRecord[]): unknown =>
  rs.map((r) => ({ ...r, key: r.key && [...r.key], value: r.value && [...r.value], headers: r.headers.map((h) => ({ key: h.key, value: h.value && [...h.value] })) }));

// Three records (keys key-0..2, values "value i " x 8, header h=v, timestamps 1_700_000_000_000+i):
// the records section of buildBatch, 246 bytes, compressed by the reference command-line tools.
const goldenRecords: RecordInput[] = [0, 1, 2].map((i) => ({
  key: Buffer.from(`key-${i}`),
  value: Buffer.from(`value ${i} `.repeat(8)),
  headers: [{ key: 'h', value: Buffer.from('v') }],
  timestamp: 1_700_000_000_000 + i,
}));
const golden: Record<Codec, string> = {
  // gzip 1.12: gzip -9 -n
  gzip: '1f8b08000000000002035bc0c8c0c0c0959d5aa96bd0c0589698539aaa60a0402ecdc494c154b680918189096ca221cc444305726998892c2c60138d60261a29904b834d04007eaa3246f6000000',
  // zstd 1.5 from stdin, as a streaming writer (zstd-jni) leaves it: no content size, a 2 MiB window, a checksum
  zstd: '28b52ffd04581d0200a402a0010000000a6b65792d30800176616c75652030200202680276a00100020231310404323202026802760a008308201f20066e03c20631403e205685abefcec20462090712',
  // lz4 1.9.4: lz4 -B4 from stdin (64 KiB blocks, content checksum)
  lz4: '04224d186440a74d000000ff06a0010000000a6b65792d30800176616c7565203020080025a10202680276a001000202520014315200133152000f08001f045200210404520014325200133252000f08001f500202680276000000000284ef96',
  // raw snappy written by hand: preamble varint 246 (f6 01), one 246-byte literal (tag f0, length-1 = f5)
  snappy: 'f601f0f5',
};
const goldenSection = recordsSection(buildBatch(goldenRecords));
const goldenPayload = (codec: Codec): Buffer => (codec === 'snappy' ? Buffer.concat([Buffer.from(golden.snappy, 'hex'), goldenSection]) : Buffer.from(golden[codec], 'hex'));

describe('compressed record batches', () => {
  const arbRecord = fc.record({
    key: fc.option(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))),
    value: fc.option(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 300 }).map((s) => new TextEncoder().encode(s.repeat(3)))).map((a) => Buffer.from(a))),
    headers: fc.array(fc.record({ key: fc.string({ maxLength: 10 }), value: fc.option(fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a))) }), { maxLength: 3 }),
    timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  });

  it.each(Object.keys(compressors) as (keyof typeof compressors)[])('decodes the records of a %s batch as the uncompressed batch holds them', (how) => {
    fc.assert(
      fc.property(fc.array(arbRecord, { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 2 ** 40 }), (records, baseOffset) => {
        const batch = compressed(records, how, baseOffset);
        expect(verifyBatch(batch, 0)).toBe(true);
        expect(readBatchHeader(batch).attributes & 0x07).toBe(['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(compressors[how].codec));
        expect(plain(decodeRecords(batch))).toEqual(plain(decodeRecords(buildBatch(records, { baseOffset }))));
      }),
      { numRuns: 40 },
    );
  });

  it.each(Object.keys(golden) as Codec[])('decodes the %s records written by the reference implementation', (codec) => {
    const payload = goldenPayload(codec);
    expect(decompress(codec, payload)).toEqual(goldenSection);
    const batch = withCompressedRecords(buildBatch(goldenRecords, { baseOffset: 100 }), codec, payload);
    expect(decodeRecords(batch).map((r) => [r.offset, r.key?.toString(), r.value?.toString()])).toEqual(
      goldenRecords.map((r, i) => [100 + i, r.key?.toString(), r.value?.toString()]),
    );
  });

  it('decodes raw snappy with back-references, and Xerial framing over several blocks', () => {
    // "abc" literal, then a 9-byte copy at offset 3 (format_description.txt §2.2, tag 01).
    expect(decompress('snappy', Buffer.from('0c08616263' + '1503', 'hex')).toString()).toBe('abcabcabcabc');
    const halves = [goldenSection.subarray(0, 100), goldenSection.subarray(100)].map((h) => Buffer.from(snappyCompress(h)));
    expect(decompress('snappy', xerial(...halves))).toEqual(goldenSection);
  });

  it.each(Object.keys(golden) as Codec[])('refuses a truncated or damaged %s payload as CORRUPT_MESSAGE', (codec) => {
    const payload = goldenPayload(codec);
    const truncated = withCompressedRecords(buildBatch(goldenRecords), codec, payload.subarray(0, payload.length - 9));
    expect(verifyBatch(truncated, 0)).toBe(true); // the CRC holds: the producer sent it so
    expect(codeOf(() => decodeRecords(truncated))).toBe('CORRUPT_MESSAGE');
    const damaged = Buffer.from(payload);
    damaged.fill(0xff, 0, 6);
    expect(codeOf(() => decodeRecords(withCompressedRecords(buildBatch(goldenRecords), codec, damaged)))).toBe('CORRUPT_MESSAGE');
  });

  it('refuses bytes after the end of an lz4 frame', () => {
    const trailing = Buffer.concat([goldenPayload('lz4'), Buffer.from('junk')]);
    expect(codeOf(() => decompress('lz4', trailing))).toBe('CORRUPT_MESSAGE');
  });

  it('refuses records that decompress but do not parse as records, as CORRUPT_MESSAGE', () => {
    const batch = withCompressedRecords(buildBatch(goldenRecords), 'gzip', gzipSync(goldenSection.subarray(0, 200)));
    expect(codeOf(() => decodeRecords(batch))).toBe('CORRUPT_MESSAGE');
  });

  it('refuses the unassigned compression types 5-7 as CORRUPT_MESSAGE', () => {
    const batch = buildBatch(goldenRecords);
    batch.writeInt16BE(5, 21);
    expect(codeOf(() => decodeRecords(batch))).toBe('CORRUPT_MESSAGE');
  });

  describe('bounds what a batch may decompress to', () => {
    // 4 MiB of zeros squeezes to a few KiB in every codec: a bomb against a 1 MiB bound.
    const zeros = Buffer.alloc(4 << 20);
    const bound = 1 << 20;

    it.each(Object.keys(compressors) as (keyof typeof compressors)[])('refuses %s records that would expand past the bound, and decodes them under a larger one', (how) => {
      const c = compressors[how];
      const bomb = how === 'xerial-snappy' ? xerial(...Array.from({ length: 64 }, () => Buffer.from(snappyCompress(zeros.subarray(0, 64 << 10))))) : c.compress(zeros);
      expect(bomb.length).toBeLessThan(bound / 4);
      const err = caught(() => decompress(c.codec, bomb, bound));
      expect(err.code).toBe('CORRUPT_MESSAGE');
      // Stopped while decompressing (or before), not after the whole output was in memory.
      expect(err.message).not.toMatch(/decompress to \d+ bytes/);
      expect(decompress(c.codec, bomb, zeros.length).length).toBe(zeros.length);
      const batch = withCompressedRecords(buildBatch(goldenRecords), c.codec, bomb);
      expect(codeOf(() => decodeRecords(batch, 0, bound))).toBe('CORRUPT_MESSAGE');
    });

    it('refuses a zstd frame whose window is over the limit before allocating it', () => {
      // Frame header: no content size, window descriptor exponent 17 -> 2^27 = 128 MiB, then one
      // empty last raw block.
      const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 17 << 3, 0x01, 0x00, 0x00]);
      expect(2 ** 27).toBeGreaterThan(MAX_ZSTD_WINDOW_BYTES);
      expect(codeOf(() => decompress('zstd', frame, 1 << 30))).toBe('CORRUPT_MESSAGE');
      frame[5] = 10 << 3; // 1 MiB window: accepted, decodes to nothing
      expect(decompress('zstd', frame, 1 << 30).length).toBe(0);
    });

    it('refuses a zstd frame that declares a content size over the bound', () => {
      const zstdFrame = Buffer.from(zstdCompress(Buffer.alloc(5000, 7), 3)); // one-shot: content size in the header
      expect(codeOf(() => decompress('zstd', zstdFrame, 4999))).toBe('CORRUPT_MESSAGE');
      expect(decompress('zstd', zstdFrame, 5000).length).toBe(5000);
    });
  });
});
