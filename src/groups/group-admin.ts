import type { PartitionClient } from '../broker/partition-client.ts';
import type { MetadataImage } from '../metadata/image.ts';
import type { TopicPartition } from './assignor.ts';
import type { GroupClient } from './group-client.ts';
import type { ClassicGroupState } from './classic-calls.ts';
import { decodeAssignment } from './consumer-protocol.ts';
import { OFFSETS_TOPIC, offsetsPartitionFor } from './offsets-topic.ts';

/** Bound on each partition leader's answer when a description asks for end offsets. */
const END_OFFSET_TIMEOUT_MS = 1000;

/** One partition of a group: who reads it, what it committed, how far the log goes. */
export interface GroupPartitionView {
  readonly topic: string;
  readonly partition: number;
  readonly consumerId: string | null;
  readonly committedOffset: number | null;
  /** The leader's high watermark; null when the leader did not answer in time. */
  readonly endOffset: number | null;
  readonly lag: number | null;
}

/** One member, a Kafka client or an HTTP consumer instance (whose client id names the node it lives on). */
export interface GroupMemberView {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly host: string;
  /** Decoded from its assignment bytes when the group's protocol type is "consumer"; empty otherwise. */
  readonly assignments: readonly TopicPartition[];
}

/** A consumer group as an operator sees it (Kafka's AdminClient.describeConsumerGroups plus offsets and lag). */
export interface GroupView {
  readonly group: string;
  readonly state: ClassicGroupState;
  readonly generation: number;
  readonly protocol: string | null;
  readonly coordinatorId: number | null;
  readonly members: readonly GroupMemberView[];
  readonly partitions: readonly GroupPartitionView[];
}

export interface GroupAdminDeps {
  readonly groups: GroupClient;
  readonly partitions: PartitionClient;
  readonly image: () => MetadataImage;
  /** Every node that may coordinate groups. */
  readonly nodeIds: readonly number[];
}

/** The admin side of consumer groups (list, describe, reset offsets), as data for any front door. */
export class GroupAdmin {
  constructor(private readonly deps: GroupAdminDeps) {}

  /** Group ids coordinated anywhere in the cluster. */
  list(): Promise<string[]> {
    return this.deps.groups.list(this.deps.nodeIds);
  }

  /** State, members and their partitions, committed offset, end offset and lag. */
  async describe(group: string): Promise<GroupView> {
    const d = await this.deps.groups.describe(group);
    const members = d.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, host: m.clientHost, assignments: d.protocolType === 'consumer' ? readAssignment(m.assignment) : [] }));
    const owner = new Map<string, string>();
    for (const m of members) for (const tp of m.assignments) owner.set(`${tp.topic}:${tp.partition}`, m.memberId);
    const committed = new Map(d.offsets.map((o) => [o.key, o.offset]));
    const keys = [...new Set([...owner.keys(), ...committed.keys()])].sort();
    const partitions = await Promise.all(
      keys.map(async (k) => {
        const topic = k.slice(0, k.lastIndexOf(':'));
        const partition = Number(k.slice(k.lastIndexOf(':') + 1));
        const t = this.deps.image().topic(topic);
        let end: number | null = null;
        // Deliberately quiet: a leader that does not answer leaves end offset and lag unknown.
        if (t !== undefined) end = await this.deps.partitions.offsets(t.id, partition, END_OFFSET_TIMEOUT_MS).then((o) => o.highWatermark, () => null);
        const c = committed.get(k);
        return { topic, partition, consumerId: owner.get(k) ?? null, committedOffset: c ?? null, endOffset: end, lag: end !== null && c !== undefined ? Math.max(0, end - c) : null };
      }),
    );
    const t = this.deps.image().topic(OFFSETS_TOPIC);
    return {
      group,
      state: d.state,
      generation: d.generation,
      protocol: d.protocol,
      coordinatorId: t === undefined ? null : (t.partitions[offsetsPartitionFor(group, t.partitions.length)]?.leader ?? null),
      members,
      partitions,
    };
  }

  /** Sets the committed offsets of a group without members (NON_EMPTY_GROUP otherwise; Kafka's alterConsumerGroupOffsets). */
  async alterOffsets(group: string, offsets: readonly { topic: string; partition: number; offset: number }[]): Promise<void> {
    await this.deps.groups.call({ op: 'alterOffsets', group, offsets: offsets.map((o) => ({ ...o, metadata: '' })) });
  }
}

/** A member's assigned partitions; none when its assignment bytes are empty (before its first sync) or unreadable. */
function readAssignment(bytes: Uint8Array): TopicPartition[] {
  if (bytes.length === 0) return [];
  try {
    return [...decodeAssignment(bytes).partitions];
  } catch {
    return [];
  }
}
