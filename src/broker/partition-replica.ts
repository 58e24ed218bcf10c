import { RunnelError } from '../errors.ts';
import { assertNever } from '../../raft/assert.ts';
import type { Logger } from '../logger.ts';
import type { PartitionState } from '../metadata/image.ts';
import type { ReplicaLog } from './replica-log.ts';

export type Acks = 0 | 1 | -1;

/** Bounds of the in-memory tail of recent leader appends. */
const TAIL_MAX_BYTES = 4 * 1024 * 1024;
const TAIL_MAX_BATCHES = 256;
const EMPTY = Buffer.alloc(0);

interface FollowerState {
  /** The follower's log end offset as its last fetch told us; -1 until it fetches. */
  leo: number;
  /** Last time the follower had fetched up to our log end offset (Kafka's lastCaughtUpTimeMs). */
  lastCaughtUpMs: number;
  /** Our log end offset when the follower fetched last (Kafka's lastFetchLeaderLogEndOffset); -1 before. */
  lastFetchLeaderLeo: number;
  /** When it fetched last; 0 before. */
  lastFetchMs: number;
}

/** An AlterPartition this leader sent (Kafka's PendingExpandIsr / PendingShrinkIsr). */
interface PendingIsrChange {
  readonly isr: readonly number[];
  /** The partition epoch the request was based on; metadata past it settles the change. */
  readonly partitionEpoch: number;
  /** A request is out, or the controller is ahead of us: wait for its answer or our metadata. */
  awaiting: boolean;
}

/** What became of an AlterPartition request, as the leader learns it. */
export type IsrChangeOutcome =
  /** The controller answered with the partition as it now stands. */
  | { readonly kind: 'answered'; readonly state: PartitionState }
  /** The controller refused it as invalid: nothing was or will be committed. */
  | { readonly kind: 'refused' }
  /** The controller is ahead of this leader (newer partition or leader epoch): wait for the metadata. */
  | { readonly kind: 'stale' }
  /** No answer (timeout, no controller): it may still commit; send it again. */
  | { readonly kind: 'unknown' };

export interface AlterIsrRequest {
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly number[];
}

interface AckWaiter {
  /** Resolves once the high watermark passes this offset. */
  readonly lastOffset: number;
  readonly resolve: () => void;
  readonly reject: (err: RunnelError) => void;
}

export interface FetchAnswer {
  readonly records: Buffer;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** KIP-595: the follower's log diverged; truncate to this epoch's end offset first. */
  readonly divergingEpoch?: { readonly epoch: number; readonly endOffset: number };
  /** The fetch offset is below the leader's log start: the follower restarts its log there. */
  readonly behindLogStart?: boolean;
}

/**
 * One local replica of one partition, leader or follower as the metadata image says, at the
 * image's leader epoch. As leader it tracks each follower's log end offset from its fetches,
 * advances the high watermark to the smallest log end offset in the ISR (never while the ISR
 * is below min.insync.replicas: KAFKA-15583), and completes acks=all produces once the high
 * watermark passes them.
 */
export class PartitionReplica {
  role: 'leader' | 'follower' = 'follower';
  leaderId = -1;
  leaderEpoch = -1;
  partitionEpoch = -1;
  isr: readonly number[] = [];
  replicas: readonly number[] = [];
  minInsyncReplicas = 1;
  private followers = new Map<number, FollowerState>();
  private ackWaiters: AckWaiter[] = [];
  /** Woken when the log end offset or the high watermark moves (long polls). */
  private readonly progressWaiters = new Set<() => void>();
  /**
   * The ISR change this leader asked the controller for and has not yet seen committed in its
   * metadata (one at a time, as in Kafka). Until then the high watermark counts its members
   * too (KIP-497's maximal ISR), so a joiner never enters the ISR behind the HW.
   */
  private pendingIsr: PendingIsrChange | undefined;
  closed = false;

  constructor(
    readonly topicId: string,
    readonly topicName: string,
    readonly partition: number,
    readonly log: ReplicaLog,
    private readonly selfId: number,
    private readonly logger: Logger,
  ) {}

  get name(): string {
    return `${this.topicName}-${this.partition}`;
  }

