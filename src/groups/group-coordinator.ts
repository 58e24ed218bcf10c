import { buildBatch } from '../../storage/record-batch.ts';
import type { PartitionClient } from '../broker/partition-client.ts';
import type { ReplicaManager } from '../broker/replica-manager.ts';
import { RunnelError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { MetadataImage } from '../metadata/image.ts';
import type { TopicPartition } from './assignor.ts';
import type { ClassicGroupSnapshot, CommitMember, GroupHeartbeatCall, JoinGroupCall, LeaveGroupCall, SyncGroupCall } from './classic-calls.ts';
import { ClassicGroup } from './classic-group.ts';
import type { ClassicGroupConfig, GroupRecord } from './classic-group.ts';
import { decodeSubscription } from './consumer-protocol.ts';
import { decodeOffsetsTopic, encodeGroupDeletion, encodeGroupRecord, encodeOffsetCommit, encodeOffsetDeletion, OFFSETS_TOPIC, offsetsPartitionFor } from './offsets-topic.ts';

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read; -1 when nothing was committed. */
  readonly offset: number;
  readonly metadata: string;
}

export type GroupCall =
  | { readonly op: 'register'; readonly group: string; readonly instance: string; readonly nodeId: number }
  | { readonly op: 'unregister'; readonly group: string; readonly instance: string }
  | { readonly op: 'locate'; readonly group: string; readonly instance: string }
  | { readonly op: 'fetch'; readonly group: string; readonly partitions?: readonly TopicPartition[] }
  /** Sets committed offsets of a group with no members (Kafka's AdminClient.alterConsumerGroupOffsets). */
  | { readonly op: 'alterOffsets'; readonly group: string; readonly offsets: readonly CommittedOffset[] }
  | { readonly op: 'list' }
  // The classic group protocol (Kafka's JoinGroup, SyncGroup, Heartbeat, LeaveGroup, member commits).
  | { readonly op: 'join'; readonly group: string; readonly join: JoinGroupCall }
  | { readonly op: 'sync'; readonly group: string; readonly sync: SyncGroupCall }
  | { readonly op: 'memberHeartbeat'; readonly group: string; readonly hb: GroupHeartbeatCall }
  | { readonly op: 'memberLeave'; readonly group: string; readonly leave: LeaveGroupCall }
  | { readonly op: 'memberCommit'; readonly group: string; readonly member: CommitMember; readonly offsets: readonly CommittedOffset[] }
  | { readonly op: 'deleteGroup'; readonly group: string }
  | { readonly op: 'deleteOffsets'; readonly group: string; readonly partitions: readonly TopicPartition[] }
  | { readonly op: 'describeClassic'; readonly group: string };


interface Group {
  /** Its members, Kafka clients and HTTP consumer instances alike (the classic group protocol). */
  readonly classic: ClassicGroup;
  /** "topic:partition" -> committed offset. */
  readonly offsets: Map<string, { offset: number; metadata: string }>;
  /** Consumer instance name -> the node it lives on. */
  readonly instances: Map<string, number>;
}

/** Members per group (Kafka's group.max.size, unbounded there; bounded here: no map keyed by client input grows without limit). */
export const GROUP_MAX_SIZE = 1000;
/** Bounds (TIGER_STYLE): groups per coordinator and instances per group. */
const MAX_GROUPS = 10_000;
const MAX_INSTANCES_PER_GROUP = 1000;
const COMMIT_TIMEOUT_MS = 10_000;
/** How often deadlines (sessions, join and sync phases) are checked. */
const TICK_MS = 100;
/** How long a call waits for a loading offsets partition before COORDINATOR_LOAD_IN_PROGRESS. */
const LOAD_WAIT_MS = 1000;

const tpKey = (tp: TopicPartition): string => `${tp.topic}:${tp.partition}`;

/**
 * The group coordinator of this node (Kafka's GroupCoordinator): it serves the groups whose
 * offsets partition this broker leads. Membership lives in memory and is rebuilt from
 * heartbeats after a failover; committed offsets are records in the offsets partition,
 * written with acks=all and read back when this broker becomes its leader.
 */
