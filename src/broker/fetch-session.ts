import { randomInt } from 'node:crypto';

// Incremental fetch sessions (Kafka KIP-227, trimmed). A follower fetches every partition it
// follows on one leader in one long-polling request; listing all of them every time costs
// O(partitions) to encode, decode and check on both sides even when one partition moved
// (a 1,000-partition topic spent most of its CPU there). With a session, the first request
// (epoch 0) lists every partition and the leader keeps them; each later request lists only
// the partitions whose fetch position or leader epoch changed, plus the ones to forget, and
// the answer carries only partitions with something to say (records, an error, a divergence,
// a new high watermark or log start). Any doubt (unknown session, epoch out of step, a lost
// answer) falls back to a full request, so a session is an optimisation and never state that
// must survive.

/** One partition as a follower asks for it (Kafka's FetchRequest partition data, trimmed). */
export interface FetchPartitionRequest {
  readonly topicId: string;
  readonly partition: number;
  /** The leader epoch the follower believes in; a leader at another epoch refuses. */
  readonly leaderEpoch: number;
  /** The follower's log end offset: where it wants to read from. */
  readonly fetchOffset: number;
  /** Epoch of the follower's last batch (-1 if empty), checked against the leader's epoch cache. */
  readonly lastFetchedEpoch: number;
}

export interface PartitionRef {
  readonly topicId: string;
  readonly partition: number;
}

/** sessionId 0 with sessionEpoch 0: a full request that opens a new session. */
export const FULL_FETCH_EPOCH = 0;

export function partitionKey(p: PartitionRef): string {
  return `${p.topicId}:${p.partition}`;
}

/** Kafka's names for a session the leader will not continue: the follower sends a full fetch. */
export type SessionRefusal = 'FETCH_SESSION_ID_NOT_FOUND' | 'INVALID_FETCH_SESSION_EPOCH';

/** What a follower sends for one round of its session. */
export interface SessionRequest {
  readonly sessionId: number;
  readonly sessionEpoch: number;
  /** Full request: every partition; incremental: only those added or changed. */
  readonly partitions: readonly FetchPartitionRequest[];
  /** Incremental only: partitions the session should drop. */
  readonly forgotten: readonly PartitionRef[];
}

/**
 * The follower's side of a session with one leader: what the leader was last told about
 * each partition, so the next request lists only what changed.
 * Invariant: `told` holds exactly the partitions of the leader's session when `id` is not 0.
 */
export class FollowerFetchSession {
  private id = 0;
  private epoch = FULL_FETCH_EPOCH;
  private told = new Map<string, FetchPartitionRequest>();
  /** The request in flight, applied to `told` once its answer arrives. */
  private pending: { readonly epoch: number; readonly partitions: Map<string, FetchPartitionRequest> } | undefined;

  /** The request for this round, given where every followed partition stands now. */
  build(current: readonly FetchPartitionRequest[]): SessionRequest {
    const now = new Map(current.map((p) => [partitionKey(p), p]));
    this.pending = { epoch: this.epoch, partitions: now };
    if (this.id === 0) return { sessionId: 0, sessionEpoch: FULL_FETCH_EPOCH, partitions: current, forgotten: [] };
    const changed: FetchPartitionRequest[] = [];
    for (const [k, p] of now) {
      const t = this.told.get(k);
      if (t === undefined || t.fetchOffset !== p.fetchOffset || t.leaderEpoch !== p.leaderEpoch || t.lastFetchedEpoch !== p.lastFetchedEpoch) changed.push(p);
    }
    const forgotten: PartitionRef[] = [];
    for (const [k, t] of this.told) if (!now.has(k)) forgotten.push({ topicId: t.topicId, partition: t.partition });
    return { sessionId: this.id, sessionEpoch: this.epoch, partitions: changed, forgotten };
  }

