// The client-side assignors of a member the node runs itself (an HTTP consumer instance in a
// classic group): the protocols it advertises in JoinGroup, and, when the coordinator makes it
// the group's leader, the assignment of every member for the protocol the group chose.
//
// Eager protocols only. cooperative-sticky is left out: it needs the cooperative rebalance
// (members keep partitions across a join and give up only what moved, then rejoin), which
// GroupMember does not run.

import type { Logger } from '../logger.ts';
import { assign } from './assignor.ts';
import type { AssignmentStrategy } from './assignor.ts';
import type { JoinGroupAnswer, ProtocolMetadata } from './classic-calls.ts';
import { decodeSubscription, encodeAssignment, encodeSubscription, normaliseTopics } from './consumer-protocol.ts';

/**
 * What an HTTP member advertises, in its order of preference. The coordinator picks a protocol
 * every member supports, by the members' votes: with librdkafka members (range, roundrobin)
 * that is `range`, with Java's defaults (range, cooperative-sticky) `range`, and with kafkajs
 * members (RoundRobinAssigner only) `RoundRobinAssigner`.
 */
export const HTTP_MEMBER_PROTOCOLS = ['range', 'roundrobin', 'RoundRobinAssigner'] as const;
export type HttpMemberProtocol = (typeof HTTP_MEMBER_PROTOCOLS)[number];

/** Kafka's RangeAssignor and RoundRobinAssignor; kafkajs's RoundRobinAssigner deals as the latter. */
const STRATEGY: Record<HttpMemberProtocol, AssignmentStrategy> = { range: 'range', roundrobin: 'roundrobin', RoundRobinAssigner: 'roundrobin' };

export function isHttpMemberProtocol(name: string | null): name is HttpMemberProtocol {
  return name !== null && (HTTP_MEMBER_PROTOCOLS as readonly string[]).includes(name);
}

/** JoinGroup's protocols for a member subscribed to `topics`: one v0 subscription under every name. */
export function memberProtocols(topics: readonly string[]): ProtocolMetadata[] {
  const metadata = encodeSubscription({ topics: normaliseTopics(topics) });
  return HTTP_MEMBER_PROTOCOLS.map((name) => ({ name, metadata }));
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
      return { memberId, topics: decodeSubscription(metadata).topics };
    } catch (err) {
      logger.warn({ memberId, err }, 'unreadable subscription of a group member: it gets no partitions');
      return { memberId, topics: [] };
    }
  });
  const topics = normaliseTopics(subscribed.flatMap((m) => m.topics));
  const wanted = new Set(topics);
  const counts = new Map([...partitionCounts(topics)].filter(([topic, n]) => wanted.has(topic) && n > 0));
  const result = assign(STRATEGY[protocol], subscribed, counts);
  return {
    assignments: members.map(({ memberId }) => ({ memberId, assignment: encodeAssignment({ partitions: result.get(memberId) ?? [] }) })),
    topics,
    partitionCounts: counts,
  };
}

/** Whether two count maps describe the same partitions (same topics, same counts). */
export function samePartitionCounts(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  return a.size === b.size && [...a].every(([topic, n]) => b.get(topic) === n);
}
