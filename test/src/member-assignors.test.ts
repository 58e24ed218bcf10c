import fc from 'fast-check';
import { AssignerProtocol, PartitionAssigners } from 'kafkajs';
import type { Cluster } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { tpKey } from '../../src/groups/assignor.ts';
import type { TopicPartition } from '../../src/groups/assignor.ts';
import { decodeAssignment, decodeSubscription, encodeSubscription } from '../../src/groups/consumer-protocol.ts';
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
  it('advertises range, roundrobin, kafkajs RoundRobinAssigner and cooperative-sticky, in that order: v0 subscriptions, v1 (no owned partitions) under cooperative-sticky', () => {
    const protocols = memberProtocols(['b', 'a', 'b']);
    expect(protocols.map((p) => p.name)).toEqual(['range', 'roundrobin', 'RoundRobinAssigner', 'cooperative-sticky']);
    expect(HTTP_MEMBER_PROTOCOLS).toEqual(['range', 'roundrobin', 'RoundRobinAssigner', 'cooperative-sticky']);
    for (const p of protocols) expect(decodeSubscription(p.metadata)).toMatchObject({ topics: ['a', 'b'], ownedPartitions: [] });
    // librdkafka's cooperative leader needs the owned-partitions field (v1+), even empty.
    expect(protocols.map((p) => Buffer.from(p.metadata).readInt16BE(0))).toEqual([0, 0, 0, 1]);
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
    expect(() => assignAsLeader('sticky', [], counts, log)).toThrow(/never advertised/);
    expect(samePartitionCounts(new Map([['a', 1]]), new Map([['a', 1]]))).toBe(true);
    expect(samePartitionCounts(new Map([['a', 1]]), new Map([['a', 2]]))).toBe(false);
    expect(samePartitionCounts(new Map([['a', 1]]), new Map())).toBe(false);
  });
});

/** A cooperative member's subscription: what it owns, of which generation (librdkafka writes v3). */
const cooperativeMember = (memberId: string, topics: string[], owned: readonly TopicPartition[], generationId: number): { memberId: string; groupInstanceId: null; metadata: Uint8Array } => ({
  memberId,
  groupInstanceId: null,
  metadata: encodeSubscription({ topics, ownedPartitions: owned, generationId }),
});
const parse = (s: string): TopicPartition[] => (s === '' ? [] : s.split(',').map((x) => ({ topic: x.split('-')[0] ?? '', partition: Number(x.split('-')[1]) })));

