import { AssignerProtocol, PartitionAssigners } from 'kafkajs';
import type { Cluster } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { TopicPartition } from '../../src/groups/assignor.ts';
import { decodeAssignment, decodeSubscription } from '../../src/groups/consumer-protocol.ts';
import { assignAsLeader, HTTP_MEMBER_PROTOCOLS, memberProtocols, samePartitionCounts } from '../../src/groups/member-assignors.ts';

const log = pino({ level: 'silent' });
const COUNTS = new Map([
  ['a', 3],
  ['b', 2],
  ['gone', 0],
  ['c', 2],
  ['d', 2],
]);
const counts = (topics: readonly string[]): Map<string, number> => new Map(topics.filter((t) => COUNTS.has(t)).map((t) => [t, COUNTS.get(t) ?? 0]));

const kafkajsMember = (memberId: string, topics: string[]): { memberId: string; groupInstanceId: null; metadata: Buffer } => ({
  memberId,
  groupInstanceId: null,
  metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
});
const httpMember = (memberId: string, topics: string[]): { memberId: string; groupInstanceId: null; metadata: Uint8Array } => ({
  memberId,
  groupInstanceId: null,
  metadata: memberProtocols(topics)[0]?.metadata ?? new Uint8Array(0),
});

function decoded(assignments: readonly { memberId: string; assignment: Uint8Array }[]): Record<string, string[]> {
  const fmt = (tps: readonly TopicPartition[]): string[] => tps.map((tp) => `${tp.topic}-${tp.partition}`);
  return Object.fromEntries(assignments.map((a) => [a.memberId, fmt(decodeAssignment(a.assignment).partitions)]));
}

describe('member assignors (an HTTP member as its group leader)', () => {
  it('advertises range, roundrobin and kafkajs RoundRobinAssigner, in that order, with one v0 subscription', () => {
    const protocols = memberProtocols(['b', 'a', 'b']);
    expect(protocols.map((p) => p.name)).toEqual(['range', 'roundrobin', 'RoundRobinAssigner']);
    expect(HTTP_MEMBER_PROTOCOLS).toEqual(['range', 'roundrobin', 'RoundRobinAssigner']);
    for (const p of protocols) expect(decodeSubscription(p.metadata)).toMatchObject({ topics: ['a', 'b'], ownedPartitions: [] });
    // kafkajs advertises only RoundRobinAssigner; librdkafka's default is "range,roundrobin":
    // each shares with an HTTP member exactly the names below, so Kafka's vote agrees on them.
    const kafkajsName = PartitionAssigners.roundRobin({ cluster: {} as Cluster, groupId: 'g', logger: {} as never }).name;
    expect(protocols.map((p) => p.name).filter((n) => n === kafkajsName)).toEqual(['RoundRobinAssigner']);
    expect(protocols.map((p) => p.name).filter((n) => ['range', 'roundrobin'].includes(n))[0]).toBe('range');
  });

  it("assigns range exactly as Kafka's RangeAssignor, for kafkajs and HTTP members alike", () => {
    const members = [httpMember('m2', ['a', 'b']), kafkajsMember('m1', ['a', 'b']), httpMember('m3', ['a'])];
    const out = assignAsLeader('range', members, counts, log);
    expect(decoded(out.assignments)).toEqual({ m1: ['a-0', 'b-0'], m2: ['a-1', 'b-1'], m3: ['a-2'] });
    expect(out.topics).toEqual(['a', 'b']);
    expect([...out.partitionCounts]).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
  });

  it("deals RoundRobinAssigner as kafkajs's own leader does (same answer whichever member leads)", async () => {
    const members = [kafkajsMember('k-2', ['c', 'd']), httpMember('h-1', ['c', 'd']), kafkajsMember('k-1', ['c', 'd'])];
    const ours = decoded(assignAsLeader('RoundRobinAssigner', members, counts, log).assignments);
    // kafkajs's real assigner over the same partitions (its Cluster only answers partition metadata here).
    const cluster = { findTopicPartitionMetadata: (t: string) => Array.from({ length: COUNTS.get(t) ?? 0 }, (_, partitionId) => ({ partitionId })) } as unknown as Cluster;
    const theirs = await PartitionAssigners.roundRobin({ cluster, groupId: 'g', logger: {} as never }).assign({
      members: members.map((m) => ({ memberId: m.memberId, memberMetadata: Buffer.from(m.metadata) })),
      topics: ['c', 'd'],
    });
    expect(ours).toEqual(decoded(theirs.map((a) => ({ memberId: a.memberId, assignment: a.memberAssignment }))));
    // Where round robin and range differ: range would give h-1 c-0 and d-0, k-2 nothing.
    expect(ours).toEqual({ 'h-1': ['c-0', 'd-1'], 'k-1': ['c-1'], 'k-2': ['d-0'] });
  });

  it('gives an empty assignment to members beyond the partitions, to unreadable subscriptions, and ignores missing topics', () => {
    const members = [httpMember('x', ['b', 'gone', 'nope']), httpMember('y', ['b']), httpMember('z', ['b']), { memberId: 'bad', groupInstanceId: null, metadata: Buffer.from([0xff, 0xff]) }];
    const out = assignAsLeader('roundrobin', members, counts, log);
    expect(decoded(out.assignments)).toEqual({ x: ['b-0'], y: ['b-1'], z: [], bad: [] });
    expect(out.topics).toEqual(['b', 'gone', 'nope']);
    expect([...out.partitionCounts]).toEqual([['b', 2]]);
  });

  it('refuses a protocol it never advertised, and compares partition counts', () => {
    expect(() => assignAsLeader('cooperative-sticky', [], counts, log)).toThrow(/never advertised/);
    expect(samePartitionCounts(new Map([['a', 1]]), new Map([['a', 1]]))).toBe(true);
    expect(samePartitionCounts(new Map([['a', 1]]), new Map([['a', 2]]))).toBe(false);
    expect(samePartitionCounts(new Map([['a', 1]]), new Map())).toBe(false);
  });
});
