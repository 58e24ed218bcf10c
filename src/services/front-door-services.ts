// The services a front door calls, as narrow interfaces (ARCHITECTURE.md "two front doors over
// one set of services"). The HTTP routes take them today; a Kafka API handler in src/kafka/
// takes the same ones, so a guarantee holds on both doors or on neither. They live here, apart
// from src/http/, so that a second door imports them without importing the first; the classes
// that implement them (src/broker/, src/metadata/, src/groups/) satisfy them structurally.

import type { ConsumeCall, EndOffsetForEpochCall, OffsetForTimestampCall, ProduceCall } from '../broker/partition-client.ts';
import type { ConsumeAnswer, EpochEndOffset, OffsetAtTime, PartitionOffsets } from '../broker/replica-manager.ts';
import type { TopicPartition } from '../groups/assignor.ts';
import type { GroupView } from '../groups/group-admin.ts';
import type { ClassicGroupSnapshot, CommitMember, GroupHeartbeatCall, GroupProtocolError, JoinGroupAnswer, JoinGroupCall, LeaveGroupAnswer, LeaveGroupCall, SyncGroupAnswer, SyncGroupCall } from '../groups/classic-calls.ts';
import type { CommittedOffset } from '../groups/group-coordinator.ts';
import type { ControllerCall } from '../metadata/controller-calls.ts';
import type { MetadataImage, TopicState } from '../metadata/image.ts';
import type { QuorumStatus } from '../metadata/quorum-status.ts';

/** Produce: batches to a partition's leader (PartitionClient). */
export interface ProduceService {
  /** Appends a client's batch, as sent, on the partition's leader; resolves with its base offset once `acks` are met. */
  produce(c: ProduceCall): Promise<number>;
  /**
   * Appends a batch this node built (HTTP produce), stamped with this node's idempotent
   * producer id, epoch and sequence for the partition (NodeProducer), so a resend is deduplicated.
   */
  produceOwn(c: ProduceCall, recordCount: number): Promise<number>;
}

/** Producer ids for idempotent producers, from blocks the controller records in the metadata log (ProducerIdAllocator). */
export interface ProducerIdService {
  /** An id no broker has handed out before; COORDINATOR_LOAD_IN_PROGRESS (retriable) while no block can be had. */
  next(): Promise<bigint>;
}

/** Fetch and offsets: reads from a partition's leader (PartitionClient). */
export interface FetchService {
  consume(c: ConsumeCall): Promise<ConsumeAnswer>;
  offsets(topicId: string, partition: number, timeoutMs?: number): Promise<PartitionOffsets>;
  /**
   * Kafka ListOffsets for one partition: timestamp -2 the log start offset, -1 the high
   * watermark, -3 the record with the largest timestamp, else the earliest record at or after
   * the timestamp; only offsets below the high watermark. Undefined: none (ListOffsets -1).
   */
  offsetForTimestamp(c: OffsetForTimestampCall, timeoutMs?: number): Promise<OffsetAtTime | undefined>;
  /** Kafka OffsetForLeaderEpoch for one partition on its leader: the largest epoch <= the one asked for and its end offset. */
  endOffsetForEpoch(c: EndOffsetForEpochCall, timeoutMs?: number): Promise<EpochEndOffset>;
}

/** Produce backpressure: bytes in flight on this node (ByteBudget); the release runs once the request is answered. */
export interface ProduceBudget {
  acquire(bytes: number): () => void;
}

/** Metadata reads (MetadataView): the image, topic lookups with a read barrier, topic configs. */
export interface MetadataService {
  image(): MetadataImage;
  findTopic(name: string): Promise<TopicState | undefined>;
  requireTopic(name: string): Promise<TopicState>;
  topicConfig(t: TopicState, name: string): string;
  topicConfigIsDefault(t: TopicState, name: string): boolean;
  /** Whether every live broker has applied the metadata this node has, within timeoutMs. */
  appliedOnLiveBrokers(timeoutMs: number): Promise<boolean>;
}

/** Metadata writes through the active controller (ControllerClient). */
export interface AdminService {
  createTopic(req: Omit<Extract<ControllerCall, { method: 'createTopic' }>, 'method'>): Promise<TopicState>;
  deleteTopic(name: string): Promise<void>;
  alterTopicConfigs(name: string, changes: Readonly<Record<string, string | null>>): Promise<void>;
}