  /** Take on the role the metadata gives this broker. */
  applyMetadata(p: PartitionState, minInsyncReplicas: number, nowMs: number): void {
    this.minInsyncReplicas = minInsyncReplicas;
    this.partitionEpoch = p.partitionEpoch;
    this.replicas = p.replicas;
    const wasLeader = this.role === 'leader';
    const newEpoch = p.leaderEpoch !== this.leaderEpoch;
    // Our metadata moved past the request's base (it committed, or something else did and
    // the controller will refuse it), or leadership moved: the committed ISR is the truth again.
    if (this.pendingIsr !== undefined && (p.partitionEpoch !== this.pendingIsr.partitionEpoch || newEpoch || p.leader !== this.selfId)) this.pendingIsr = undefined;
    if (p.leader !== this.leaderId || p.leaderEpoch !== this.leaderEpoch) this.clearTail();
    this.leaderId = p.leader;
    this.leaderEpoch = p.leaderEpoch;
    this.isr = p.isr;
    if (p.leader === this.selfId) {
      if (!wasLeader || newEpoch) {
        this.role = 'leader';
        // Kafka's makeLeader: every follower starts as just caught up, its offset unknown.
        this.followers = new Map(p.replicas.filter((b) => b !== this.selfId).map((b) => [b, { leo: -1, lastCaughtUpMs: nowMs, lastFetchLeaderLeo: -1, lastFetchMs: 0 }]));
        this.logger.info({ partition: this.name, leaderEpoch: p.leaderEpoch, isr: p.isr }, 'became leader');
        // A failure here fences the log, and the next append reports it to its producer.
        this.log.assignLeaderEpochAtEnd(p.leaderEpoch).catch((err: unknown) => this.logger.warn({ err, partition: this.name }, 'could not record the new leader epoch'));
      }
      if (this.isr.length < this.minInsyncReplicas) {
        this.failAckWaiters(() => new RunnelError('NOT_ENOUGH_REPLICAS_AFTER_APPEND', `${this.name}: the ISR shrank to ${this.isr.length}, below min.insync.replicas=${this.minInsyncReplicas}`));
      }
      this.maybeAdvanceHighWatermark();
    } else {
      if (wasLeader || newEpoch) this.logger.info({ partition: this.name, leader: p.leader, leaderEpoch: p.leaderEpoch }, 'became follower');
      this.role = 'follower';
      this.followers.clear();
      this.failAckWaiters(() => new RunnelError('NOT_LEADER_OR_FOLLOWER', `${this.name}: this broker is no longer the leader`));
    }
    this.wakeProgress();
  }