describe('cooperative-sticky (an HTTP leader of cooperative members)', () => {
  it('hands a partition over in two rounds: first the owner gives it up, then the newcomer gets it', () => {
    const c4 = (ts: readonly string[]): Map<string, number> => new Map(ts.filter((t) => t === 'c').map((t) => [t, 4]));
    // A owns all four; B and the HTTP member (eager: owns nothing when it joins) arrive.
    const round1 = decoded(assignAsLeader('cooperative-sticky', [cooperativeMember('A', ['c'], parse('c-0,c-1,c-2,c-3'), 3), cooperativeMember('B', ['c'], [], -1), httpMember('H', ['c'])], c4, log).assignments);
    // Balanced would be 2/1/1, but what A still owns cannot go to B or H yet: A keeps two, revokes two.
    expect(round1).toEqual({ A: ['c-0', 'c-1'], B: [], H: [] });
    const round2 = decoded(assignAsLeader('cooperative-sticky', [cooperativeMember('A', ['c'], parse(round1['A']?.join(',') ?? ''), 4), cooperativeMember('B', ['c'], [], 4), httpMember('H', ['c'])], c4, log).assignments);
    expect(round2).toEqual({ A: ['c-0', 'c-1'], B: ['c-3'], H: ['c-2'] });
  });

  it('lets a claim of a newer generation win over an older one, gives a partition claimed twice in one generation to nobody this round, and reads an HTTP member\'s own claims (v2)', () => {
    const c2 = (ts: readonly string[]): Map<string, number> => new Map(ts.filter((t) => t === 'c').map((t) => [t, 2]));
    // D owns c-0 of generation 6; A still says it owns c-0, of generation 5 (a stale claim): D keeps it.
    const newer = decoded(assignAsLeader('cooperative-sticky', [cooperativeMember('A', ['c'], parse('c-0'), 5), cooperativeMember('D', ['c'], parse('c-0'), 6)], c2, log).assignments);
    expect(newer).toEqual({ A: ['c-1'], D: ['c-0'] });
    // Both claim c-0 in generation 6: neither keeps it this round (both revoke it), c-1 is free.
    const tied = decoded(assignAsLeader('cooperative-sticky', [cooperativeMember('A', ['c'], parse('c-0'), 6), cooperativeMember('D', ['c'], parse('c-0'), 6)], c2, log).assignments);
    expect(tied).toEqual({ A: [], D: ['c-1'] });
    // An HTTP member rejoining under cooperative-sticky: v2 with what it owns and its generation; the leader keeps it there.
    const h = memberProtocols(['c'], { partitions: parse('c-1'), generation: 7 }).find((x) => x.name === 'cooperative-sticky');
    expect(Buffer.from(h?.metadata ?? new Uint8Array(0)).readInt16BE(0)).toBe(2);
    expect(decodeSubscription(h?.metadata ?? new Uint8Array(0))).toMatchObject({ topics: ['c'], ownedPartitions: parse('c-1'), generationId: 7 });
    const members = [cooperativeMember('A', ['c'], parse('c-0,c-1'), 6), { memberId: 'H', groupInstanceId: null, metadata: h?.metadata ?? new Uint8Array(0) }];
    // H's generation 7 beats A's 6 on c-1: A keeps c-0, H keeps c-1.
    expect(decoded(assignAsLeader('cooperative-sticky', members, c2, log).assignments)).toEqual({ A: ['c-0'], H: ['c-1'] });
  });

  it('never gives a member a partition another member claims (unless its own claim is newer), and converges to every partition assigned, balanced, in two rounds', () => {
    const arb = fc.record({
      members: fc.integer({ min: 1, max: 5 }),
      eager: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
      partitions: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 3 }),
      // Initial claims: partition index -> claimant indexes (overlaps and stale claims included).
      claims: fc.array(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 2 }), { maxLength: 18 }),
      generations: fc.array(fc.integer({ min: -1, max: 3 }), { minLength: 5, maxLength: 5 }),
    });
    fc.assert(
      fc.property(arb, ({ members, eager, partitions, claims, generations }) => {
        const topics = partitions.map((_, i) => `t${i}`);
        const all = topics.flatMap((t, i) => Array.from({ length: partitions[i] ?? 0 }, (_, p) => ({ topic: t, partition: p })));
        const cc = (ts: readonly string[]): Map<string, number> => new Map(ts.map((t) => [t, partitions[Number(t.slice(1))] ?? 0]));
        const ids = Array.from({ length: members }, (_, i) => `m${i}`);
        // An eager member has given everything up before it joins: it claims nothing.
        let owned: Map<string, readonly TopicPartition[]> = new Map(ids.map((id, i) => [id, eager[i] === true ? [] : all.filter((_, j) => (claims[j] ?? []).includes(i))]));
        let gens = new Map(ids.map((id, i) => [id, generations[i] ?? -1]));
        for (let round = 1; round <= 3; round++) {
          const subs = ids.map((id, i) => (eager[i] === true ? httpMember(id, topics) : cooperativeMember(id, topics, owned.get(id) ?? [], gens.get(id) ?? -1)));
          const out = assignAsLeader('cooperative-sticky', subs, cc, log).assignments.map((a) => ({ memberId: a.memberId, tps: decodeAssignment(a.assignment).partitions }));
          const seen = new Set<string>();
          for (const { memberId, tps } of out) {
            for (const tp of tps) {
              expect(seen.has(tpKey(tp))).toBe(false);
              seen.add(tpKey(tp));
              // Another member's claim yields only to the assignee's own claim of a newer generation.
              const claims = (id: string): boolean => (owned.get(id) ?? []).some((x) => tpKey(x) === tpKey(tp));
              for (const other of owned.keys()) if (other !== memberId && claims(other)) expect(claims(memberId) && (gens.get(memberId) ?? -1) > (gens.get(other) ?? -1)).toBe(true);
            }
          }
          if (round >= 2) {
            expect(seen.size).toBe(all.length);
            const sizes = out.map((a) => a.tps.length);
            expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
          }
          // Cooperative members keep what they were given (revoking the rest); eager ones give up everything.
          owned = new Map(out.map((a, i) => [a.memberId, eager[i] === true ? [] : a.tps]));
          gens = new Map(ids.map((id) => [id, round + 10]));
        }
      }),
      { numRuns: 300 },
    );
  });
});
