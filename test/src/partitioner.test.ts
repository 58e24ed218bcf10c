import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey, RoundRobin, toPositive } from '../../src/broker/partitioner.ts';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('murmur2 (Kafka Utils.murmur2)', () => {
  // Kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java testMurmur2.
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %j to Kafka UtilsTest value %d', (key, expected) => {
    expect(murmur2(utf8(key))).toBe(expected);
  });

  // Values Akka's Murmur2Spec took from Kafka's implementation: lengths 1..5 walk every tail case.
  it.each([
    ['1', -1993445489],
    ['12', 126087238],
    ['123', -267702483],
    ['1234', -1614185708],
    ['12345', -1188365604],
  ])('hashes %j (every tail length) to %d', (key, expected) => {
    expect(murmur2(utf8(key))).toBe(expected);
  });

  it('treats bytes >= 0x80 as unsigned, as Java masks them with & 0xff', () => {
    // Same bytes through a Buffer and a plain Uint8Array agree, and high bytes change the hash.
    const bytes = Uint8Array.from([0xff, 0x80, 0x7f, 0x00, 0xc3]);
    expect(murmur2(Buffer.from(bytes))).toBe(murmur2(bytes));
    expect(murmur2(bytes)).not.toBe(murmur2(Uint8Array.from([0x7f, 0x00, 0x7f, 0x00, 0x43])));
  });

  it('always returns a signed 32-bit integer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const h = murmur2(b);
        expect(Number.isInteger(h)).toBe(true);
        expect(h).toBe(h | 0);
      }),
    );
  });
});

describe('partitionForKey (DefaultPartitioner for keyed records)', () => {
  it('drops the sign bit rather than taking the absolute value', () => {
    expect(toPositive(-973932308)).toBe(1173551340);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(2147483647)).toBe(2147483647);
    expect(toPositive(-1)).toBe(2147483647);
  });

  // Expected partitions are (hash & 0x7fffffff) % n computed from the Kafka hashes above.
  it.each([
    ['21', 0, 0],
    ['foobar', 0, 0],
    ['a-little-bit-long-string', 2, 2],
    ['a-little-bit-longer-string', 2, 5],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', 2, 5],
    ['abc', 0, 3],
    ['1', 0, 3],
    ['12', 1, 4],
    ['123', 2, 5],
  ])('puts key %j on partition %d of 3 and %d of 6', (key, of3, of6) => {
    expect(partitionForKey(utf8(key), 3)).toBe(of3);
    expect(partitionForKey(utf8(key), 6)).toBe(of6);
  });

  // kafka-python test_murmur2_java_compatibility: "compare with output from Kafka's Partitioner".
  it.each([
    [[], 681],
    [[0x61], 524],
    [[0x61, 0x62], 434],
    [[0x61, 0x62, 0x63], 107],
    [[...utf8('123456789')], 566],
    [[0x00, 0x20], 742],
  ])('matches the Java partitioner for bytes %j over 1000 partitions', (bytes, expected) => {
    expect(partitionForKey(Uint8Array.from(bytes), 1000)).toBe(expected);
  });

  it('always lands inside [0, numPartitions)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 10_000 }), (key, n) => {
        const p = partitionForKey(key, n);
        expect(Number.isInteger(p) && p >= 0 && p < n).toBe(true);
      }),
    );
  });

  it('refuses a partition count below 1 as a bug', () => {
    expect(() => partitionForKey(utf8('k'), 0)).toThrow(/numPartitions/);
  });
});

describe('RoundRobin (keyless records)', () => {
  it('cycles through the partitions of a topic in order', () => {
    const rr = new RoundRobin();
    expect(Array.from({ length: 7 }, () => rr.next('orders', 3))).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });

  it('keeps one counter per topic', () => {
    const rr = new RoundRobin();
    expect([rr.next('a', 4), rr.next('a', 4), rr.next('b', 4), rr.next('a', 4), rr.next('b', 4)]).toEqual([0, 1, 0, 2, 1]);
  });

  it('spreads records evenly over the partitions', () => {
    const rr = new RoundRobin();
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 500; i++) counts[rr.next('t', 5)]! += 1;
    expect(counts).toEqual([100, 100, 100, 100, 100]);
  });

  it('remembers at most maxTopics topics, forgetting the least recently used', () => {
    const rr = new RoundRobin(2);
    rr.next('a', 10);
    rr.next('a', 10); // a's counter is 2
    rr.next('b', 10);
    rr.next('a', 10); // a is now the most recent (counter 3); b the least
    rr.next('c', 10); // evicts b
    expect(rr.size).toBe(2);
    expect(rr.next('a', 10)).toBe(3);
    expect(rr.next('b', 10)).toBe(0); // forgotten: starts over; evicts c
    expect(rr.next('c', 10)).toBe(0);
  });

  it('counts a use of a remembered topic as recent, even below the bound', () => {
    const rr = new RoundRobin(3);
    rr.next('a', 10);
    rr.next('b', 10);
    rr.next('a', 10); // order of recency: b, a
    rr.next('c', 10);
    rr.next('d', 10); // evicts b, the least recently used
    expect(rr.next('a', 10)).toBe(2);
    expect(rr.next('b', 10)).toBe(0);
  });

  it('forgets nothing when a remembered topic is used at the bound', () => {
    const rr = new RoundRobin(2);
    rr.next('a', 10);
    rr.next('b', 10);
    rr.next('b', 10);
    expect(rr.next('a', 10)).toBe(1);
    expect(rr.next('b', 10)).toBe(2);
  });

  it('stays bounded under many distinct topic names', () => {
    const rr = new RoundRobin(100);
    for (let i = 0; i < 1000; i++) rr.next(`topic-${i}`, 3);
    expect(rr.size).toBe(100);
  });

  it('follows a change in partition count and stays in range', () => {
    const rr = new RoundRobin();
    expect([rr.next('t', 2), rr.next('t', 2), rr.next('t', 5), rr.next('t', 5)]).toEqual([0, 1, 2, 3]);
  });
});
