// The client-side assignors of a member the node runs itself (an HTTP consumer instance in a
// classic group): the protocols it advertises in JoinGroup, and, when the coordinator makes it
// the group's leader, the assignment of every member for the protocol the group chose.
//
// Under an eager protocol the member gives up every partition before each rejoin. Under
// cooperative-sticky it follows KIP-429 (group-member.ts): it keeps reading what it owns while the
// group rebalances, says what it owns in its subscription, and gives up only what it loses. As
// leader under cooperative-sticky a partition some other member still owns is never handed to a
// new owner in the same round.

import type { Logger } from '../logger.ts';
import { assign, tpKey } from './assignor.ts';
import type { AssignmentStrategy, TopicPartition } from './assignor.ts';
import type { JoinGroupAnswer, ProtocolMetadata } from './classic-calls.ts';
import { decodeSubscription, encodeAssignment, encodeSubscription, normaliseTopics } from './consumer-protocol.ts';

/**
 * What an HTTP member advertises, in its order of preference. The coordinator picks a protocol
 * every member supports, by the members' votes: with librdkafka members (range, roundrobin)
 * that is `range`, with Java's defaults (range, cooperative-sticky) `range`, with kafkajs
 * members (RoundRobinAssigner only) `RoundRobinAssigner`, and with members that only speak
 * cooperative-sticky (librdkafka or Java configured so) `cooperative-sticky`.
 */
export const HTTP_MEMBER_PROTOCOLS = ['range', 'roundrobin', 'RoundRobinAssigner', 'cooperative-sticky'] as const;
export type HttpMemberProtocol = (typeof HTTP_MEMBER_PROTOCOLS)[number];

/** The one protocol of HTTP_MEMBER_PROTOCOLS under which members rebalance cooperatively (KIP-429). */
export const COOPERATIVE_PROTOCOL = 'cooperative-sticky';

/** Kafka's RangeAssignor and RoundRobinAssignor; kafkajs's RoundRobinAssigner deals as the latter. */
const STRATEGY: Record<HttpMemberProtocol, AssignmentStrategy> = { range: 'range', roundrobin: 'roundrobin', RoundRobinAssigner: 'roundrobin', 'cooperative-sticky': 'roundrobin' };

export function isHttpMemberProtocol(name: string | null): name is HttpMemberProtocol {
  return name !== null && (HTTP_MEMBER_PROTOCOLS as readonly string[]).includes(name);
}

/** What a member owns when it joins: the partitions of the generation it last synced (-1: none). */
export interface OwnedPartitions {
  readonly partitions: readonly TopicPartition[];
  readonly generation: number;
}

/**
 * JoinGroup's protocols (`names`, in that order) for a member subscribed to `topics`: a v0 subscription under the eager
 * names (a member joining eagerly owns nothing); under cooperative-sticky one that says what it
 * owns (v1, v2 with the generation of what it owns), as a cooperative leader reads owned
 * partitions from every member: librdkafka's stops (no SyncGroup) on a v0 subscription that
 * lacks the field.
 */
export function memberProtocols(topics: readonly string[], owned: OwnedPartitions = { partitions: [], generation: -1 }, names: readonly HttpMemberProtocol[] = HTTP_MEMBER_PROTOCOLS): ProtocolMetadata[] {
  const sorted = normaliseTopics(topics);
  const eager = encodeSubscription({ topics: sorted });
  const cooperative = encodeSubscription({ topics: sorted, ownedPartitions: owned.partitions, generationId: owned.generation });
  return names.map((name) => ({ name, metadata: name === COOPERATIVE_PROTOCOL ? cooperative : eager }));
}

/** Partition counts of the topics that exist (a missing topic is left out or counted 0). */
export type PartitionCounts = (topics: readonly string[]) => ReadonlyMap<string, number>;

export interface LeaderAssignment {
  /** Every member of the JoinGroup answer, with its assignment bytes (possibly no partitions). */
  readonly assignments: { readonly memberId: string; readonly assignment: Uint8Array }[];
  /** Every topic some member subscribes to, sorted. */
  readonly topics: readonly string[];
  /** The counts the assignment was made from: the leader rejoins when they change (new partitions, a topic created or deleted). */
  readonly partitionCounts: ReadonlyMap<string, number>;
}