  /** Leader: append one batch; resolves per `acks` with its base offset. */
  async produce(batch: Buffer, acks: Acks, timeoutMs: number, leaderEpoch?: number): Promise<number> {
    this.checkLeader(leaderEpoch);
    if (acks === -1 && this.isr.length < this.minInsyncReplicas) {
      throw new RunnelError('NOT_ENOUGH_REPLICAS', `${this.name}: ${this.isr.length} in-sync replicas (${this.isr.join(',')}), min.insync.replicas is ${this.minInsyncReplicas}`);
    }
    // Followers may fetch the batch as soon as it is written, while the leader's own fsync
    // (flush=batch) runs: the two proceed in parallel, and the HW waits for both
    // (maybeAdvanceHighWatermark takes the leader's durable end, not its log end).
    const appended = await this.log.appendAsLeader(batch, this.leaderEpoch, (a) => {
      this.rememberTail(batch, a.baseOffset, a.lastOffset);
      this.wakeProgress();
    });
    const { baseOffset, lastOffset } = appended;
    if (appended.duplicate === true) {
      // A resend of a batch already in the log (its first leader moved before answering, or
      // the producer retried): answered with the offsets it has, once it is committed.
      this.logger.info({ partition: this.name, baseOffset, lastOffset }, 'duplicate batch: answering with its first offsets');
    } else {
      this.maybeAdvanceHighWatermark();
    }
    if (acks !== -1 || this.log.highWatermark > lastOffset) return baseOffset;
    // The metadata may have moved while the append was in flight.
    if (this.role !== 'leader') throw new RunnelError('NOT_LEADER_OR_FOLLOWER', `${this.name}: leadership moved while appending`);
    if (this.isr.length < this.minInsyncReplicas) {
      throw new RunnelError('NOT_ENOUGH_REPLICAS_AFTER_APPEND', `${this.name}: the ISR shrank to ${this.isr.length}, below min.insync.replicas=${this.minInsyncReplicas}`);
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ackWaiters = this.ackWaiters.filter((w) => w !== waiter);
        reject(new RunnelError('REQUEST_TIMED_OUT', `${this.name}: not replicated to the ISR within ${timeoutMs} ms (offset ${lastOffset}, high watermark ${this.log.highWatermark})`));
      }, timeoutMs);
      const waiter: AckWaiter = {
        lastOffset,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.ackWaiters.push(waiter);
    });
    return baseOffset;
  }

  /** Leader: a follower's fetch. Records its progress, then answers with what it lacks. */
  async fetchFromFollower(replicaId: number, fetchOffset: number, lastFetchedEpoch: number, maxBytes: number, nowMs: number): Promise<FetchAnswer> {
    this.checkLeader();
    const hw = this.log.highWatermark;
    if (lastFetchedEpoch >= 0) {
      // KIP-595: check that the follower's last epoch ends where ours does before trusting its offset.
      const mine = this.log.endOffsetForEpoch(lastFetchedEpoch);
      if (mine.epoch !== lastFetchedEpoch || mine.endOffset < fetchOffset) {
        return { records: Buffer.alloc(0), highWatermark: hw, logStartOffset: this.log.logStartOffset, divergingEpoch: mine };
      }
    }
    if (fetchOffset < this.log.logStartOffset) {
      // Retention deleted what the follower needs next: it must restart at our log start.
      return { records: Buffer.alloc(0), highWatermark: hw, logStartOffset: this.log.logStartOffset, behindLogStart: true };
    }
    if (fetchOffset > this.log.logEndOffset) {
      throw new RunnelError('OFFSET_OUT_OF_RANGE', `${this.name}: fetch offset ${fetchOffset} outside [${this.log.logStartOffset}, ${this.log.logEndOffset}]`);
    }
    const f = this.followers.get(replicaId);
    if (f !== undefined) {
      f.leo = fetchOffset;
      this.noteFetch(f, fetchOffset, nowMs);
      this.maybeAdvanceHighWatermark();
      this.trimTail();
    }
    // A caught-up follower (the common case) costs no lookup and no read.
    const records =
      fetchOffset === this.log.logEndOffset ? EMPTY : (this.tailFrom(fetchOffset, maxBytes) ?? (await this.log.read(fetchOffset, maxBytes, this.log.logEndOffset)).records);
    return { records, highWatermark: this.log.highWatermark, logStartOffset: this.log.logStartOffset };
  }

  /**
   * Leader: a session fetch that did not restate this partition (KIP-227) is a fetch at the
   * follower's last stated offset. When this leader already holds the follower there and has
   * nothing past it, that costs no read and no epoch check: the follower is caught up and only
   * the marks are answered. Otherwise undefined, and the caller takes fetchFromFollower (a new
   * leader epoch starts every follower unknown, so its position is checked once again).
   */
  caughtUpFollowerFetch(replicaId: number, fetchOffset: number, nowMs: number): FetchAnswer | undefined {
    this.checkLeader();
    const f = this.followers.get(replicaId);
    if (f === undefined || f.leo !== fetchOffset || fetchOffset !== this.log.logEndOffset) return undefined;
    this.noteFetch(f, fetchOffset, nowMs);
    return { records: EMPTY, highWatermark: this.log.highWatermark, logStartOffset: this.log.logStartOffset };
  }

  /**
   * Kafka's Replica.updateFetchStateOrThrow: a follower fetching at our log end is caught up
   * now; one fetching at (or past) where our log ended at its previous fetch was caught up
   * then. The second rule keeps a follower that keeps pace with a steady producer in sync: it
   * is always one fetch behind our end, never exactly at it.
   */
  private noteFetch(f: FollowerState, fetchOffset: number, nowMs: number): void {
    const leaderEnd = this.log.logEndOffset;
    if (fetchOffset >= leaderEnd) f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, nowMs);
    else if (fetchOffset >= f.lastFetchLeaderLeo) f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, f.lastFetchMs);
    f.lastFetchLeaderLeo = leaderEnd;
    f.lastFetchMs = nowMs;
  }

  /** Leader: the follower's log end offset as its last fetch told us; undefined before it fetched (metrics). */
  followerLogEndOffset(brokerId: number): number | undefined {
    const leo = this.followers.get(brokerId)?.leo;
    return leo === undefined || leo < 0 ? undefined : leo;
  }

  /**
   * Leader: the AlterPartition to send now, if any: ISR members that fell behind for longer
   * than `lagMs` out, replicas back in sync in. The change becomes pending at once (the high
   * watermark counts its members from now on) and stays so until `isrChangeSettled` or the
   * metadata settles it. A change whose answer was lost is sent again as it was (Kafka's
   * AlterPartitionManager retries the same request).
   */
  nextIsrChange(nowMs: number, lagMs: number, mayJoin: (brokerId: number) => boolean = () => true): AlterIsrRequest | undefined {
    if (this.role !== 'leader') return undefined;
    const pending = this.pendingIsr;
    if (pending !== undefined) {
      if (pending.awaiting) return undefined;
      pending.awaiting = true;
      return { leaderEpoch: this.leaderEpoch, partitionEpoch: pending.partitionEpoch, isr: pending.isr };
    }
    const next = new Set(this.isr);
    for (const [id, f] of this.followers) {
      const inIsr = this.isr.includes(id);
      if (inIsr && nowMs - f.lastCaughtUpMs > lagMs) next.delete(id);
      // Kafka's expansion rule: caught up to the high watermark and into this leader's epoch.
      const epochStart = this.log.endOffsetForEpoch(this.leaderEpoch - 1).endOffset;
      if (!inIsr && f.leo >= this.log.highWatermark && f.leo >= epochStart && nowMs - f.lastCaughtUpMs <= lagMs && mayJoin(id)) next.add(id);
    }
    const changed = next.size !== this.isr.length || [...next].some((b) => !this.isr.includes(b));
    if (!changed) return undefined;
    const isr = [...next].sort((a, b) => a - b);
    this.pendingIsr = { isr, partitionEpoch: this.partitionEpoch, awaiting: true };
    return { leaderEpoch: this.leaderEpoch, partitionEpoch: this.partitionEpoch, isr };
  }

  /** The ISR change asked for at `partitionEpoch` came back with `outcome`. */
  isrChangeSettled(partitionEpoch: number, outcome: IsrChangeOutcome): void {
    const pending = this.pendingIsr;
    if (pending === undefined || pending.partitionEpoch !== partitionEpoch) return;
    switch (outcome.kind) {
      case 'answered':
        // Committed with a new partition epoch: pending until our own metadata shows it
        // (applyMetadata clears it), so the HW never counts fewer replicas than the
        // committed ISR. Same epoch: the controller found nothing to change.
        if (outcome.state.partitionEpoch === partitionEpoch) this.pendingIsr = undefined;
        break;
      case 'refused':
        this.pendingIsr = undefined;
        this.maybeAdvanceHighWatermark();
        break;
      case 'stale':
        break;
      case 'unknown':
        pending.awaiting = false;
        break;
      default:
        assertNever(outcome);
    }
  }

  /** The ISR the high watermark is computed over: the committed ISR plus a pending change's members (KIP-497). */
  private maximalIsr(): readonly number[] {
    const pending = this.pendingIsr;
    if (pending === undefined) return this.isr;
    return [...new Set([...this.isr, ...pending.isr])];
  }

  /**
   * The batches this leader appended most recently, exactly as written (offsets and epoch
   * stamped), so a caught-up follower's fetch is served from memory instead of a disk read.
   * Bounded; cleared on every role change (a leader never truncates its own log).
   */
  private tail: { baseOffset: number; lastOffset: number; bytes: Buffer }[] = [];
  private tailBytes = 0;

  private rememberTail(batch: Buffer, baseOffset: number, lastOffset: number): void {
    const last = this.tail[this.tail.length - 1];
    if (last !== undefined && last.lastOffset + 1 !== baseOffset) this.clearTail();
    this.tail.push({ baseOffset, lastOffset, bytes: batch });
    this.tailBytes += batch.length;
    while (this.tailBytes > TAIL_MAX_BYTES || this.tail.length > TAIL_MAX_BATCHES) {
      const first = this.tail.shift();
      if (first === undefined) break;
      this.tailBytes -= first.bytes.length;
    }
  }

  /** Drops tail batches every ISR follower has fetched past: the tail holds only what is in flight. */
  private trimTail(): void {
    if (this.tail.length === 0) return;
    let fetched = Number.POSITIVE_INFINITY;
    for (const id of this.maximalIsr()) {
      if (id === this.selfId) continue;
      fetched = Math.min(fetched, this.followers.get(id)?.leo ?? -1);
    }
    while (this.tail.length > 0 && (this.tail[0]?.lastOffset ?? Number.POSITIVE_INFINITY) < fetched) {
      const first = this.tail.shift();
      if (first !== undefined) this.tailBytes -= first.bytes.length;
    }
  }

  private clearTail(): void {
    this.tail = [];
    this.tailBytes = 0;
  }

  /** Whole batches from `offset` to the log end if the tail holds them all, else undefined. */
  private tailFrom(offset: number, maxBytes: number): Buffer | undefined {
    const last = this.tail[this.tail.length - 1];
    if (last === undefined || last.lastOffset + 1 !== this.log.logEndOffset) return undefined;
    const start = this.tail.findIndex((b) => b.baseOffset === offset);
    if (start < 0) return undefined;
    const out: Buffer[] = [];
    let size = 0;
    for (let i = start; i < this.tail.length; i++) {
      const b = this.tail[i];
      if (b === undefined || (out.length > 0 && size + b.bytes.length > maxBytes)) break;
      out.push(b.bytes);
      size += b.bytes.length;
    }
    return out.length === 1 ? out[0] : Buffer.concat(out, size);
  }

  /** Resolves when the log end offset or high watermark moves, or after `timeoutMs`. */
  waitForProgress(timeoutMs: number): Promise<void> {
    if (timeoutMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.progressWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.progressWaiters.add(done);
    });
  }

  /**
   * Calls `cb` once, at the next move of the log end offset or high watermark (or close);
   * returns a function that cancels it. For waiting on many replicas under one timer.
   */
  onNextProgress(cb: () => void): () => void {
    this.progressWaiters.add(cb);
    return () => this.progressWaiters.delete(cb);
  }

  wakeProgress(): void {
    if (this.progressWaiters.size === 0) return;
    const ws = [...this.progressWaiters];
    this.progressWaiters.clear();
    for (const w of ws) w();
  }

  checkLeader(leaderEpoch?: number): void {
    if (this.closed || this.role !== 'leader') {
      throw new RunnelError('NOT_LEADER_OR_FOLLOWER', `${this.name}: broker ${this.selfId} is not the leader (leader ${this.leaderId})`);
    }
    if (leaderEpoch !== undefined && leaderEpoch !== this.leaderEpoch) {
      throw new RunnelError(
        leaderEpoch < this.leaderEpoch ? 'FENCED_LEADER_EPOCH' : 'NOT_LEADER_OR_FOLLOWER',
        `${this.name}: request for leader epoch ${leaderEpoch}, this leader is at ${this.leaderEpoch}`,
      );
    }
  }

  close(): void {
    this.closed = true;
    this.failAckWaiters(() => new RunnelError('NOT_LEADER_OR_FOLLOWER', `${this.name}: replica closed`));
    this.wakeProgress();
  }

  /**
   * HW = the smallest log end offset in the maximal ISR (KIP-497: the committed ISR plus the
   * members of a pending change; a pending shrink still counts the member it drops, so a
   * shrink only counts once committed); frozen while the committed ISR is below
   * min.insync.replicas (KAFKA-15583).
   */
  private maybeAdvanceHighWatermark(): void {
    if (this.role !== 'leader' || this.isr.length < this.minInsyncReplicas) return;
    let hw = this.log.durableEndOffset;
    for (const id of this.maximalIsr()) {
      if (id === this.selfId) continue;
      const f = this.followers.get(id);
      if (f === undefined || f.leo < 0) return;
      hw = Math.min(hw, f.leo);
    }
    if (hw <= this.log.highWatermark) return;
    this.log.setHighWatermark(hw);
    const done = this.ackWaiters.filter((w) => w.lastOffset < hw);
    this.ackWaiters = this.ackWaiters.filter((w) => w.lastOffset >= hw);
    for (const w of done) w.resolve();
    this.wakeProgress();
  }

  private failAckWaiters(err: () => RunnelError): void {
    const ws = this.ackWaiters;
    this.ackWaiters = [];
    for (const w of ws) w.reject(err());
  }
}
