import { retryUntil } from '../deadline.ts';
import { RunnelError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { ControllerClient } from '../metadata/controller-client.ts';
import type { MetadataImage } from '../metadata/image.ts';
import type { PeerCaller } from '../rpc/rpc-method.ts';
import type { TopicPartition } from './assignor.ts';
import { GROUP_RPC, parseErrorAnswer, parseFetchedOffsets, parseGroupList, parseGroupSnapshot, parseJoinAnswer, parseLeaveAnswer, parseLocateAnswer, parseSyncAnswer } from './group-calls.ts';
import type { ClassicGroupSnapshot, CommitMember, GroupHeartbeatCall, GroupProtocolError, JoinGroupAnswer, JoinGroupCall, LeaveGroupAnswer, LeaveGroupCall, SyncGroupAnswer, SyncGroupCall } from './classic-calls.ts';
import type { CommittedOffset, GroupCall, GroupCoordinator } from './group-coordinator.ts';
import { OFFSETS_TOPIC, offsetsPartitionFor } from './offsets-topic.ts';

/** While the coordinator moves or loads, calls are retried inside their deadline. */
const RETRIABLE = new Set([
  'NOT_COORDINATOR',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_OR_FOLLOWER',
  'BROKER_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
  'NOT_ENOUGH_REPLICAS',
]);
/** Bound on one call to a group's coordinator, retries included. */
const GROUP_CALL_TIMEOUT_MS = 10_000;
/** Bound on each node's answer to a group listing. */
const LIST_TIMEOUT_MS = 2000;

export interface GroupClientDeps {
  readonly brokerId: number;
  readonly image: () => MetadataImage;
  readonly coordinator: GroupCoordinator;
  readonly peers: PeerCaller;
  /** Creates the offsets topic on first use (Kafka's FindCoordinator does the same). */
  readonly controller: ControllerClient;
  readonly offsetsTopicPartitions: number;
  readonly logger: Logger;
}

/** Reaches a group's coordinator (the leader of its offsets partition) from any node. */
export class GroupClient {
  constructor(private readonly deps: GroupClientDeps) {}

  /** One call on the group's coordinator; the answer differs by op (the typed methods below read it). */
  async call(call: Exclude<GroupCall, { op: 'list' }>, timeoutMs = GROUP_CALL_TIMEOUT_MS): Promise<unknown> {
    return retryUntil(Date.now() + timeoutMs, { retriable: RETRIABLE }, async (leftMs) => {
      const t = this.deps.image().topic(OFFSETS_TOPIC);
      if (t === undefined) {
        await this.createOffsetsTopic();
        throw new RunnelError('NOT_COORDINATOR', 'the offsets topic is being created');
      }
      const group = call.group;
      const p = t.partitions[offsetsPartitionFor(group, t.partitions.length)];
      if (p === undefined || p.leader < 0) throw new RunnelError('NOT_COORDINATOR', `the offsets partition of group "${group}" has no leader`);
      if (p.leader === this.deps.brokerId) return await this.deps.coordinator.handle(call);
      return await this.deps.peers.call(p.leader, GROUP_RPC, call, leftMs);
    });
  }

  /** The node a consumer instance of the group lives on. */
  async locate(group: string, instance: string): Promise<number> {
    return parseLocateAnswer(await this.call({ op: 'locate', group, instance }));
  }

  /** Committed offsets (-1: none) of some partitions, or of every partition the group committed. */
  async fetchOffsets(group: string, partitions: readonly TopicPartition[] | undefined): Promise<CommittedOffset[]> {
    return parseFetchedOffsets(await this.call(partitions === undefined ? { op: 'fetch', group } : { op: 'fetch', group, partitions }));
  }

  /** The group with its members (client ids, hosts, subscription and assignment bytes) and committed offsets. */
  async describe(group: string): Promise<ClassicGroupSnapshot> {
    return parseGroupSnapshot(await this.call({ op: 'describeClassic', group }));
  }

  /**
   * The broker coordinating a group now (the leader of its offsets partition), or null while
   * there is none: the offsets topic is created on first use, as Kafka's FindCoordinator does.
   */
  async coordinatorOf(group: string): Promise<number | null> {
    const t = this.deps.image().topic(OFFSETS_TOPIC);
    if (t === undefined) {
      await this.createOffsetsTopic();
      return null;
    }
    const leader = t.partitions[offsetsPartitionFor(group, t.partitions.length)]?.leader ?? -1;
    return leader < 0 ? null : leader;
  }

  /**
   * Commits offsets of a group with no members on this node's coordinator (Kafka's commit with
   * generation -1 and no member id): NOT_COORDINATOR when another node coordinates the group,
   * NON_EMPTY_GROUP when it has members. Not forwarded: a Kafka client asks its coordinator.
   */
  async commitHere(group: string, offsets: readonly CommittedOffset[]): Promise<void> {
    await this.deps.coordinator.handle({ op: 'alterOffsets', group, offsets });
  }

  /** Committed offsets (-1: none) on this node's coordinator; NOT_COORDINATOR when another node coordinates the group. */
  async fetchHere(group: string, partitions: readonly TopicPartition[] | undefined): Promise<CommittedOffset[]> {
    return parseFetchedOffsets(await this.deps.coordinator.handle(partitions === undefined ? { op: 'fetch', group } : { op: 'fetch', group, partitions }));
  }

  // ---- the classic group protocol on the group's coordinator, from any node ---------------
  // For members this node drives (HTTP consumer instances): forwarded over rpc when another
  // node coordinates the group, retried while the coordinator moves or loads.

  /** JoinGroup may be parked for the whole rebalance: the call's bound is the rebalance timeout plus the usual margin. */
  async join(c: JoinGroupCall): Promise<JoinGroupAnswer> {
    return parseJoinAnswer(await this.call({ op: 'join', group: c.group, join: c }, c.rebalanceTimeoutMs + GROUP_CALL_TIMEOUT_MS));
  }

  /** SyncGroup waits for the leader's assignment, at most the rebalance timeout. */
  async sync(c: SyncGroupCall, rebalanceTimeoutMs: number): Promise<SyncGroupAnswer> {
    return parseSyncAnswer(await this.call({ op: 'sync', group: c.group, sync: c }, rebalanceTimeoutMs + GROUP_CALL_TIMEOUT_MS));
  }

  async memberHeartbeat(c: GroupHeartbeatCall): Promise<GroupProtocolError | null> {
    return parseErrorAnswer(await this.call({ op: 'memberHeartbeat', group: c.group, hb: c }));
  }

  async memberLeave(c: LeaveGroupCall): Promise<LeaveGroupAnswer> {
    return parseLeaveAnswer(await this.call({ op: 'memberLeave', group: c.group, leave: c }));
  }

  async memberCommit(group: string, member: CommitMember, offsets: readonly CommittedOffset[]): Promise<GroupProtocolError | null> {
    return parseErrorAnswer(await this.call({ op: 'memberCommit', group, member, offsets }));
  }

  // ---- the classic group protocol on this node's coordinator (ClassicGroupService) -------
  // The answers come from this node's own coordinator: in-process, not over rpc.

  async joinHere(c: JoinGroupCall): Promise<JoinGroupAnswer> {
    return (await this.deps.coordinator.handle({ op: 'join', group: c.group, join: c })) as JoinGroupAnswer;
  }

  async syncHere(c: SyncGroupCall): Promise<SyncGroupAnswer> {
    return (await this.deps.coordinator.handle({ op: 'sync', group: c.group, sync: c })) as SyncGroupAnswer;
  }

  async heartbeatHere(c: GroupHeartbeatCall): Promise<GroupProtocolError | null> {
    return ((await this.deps.coordinator.handle({ op: 'memberHeartbeat', group: c.group, hb: c })) as { error: GroupProtocolError | null }).error;
  }

  async leaveHere(c: LeaveGroupCall): Promise<LeaveGroupAnswer> {
    return (await this.deps.coordinator.handle({ op: 'memberLeave', group: c.group, leave: c })) as LeaveGroupAnswer;
  }

  async commitMemberHere(group: string, member: CommitMember, offsets: readonly CommittedOffset[]): Promise<GroupProtocolError | null> {
    return ((await this.deps.coordinator.handle({ op: 'memberCommit', group, member, offsets })) as { error: GroupProtocolError | null }).error;
  }

  async deleteGroupHere(group: string): Promise<'GROUP_ID_NOT_FOUND' | 'NON_EMPTY_GROUP' | null> {
    return ((await this.deps.coordinator.handle({ op: 'deleteGroup', group })) as { error: 'GROUP_ID_NOT_FOUND' | 'NON_EMPTY_GROUP' | null }).error;
  }

  async deleteOffsetsHere(group: string, partitions: readonly TopicPartition[]): Promise<{ error: 'GROUP_ID_NOT_FOUND' | 'NON_EMPTY_GROUP' | null; partitions: { topic: string; partition: number; error: 'GROUP_SUBSCRIBED_TO_TOPIC' | null }[] }> {
    return (await this.deps.coordinator.handle({ op: 'deleteOffsets', group, partitions })) as { error: 'GROUP_ID_NOT_FOUND' | 'NON_EMPTY_GROUP' | null; partitions: { topic: string; partition: number; error: 'GROUP_SUBSCRIBED_TO_TOPIC' | null }[] };
  }

  /** A group as this node's coordinator holds it; NOT_COORDINATOR when another node coordinates it. */
  async describeClassicHere(group: string): Promise<ClassicGroupSnapshot> {
    return parseGroupSnapshot(await this.deps.coordinator.handle({ op: 'describeClassic', group }));
  }

  /** The groups this node's coordinator holds (Kafka's ListGroups answers per broker). */
  async listHere(): Promise<string[]> {
    return parseGroupList(await this.deps.coordinator.handle({ op: 'list' }));
  }

  /** Group ids coordinated anywhere in the cluster (a node that does not answer adds none, logged). */
  async list(peers: readonly number[]): Promise<string[]> {
    const all = await Promise.all(
      peers.map(async (id) => {
        try {
          return parseGroupList(id === this.deps.brokerId ? await this.deps.coordinator.handle({ op: 'list' }) : await this.deps.peers.call(id, GROUP_RPC, { op: 'list' }, LIST_TIMEOUT_MS));
        } catch (err) {
          this.deps.logger.debug({ err, peer: id }, 'group listing: node did not answer; its groups are left out');
          return [];
        }
      }),
    );
    return [...new Set(all.flat())].sort();
  }

  private async createOffsetsTopic(): Promise<void> {
    const live = this.deps.image().allBrokers().filter((b) => !b.fenced).length;
    const rf = Math.max(1, Math.min(3, live));
    const partitions = this.deps.offsetsTopicPartitions;
    try {
      await this.deps.controller.call({ method: 'createTopic', name: OFFSETS_TOPIC, partitions, replicationFactor: rf, configs: { 'min.insync.replicas': String(Math.min(2, rf)) } });
      this.deps.logger.info({ partitions, replicationFactor: rf }, 'created the offsets topic');
    } catch (err) {
      if (!(err instanceof RunnelError && err.errorName === 'TOPIC_ALREADY_EXISTS')) throw err;
    }
  }
}
