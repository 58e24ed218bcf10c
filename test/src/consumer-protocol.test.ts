import { AssignerProtocol } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from '../../src/groups/consumer-protocol.ts';
import { MalformedFrameError } from '../../src/kafka/protocol/malformed-frame-error.ts';

/** Big-endian pieces of a Kafka (non-flexible) encoding, to spell fixtures out field by field. */
const i16 = (v: number): Buffer => Buffer.from([(v >> 8) & 0xff, v & 0xff]);
const i32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const str = (s: string): Buffer => Buffer.concat([i16(Buffer.byteLength(s)), Buffer.from(s)]);
const bytes = (b: Buffer | null): Buffer => (b === null ? i32(-1) : Buffer.concat([i32(b.length), b]));
const strings = (ss: string[]): Buffer => Buffer.concat([i32(ss.length), ...ss.map(str)]);
const tps = (list: [string, number[]][]): Buffer => Buffer.concat([i32(list.length), ...list.map(([t, ps]) => Buffer.concat([str(t), i32(ps.length), ...ps.map(i32)]))]);

describe('ConsumerProtocol subscription', () => {
  it('reads kafkajs v0 bytes from its own encoder (MemberMetadata)', () => {
    const raw = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['orders', 'audit'], userData: Buffer.from('ud') });
    expect(decodeSubscription(raw)).toEqual({ topics: ['orders', 'audit'], userData: Buffer.from('ud'), ownedPartitions: [], generationId: -1, rackId: null });
  });

  it("reads librdkafka's v3 layout: empty userData, owned partitions, generation, null rack", () => {
    // rd_kafka_consumer_protocol_member_metadata_new: version 3, topics, userData "" (never
    // null), owned partitions (empty array when none), generation, rack (kstr, -1 = null).
    const raw = Buffer.concat([i16(3), strings(['t1', 't2']), bytes(Buffer.alloc(0)), tps([['t1', [2, 0]]]), i32(7), i16(-1)]);
    expect(decodeSubscription(raw)).toEqual({
      topics: ['t1', 't2'],
      userData: Buffer.alloc(0),
      ownedPartitions: [
        { topic: 't1', partition: 2 },
        { topic: 't1', partition: 0 },
      ],
      generationId: 7,
      rackId: null,
    });
  });

  it('reads a newer version as the newest known one and ignores its trailing fields', () => {
    const raw = Buffer.concat([i16(9), strings(['a']), bytes(null), tps([]), i32(3), str('rack-1'), Buffer.from([1, 2, 3, 4, 5])]);
    expect(decodeSubscription(raw)).toMatchObject({ topics: ['a'], userData: null, generationId: 3, rackId: 'rack-1' });
    // A v0 message with bytes after it (a v1 reader would take them for owned partitions) is read as v0.
    expect(decodeSubscription(Buffer.concat([i16(0), strings(['a']), bytes(null), i32(99)])).ownedPartitions).toEqual([]);
  });

  it('refuses a negative version and a truncated message', () => {
    expect(() => decodeSubscription(Buffer.concat([i16(-1), strings(['a']), bytes(null)]))).toThrow(/unsupported version -1/);
    expect(() => decodeSubscription(Buffer.concat([i16(1), strings(['a']), bytes(null)]))).toThrow(MalformedFrameError);
    expect(() => decodeSubscription(Buffer.alloc(0))).toThrow(MalformedFrameError);
  });

  it('writes v0 for topics alone, exactly the bytes kafkajs writes, with userData empty rather than null', () => {
    const ours = encodeSubscription({ topics: ['orders', 'audit'] });
    expect(ours).toEqual(Buffer.concat([i16(0), strings(['orders', 'audit']), bytes(Buffer.alloc(0))]));
    expect(ours).toEqual(AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['orders', 'audit'], userData: Buffer.alloc(0) }));
    expect(AssignerProtocol.MemberMetadata.decode(ours)).toEqual({ version: 0, topics: ['orders', 'audit'], userData: Buffer.alloc(0) });
  });

  it('writes the lowest version that carries the fields given, and reads it back', () => {
    const owned = [
      { topic: 'b', partition: 1 },
      { topic: 'a', partition: 0 },
    ];
    const v1 = encodeSubscription({ topics: ['a', 'b'], ownedPartitions: owned });
    expect(v1.readInt16BE(0)).toBe(1);
    expect(v1).toEqual(Buffer.concat([i16(1), strings(['a', 'b']), bytes(Buffer.alloc(0)), tps([['a', [0]], ['b', [1]]])]));
    expect(decodeSubscription(v1).ownedPartitions).toEqual([
      { topic: 'a', partition: 0 },
      { topic: 'b', partition: 1 },
    ]);
    expect(encodeSubscription({ topics: ['a'], ownedPartitions: [] })).toEqual(Buffer.concat([i16(1), strings(['a']), bytes(Buffer.alloc(0)), tps([])]));
    expect(encodeSubscription({ topics: ['a'], generationId: 4 }).readInt16BE(0)).toBe(2);
    const v3 = encodeSubscription({ topics: ['a'], rackId: 'r1', userData: Buffer.from('u') });
    expect(v3.readInt16BE(0)).toBe(3);
    expect(decodeSubscription(v3)).toEqual({ topics: ['a'], userData: Buffer.from('u'), ownedPartitions: [], generationId: -1, rackId: 'r1' });
  });
});

describe('ConsumerProtocol assignment', () => {
  it('reads what kafkajs writes (MemberAssignment, as its RoundRobinAssigner leader sends it)', () => {
    const raw = AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { orders: [2, 0], audit: [1] }, userData: Buffer.alloc(0) });
    expect(decodeAssignment(raw)).toEqual({
      partitions: [
        { topic: 'audit', partition: 1 },
        { topic: 'orders', partition: 0 },
        { topic: 'orders', partition: 2 },
      ],
      userData: Buffer.alloc(0),
    });
  });

  it('reads a Java v3 assignment with null userData, and empty bytes as no partitions', () => {
    expect(decodeAssignment(Buffer.concat([i16(3), tps([['t', [0, 1]]]), bytes(null)]))).toEqual({
      partitions: [
        { topic: 't', partition: 0 },
        { topic: 't', partition: 1 },
      ],
      userData: null,
    });
    // The coordinator gives empty bytes to a member the leader's assignment left out.
    expect(decodeAssignment(new Uint8Array(0))).toEqual({ partitions: [], userData: null });
    expect(() => decodeAssignment(Buffer.concat([i16(0), i32(1)]))).toThrow(MalformedFrameError);
  });

  it('writes v0 grouped by topic, which kafkajs reads back', () => {
    const ours = encodeAssignment({
      partitions: [
        { topic: 'orders', partition: 2 },
        { topic: 'audit', partition: 0 },
        { topic: 'orders', partition: 0 },
      ],
    });
    expect(ours).toEqual(Buffer.concat([i16(0), tps([['audit', [0]], ['orders', [0, 2]]]), bytes(Buffer.alloc(0))]));
    expect(AssignerProtocol.MemberAssignment.decode(ours)).toEqual({ version: 0, assignment: { audit: [0], orders: [0, 2] }, userData: Buffer.alloc(0) });
    expect(decodeAssignment(encodeAssignment({ partitions: [] }))).toEqual({ partitions: [], userData: Buffer.alloc(0) });
  });
});