  /**
   * The answer to the last built request arrived: the leader now holds what it listed.
   * Returns that request's partitions by key (the epochs its answer was given for).
   */
  answered(sessionId: number): ReadonlyMap<string, FetchPartitionRequest> {
    const p = this.pending;
    this.pending = undefined;
    if (p === undefined || sessionId === 0) {
      this.reset();
      return p?.partitions ?? new Map();
    }
    if (p.epoch === FULL_FETCH_EPOCH) this.id = sessionId;
    this.told = p.partitions;
    this.epoch = p.epoch + 1;
    return p.partitions;
  }

  /** Forget the session (an error, a refused session, a new leader): the next request is full. */
  reset(): void {
    this.id = 0;
    this.epoch = FULL_FETCH_EPOCH;
    this.told = new Map();
    this.pending = undefined;
  }
}

/** A partition of a leader-side session: the follower's last stated position and what it was last sent. */
export interface SessionPartitionState<R> extends FetchPartitionRequest {
  /** High watermark and log start last sent in an answer (-1: never). */
  sentHighWatermark: number;
  sentLogStartOffset: number;
  /** The leader's replica object for it, once looked up (saves a lookup per partition per round). */
  replica: R | undefined;
}

/** The leader's side of one follower's session. */
export class LeaderFetchSession<R> {
  readonly partitions = new Map<string, SessionPartitionState<R>>();
  /** The epoch the next incremental request must carry. */
  nextEpoch = FULL_FETCH_EPOCH + 1;

  constructor(
    readonly id: number,
    readonly replicaId: number,
  ) {}

  /** Applies a request's partitions; returns the keys it listed. */
  apply(partitions: readonly FetchPartitionRequest[], forgotten: readonly PartitionRef[]): Set<string> {
    for (const f of forgotten) this.partitions.delete(partitionKey(f));
    const listed = new Set<string>();
    for (const p of partitions) {
      const k = partitionKey(p);
      listed.add(k);
      const old = this.partitions.get(k);
      // A new leader epoch starts over: the follower must hear the leader's marks again.
      const sameEpoch = old !== undefined && old.leaderEpoch === p.leaderEpoch;
      this.partitions.set(k, {
        topicId: p.topicId,
        partition: p.partition,
        leaderEpoch: p.leaderEpoch,
        fetchOffset: p.fetchOffset,
        lastFetchedEpoch: p.lastFetchedEpoch,
        sentHighWatermark: sameEpoch ? old.sentHighWatermark : -1,
        sentLogStartOffset: sameEpoch ? old.sentLogStartOffset : -1,
        // The leader checks the cached replica's role, epoch and liveness before every use.
        replica: old?.replica,
      });
    }
    return listed;
  }
}

/**
 * The leader's sessions, one per follower broker (a follower runs one fetcher per leader, so
 * a new full request from it replaces its old session): bounded by the number of brokers.
 */
export class FetchSessionCache<R> {
  private readonly byReplica = new Map<number, LeaderFetchSession<R>>();

  /**
   * The session a request belongs to, updated with its partitions, and the keys it listed
   * (every key for a full request); or why the follower must start over with a full request.
   */
  resolve(replicaId: number, req: SessionRequest): { session: LeaderFetchSession<R>; listed: Set<string>; full: boolean } | { refused: SessionRefusal } {
    if (req.sessionEpoch === FULL_FETCH_EPOCH) {
      const session = new LeaderFetchSession<R>(this.newId(), replicaId);
      this.byReplica.set(replicaId, session);
      return { session, listed: session.apply(req.partitions, []), full: true };
    }
    const session = this.byReplica.get(replicaId);
    if (session === undefined || session.id !== req.sessionId) return { refused: 'FETCH_SESSION_ID_NOT_FOUND' };
    if (req.sessionEpoch !== session.nextEpoch) {
      this.byReplica.delete(replicaId);
      return { refused: 'INVALID_FETCH_SESSION_EPOCH' };
    }
    session.nextEpoch++;
    return { session, listed: session.apply(req.partitions, req.forgotten), full: false };
  }

  /** Drops every session (the broker is closing). */
  clear(): void {
    this.byReplica.clear();
  }

  private newId(): number {
    for (;;) {
      const id = randomInt(1, 2 ** 31 - 1);
      if (![...this.byReplica.values()].some((s) => s.id === id)) return id;
    }
  }
}