/** Metadata writes only Kafka clients make (HTTP has no shape for them): a topic's partition count. */
export interface PartitionAdminService extends AdminService {
  /** Raises a topic's partition count (Kafka CreatePartitions); answers the topic as it now stands. */
  createPartitions(req: Omit<Extract<ControllerCall, { method: 'createPartitions' }>, 'method'>): Promise<TopicState>;
}

/** The metadata quorum (QuorumView). */
export interface QuorumService {
  /** The active controller (raft leader), or null while none is known. */
  controllerId(): number | null;
  /** Whether this node has joined: a leader is known and its broker registration is live. */
  joined(): boolean;
  /** The quorum as the leader sees it, else as this node does. */
  status(): Promise<QuorumStatus>;
}

/** A group's coordinator as Kafka clients reach it (GroupClient): which node it is, and calls on this node's coordinator. */
export interface KafkaGroupService extends ClassicGroupService {
  /** The coordinating broker, null while none (creates the offsets topic on first use). */
  coordinatorOf(group: string): Promise<number | null>;
  /** A commit without member (generation -1): NOT_COORDINATOR on another node, NON_EMPTY_GROUP when the group has members. */
  commitHere(group: string, offsets: readonly CommittedOffset[]): Promise<void>;
  /** Committed offsets (-1: none) of some partitions, or of all committed ones; NOT_COORDINATOR on another node. */
  fetchHere(group: string, partitions: readonly TopicPartition[] | undefined): Promise<CommittedOffset[]>;
  /** The groups this node coordinates. */
  listHere(): Promise<string[]>;
}

/**
 * The classic group protocol on this node's coordinator (GroupClient), for Kafka clients: each
 * call throws NOT_COORDINATOR when another node coordinates the group, and
 * COORDINATOR_LOAD_IN_PROGRESS while this one loads its offsets partition; protocol errors come
 * back in the answers. JoinGroup and SyncGroup answers may wait (parked) for the rest of the group.
 */
export interface ClassicGroupService {
  joinHere(c: JoinGroupCall): Promise<JoinGroupAnswer>;
  syncHere(c: SyncGroupCall): Promise<SyncGroupAnswer>;
  heartbeatHere(c: GroupHeartbeatCall): Promise<GroupProtocolError | null>;
  leaveHere(c: LeaveGroupCall): Promise<LeaveGroupAnswer>;
  /**
   * Commits for a member of a generation (Kafka's OffsetCommit v1+ with generation >= 0 or a
   * member id); generation -1 and memberId '' is a simple commit (Empty groups only). The
   * error, if any, applies to every partition of the request.
   */
  commitMemberHere(group: string, member: CommitMember, offsets: readonly CommittedOffset[]): Promise<GroupProtocolError | null>;
  /** DeleteGroups for one group: null, or GROUP_ID_NOT_FOUND / NON_EMPTY_GROUP / NOT_COORDINATOR. */
  deleteGroupHere(group: string): Promise<'GROUP_ID_NOT_FOUND' | 'NON_EMPTY_GROUP' | null>;
  /**
   * OffsetDelete: removes committed offsets of partitions of a group; per partition null or
   * GROUP_SUBSCRIBED_TO_TOPIC (a member of a "consumer" group subscribes to the topic).
   * Group-level: GROUP_ID_NOT_FOUND (no such group), NON_EMPTY_GROUP (members of a group whose
   * protocol type is not "consumer").
   */
  deleteOffsetsHere(group: string, partitions: readonly TopicPartition[]): Promise<{ error: 'GROUP_ID_NOT_FOUND' | 'NON_EMPTY_GROUP' | null; partitions: { topic: string; partition: number; error: 'GROUP_SUBSCRIBED_TO_TOPIC' | null }[] }>;
  /** The group with its members' client ids, hosts, subscriptions and assignments; NOT_COORDINATOR on another node. */
  describeClassicHere(group: string): Promise<ClassicGroupSnapshot>;
}

/** Consumer groups and their committed offsets, as an operator sees them (GroupAdmin). */
export interface GroupService {
  list(): Promise<string[]>;
  describe(group: string): Promise<GroupView>;
  alterOffsets(group: string, offsets: readonly { topic: string; partition: number; offset: number }[]): Promise<void>;
}
