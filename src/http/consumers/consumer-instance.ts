import { batches, decodeRecords } from '../../../storage/record-batch.ts';
import type { PartitionClient } from '../../broker/partition-client.ts';
import { invalid, RunnelError } from '../../errors.ts';
import type { TopicPartition } from '../../groups/assignor.ts';
import type { GroupClient } from '../../groups/group-client.ts';
import { restInstanceClientId } from '../../groups/group-coordinator.ts';
import type { CommittedOffset } from '../../groups/group-coordinator.ts';
import { GroupMember, GroupMemberError } from '../../groups/group-member.ts';
import { isInternalTopic } from '../../groups/offsets-topic.ts';
import type { Logger } from '../../logger.ts';
import type { MetadataImage } from '../../metadata/image.ts';
import { formatRecord } from './consumed-record.ts';
import type { ConsumedRecord, EmbeddedFormat } from './consumed-record.ts';

export interface InstanceConfig {
  readonly group: string;
  readonly name: string;
  readonly nodeId: number;
  /** This node's host, shown as the member's client host. */
  readonly clientHost: string;
  readonly format: EmbeddedFormat;
  readonly autoOffsetReset: 'earliest' | 'latest' | 'none';
  readonly autoCommitEnable: boolean;
  readonly autoCommitIntervalMs: number;
  /** consumer.session.timeout.ms: a client silent this long (no request running) leaves the group. */
  readonly sessionTimeoutMs: number;
  /** The session the node's member asks the coordinator for: sessionTimeoutMs within the groups' session bounds. */
  readonly groupSessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
}

interface Owned {
  readonly tp: TopicPartition;
  /** Next offset to return; undefined until initialised from the committed offset or the reset policy. */
  position: number | undefined;
  /** Offset after the last record returned to the client (what "commit everything returned" commits). */
  returnedUpTo: number | undefined;
}

/** How long one fetch round waits on the partition leaders before looking at the assignment again. */
const FETCH_ROUND_MS = 500;
const IDLE_POLL_MS = 100;

const key = (tp: TopicPartition): string => `${tp.topic}:${tp.partition}`;

/**
 * One REST Proxy v2 consumer instance, living on the node that created it. The node is its
 * client in the group: a GroupMember joins the classic group for it (next to kafkajs or
 * librdkafka members), assigns as the group's leader when elected, and heartbeats in the
 * background. Under an eager protocol, before each rejoin the instance auto-commits what it
 * returned and stops reading; under cooperative-sticky it keeps reading the partitions it keeps
 * (at their positions: onAssign never resets a partition it already owns) and auto-commits and
 * drops only those it loses. A partition assigned later starts at the group's committed offset. A
 * client that makes no request for its session timeout leaves the group without committing
 * (its partitions go to the others); its next poll joins again. Operations on one instance run
 * one at a time.
 */
export class ConsumerInstance {
  private topics: string[] = [];
  private pattern: RegExp | undefined;
  private readonly owned = new Map<string, Owned>();
  private member: GroupMember | undefined;
  /** Set by subscribe() or a rejoin after a lapse, cleared by the first poll once the group settled (or its timeout ran out). */
  private awaitingSettle = false;
  /** The client went silent past its session: the member left without committing. */
  private lapsed = false;
  private lastAutoCommitMs = Date.now();
  private queue: Promise<unknown> = Promise.resolve();
  private running = 0;
  lastUsedMs = Date.now();
  closed = false;

  constructor(
    readonly cfg: InstanceConfig,
    private readonly groups: GroupClient,
    private readonly partitions: PartitionClient,
    private readonly image: () => MetadataImage,
    private readonly logger: Logger,
  ) {}

  /** Runs `f` after the instance's earlier operations (REST calls on one instance are serialized). */
  run<T>(f: () => Promise<T>): Promise<T> {
    this.running++;
    this.lastUsedMs = Date.now();
    const r = this.queue.then(async () => {
      if (this.closed) throw new RunnelError('UNKNOWN_CONSUMER_INSTANCE', `consumer instance "${this.cfg.name}" was deleted`);
      this.lastUsedMs = Date.now();
      return f();
    });
    this.queue = r.catch(() => undefined);
    return r.finally(() => {
      this.running--;
      this.lastUsedMs = Date.now();
    });
  }

  /** Whether the client has made no request for its session timeout while its member is in the group. */
  silentPastSession(nowMs: number): boolean {
    return this.member !== undefined && this.running === 0 && nowMs - this.lastUsedMs > this.cfg.sessionTimeoutMs;
  }

