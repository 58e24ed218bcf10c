import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../storage/crc32c.ts';
import {
  BATCH_HEADER_BYTES,
  batches,
  buildBatch,
  decodeRecords,
  readBatchHeader,
  setBaseOffset,
  setPartitionLeaderEpoch,
  verifyBatch,
} from '../../storage/record-batch.ts';
import type { RecordInput } from '../../storage/record-batch.ts';

const rec = (value: string, timestamp = 1_700_000_000_000, key: string | null = null): RecordInput => ({
  key: key === null ? null : Buffer.from(key),
  value: Buffer.from(value),
  headers: [],
  timestamp,
});

/** Plain data for deep equality (Buffers become byte arrays). */
function plain(r: RecordInput): unknown {
  const b = (x: Buffer | null): number[] | null => (x === null ? null : [...x]);
  return { key: b(r.key), value: b(r.value), timestamp: r.timestamp, headers: r.headers.map((h) => ({ key: h.key, value: b(h.value) })) };
}

describe('crc32c', () => {
  it.each([
    ['"123456789"', Buffer.from('123456789'), 0xe3069283],
    ['32 zero bytes', Buffer.alloc(32), 0x8a9136aa],
    ['32 0xff bytes (RFC 3720)', Buffer.alloc(32, 0xff), 0x62a8ab43],
    ['bytes 0..31 (RFC 3720)', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
    ['nothing', Buffer.alloc(0), 0],
  ])('matches the known vector for %s', (_name, input, expected) => {
    expect(crc32c(input)).toBe(expected);
  });

  it('checksums a sub-range like the same bytes on their own', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (b % (bytes.length - start + 1));
        expect(crc32c(bytes, start, end)).toBe(crc32c(bytes.slice(start, end)));
      }),
    );
  });
});

describe('record batch v2', () => {
  it('lays out a one-record batch exactly like Kafka DefaultRecordBatch', () => {
    const b = buildBatch([rec('hi', 1000)], { baseOffset: 5, leaderEpoch: 3 });
    expect(b.length).toBe(BATCH_HEADER_BYTES + 9);
    // length 8 (zigzag 16), attributes 0, timestampDelta 0, offsetDelta 0, key null (-1 -> 1),
    // value length 2 (-> 4), "hi", no headers.
    expect([...b.subarray(BATCH_HEADER_BYTES)]).toEqual([0x10, 0, 0, 0, 0x01, 0x04, 0x68, 0x69, 0]);
    const h = readBatchHeader(b);
    expect(h).toMatchObject({
      baseOffset: 5,
      batchLength: b.length - 12,
      totalBytes: b.length,
      partitionLeaderEpoch: 3,
      magic: 2,
      attributes: 0,
      lastOffsetDelta: 0,
      lastOffset: 5,
      firstTimestamp: 1000,
      maxTimestamp: 1000,
      producerId: -1n,
      producerEpoch: -1,
      baseSequence: -1,
      recordCount: 1,
    });
    expect(h.crc).toBe(crc32c(b, 21));
  });

  it('encodes varints with zigzag like Kafka ByteUtils (negative timestamp delta, 2-byte lengths)', () => {
    const b = buildBatch([rec('a', 2000), { key: null, value: Buffer.alloc(300, 1), headers: [], timestamp: 1999 }]);
    const r1 = BATCH_HEADER_BYTES + 1 + 7; // skip the first record (length byte + 7-byte body)
    // second record: length 307 -> zigzag 614 = 0xe6 0x04; attributes; timestampDelta -1 -> 1;
    // offsetDelta 1 -> 2; key null -> 1; value length 300 -> zigzag 600 = 0xd8 0x04
    expect([...b.subarray(r1, r1 + 8)]).toEqual([0xe6, 0x04, 0, 0x01, 0x02, 0x01, 0xd8, 0x04]);
    expect(readBatchHeader(b)).toMatchObject({ firstTimestamp: 2000, maxTimestamp: 2000, lastOffsetDelta: 1, recordCount: 2 });
  });

  it('round-trips arbitrary records, keys, null values, headers and timestamps', () => {
    const bytes = fc.option(fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)), { nil: null });
    const record = fc.record({
      key: bytes,
      value: bytes,
      headers: fc.array(fc.record({ key: fc.string({ unit: 'grapheme', maxLength: 12 }), value: bytes }), { maxLength: 4 }),
      timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
    });
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        fc.bigInt({ min: -1n, max: 2n ** 63n - 1n }),
        (records, baseOffset, leaderEpoch, producerId) => {
          const b = buildBatch(records, { baseOffset, leaderEpoch, producerId, producerEpoch: 7, baseSequence: 42 });
          expect(verifyBatch(b, 0)).toBe(true);
          const h = readBatchHeader(b);
          expect(h).toMatchObject({ baseOffset, partitionLeaderEpoch: leaderEpoch, producerId, producerEpoch: 7, baseSequence: 42 });
          expect(h.totalBytes).toBe(b.length);
          expect(h.lastOffset).toBe(baseOffset + records.length - 1);
          expect(h.maxTimestamp).toBe(Math.max(...records.map((r) => r.timestamp)));
          const decoded = decodeRecords(b);
          expect(decoded.map((d) => d.offset)).toEqual(records.map((_, i) => baseOffset + i));
          expect(decoded.map(plain)).toEqual(records.map(plain));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the CRC valid when the base offset and leader epoch are rewritten in place', () => {
    const b = buildBatch([rec('x'), rec('y')], { baseOffset: 0, leaderEpoch: -1 });
    const crcBefore = readBatchHeader(b).crc;
    setBaseOffset(b, 0, 2 ** 40 + 17);
    setPartitionLeaderEpoch(b, 0, 9);
    expect(verifyBatch(b, 0)).toBe(true);
    expect(readBatchHeader(b)).toMatchObject({ baseOffset: 2 ** 40 + 17, lastOffset: 2 ** 40 + 18, partitionLeaderEpoch: 9, crc: crcBefore });
    expect(decodeRecords(b).map((r) => r.offset)).toEqual([2 ** 40 + 17, 2 ** 40 + 18]);
  });

  it('fails verification on any flipped byte inside the CRC range, a bad magic or a short buffer', () => {
    const b = buildBatch([rec('hello', 1, 'k')]);
    for (let i = 21; i < b.length; i++) {
      const c = Buffer.from(b);
      c[i] = (c[i] as number) ^ 0x01;
      expect(verifyBatch(c, 0)).toBe(false);
    }
    const m = Buffer.from(b);
    m[16] = 1;
    expect(verifyBatch(m, 0)).toBe(false);
    expect(verifyBatch(b.subarray(0, b.length - 1), 0)).toBe(false);
  });

  it('iterates consecutive batches and stops at a partial trailing batch', () => {
    const a = buildBatch([rec('a')], { baseOffset: 0 });
    const b = buildBatch([rec('b'), rec('c')], { baseOffset: 1 });
    const c = buildBatch([rec('d')], { baseOffset: 3 });
    const buf = Buffer.concat([a, b, c.subarray(0, c.length - 3)]);
    const seen = [...batches(buf)];
    expect(seen.map((s) => [s.at, s.header.baseOffset, s.header.recordCount])).toEqual([
      [0, 0, 1],
      [a.length, 1, 2],
    ]);
    expect(seen.every((s) => verifyBatch(buf, s.at))).toBe(true);
    expect(decodeRecords(buf, a.length).map((r) => r.value?.toString())).toEqual(['b', 'c']);
  });

  it('refuses an empty batch', () => {
    expect(() => buildBatch([])).toThrow(RangeError);
  });
});
