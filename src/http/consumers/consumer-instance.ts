import { batches, decodeRecords } from '../../../storage/record-batch.ts';
import type { PartitionClient } from '../../broker/partition-client.ts';
import { invalid, RunnelError } from '../../errors.ts';
import type { AssignmentStrategy, TopicPartition } from '../../groups/assignor.ts';
import type { GroupClient } from '../../groups/group-client.ts';
import type { CommittedOffset, HeartbeatAnswer } from '../../groups/group-coordinator.ts';
import { isInternalTopic } from '../../groups/offsets-topic.ts';
import type { Logger } from '../../logger.ts';
import type { MetadataImage } from '../../metadata/image.ts';
import { formatRecord } from './consumed-record.ts';
import type { ConsumedRecord, EmbeddedFormat } from './consumed-record.ts';

export interface InstanceConfig {
  readonly group: string;
  readonly name: string;
  readonly nodeId: number;
  readonly format: EmbeddedFormat;
  readonly autoOffsetReset: 'earliest' | 'latest' | 'none';
  readonly autoCommitEnable: boolean;
  readonly autoCommitIntervalMs: number;
  readonly sessionTimeoutMs: number;
  /**
   * How long the instance keeps reading its partitions without a heartbeat answer: its own
   * session timeout, capped by how long a new coordinator holds back grants after a failover
   * (groups.session_timeout_ms). Past it the coordinator may have handed them to another member.
   */
  readonly readLeaseMs: number;
  readonly strategy: AssignmentStrategy;
}

interface Owned {
  readonly tp: TopicPartition;
  /** Next offset to return; undefined until initialised from the committed offset or the reset policy. */
  position: number | undefined;
  /** Offset after the last record returned to the client (what "commit everything returned" commits). */
  returnedUpTo: number | undefined;
}

/** How long one fetch round waits on the partition leaders before heartbeating again. */
const FETCH_ROUND_MS = 500;
const SETTLE_POLL_MS = 50;

const key = (tp: TopicPartition): string => `${tp.topic}:${tp.partition}`;

/**
 * One REST Proxy v2 consumer instance, living on the node that created it. Each poll is its
 * heartbeat to the group coordinator, which answers with the partitions it may read now; it
 * drops at once any partition it is no longer allowed (forgetting its uncommitted position),
 * and starts a newly assigned one at the group's committed offset. Operations on one instance
 * run one at a time.
 */
export class ConsumerInstance {
  private topics: string[] = [];
  private pattern: RegExp | undefined;
  private readonly owned = new Map<string, Owned>();
  /** Set by subscribe(), cleared by the first poll once the group settled (or its timeout ran out). */
  private awaitingSettle = false;
  private lastAutoCommitMs = Date.now();
  /** When the last heartbeat that got an answer was SENT (GroupState's member-side contract). */
  private lastAnsweredSentMs = Date.now();
  private queue: Promise<unknown> = Promise.resolve();
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
    const r = this.queue.then(async () => {
      if (this.closed) throw new RunnelError('UNKNOWN_CONSUMER_INSTANCE', `consumer instance "${this.cfg.name}" was deleted`);
      this.lastUsedMs = Date.now();
      return f();
    });
    this.queue = r.catch(() => undefined);
    return r;
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
  async join(): Promise<void> {
    await this.heartbeat();
  }

  subscription(): { topics: string[] } {
    return { topics: this.subscribedTopics() };
  }

  async unsubscribe(): Promise<void> {
    await this.autoCommitIfEnabled([...this.owned.values()]);
    this.topics = [];
    this.pattern = undefined;
    this.owned.clear();
    await this.groups.call({ op: 'leave', group: this.cfg.group, memberId: this.cfg.name });
  }

  assignments(): TopicPartition[] {
    return [...this.owned.values()].map((o) => o.tp);
  }

  /** Records from this member's partitions, waiting up to `timeoutMs` (the first poll waits for the group to settle). */
  async poll(timeoutMs: number, maxBytes: number): Promise<ConsumedRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hb = await this.heartbeat();
      const left = deadline - Date.now();
      // API.md: the first poll after a subscribe waits (up to its timeout) for the group to
      // settle, so it does not answer [] just because the assignment is still forming.
      if (this.awaitingSettle && !hb.settled && left > 0) {
        await new Promise((r) => setTimeout(r, Math.min(SETTLE_POLL_MS, left)));
        continue;
      }
      this.awaitingSettle = false;
      await this.initPositions();
      const records = await this.fetchRound(Math.max(0, Math.min(left, FETCH_ROUND_MS)), maxBytes);
      if (records.length > 0 || Date.now() >= deadline) {
        await this.maybeAutoCommit();
        return records;
      }
      if (this.owned.size === 0) await new Promise((r) => setTimeout(r, Math.min(SETTLE_POLL_MS * 2, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Commits explicit offsets (each = the last processed record, so offset + 1 is stored), or everything returned so far. */
  async commit(offsets: readonly { topic: string; partition: number; offset: number }[] | undefined): Promise<void> {
    const list: CommittedOffset[] =
      offsets === undefined
        ? [...this.owned.values()].filter((o) => o.returnedUpTo !== undefined).map((o) => ({ ...o.tp, offset: o.returnedUpTo ?? 0, metadata: '' }))
        : offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset + 1, metadata: '' }));
    if (list.length === 0) return;
    await this.commitWithRetry(list);
    this.lastAutoCommitMs = Date.now();
  }