  subscribe(topics: readonly string[] | undefined, pattern: string | undefined): void {
    if (pattern !== undefined) {
      try {
        this.pattern = new RegExp(`^(?:${pattern})$`);
      } catch (err) {
        throw invalid('topic_pattern', `not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.topics = [];
    } else {
      this.pattern = undefined;
      this.topics = [...new Set(topics ?? [])];
    }
    this.awaitingSettle = true;
  }

  /** Subscribing joins the group at once (API.md: the subscription triggers the rebalance). */
  join(): Promise<void> {
    if (this.member === undefined) this.startMember();
    else this.member.requestRejoin('subscription changed');
    return Promise.resolve();
  }

  subscription(): { topics: string[] } {
    return { topics: this.subscribedTopics() };
  }

  /** Leaves the group (committing what was returned, with auto-commit on). */
  async unsubscribe(): Promise<void> {
    this.topics = [];
    this.pattern = undefined;
    await this.stopMember();
  }

  assignments(): TopicPartition[] {
    return [...this.owned.values()].map((o) => o.tp);
  }

  /** Records from this member's partitions, waiting up to `timeoutMs` (the first poll waits for the group to settle). */
  async poll(timeoutMs: number, maxBytes: number): Promise<ConsumedRecord[]> {
    const deadline = Date.now() + timeoutMs;
    if (this.member === undefined && this.lapsed && this.subscribedTopics().length > 0) {
      // Back after its session lapsed: join again; the partitions start from the committed offsets.
      this.lapsed = false;
      this.awaitingSettle = true;
      this.startMember();
    }
    const member = this.member;
    if (member !== undefined && this.awaitingSettle) {
      // API.md: the first poll after a subscribe waits (up to its timeout) for the group to
      // settle, so it does not answer [] just because the assignment is still forming.
      try {
        await member.waitStable(Math.max(0, deadline - Date.now()));
      } catch (err) {
        throw this.membershipError(err);
      }
      this.awaitingSettle = false;
    }
    if (member?.failure !== undefined) throw this.membershipError(member.failure);
    for (;;) {
      await this.initPositions();
      const left = deadline - Date.now();
      const records = await this.fetchRound(Math.max(0, Math.min(left, FETCH_ROUND_MS)), maxBytes);
      if (records.length > 0 || Date.now() >= deadline) {
        await this.maybeAutoCommit();
        return records;
      }
      if (this.owned.size === 0) await new Promise((r) => setTimeout(r, Math.min(IDLE_POLL_MS, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Commits explicit offsets (each = the last processed record, so offset + 1 is stored), or everything returned so far. */
  async commit(offsets: readonly { topic: string; partition: number; offset: number }[] | undefined): Promise<void> {
    const list: CommittedOffset[] =
      offsets === undefined
        ? [...this.owned.values()].filter((o) => o.returnedUpTo !== undefined).map((o) => ({ ...o.tp, offset: o.returnedUpTo ?? 0, metadata: '' }))
        : offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset + 1, metadata: '' }));
    if (list.length === 0) return;
    for (const o of list) {
      if (!this.owned.has(key(o))) throw new RunnelError('COMMIT_FAILED', `offsets: instance "${this.cfg.name}" does not own ${o.topic}-${o.partition} in group "${this.cfg.group}" (the group rebalanced)`);
    }
    await this.commitAsMember(list);
    this.lastAutoCommitMs = Date.now();
  }

  async committed(tps: readonly TopicPartition[] | undefined): Promise<CommittedOffset[]> {
    const partitions = tps ?? this.assignments();
    return this.groups.fetchOffsets(this.cfg.group, partitions);
  }

  seek(offsets: readonly { topic: string; partition: number; offset: number }[]): void {
    for (const o of offsets) {
      const owned = this.owned.get(key(o));
      if (owned === undefined) throw invalid('offsets', `${o.topic}-${o.partition} is not assigned to this instance`);
      owned.position = o.offset;
    }
  }

  async seekTo(where: 'beginning' | 'end', tps: readonly TopicPartition[]): Promise<void> {
    for (const tp of tps) {
      const owned = this.owned.get(key(tp));
      if (owned === undefined) throw invalid('partitions', `${tp.topic}-${tp.partition} is not assigned to this instance`);
      owned.position = await this.resetOffset(tp, where === 'beginning' ? 'earliest' : 'latest');
    }
  }

  /** The client went silent past its session: leave the group without committing (Kafka's max.poll.interval.ms). */
  async lapse(): Promise<void> {
    this.lapsed = true;
    this.logger.info({ instance: this.cfg.name, group: this.cfg.group, sessionTimeoutMs: this.cfg.sessionTimeoutMs }, 'consumer instance silent past its session: leaving the group');
    await this.stopMember();
  }

  /** Leaves the group; with auto-commit on, commits what was returned first (a clean close loses nothing). */
  async close(): Promise<void> {
    try {
      await this.stopMember();
    } finally {
      this.closed = true;
      this.owned.clear();
      await this.groups.call({ op: 'unregister', group: this.cfg.group, instance: this.cfg.name }).catch((err: unknown) => this.logger.debug({ err, instance: this.cfg.name }, 'unregister on close failed'));
    }
  }

  // ---- internals ----------------------------------------------------------------------

  private startMember(): void {
    const rebalanceTimeoutMs = this.cfg.groupSessionTimeoutMs;
    const member = new GroupMember(
      {
        group: this.cfg.group,
        name: this.cfg.name,
        clientId: restInstanceClientId(this.cfg.nodeId),
        clientHost: this.cfg.clientHost,
        sessionTimeoutMs: this.cfg.groupSessionTimeoutMs,
        rebalanceTimeoutMs,
        heartbeatIntervalMs: this.cfg.heartbeatIntervalMs,
      },
      {
        join: (c) => this.groups.join(c),
        sync: (c) => this.groups.sync(c, rebalanceTimeoutMs),
        heartbeat: (c) => this.groups.memberHeartbeat(c),
        leave: (c) => this.groups.memberLeave(c),
      },
      {
        topics: () => this.subscribedTopics(),
        partitionCounts: (topics) => this.partitionCounts(topics),
        onRevoke: async (tps) => {
          // Kafka's onPartitionsRevoked: auto-commit what was returned before letting go (not after a lapse:
          // the client stopped processing). A failed commit means re-delivery by the next owner: say so.
          if (!this.lapsed) await this.autoCommitIfEnabled(this.ownedOf(tps)).catch((err: unknown) => this.logger.warn({ err, instance: this.cfg.name, group: this.cfg.group }, 'auto-commit on revocation failed; the next owner re-delivers'));
          this.drop(tps);
        },
        onAssign: (tps) => {
          for (const tp of tps) if (!this.owned.has(key(tp))) this.owned.set(key(tp), { tp, position: undefined, returnedUpTo: undefined });
          return Promise.resolve();
        },
        onLost: (tps) => {
          this.drop(tps);
          return Promise.resolve();
        },
      },
      this.logger.child({ group: this.cfg.group, instance: this.cfg.name }),
    );
    this.member = member;
    member.start();
  }

  private async stopMember(): Promise<void> {
    const m = this.member;
    // Stopping revokes first, and the revocation's auto-commit is made as this member.
    if (m !== undefined) await m.stop();
    if (this.member === m) this.member = undefined;
    this.owned.clear();
  }

  private membershipError(err: unknown): unknown {
    if (!(err instanceof GroupMemberError)) return err;
    const name = err.error === 'FENCED_INSTANCE_ID' || err.error === 'INCONSISTENT_GROUP_PROTOCOL' || err.error === 'GROUP_MAX_SIZE_REACHED' ? 'INVALID_REQUEST' : 'UNKNOWN_SERVER_ERROR';
    return new RunnelError(name, `consumer instance "${this.cfg.name}" cannot be a member of group "${this.cfg.group}": ${err.message}`);
  }

  private drop(tps: readonly TopicPartition[]): void {
    for (const tp of tps) this.owned.delete(key(tp));
  }

  private ownedOf(tps: readonly TopicPartition[]): Owned[] {
    return tps.flatMap((tp) => {
      const o = this.owned.get(key(tp));
      return o === undefined ? [] : [o];
    });
  }

  private partitionCounts(topics: readonly string[]): Map<string, number> {
    const img = this.image();
    const out = new Map<string, number>();
    for (const name of topics) {
      const t = img.topic(name);
      if (t !== undefined) out.set(name, t.partitions.length);
    }
    return out;
  }

  private subscribedTopics(): string[] {
    if (this.pattern === undefined) return this.topics;
    const re = this.pattern;
    return this.image()
      .allTopics()
      .map((t) => t.name)
      .filter((n) => !isInternalTopic(n) && re.test(n))
      .sort();
  }

  /** A commit as the member of its current generation; refused (COMMIT_FAILED) once the group moved on. */
  private async commitAsMember(list: readonly CommittedOffset[]): Promise<void> {
    const m = this.member;
    if (m === undefined || m.generation < 0) throw new RunnelError('COMMIT_FAILED', `offsets: instance "${this.cfg.name}" is not in group "${this.cfg.group}" now (the group rebalanced)`);
    const error = await this.groups.memberCommit(this.cfg.group, { memberId: m.memberId, groupInstanceId: null, generation: m.generation }, list);
    if (error !== null) throw new RunnelError('COMMIT_FAILED', `offsets: the coordinator refused the commit of instance "${this.cfg.name}" in group "${this.cfg.group}" (${error}: the group rebalanced)`);
  }

  private async initPositions(): Promise<void> {
    const fresh = [...this.owned.values()].filter((o) => o.position === undefined);
    if (fresh.length === 0) return;
    const committed = await this.committed(fresh.map((o) => o.tp));
    for (const o of fresh) {
      const c = committed.find((x) => x.topic === o.tp.topic && x.partition === o.tp.partition);
      o.position = c !== undefined && c.offset >= 0 ? c.offset : await this.resetOffset(o.tp, this.cfg.autoOffsetReset);
    }
  }

  private async resetOffset(tp: TopicPartition, policy: 'earliest' | 'latest' | 'none'): Promise<number> {
    if (policy === 'none') {
      throw new RunnelError('OFFSET_OUT_OF_RANGE', `${tp.topic}-${tp.partition}: no committed offset and auto.offset.reset is "none"`);
    }
    const t = this.image().topic(tp.topic);
    if (t === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${tp.topic}" not found`);
    const o = await this.partitions.offsets(t.id, tp.partition);
    return policy === 'earliest' ? o.logStartOffset : o.highWatermark;
  }

  /** One long-polling read over every owned partition, in parallel. */
  private async fetchRound(waitMs: number, maxBytes: number): Promise<ConsumedRecord[]> {
    const owned = [...this.owned.values()].filter((o) => o.position !== undefined);
    if (owned.length === 0) return [];
    const share = Math.max(1024, Math.floor(maxBytes / owned.length));
    const img = this.image();
    const errors: unknown[] = [];
    const parts = await Promise.all(
      owned.map(async (o) => {
        const t = img.topic(o.tp.topic);
        if (t === undefined) return [];
        try {
          const { records } = await this.partitions.consume({ topicId: t.id, partition: o.tp.partition, offset: o.position ?? 0, maxBytes: share, timeoutMs: waitMs });
          return this.take(o, records);
        } catch (err) {
          if (err instanceof RunnelError && err.errorName === 'OFFSET_OUT_OF_RANGE') {
            o.position = await this.resetOffset(o.tp, this.cfg.autoOffsetReset);
            return [];
          }
          errors.push(err);
          return [];
        }
      }),
    );
    const records = parts.flat();
    // Records taken from some partitions are returned even when others failed: their positions
    // already moved past them, so dropping them here would skip them.
    if (records.length === 0 && errors.length > 0) throw errors[0];
    return records;
  }

  private take(o: Owned, buf: Buffer): ConsumedRecord[] {
    const out: ConsumedRecord[] = [];
    // Still ours? A rebalance in between may have revoked it, or the member lost it.
    if (this.owned.get(key(o.tp)) !== o) return out;
    const from = o.position ?? 0;
    for (const { at } of batches(buf)) {
      for (const r of decodeRecords(buf, at)) {
        if (r.offset < from) continue;
        out.push(formatRecord(o.tp.topic, o.tp.partition, r, this.cfg.format));
        o.position = r.offset + 1;
        o.returnedUpTo = r.offset + 1;
      }
    }
    return out;
  }

  /**
   * The periodic auto-commit. A refusal is logged, not raised (Kafka's auto-commit does the same):
   * a cooperative member keeps its partitions through a rebalance, and while the group completes
   * it the coordinator answers REBALANCE_IN_PROGRESS; the next poll tries again.
   */
  private async maybeAutoCommit(): Promise<void> {
    if (!this.cfg.autoCommitEnable || Date.now() - this.lastAutoCommitMs < this.cfg.autoCommitIntervalMs) return;
    await this.autoCommitIfEnabled([...this.owned.values()]).catch((err: unknown) => this.logger.info({ err, instance: this.cfg.name, group: this.cfg.group }, 'periodic auto-commit refused; retried at the next poll'));
  }

  private async autoCommitIfEnabled(which: readonly Owned[]): Promise<void> {
    if (!this.cfg.autoCommitEnable) return;
    const list = which.filter((o) => o.returnedUpTo !== undefined).map((o) => ({ ...o.tp, offset: o.returnedUpTo ?? 0, metadata: '' }));
    if (list.length === 0) return;
    await this.commitAsMember(list);
    this.lastAutoCommitMs = Date.now();
  }
}
