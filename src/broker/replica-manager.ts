import { join } from 'node:path';
import { RunnelError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { MetadataImage, PartitionState, TopicState } from '../metadata/image.ts';
import { fromLogError } from './log-errors.ts';
import { PartitionReplica } from './partition-replica.ts';
import type { Acks, IsrChangeOutcome } from './partition-replica.ts';
import { ReplicaFetcher } from './replica-fetcher.ts';
import type { FetchPartitionResponse, FetchRequest, FetchResponse, FetchRpc } from './replica-fetcher.ts';
import { FetchSessionCache } from './fetch-session.ts';
import type { SessionPartitionState } from './fetch-session.ts';
import type { OpenReplicaLog } from './replica-log.ts';

export interface ReplicaManagerDeps {
  readonly brokerId: number;
  readonly dataDir: string;
  readonly openLog: OpenReplicaLog;
  readonly fetchRpc: FetchRpc;
  /** AlterPartition through the active controller. */
  readonly alterIsr: (req: { topicId: string; partition: number; leaderId: number; leaderEpoch: number; partitionEpoch: number; isr: readonly number[] }) => Promise<PartitionState>;
  /** Topic config value, else the cluster.yaml default. */
  readonly topicConfig: (topic: TopicState, name: string) => string;
  readonly replicaLagTimeMaxMs: number;
  /** How often retention runs over every local replica (cluster.yaml log.retention_check_interval_ms). */
  readonly retentionCheckIntervalMs: number;
  readonly requestTimeoutMs: number;
  readonly fetchMaxWaitMs?: number;
  readonly fetchMaxBytes?: number;
  readonly flush: 'batch' | 'always' | 'os';
  readonly logger: Logger;
  /**
   * FAULT TESTS ONLY (RUNNEL_TEST_ALTER_PARTITION_DELAY_MS under RUNNEL_TEST_HOOKS=1): hold
   * each AlterPartition this long before sending it, as a slow controller would, so the
   * fault suite's ISR changes stay in flight long enough for its faults to land meanwhile.
   */
  readonly alterIsrDelayMs?: number;
  /** Test hook (RUNNEL_TEST_PRODUCE_ANSWER_DELAY_MS): hold every produce answer this long after it is decided, widening the window in which a leader dies with a batch written but unanswered. */
  readonly produceAnswerDelayMs?: number;
}

/** A consumer read: the batches, and the leader's marks as of the read. */
export interface ConsumeAnswer {
  readonly records: Buffer;
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

export interface PartitionOffsets {
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly logEndOffset: number;
}

/** Kafka ListOffsets' special timestamps (ListOffsetsRequest.EARLIEST_TIMESTAMP etc.). */
export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;
export const MAX_TIMESTAMP = -3;

/** A ListOffsets answer: an offset, its record's timestamp (-1, Kafka's NO_TIMESTAMP, for earliest and latest) and leader epoch. */
export interface OffsetAtTime {
  readonly offset: number;
  readonly timestamp: number;
  /** The epoch of the leader that wrote the record at `offset` (the current one for latest); -1 unknown. */
  readonly leaderEpoch: number;
}

/** OffsetForLeaderEpoch's answer: the largest epoch <= the one asked for, and where it ends; -1, -1 when unknown. */
export interface EpochEndOffset {
  readonly epoch: number;
  readonly endOffset: number;
}

/**
 * Every local partition replica, kept in step with the metadata image (Kafka's
 * ReplicaManager + ReplicaFetcherManager): opens a log for each partition this broker
 * replicates, makes it leader or follower at the image's epoch, runs one fetch session per
 * leader broker, asks the controller to shrink or expand ISRs, and deletes the data of
 * deleted topics. Image changes are applied one at a time, always against the newest image.
 */
export class ReplicaManager {
  private readonly replicas = new Map<string, PartitionReplica>();
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  /** Leader side of the followers' incremental fetch sessions. */
  private readonly fetchSessions = new FetchSessionCache<PartitionReplica>();
  private latest: MetadataImage | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private reconcileQueued = false;
  private isrTimer: NodeJS.Timeout | undefined;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private maintaining = false;
  private lastRetentionMs = Date.now();
  private closed = false;

  constructor(private readonly deps: ReplicaManagerDeps) {}

  start(): void {
    const every = Math.max(50, Math.floor(this.deps.replicaLagTimeMaxMs / 4));
    this.isrTimer = setInterval(() => this.checkIsrs(), every);
    this.maintenanceTimer = setInterval(() => void this.maintain(), HW_CHECKPOINT_INTERVAL_MS);
  }

  /**
   * Every HW_CHECKPOINT_INTERVAL_MS: checkpoint each replica's high watermark (Kafka's
   * replica.high.watermark.checkpoint.interval.ms); every retentionCheckIntervalMs: apply
   * retention to every local replica.
   */
  private async maintain(): Promise<void> {
    if (this.maintaining || this.closed) return;
    this.maintaining = true;
    try {
      const now = Date.now();
      const retention = now - this.lastRetentionMs >= this.deps.retentionCheckIntervalMs;
      if (retention) this.lastRetentionMs = now;
      for (const r of [...this.replicas.values()]) {
        if (r.closed) continue;
        try {
          await r.log.checkpointHighWatermark();
          if (retention) await r.log.applyRetention(now);
        } catch (err) {
          this.deps.logger.warn({ err, partition: r.name }, 'log maintenance failed');
        }
      }
    } finally {
      this.maintaining = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.isrTimer);
    clearInterval(this.maintenanceTimer);
    await this.reconciling;
    await Promise.all([...this.fetchers.values()].map((f) => f.close()));
    this.fetchers.clear();
    this.fetchSessions.clear();
    for (const r of this.replicas.values()) r.close();
    await Promise.all([...this.replicas.values()].map((r) => r.log.close()));
    this.replicas.clear();
  }

  /** The metadata image changed: reconcile local replicas with it (coalesced, serialized). */
  onImage(image: MetadataImage): void {
    this.latest = image;
    if (this.reconcileQueued || this.closed) return;
    this.reconcileQueued = true;
    this.reconciling = this.reconciling
      .then(async () => {
        this.reconcileQueued = false;
        if (this.latest !== undefined && !this.closed) await this.reconcile(this.latest);
      })
      .catch((err: unknown) => this.deps.logger.error({ err }, 'applying metadata to replicas failed'));
  }

  /** Resolves once the replicas reflect every image handed to onImage so far. */
  settled(): Promise<void> {
    return this.reconciling;
  }

  replica(topicId: string, partition: number): PartitionReplica | undefined {
    return this.replicas.get(key(topicId, partition));
  }

  /** The leader replica here, or NOT_LEADER_OR_FOLLOWER. */
  leaderReplica(topicId: string, partition: number, leaderEpoch?: number): PartitionReplica {
    const r = this.replicas.get(key(topicId, partition));
    if (r === undefined) throw new RunnelError('NOT_LEADER_OR_FOLLOWER', `broker ${this.deps.brokerId} holds no replica of partition ${partition} of topic ${topicId}`);
    r.checkLeader(leaderEpoch);
    return r;
  }

  /**
   * The leader replica for a consumer's request that names the leader epoch it knows
   * (CurrentLeaderEpoch, KIP-320), as Kafka's Partition.localLogWithEpochOrThrow: -1 (or
   * absent) skips the check; an older epoch is FENCED_LEADER_EPOCH (the client's metadata is
   * stale), a newer one UNKNOWN_LEADER_EPOCH (this leader has not caught up yet).
   */
  leaderForClient(topicId: string, partition: number, currentLeaderEpoch = -1): PartitionReplica {
    const r = this.leaderReplica(topicId, partition);
    if (currentLeaderEpoch >= 0 && currentLeaderEpoch !== r.leaderEpoch) {
      throw new RunnelError(
        currentLeaderEpoch < r.leaderEpoch ? 'FENCED_LEADER_EPOCH' : 'UNKNOWN_LEADER_EPOCH',
        `${r.name}: request for leader epoch ${currentLeaderEpoch}, this leader is at ${r.leaderEpoch}`,
      );
    }
    return r;
  }

  async produce(topicId: string, partition: number, batch: Buffer, acks: Acks, timeoutMs: number): Promise<number> {
    const base = await this.leaderReplica(topicId, partition).produce(batch, acks, timeoutMs);
    const holdMs = this.deps.produceAnswerDelayMs ?? 0;
    if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
    return base;
  }

  /**
   * Consumer read on the leader: batches below the high watermark, long-polling while there
   * are none. An offset outside [log start, log end] is OFFSET_OUT_OF_RANGE.
   */
  async consume(topicId: string, partition: number, offset: number, maxBytes: number, timeoutMs: number, currentLeaderEpoch = -1): Promise<ConsumeAnswer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.leaderForClient(topicId, partition, currentLeaderEpoch);
      const hw = r.log.highWatermark;
      // Above the high watermark but within the log is not out of range: a new leader's high
      // watermark can lag its predecessor's until the followers fetch; the reader waits.
      const end = Math.max(hw, r.log.logEndOffset);
      if (offset < r.log.logStartOffset || offset > end) {
        throw new RunnelError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside [${r.log.logStartOffset}, ${end}] of ${r.name}`);
      }
      if (offset < hw) {
        const { records } = await r.log.read(offset, maxBytes, hw);
        if (records.length > 0) return { records, highWatermark: hw, logStartOffset: r.log.logStartOffset };
      }
      const left = deadline - Date.now();
      if (left <= 0) return { records: Buffer.alloc(0), highWatermark: hw, logStartOffset: r.log.logStartOffset };
      await r.waitForProgress(left);
    }
  }

  offsets(topicId: string, partition: number): PartitionOffsets {
    const r = this.leaderReplica(topicId, partition);
    return { logStartOffset: r.log.logStartOffset, highWatermark: r.log.highWatermark, logEndOffset: r.log.logEndOffset };
  }

  /**
   * ListOffsets on the leader (Kafka Partition.fetchOffsetForTimestamp, read_uncommitted):
   * EARLIEST_TIMESTAMP (-2) answers the log start offset, LATEST_TIMESTAMP (-1) the high
   * watermark, MAX_TIMESTAMP (-3) the earliest record with the largest timestamp, and a
   * timestamp >= 0 the earliest record at or after it; undefined when there is none (the
   * Kafka handler answers offset -1). Other negative timestamps are INVALID_REQUEST. The
   * leader epoch is the current one for latest, else the epoch of the record found (Kafka's
   * epochForOffset), -1 when the epoch history does not reach back that far.
   *
   * Consumers see only offsets below the high watermark, so an answer at or above it is
   * dropped, as Kafka drops one at or above lastFetchableOffset (for MAX_TIMESTAMP too: a
   * largest timestamp not yet below it answers none). The log answers with the
   * earliest match, so dropping it is the same as searching only below the high watermark:
   * an answer never names a record a consumer could not yet read, or one that a new leader
   * might truncate.
   */
  async offsetForTimestamp(topicId: string, partition: number, timestampMs: number, currentLeaderEpoch = -1): Promise<OffsetAtTime | undefined> {
    const r = this.leaderForClient(topicId, partition, currentLeaderEpoch);
    if (timestampMs === EARLIEST_TIMESTAMP) return { offset: r.log.logStartOffset, timestamp: -1, leaderEpoch: r.log.epochForOffset(r.log.logStartOffset) };
    if (timestampMs === LATEST_TIMESTAMP) return { offset: r.log.highWatermark, timestamp: -1, leaderEpoch: r.leaderEpoch };
    if (timestampMs < 0 && timestampMs !== MAX_TIMESTAMP) throw new RunnelError('INVALID_REQUEST', `timestamp ${timestampMs}: must be >= 0, or -1 (latest), -2 (earliest) or -3 (max timestamp)`);
    const found = timestampMs === MAX_TIMESTAMP ? await r.log.maxTimestampOffset() : await r.log.offsetForTimestamp(timestampMs);
    // The high watermark after the search: it only grows while this broker leads.
    if (found === undefined || found.offset >= r.log.highWatermark) return undefined;
    return { ...found, leaderEpoch: r.log.epochForOffset(found.offset) };
  }

  /**
   * OffsetForLeaderEpoch on the leader (Kafka Partition.lastOffsetForLeaderEpoch): the largest
   * epoch <= `leaderEpoch` in this log and its end offset, the log end offset for the current
   * epoch (ReplicaLog.endOffsetForEpoch, Kafka's LeaderEpochFileCache.endOffsetFor); -1, -1 for
   * an epoch above every epoch held. A consumer whose position's epoch ends earlier truncates
   * its position to that end offset (KIP-320).
   */
  endOffsetForEpoch(topicId: string, partition: number, leaderEpoch: number, currentLeaderEpoch = -1): EpochEndOffset {
    return this.leaderForClient(topicId, partition, currentLeaderEpoch).log.endOffsetForEpoch(leaderEpoch);
  }

  /**
   * Leader side of a follower's fetch session (KIP-227, fetch-session.ts): applies what the
   * request restates, answers the partitions with news, long-polling while none has records.
   */
  async handleFetch(req: FetchRequest): Promise<FetchResponse> {
    const resolved = this.fetchSessions.resolve(req.replicaId, req);
    if ('refused' in resolved) return { partitions: [], sessionId: 0, sessionError: resolved.refused };
    const { session, listed, full } = resolved;
    const deadline = Date.now() + Math.min(req.maxWaitMs, this.deps.requestTimeoutMs);
    for (;;) {
      const answers: { state: SessionPartitionState<PartitionReplica>; answer: FetchPartitionResponse }[] = [];
      let bytes = 0;
      let urgent = false;
      const now = Date.now();
      for (const [k, sp] of session.partitions) {
        let answer: FetchPartitionResponse;
        try {
          // A replica that was replaced (topic deleted, log reopened) is closed: look it up again.
          let r = sp.replica;
          if (r === undefined || r.closed) {
            r = this.leaderReplica(sp.topicId, sp.partition, sp.leaderEpoch);
            sp.replica = r;
          } else {
            r.checkLeader(sp.leaderEpoch);
          }
          // Not restated and nothing new for it: the common case costs no read and no await.
          const a =
            (listed.has(k) ? undefined : r.caughtUpFollowerFetch(req.replicaId, sp.fetchOffset, now)) ??
            (await r.fetchFromFollower(req.replicaId, sp.fetchOffset, sp.lastFetchedEpoch, Math.max(1, req.maxBytes - bytes), now));
          bytes += a.records.length;
          if (a.divergingEpoch !== undefined || a.behindLogStart === true) urgent = true;
          const news = full || a.records.length > 0 || urgent || a.highWatermark !== sp.sentHighWatermark || a.logStartOffset !== sp.sentLogStartOffset;
          if (!news) continue;
          answer = { topicId: sp.topicId, partition: sp.partition, ...a };
        } catch (err) {
          const mapped = fromLogError(err);
          const e = mapped instanceof RunnelError ? mapped : new RunnelError('UNKNOWN_SERVER_ERROR', String(err));
          answer = { topicId: sp.topicId, partition: sp.partition, error: e.toWire() };
          urgent = true;
        }
        answers.push({ state: sp, answer });
      }
      const left = deadline - Date.now();
      if (bytes > 0 || left <= 0 || urgent) {
        for (const { state, answer } of answers) {
          if (answer.highWatermark !== undefined) state.sentHighWatermark = answer.highWatermark;
          if (answer.logStartOffset !== undefined) state.sentLogStartOffset = answer.logStartOffset;
        }
        return { partitions: answers.map((a) => a.answer), sessionId: session.id };
      }
      // Nothing new anywhere: wait for any of these partitions to move (produce wakes us).
      const waits: PartitionReplica[] = [];
      for (const sp of session.partitions.values()) {
        const r = sp.replica;
        if (r !== undefined && !r.closed) waits.push(r);
      }
      await waitForAnyProgress(waits, left);
    }
  }

  // ---- reconciliation -----------------------------------------------------------------

  private async reconcile(image: MetadataImage): Promise<void> {
    const self = this.deps.brokerId;
    const wanted = new Set<string>();
    const now = Date.now();
    for (const t of image.allTopics()) {
      const minIsr = Number(this.deps.topicConfig(t, 'min.insync.replicas'));
      for (const p of t.partitions) {
        if (!p.replicas.includes(self)) continue;
        const k = key(t.id, p.partition);
        wanted.add(k);
        let r = this.replicas.get(k);
        if (r === undefined) {
          const log = await this.deps.openLog({
            dir: join(this.deps.dataDir, 'partitions', `${t.name}-${p.partition}-${t.id}`),
            segmentBytes: Number(this.deps.topicConfig(t, 'segment.bytes')),
            retentionMs: Number(this.deps.topicConfig(t, 'retention.ms')),
            retentionBytes: Number(this.deps.topicConfig(t, 'retention.bytes')),
            flush: this.deps.flush,
          });
          if (this.closed) {
            await log.close();
            return;
          }
          r = new PartitionReplica(t.id, t.name, p.partition, log, self, this.deps.logger);
          this.replicas.set(k, r);
        }
        r.log.updateLimits({
          segmentBytes: Number(this.deps.topicConfig(t, 'segment.bytes')),
          retentionMs: Number(this.deps.topicConfig(t, 'retention.ms')),
          retentionBytes: Number(this.deps.topicConfig(t, 'retention.bytes')),
        });
        r.applyMetadata(p, minIsr, now);
      }
    }
    for (const [k, r] of this.replicas) {
      if (wanted.has(k)) continue;
      this.replicas.delete(k);
      r.close();
      this.deps.logger.info({ partition: r.name }, 'replica removed: deleting its data');
      await r.log.deleteAll();
    }
    this.updateFetchers();
  }

  private updateFetchers(): void {
    const byLeader = new Map<number, PartitionReplica[]>();
    for (const r of this.replicas.values()) {
      if (r.role !== 'follower' || r.leaderId < 0) continue;
      const list = byLeader.get(r.leaderId) ?? [];
      list.push(r);
      byLeader.set(r.leaderId, list);
    }
    for (const [leader, list] of byLeader) {
      let f = this.fetchers.get(leader);
      if (f === undefined) {
        f = new ReplicaFetcher(
          leader,
          this.deps.brokerId,
          this.deps.fetchRpc,
          { maxWaitMs: this.deps.fetchMaxWaitMs ?? 500, maxBytes: this.deps.fetchMaxBytes ?? 8 * 1024 * 1024, requestTimeoutMs: this.deps.requestTimeoutMs },
          this.deps.logger,
        );
        this.fetchers.set(leader, f);
      }
      f.setPartitions(list);
      f.start();
    }
    for (const [leader, f] of this.fetchers) {
      if (byLeader.has(leader)) continue;
      this.fetchers.delete(leader);
      void f.close();
    }
  }

  /** Leader duty: ask the controller to drop laggards from, and re-add caught-up replicas to, each ISR. */
  private checkIsrs(): void {
    const now = Date.now();
    for (const r of this.replicas.values()) {
      // KIP-841: a fenced (or unknown) broker cannot join an ISR, so do not ask for it each round.
      const latest = this.latest;
      const change = r.nextIsrChange(now, this.deps.replicaLagTimeMaxMs, (id) => latest?.broker(id)?.fenced === false);
      if (change === undefined) continue;
      this.deps.logger.info({ partition: r.name, from: r.isr, to: change.isr }, 'asking the controller to change the ISR');
      const send = (): Promise<PartitionState> => this.deps.alterIsr({ topicId: r.topicId, partition: r.partition, leaderId: this.deps.brokerId, ...change });
      const delayMs = this.deps.alterIsrDelayMs ?? 0;
      (delayMs > 0 ? new Promise((resolve) => setTimeout(resolve, delayMs)).then(send) : send())
        .then(
          (state) => r.isrChangeSettled(change.partitionEpoch, { kind: 'answered', state }),
          (err: unknown) => {
            const outcome = isrChangeFailure(err);
            this.deps.logger.warn({ err, partition: r.name, outcome: outcome.kind }, 'ISR change not applied');
            r.isrChangeSettled(change.partitionEpoch, outcome);
          },
        );
    }
  }
}

const REFUSED: ReadonlySet<string> = new Set(['INVALID_REQUEST', 'UNKNOWN_TOPIC_OR_PARTITION']);
const CONTROLLER_AHEAD: ReadonlySet<string> = new Set(['INVALID_UPDATE_VERSION', 'FENCED_LEADER_EPOCH']);

/**
 * How a failed AlterPartition leaves the pending change. Only a refusal of the request itself
 * proves nothing was committed; a controller ahead of this leader will show it the outcome in
 * the metadata; anything else (a timeout, no controller) may still have committed.
 */
function isrChangeFailure(err: unknown): IsrChangeOutcome {
  if (!(err instanceof RunnelError)) return { kind: 'unknown' };
  if (REFUSED.has(err.errorName)) return { kind: 'refused' };
  if (CONTROLLER_AHEAD.has(err.errorName)) return { kind: 'stale' };
  return { kind: 'unknown' };
}

/** Kafka's replica.high.watermark.checkpoint.interval.ms default. */
const HW_CHECKPOINT_INTERVAL_MS = 5000;

function key(topicId: string, partition: number): string {
  return `${topicId}:${partition}`;
}

/** Resolves at the first progress of any of `replicas`, or after `timeoutMs`: one timer, however many partitions. */
function waitForAnyProgress(replicas: readonly PartitionReplica[], timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const cancels: (() => void)[] = [];
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const cancel of cancels) cancel();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    for (const r of replicas) cancels.push(r.onNextProgress(done));
  });
}