export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  /** Offsets partition -> leader epoch whose log has been loaded (or is loading). */
  private readonly loaded = new Map<number, { epoch: number; ready: boolean; done: Promise<void> }>();
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      readonly brokerId: number;
      readonly image: () => MetadataImage;
      readonly replicas: ReplicaManager;
      readonly partitions: PartitionClient;
      readonly classic: ClassicGroupConfig;
      /** Test hook: a pause before each offsets partition is read (COORDINATOR_LOAD_IN_PROGRESS meanwhile). */
      readonly loadDelayMs?: number;
      readonly logger: Logger;
    },
  ) {}

  start(): void {
    this.expiryTimer = setInterval(() => this.expireMembers(), TICK_MS);
  }

  close(): void {
    clearInterval(this.expiryTimer);
    for (const g of this.groups.values()) g.classic.close('NOT_COORDINATOR');
  }

  /** Runs one call for a group this node coordinates (NOT_COORDINATOR otherwise: the caller retries). */
  async handle(call: GroupCall): Promise<unknown> {
    if (call.op === 'list') return this.listLocal();
    const group = call.group;
    const g = await this.group(group);
    const now = Date.now();
    switch (call.op) {
      case 'join':
        return g.classic.join(call.join, now);
      case 'sync':
        return g.classic.sync(call.sync, now);
      case 'memberHeartbeat':
        return { error: g.classic.heartbeat(call.hb, now) };
      case 'memberLeave':
        return g.classic.leave(call.leave, now);
      case 'memberCommit': {
        const error = g.classic.validateCommit(call.member, now);
        if (error === null) await this.append(group, g, call.offsets);
        return { error };
      }
      case 'deleteGroup':
        return { error: await this.deleteGroup(group, g) };
      case 'deleteOffsets':
        return this.deleteOffsets(group, g, call.partitions);
      case 'describeClassic': {
        const snapshot: ClassicGroupSnapshot = { ...g.classic.describe(), offsets: [...g.offsets].map(([k, v]) => ({ key: k, offset: v.offset })) };
        return snapshot;
      }
      case 'register': {
        const at = g.instances.get(call.instance);
        if (at !== undefined) throw new RunnelError('CONSUMER_INSTANCE_EXISTS', `name: consumer instance "${call.instance}" already exists in group "${call.group}"`);
        if (g.instances.size >= MAX_INSTANCES_PER_GROUP) throw new RunnelError('INVALID_REQUEST', `group "${call.group}" has the maximum of ${MAX_INSTANCES_PER_GROUP} instances`);
        g.instances.set(call.instance, call.nodeId);
        return { ok: true };
      }
      case 'unregister':
        g.instances.delete(call.instance);
        return { ok: true };
      case 'locate': {
        // After a coordinator failover the registry is empty: a live instance's member names its node in its client id.
        const node = g.instances.get(call.instance) ?? (g.classic.hasMember(call.instance) ? restInstanceNode(g.classic.clientIdOf(call.instance)) : undefined);
        if (node === undefined) throw new RunnelError('UNKNOWN_CONSUMER_INSTANCE', `consumer instance "${call.instance}" of group "${call.group}" not found`);
        return { nodeId: node };
      }
      case 'alterOffsets':
        // Kafka refuses this for a group with members (NON_EMPTY_GROUP): their positions would
        // silently disagree with the new commits, and their next commit would undo the reset.
        if (!g.classic.isEmpty) {
          const members = g.classic.memberIds();
          throw new RunnelError('NON_EMPTY_GROUP', `group "${call.group}" has active members (${members.join(', ')}): stop its consumers (or wait for their session timeout) before resetting its offsets`);
        }
        await this.append(call.group, g, call.offsets);
        return { ok: true };
      case 'fetch': {
        const tps = call.partitions ?? [...g.offsets.keys()].map((k) => ({ topic: k.slice(0, k.lastIndexOf(':')), partition: Number(k.slice(k.lastIndexOf(':') + 1)) }));
        return { offsets: tps.map((tp) => ({ ...tp, offset: g.offsets.get(tpKey(tp))?.offset ?? -1, metadata: g.offsets.get(tpKey(tp))?.metadata ?? '' })) };
      }
    }
  }

  /** For metrics: the groups this node coordinates, their member count and committed offsets ("topic:partition" -> offset). */
  coordinatedGroups(): { group: string; members: number; offsets: ReadonlyMap<string, { offset: number }> }[] {
    return this.listLocal().flatMap((group) => {
      const g = this.groups.get(group);
      return g === undefined ? [] : [{ group, members: g.classic.memberIds().length, offsets: g.offsets }];
    });
  }

  private listLocal(): string[] {
    const img = this.deps.image();
    const t = img.topic(OFFSETS_TOPIC);
    if (t === undefined) return [];
    return [...this.groups.keys()].filter((g) => t.partitions[offsetsPartitionFor(g, t.partitions.length)]?.leader === this.deps.brokerId);
  }

  /** The group, once this node is its coordinator and has loaded its offsets partition. */
  private async group(groupId: string): Promise<Group> {
    const t = this.deps.image().topic(OFFSETS_TOPIC);
    if (t === undefined) throw new RunnelError('NOT_COORDINATOR', 'the offsets topic does not exist yet');
    const p = offsetsPartitionFor(groupId, t.partitions.length);
    const r = this.deps.replicas.replica(t.id, p);
    if (r === undefined || r.role !== 'leader') {
      this.dropPartition(p, t.partitions.length);
      throw new RunnelError('NOT_COORDINATOR', `broker ${this.deps.brokerId} does not coordinate group "${groupId}" (offsets partition ${p})`);
    }
    let l = this.loaded.get(p);
    if (l?.epoch !== r.leaderEpoch) {
      this.dropPartition(p, t.partitions.length);
      const entry = { epoch: r.leaderEpoch, ready: false, done: this.load(t.id, p, t.partitions.length) };
      this.loaded.set(p, entry);
      entry.done.then(
        () => (entry.ready = true),
        () => this.loaded.delete(p),
      );
      l = entry;
    }
    // Kafka answers COORDINATOR_LOAD_IN_PROGRESS (retriable) while a new coordinator reads its offsets partition.
    if (!l.ready) {
      await Promise.race([l.done, new Promise((r) => setTimeout(r, LOAD_WAIT_MS))]);
      if (!l.ready) throw new RunnelError('COORDINATOR_LOAD_IN_PROGRESS', `broker ${this.deps.brokerId} is loading offsets partition ${p} (group "${groupId}")`);
    }
    let g = this.groups.get(groupId);
    if (g === undefined) {
      if (this.groups.size >= MAX_GROUPS) throw new RunnelError('INVALID_REQUEST', `this coordinator holds the maximum of ${MAX_GROUPS} groups`);
      g = this.newGroup(groupId);
      this.groups.set(groupId, g);
    }
    return g;
  }

  /** Reads every committed offset of one offsets partition from this leader's own log. */
  private async load(topicId: string, partition: number, count: number): Promise<void> {
    const delay = this.deps.loadDelayMs ?? 0;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const r = this.deps.replicas.replica(topicId, partition);
    if (r === undefined) throw new RunnelError('NOT_COORDINATOR', `no replica of offsets partition ${partition}`);
    // Up to the log end: as leader, everything in this log will commit (a leader never truncates).
    const end = r.log.logEndOffset;
    let offset = r.log.logStartOffset;
    let n = 0;
    const records = new Map<string, GroupRecord>();
    const get = (id: string): Group => {
      let g = this.groups.get(id);
      if (g === undefined) {
        g = this.newGroup(id);
        this.groups.set(id, g);
      }
      return g;
    };
    while (offset < end) {
      const { records: buf, nextOffset } = await r.log.read(offset, 4 * 1024 * 1024, end);
      if (buf.length === 0) break;
      for (const e of decodeOffsetsTopic(buf)) {
        const id = e.kind === 'commit' ? e.commit.group : e.group;
        if (offsetsPartitionFor(id, count) !== partition) continue;
        switch (e.kind) {
          case 'commit':
            get(id).offsets.set(`${e.commit.topic}:${e.commit.partition}`, { offset: e.commit.offset, metadata: e.commit.metadata });
            n++;
            break;
          case 'group':
            records.set(id, e.record);
            break;
          case 'deleteGroup':
            this.groups.delete(id);
            records.delete(id);
            break;
          case 'deleteOffset':
            this.groups.get(id)?.offsets.delete(`${e.topic}:${e.partition}`);
            break;
        }
      }
      offset = nextOffset;
    }
    const now = Date.now();
    for (const [id, record] of records) {
      const g = get(id);
      this.groups.set(id, { ...g, classic: ClassicGroup.fromRecord(id, record, this.deps.classic, now, (rec) => this.writeGroupRecord(id, rec)) });
    }
    this.deps.logger.info({ partition, commits: n, groups: records.size, upTo: end }, 'loaded committed offsets and groups: now coordinator for this offsets partition');
  }

  private dropPartition(p: number, count: number): void {
    if (!this.loaded.has(p)) return;
    this.loaded.delete(p);
    for (const [id, g] of [...this.groups]) {
      if (offsetsPartitionFor(id, count) !== p) continue;
      g.classic.close('NOT_COORDINATOR');
      this.groups.delete(id);
    }
  }

  private newGroup(groupId: string): Group {
    return {
      classic: new ClassicGroup(groupId, this.deps.classic, (rec) => this.writeGroupRecord(groupId, rec)),
      offsets: new Map(),
      instances: new Map(),
    };
  }

  /** Writes one record to the group's offsets partition (acks=all). */
  private async writeEntry(groupId: string, entries: readonly { key: Buffer; value: Buffer }[]): Promise<void> {
    const t = this.deps.image().topic(OFFSETS_TOPIC);
    if (t === undefined) throw new RunnelError('NOT_COORDINATOR', 'the offsets topic is gone');
    const p = offsetsPartitionFor(groupId, t.partitions.length);
    const now = Date.now();
    const batch = buildBatch(entries.map((e) => ({ ...e, headers: [], timestamp: now })));
    await this.deps.partitions.produce({ topicId: t.id, partition: p, batch, acks: -1, timeoutMs: COMMIT_TIMEOUT_MS });
  }

  private async writeGroupRecord(groupId: string, record: GroupRecord): Promise<void> {
    try {
      await this.writeEntry(groupId, [encodeGroupRecord(groupId, record)]);
    } catch (err) {
      this.deps.logger.warn({ err, group: groupId, generation: record.generation }, 'writing the group record failed; its members rejoin');
      throw err;
    }
  }

  /** DeleteGroups: only a group without members; its committed offsets go with it (a tombstone in the offsets topic). */
  private async deleteGroup(groupId: string, g: Group): Promise<'GROUP_ID_NOT_FOUND' | 'NON_EMPTY_GROUP' | null> {
    if (!g.classic.isEmpty) return 'NON_EMPTY_GROUP';
    if (g.offsets.size === 0 && g.classic.generation === 0) {
      this.groups.delete(groupId);
      return 'GROUP_ID_NOT_FOUND';
    }
    await this.writeEntry(groupId, [encodeGroupDeletion(groupId)]);
    g.classic.close('COORDINATOR_NOT_AVAILABLE');
    this.groups.delete(groupId);
    return null;
  }

  /** OffsetDelete: refused per partition while a member of the group subscribes to its topic. */
  private async deleteOffsets(groupId: string, g: Group, partitions: readonly TopicPartition[]): Promise<{ error: 'GROUP_ID_NOT_FOUND' | 'NON_EMPTY_GROUP' | null; partitions: { topic: string; partition: number; error: 'GROUP_SUBSCRIBED_TO_TOPIC' | null }[] }> {
    if (g.offsets.size === 0 && g.classic.isEmpty) return { error: 'GROUP_ID_NOT_FOUND', partitions: [] };
    const subscribed = subscribedTopics(g.classic);
    const out = partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition, error: subscribed.has(tp.topic) ? ('GROUP_SUBSCRIBED_TO_TOPIC' as const) : null }));
    const gone = out.filter((o) => o.error === null && g.offsets.has(`${o.topic}:${o.partition}`));
    if (gone.length > 0) {
      await this.writeEntry(groupId, gone.map((o) => encodeOffsetDeletion(groupId, o.topic, o.partition)));
      for (const o of gone) g.offsets.delete(`${o.topic}:${o.partition}`);
    }
    return { error: null, partitions: out };
  }

  /** Writes offset commits to the group's offsets partition (acks=all), then serves them. */
  private async append(groupId: string, g: Group, offsets: readonly CommittedOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.writeEntry(
      groupId,
      offsets.map((o) => encodeOffsetCommit({ v: 1, group: groupId, topic: o.topic, partition: o.partition, offset: o.offset, metadata: o.metadata })),
    );
    for (const o of offsets) g.offsets.set(tpKey(o), { offset: o.offset, metadata: o.metadata });
  }

  private expireMembers(): void {
    const now = Date.now();
    // Only groups this node still coordinates; the state of groups it lost is dropped on the
    // next request for them and must not log expiries of members now served elsewhere.
    const local = new Set(this.listLocal());
    for (const [id, g] of this.groups) {
      if (!local.has(id)) continue;
      g.classic.tick(now);
    }
  }
}

/** The client id an HTTP consumer instance's member sends: it names the node the instance lives on. */
export function restInstanceClientId(nodeId: number): string {
  return `runnel-rest-node-${nodeId}`;
}

function restInstanceNode(clientId: string | undefined): number | undefined {
  const m = /^runnel-rest-node-(\d+)$/.exec(clientId ?? '');
  return m === null ? undefined : Number(m[1]);
}

/** The topics the members of a "consumer" group subscribe to (Kafka's OffsetDelete refuses those). */
function subscribedTopics(g: ClassicGroup): Set<string> {
  const out = new Set<string>();
  const d = g.describe();
  if (d.protocolType !== 'consumer') return out;
  for (const m of d.members) {
    try {
      for (const t of decodeSubscription(m.metadata).topics) out.add(t);
    } catch {
      // An unreadable subscription subscribes to nothing the coordinator can see.
    }
  }
  return out;
}