  /**
   * A coordinator that just took over knows this member only from its next heartbeat: on
   * COMMIT_FAILED, heartbeat and retry once if the partitions are all still ours. (Not used on
   * the revocation path, which runs inside a heartbeat.)
   */
  private async commitWithRetry(list: readonly CommittedOffset[]): Promise<void> {
    try {
      await this.groups.call({ op: 'commit', group: this.cfg.group, memberId: this.cfg.name, offsets: list });
    } catch (err) {
      if (!(err instanceof RunnelError && err.errorName === 'COMMIT_FAILED')) throw err;
      await this.heartbeat();
      if (!list.every((o) => this.owned.has(key(o)))) throw err;
      await this.groups.call({ op: 'commit', group: this.cfg.group, memberId: this.cfg.name, offsets: list });
    }
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

  /** Leaves the group; with auto-commit on, commits what was returned first (a clean close loses nothing). */
  async close(): Promise<void> {
    try {
      await this.autoCommitIfEnabled([...this.owned.values()]);
    } finally {
      this.closed = true;
      this.owned.clear();
      await this.groups.call({ op: 'unregister', group: this.cfg.group, instance: this.cfg.name }).catch((err: unknown) => this.logger.debug({ err, instance: this.cfg.name }, 'unregister on close failed'));
    }
  }

  // ---- internals ----------------------------------------------------------------------

  private subscribedTopics(): string[] {
    if (this.pattern === undefined) return this.topics;
    const re = this.pattern;
    return this.image()
      .allTopics()
      .map((t) => t.name)
      .filter((n) => !isInternalTopic(n) && re.test(n))
      .sort();
  }

  /**
   * GroupState's member-side contract: with no heartbeat answered for the read lease, counted
   * from when that heartbeat was sent, the coordinator may have expired this member and handed
   * its partitions on, so they are lost (Kafka's onPartitionsLost): dropped with their
   * positions and not committed. A partition granted again later starts from the committed offset.
   */
  private dropIfLeaseLapsed(): boolean {
    if (Date.now() - this.lastAnsweredSentMs < this.cfg.readLeaseMs) return false;
    this.owned.clear();
    return true;
  }

  private async heartbeat(): Promise<HeartbeatAnswer> {
    const topics = this.subscribedTopics();
    this.dropIfLeaseLapsed();
    const sentMs = Date.now();
    const answer = await this.groups.heartbeat(this.cfg.group, {
      memberId: this.cfg.name,
      nodeId: this.cfg.nodeId,
      topics,
      strategy: this.cfg.strategy,
      owned: this.assignments(),
      sessionTimeoutMs: this.cfg.sessionTimeoutMs,
    });
    this.lastAnsweredSentMs = sentMs;
    const allowed = new Set(answer.allowed.map(key));
    const revoked = [...this.owned.values()].filter((o) => !allowed.has(key(o.tp)));
    if (revoked.length > 0) {
      // Kafka's onPartitionsRevoked: auto-commit what was returned before letting go.
      // A failed commit here is not fatal (the next owner re-reads from the last commit), but it means re-delivery: say so.
      await this.autoCommitIfEnabled(revoked).catch((err: unknown) => this.logger.warn({ err, instance: this.cfg.name, group: this.cfg.group }, 'auto-commit on revocation failed; the next owner re-delivers'));
      for (const o of revoked) this.owned.delete(key(o.tp));
    }
    for (const tp of answer.allowed) if (!this.owned.has(key(tp))) this.owned.set(key(tp), { tp, position: undefined, returnedUpTo: undefined });
    return answer;
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
    // Still ours? A heartbeat in between may have revoked it, or the read lease lapsed.
    if (this.dropIfLeaseLapsed() || this.owned.get(key(o.tp)) !== o) return out;
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

  private async maybeAutoCommit(): Promise<void> {
    if (!this.cfg.autoCommitEnable || Date.now() - this.lastAutoCommitMs < this.cfg.autoCommitIntervalMs) return;
    await this.autoCommitIfEnabled([...this.owned.values()]);
  }

  private async autoCommitIfEnabled(which: readonly Owned[]): Promise<void> {
    if (!this.cfg.autoCommitEnable) return;
    const list = which.filter((o) => o.returnedUpTo !== undefined).map((o) => ({ ...o.tp, offset: o.returnedUpTo ?? 0, metadata: '' }));
    if (list.length === 0) return;
    await this.groups.call({ op: 'commit', group: this.cfg.group, memberId: this.cfg.name, offsets: list });
    this.lastAutoCommitMs = Date.now();
  }
}