/**
 * The leader's SyncGroup assignments for the group's chosen `protocol` (one of
 * HTTP_MEMBER_PROTOCOLS: the coordinator only chooses one every member advertised). A member
 * whose subscription bytes cannot be read is given nothing (logged), as it subscribes to
 * nothing the leader can see; the rest of the group is still assigned.
 */
export function assignAsLeader(protocol: string | null, members: JoinGroupAnswer['members'], partitionCounts: PartitionCounts, logger: Logger): LeaderAssignment {
  if (!isHttpMemberProtocol(protocol)) throw new Error(`assignAsLeader: the group chose protocol ${String(protocol)}, which this member never advertised`);
  const subscribed = members.map(({ memberId, metadata }) => {
    try {
      const sub = decodeSubscription(metadata);
      return { memberId, topics: sub.topics, owned: sub.ownedPartitions, generation: sub.generationId };
    } catch (err) {
      logger.warn({ memberId, err }, 'unreadable subscription of a group member: it gets no partitions');
      return { memberId, topics: [], owned: [], generation: -1 };
    }
  });
  const topics = normaliseTopics(subscribed.flatMap((m) => m.topics));
  const wanted = new Set(topics);
  const counts = new Map([...partitionCounts(topics)].filter(([topic, n]) => wanted.has(topic) && n > 0));
  const result = protocol === COOPERATIVE_PROTOCOL ? cooperativeSticky(subscribed, counts) : assign(STRATEGY[protocol], subscribed, counts);
  return {
    assignments: members.map(({ memberId }) => ({ memberId, assignment: encodeAssignment({ partitions: result.get(memberId) ?? [] }) })),
    topics,
    partitionCounts: counts,
  };
}

interface Claims {
  readonly memberId: string;
  readonly topics: readonly string[];
  /** What the member says it owns (ConsumerProtocol v1+), of `generation` (v2+; -1 unknown). */
  readonly owned: readonly TopicPartition[];
  readonly generation: number;
}

/**
 * Kafka's CooperativeStickyAssignor in two steps. 1. A balanced sticky assignment
 * (assignor.ts with `previous`), where a partition sticks to the claimant of the highest
 * generation (a claim of an older generation loses; claims tied at that generation stick to
 * nobody). 2. adjustAssignment (KIP-429): a partition that goes to a member which is not its
 * winning claimant, while some member claims it, is left out this round; the claimants revoke
 * it and rejoin, and the next round hands it over. Stricter than Kafka on one point: a partition
 * two members claim in the same generation goes to neither this round (Kafka keeps it with one
 * of them while the other is still revoking it).
 */
function cooperativeSticky(members: readonly Claims[], counts: ReadonlyMap<string, number>): Map<string, TopicPartition[]> {
  const best = new Map<string, { memberId: string | null; generation: number }>();
  for (const m of members) {
    for (const tp of m.owned) {
      const key = tpKey(tp);
      const b = best.get(key);
      if (b === undefined || m.generation > b.generation) best.set(key, { memberId: m.memberId, generation: m.generation });
      else if (m.generation === b.generation && b.memberId !== m.memberId) b.memberId = null;
    }
  }
  const previous = new Map<string, TopicPartition[]>(members.map((m) => [m.memberId, m.owned.filter((tp) => best.get(tpKey(tp))?.memberId === m.memberId)]));
  const result = assign('roundrobin', members, counts, previous);
  for (const [memberId, list] of result) {
    result.set(
      memberId,
      list.filter((tp) => {
        const b = best.get(tpKey(tp));
        return b === undefined || b.memberId === memberId;
      }),
    );
  }
  return result;
}

/** Whether two count maps describe the same partitions (same topics, same counts). */
export function samePartitionCounts(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  return a.size === b.size && [...a].every(([topic, n]) => b.get(topic) === n);
}
