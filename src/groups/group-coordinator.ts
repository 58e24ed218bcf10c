import { buildBatch } from '../../storage/record-batch.ts';
import type { PartitionClient } from '../broker/partition-client.ts';
import type { ReplicaManager } from '../broker/replica-manager.ts';
import { RunnelError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { MetadataImage } from '../metadata/image.ts';
import type { TopicPartition } from './assignor.ts';
import { GroupMaxSizeReachedError, GroupState } from './group-state.ts';
import type { Heartbeat as MemberHeartbeat, HeartbeatAnswer } from './group-state.ts';
import { decodeOffsetCommits, encodeOffsetCommit, OFFSETS_TOPIC, offsetsPartitionFor } from './offsets-topic.ts';

/** The coordinator speaks GroupState's heartbeat types on the wire. */
export type { Heartbeat as MemberHeartbeat, HeartbeatAnswer } from './group-state.ts';

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
  | { readonly op: 'heartbeat'; readonly group: string; readonly hb: MemberHeartbeat }
  | { readonly op: 'leave'; readonly group: string; readonly memberId: string }
  | { readonly op: 'commit'; readonly group: string; readonly memberId: string; readonly offsets: readonly CommittedOffset[] }
  | { readonly op: 'fetch'; readonly group: string; readonly partitions?: readonly TopicPartition[] }
  /** Sets committed offsets of a group with no members (Kafka's AdminClient.alterConsumerGroupOffsets). */
  | { readonly op: 'alterOffsets'; readonly group: string; readonly offsets: readonly CommittedOffset[] }
  | { readonly op: 'describe'; readonly group: string }
  | { readonly op: 'list' };

interface Group {
  readonly state: GroupState;
  /** "topic:partition" -> committed offset. */
  readonly offsets: Map<string, { offset: number; metadata: string }>;
  /** Consumer instance name -> the node it lives on. */
  readonly instances: Map<string, number>;
}

/** Bounds (TIGER_STYLE): groups per coordinator and instances per group. */
const MAX_GROUPS = 10_000;
const MAX_INSTANCES_PER_GROUP = 1000;
const COMMIT_TIMEOUT_MS = 10_000;

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
  private readonly loaded = new Map<number, { epoch: number; done: Promise<void> }>();
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      readonly brokerId: number;
      readonly image: () => MetadataImage;
      readonly replicas: ReplicaManager;
      readonly partitions: PartitionClient;
      /** How long a new coordinator withholds new grants of groups it took over. */
      readonly takeoverHoldMs: number;
      readonly logger: Logger;
    },
  ) {}

  start(): void {
    this.expiryTimer = setInterval(() => this.expireMembers(), 200);
  }

  close(): void {
    clearInterval(this.expiryTimer);
  }

  /** Runs one call for a group this node coordinates (NOT_COORDINATOR otherwise: the caller retries). */
  async handle(call: GroupCall): Promise<unknown> {
    if (call.op === 'list') return this.listLocal();
    const g = await this.group(call.group);
    switch (call.op) {
      case 'register': {
        const at = g.instances.get(call.instance);
        if (at !== undefined) throw new RunnelError('CONSUMER_INSTANCE_EXISTS', `name: consumer instance "${call.instance}" already exists in group "${call.group}"`);
        if (g.instances.size >= MAX_INSTANCES_PER_GROUP) throw new RunnelError('INVALID_REQUEST', `group "${call.group}" has the maximum of ${MAX_INSTANCES_PER_GROUP} instances`);
        g.instances.set(call.instance, call.nodeId);
        return { ok: true };
      }
      case 'unregister':
        g.instances.delete(call.instance);
        g.state.leave(call.instance, Date.now());
        return { ok: true };
      case 'locate': {
        const node = g.instances.get(call.instance) ?? g.state.memberNode(call.instance);
        if (node === undefined) throw new RunnelError('UNKNOWN_CONSUMER_INSTANCE', `consumer instance "${call.instance}" of group "${call.group}" not found`);
        return { nodeId: node };
      }
      case 'heartbeat': {
        // After a coordinator failover the registry is rebuilt from heartbeats.
        if (!g.instances.has(call.hb.memberId)) g.instances.set(call.hb.memberId, call.hb.nodeId);
        try {
          const answer: HeartbeatAnswer = g.state.heartbeat(call.hb, Date.now(), this.partitionCounts(call.hb.topics));
          return answer;
        } catch (err) {
          if (err instanceof GroupMaxSizeReachedError) throw new RunnelError('INVALID_REQUEST', err.message);
          throw err;
        }
      }
      case 'leave':
        g.state.leave(call.memberId, Date.now());
        return { ok: true };
      case 'commit':
        await this.commit(call.group, g, call.memberId, call.offsets);
        return { ok: true };
      case 'alterOffsets':
        // Kafka refuses this for a group with members (NON_EMPTY_GROUP): their positions would
        // silently disagree with the new commits, and their next commit would undo the reset.
        if (!g.state.isEmpty) {
          throw new RunnelError('NON_EMPTY_GROUP', `group "${call.group}" has active members (${g.state.members().join(', ')}): stop its consumers (or wait for their session timeout) before resetting its offsets`);
        }
        await this.append(call.group, g, call.offsets);
        return { ok: true };
      case 'fetch': {
        const tps = call.partitions ?? [...g.offsets.keys()].map((k) => ({ topic: k.slice(0, k.lastIndexOf(':')), partition: Number(k.slice(k.lastIndexOf(':') + 1)) }));
        return { offsets: tps.map((tp) => ({ ...tp, offset: g.offsets.get(tpKey(tp))?.offset ?? -1, metadata: g.offsets.get(tpKey(tp))?.metadata ?? '' })) };
      }
      case 'describe':
        return { ...g.state.describe(), offsets: [...g.offsets].map(([k, v]) => ({ key: k, ...v })) };
    }
  }

  /** For metrics: the groups this node coordinates, their member count and committed offsets ("topic:partition" -> offset). */
  coordinatedGroups(): { group: string; members: number; offsets: ReadonlyMap<string, { offset: number }> }[] {
    return this.listLocal().flatMap((group) => {
      const g = this.groups.get(group);
      return g === undefined ? [] : [{ group, members: g.state.members().length, offsets: g.offsets }];
    });
  }

  private listLocal(): string[] {
    const img = this.deps.image();
    const t = img.topic(OFFSETS_TOPIC);
    if (t === undefined) return [];
    return [...this.groups.keys()].filter((g) => t.partitions[offsetsPartitionFor(g, t.partitions.length)]?.leader === this.deps.brokerId);
  }

  private partitionCounts(topics: readonly string[]): Map<string, number> {
    const img = this.deps.image();
    const out = new Map<string, number>();
    for (const name of topics) {
      const t = img.topic(name);
      if (t !== undefined) out.set(name, t.partitions.length);
    }
    return out;
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
      l = { epoch: r.leaderEpoch, done: this.load(t.id, p, t.partitions.length, r.leaderEpoch > 0) };
      this.loaded.set(p, l);
      l.done.catch(() => this.loaded.delete(p));
    }
    await l.done;
    let g = this.groups.get(groupId);
    if (g === undefined) {
      if (this.groups.size >= MAX_GROUPS) throw new RunnelError('INVALID_REQUEST', `this coordinator holds the maximum of ${MAX_GROUPS} groups`);
      g = { state: new GroupState(groupId), offsets: new Map(), instances: new Map() };
      this.groups.set(groupId, g);
    }
    return g;
  }

  /** Reads every committed offset of one offsets partition from this leader's own log. */
  private async load(topicId: string, partition: number, count: number, takeover: boolean): Promise<void> {
    // Taking over from another coordinator: its members may still be reading what it gave
    // them and will say so in their next heartbeats; hand out nothing new until they had a
    // session's time to report (GroupState's holdGrantsUntilMs).
    const options = takeover ? { holdGrantsUntilMs: Date.now() + this.deps.takeoverHoldMs } : {};
    const r = this.deps.replicas.replica(topicId, partition);
    if (r === undefined) throw new RunnelError('NOT_COORDINATOR', `no replica of offsets partition ${partition}`);
    // Up to the log end: as leader, everything in this log will commit (a leader never truncates).
    const end = r.log.logEndOffset;
    let offset = r.log.logStartOffset;
    let n = 0;
    while (offset < end) {
      const { records, nextOffset } = await r.log.read(offset, 4 * 1024 * 1024, end);
      if (records.length === 0) break;
      for (const { commit } of decodeOffsetCommits(records)) {
        if (offsetsPartitionFor(commit.group, count) !== partition) continue;
        let g = this.groups.get(commit.group);
        if (g === undefined) {
          g = { state: new GroupState(commit.group, options), offsets: new Map(), instances: new Map() };
          this.groups.set(commit.group, g);
        }
        g.offsets.set(`${commit.topic}:${commit.partition}`, { offset: commit.offset, metadata: commit.metadata });
        n++;
      }
      offset = nextOffset;
    }
    this.deps.logger.info({ partition, commits: n, upTo: end }, 'loaded committed offsets: now coordinator for this offsets partition');
  }

  private dropPartition(p: number, count: number): void {
    if (!this.loaded.has(p)) return;
    this.loaded.delete(p);
    for (const id of [...this.groups.keys()]) if (offsetsPartitionFor(id, count) === p) this.groups.delete(id);
  }

  private async commit(groupId: string, g: Group, memberId: string, offsets: readonly CommittedOffset[]): Promise<void> {
    g.state.touch(memberId, Date.now());
    for (const o of offsets) {
      if (!g.state.canCommit(memberId, o)) {
        throw new RunnelError('COMMIT_FAILED', `offsets: instance "${memberId}" does not own ${o.topic}-${o.partition} in group "${groupId}" (the group rebalanced)`);
      }
    }
    await this.append(groupId, g, offsets);
  }

  /** Writes offset commits to the group's offsets partition (acks=all), then serves them. */
  private async append(groupId: string, g: Group, offsets: readonly CommittedOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const t = this.deps.image().topic(OFFSETS_TOPIC);
    if (t === undefined) throw new RunnelError('NOT_COORDINATOR', 'the offsets topic is gone');
    const p = offsetsPartitionFor(groupId, t.partitions.length);
    const now = Date.now();
    const batch = buildBatch(
      offsets.map((o) => ({ ...encodeOffsetCommit({ v: 1, group: groupId, topic: o.topic, partition: o.partition, offset: o.offset, metadata: o.metadata }), headers: [], timestamp: now })),
    );
    await this.deps.partitions.produce({ topicId: t.id, partition: p, batch, acks: -1, timeoutMs: COMMIT_TIMEOUT_MS });
    for (const o of offsets) g.offsets.set(tpKey(o), { offset: o.offset, metadata: o.metadata });
  }

  private expireMembers(): void {
    const now = Date.now();
    // Only groups this node still coordinates; the state of groups it lost is dropped on the
    // next request for them and must not log expiries of members now served elsewhere.
    const local = new Set(this.listLocal());
    for (const [id, g] of this.groups) {
      if (!local.has(id)) continue;
      const gone = g.state.expire(now);
      if (gone.length > 0) this.deps.logger.info({ group: id, members: gone }, 'consumer instances expired: session timeout');
    }
  }
}
