// The client side of one member of a classic consumer group, for members the node runs itself
// (an HTTP consumer instance): Kafka's consumer coordinator loop (AbstractCoordinator +
// ConsumerCoordinator) over a transport to the group coordinator.
//
//   join (memberId '', proposing the instance name) -> MEMBER_ID_REQUIRED -> join with the id
//   -> [leader: assign for every member] -> sync -> stable: heartbeat every heartbeatIntervalMs
//   -> REBALANCE_IN_PROGRESS / subscription or partition counts changed -> revoke -> join ...
//
// The rebalance protocol follows the group's: under an eager one (range, roundrobin,
// RoundRobinAssigner) every (re)join first gives up every partition (onRevoke, which commits;
// or onLost, without commit, when the generation is gone), and onAssign follows each completed
// sync. Under cooperative-sticky (KIP-429, once the member has synced a generation of it) a
// rejoin keeps what the member owns (only topics no longer subscribed are revoked) and says so
// in its subscription; after the sync the member revokes only what it lost (onRevoke) and rejoins
// at once if it lost anything, so that the next round can hand those partitions on, and
// onAssign gets only what is new. Should the group leave cooperative-sticky while the member
// still owns partitions (the members that only spoke it left), the join answer says so: the
// member drops them at once (onLost: no commit is accepted before the new generation syncs),
// before an eager leader's assignment can reach their new owners.
// Member-side session rule: while stable, with no answer for sessionTimeoutMs (leaseMs) counted
// from when the last answered request was SENT, the coordinator may have expired the member and
// handed its partitions on: they are lost (onLost) and the member rejoins. Partitions kept
// through a cooperative rejoin are lost the same way when a join or sync goes unanswered past
// the session (a join the coordinator parks keeps the member alive there, so it does not count).
//
// One loop runs every request and every callback in order, so callbacks never overlap. Each
// request is bounded (join and sync may be parked by the coordinator up to the rebalance
// timeout), retries back off exponentially, and stop() interrupts whatever is in flight.

import { performance } from 'node:perf_hooks';
import type { Logger } from '../logger.ts';
import { tpKey } from './assignor.ts';
import type { TopicPartition } from './assignor.ts';
import type { GroupHeartbeatCall, GroupProtocolError, JoinGroupAnswer, JoinGroupCall, LeaveGroupAnswer, LeaveGroupCall, SyncGroupAnswer, SyncGroupCall } from './classic-calls.ts';
import { decodeAssignment, normaliseTopics } from './consumer-protocol.ts';
import { assignAsLeader, COOPERATIVE_PROTOCOL, memberProtocols, samePartitionCounts } from './member-assignors.ts';
import type { HttpMemberProtocol, PartitionCounts } from './member-assignors.ts';

/**
 * The coordinator as a member reaches it (GroupClient over rpc in the node). Protocol errors
 * come back in the answers; a call that reaches no loaded coordinator throws (RunnelError
 * NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, NETWORK_EXCEPTION, ...): retried with backoff.
 */
export interface GroupTransport {
  join(c: JoinGroupCall): Promise<JoinGroupAnswer>;
  sync(c: SyncGroupCall): Promise<SyncGroupAnswer>;
  heartbeat(c: GroupHeartbeatCall): Promise<GroupProtocolError | null>;
  leave(c: LeaveGroupCall): Promise<LeaveGroupAnswer>;
}

export interface GroupMemberConfig {
  readonly group: string;
  /** Proposed as the member id (an HTTP instance name is unique in its group). */
  readonly name: string;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** The member-side session rule's span; sessionTimeoutMs unless the node needs it shorter. */
  readonly leaseMs?: number;
  /** Bound on a heartbeat or leave request; default 30000 (Kafka's request.timeout.ms). */
  readonly requestTimeoutMs?: number;
  /** First and largest retry backoff; default 100 and 1000 ms (Kafka's retry.backoff(.max).ms). */
  readonly retryBackoffMs?: number;
  readonly retryBackoffMaxMs?: number;
  /** The protocols advertised, in order of preference; default HTTP_MEMBER_PROTOCOLS (only cooperative-sticky: as librdkafka configured so). */
  readonly protocols?: readonly HttpMemberProtocol[];
}

/** What the member's owner (the consumer instance) supplies. Callbacks run one at a time, on the member's loop. */
export interface GroupMemberHooks {
  /** The current subscription (a pattern already resolved against the metadata), read before each join and heartbeat. */
  topics(): readonly string[];
  /** From the metadata image: the leader assigns with these, and rejoins when they change. */
  partitionCounts: PartitionCounts;
  /** Before an eager rejoin or a stop, or after a cooperative sync for what moved elsewhere: commit, then stop reading these. */
  onRevoke(partitions: readonly TopicPartition[]): Promise<void>;
  /** After a completed sync: read these (possibly none); under cooperative-sticky only those newly assigned. */
  onAssign(partitions: readonly TopicPartition[]): Promise<void>;
  /** The generation is gone or the lease ran out: drop these without committing. */
  onLost(partitions: readonly TopicPartition[]): Promise<void>;
}

/** A protocol error a member cannot recover from by rejoining (Kafka raises these to the application). */
export class GroupMemberError extends Error {
  constructor(
    readonly error: GroupProtocolError,
    message: string,
  ) {
    super(message);
    this.name = 'GroupMemberError';
  }
}

export type GroupMemberState = 'idle' | 'joining' | 'stable' | 'stopped' | 'failed';

/** Join and sync may wait parked at the coordinator for the rebalance timeout (Kafka adds 5 s too). */
const PARKED_MARGIN_MS = 5000;

type CallResult<T> = { kind: 'answer'; value: T } | { kind: 'error'; err: unknown } | { kind: 'timeout' } | { kind: 'stopped' };
/** What one step of the loop asks for next. */
type Next = 'continue' | 'rejoin-now' | 'backoff';

export class GroupMember {
  private state_: GroupMemberState = 'idle';
  private memberId_ = '';
  private generation_ = -1;
  private assignment_: readonly TopicPartition[] = [];
  /** The generation and protocol of the last completed sync (what `assignment_` came from). */
  private syncedGeneration = -1;
  private syncedProtocol: string | null = null;
  private failure_: GroupMemberError | undefined;
  /** Sorted topics of the last completed join: a different subscription means rejoin. */
  private joinedTopics: readonly string[] = [];
  /** Set while this member leads: the partitions it assigned from. */
  private leaderView: { topics: readonly string[]; counts: ReadonlyMap<string, number> } | undefined;
  /** When the last request that got an answer was sent (performance.now()). */
  private lastAnsweredSentMs = 0;
  private lastHeartbeatSentMs = 0;
  private rejoinReason: string | undefined = 'first join';
  private failures = 0;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  /** Ends the current sleep early (rejoin request, stop). */
  private wake: (() => void) | undefined;
  /** Abandons the request in flight (stop). */
  private abort: (() => void) | undefined;
  private readonly waiters = new Set<(stable: boolean) => void>();
  private readonly leaseMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly cfg: GroupMemberConfig,
    private readonly transport: GroupTransport,
    private readonly hooks: GroupMemberHooks,
    private readonly log: Logger,
  ) {
    this.leaseMs = cfg.leaseMs ?? cfg.sessionTimeoutMs;
    this.requestTimeoutMs = cfg.requestTimeoutMs ?? 30_000;
  }

  get state(): GroupMemberState {
    return this.state_;
  }
  get memberId(): string {
    return this.memberId_;
  }
  get generation(): number {
    return this.generation_;
  }
  /** The partitions the member owns: of the last synced generation; under an eager protocol empty while (re)joining. */
  get assignment(): readonly TopicPartition[] {
    return this.assignment_;
  }
  get failure(): GroupMemberError | undefined {
    return this.failure_;
  }
  /** Whether the member rebalances cooperatively now (the group's protocol of its last sync is cooperative-sticky). */
  get cooperative(): boolean {
    return this.syncedProtocol === COOPERATIVE_PROTOCOL;
  }
  /**
   * Whether the partitions may still be read right now: stable and within the session counted
   * from the last answered request's send time, or rejoining cooperatively with partitions kept.
   * The loop calls onLost as this turns false; a read that was in flight then checks this before
   * handing records out.
   */
  holdsLease(): boolean {
    if (this.state_ === 'joining') return this.assignment_.length > 0;
    return this.state_ === 'stable' && this.leaseLeftMs() > 0;
  }

  start(): void {
    if (this.loop !== undefined || this.stopping) return;
    this.state_ = 'joining';
    this.loop = this.run();
  }

  /** Rejoin at the next step (the subscription changed): revokes, joins, syncs. */
  requestRejoin(reason: string): void {
    this.rejoinReason ??= reason;
    this.wake?.();
  }

  /**
   * Resolves true once the member is stable with an assignment (at once if it is and no rejoin
   * is pending), false when `timeoutMs` passes first or the member stops; rejects with the
   * GroupMemberError if it failed.
   */
  waitStable(timeoutMs: number): Promise<boolean> {
    if (this.failure_ !== undefined) return Promise.reject(this.failure_);
    // A rejoin asked for (a new subscription) is not settled until its generation is.
    if (this.state_ === 'stable' && this.rejoinReason === undefined) return Promise.resolve(true);
    if (this.state_ === 'stopped' || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      const done = (stable: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        if (this.failure_ !== undefined) reject(this.failure_);
        else resolve(stable);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(done);
    });
  }

  /** Stops the loop, revokes (onRevoke), leaves the group. Idempotent; leaves no timer behind. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.abort?.();
    await this.loop;
    await this.giveUp(this.generation_ < 0 || this.memberId_ === '' ? 'lost' : 'revoke');
    if (this.memberId_ !== '' && this.failure_?.error !== 'FENCED_INSTANCE_ID') {
      const members = [{ memberId: this.memberId_, groupInstanceId: null }];
      const r = await this.call('leave', this.requestTimeoutMs, () => this.transport.leave({ group: this.cfg.group, members }), true);
      if (r.kind === 'answer') this.log.info({ memberId: this.memberId_, error: r.value.members[0]?.error ?? r.value.error }, 'left the group');
      else this.log.warn({ memberId: this.memberId_, outcome: r.kind, err: r.kind === 'error' ? r.err : undefined }, 'leave not answered; the coordinator expires the member after its session timeout');
    }
    if (this.state_ !== 'failed') this.state_ = 'stopped';
    this.settleWaiters(false);
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const next = this.state_ === 'stable' ? await this.stableStep() : await this.joinStep();
      if (this.state_ === 'failed') break;
      if (next === 'continue') {
        this.failures = 0;
        continue;
      }
      this.failures++;
      // Immediate rejoins (MEMBER_ID_REQUIRED, a reset id) are Kafka's; a coordinator that keeps
      // answering them gets the same exponential backoff as errors.
      if (next === 'rejoin-now' && this.failures <= 3) continue;
      const backoffMs = Math.min((this.cfg.retryBackoffMs ?? 100) * 2 ** Math.min(this.failures - 1, 16), this.cfg.retryBackoffMaxMs ?? 1000);
      await this.sleep(this.state_ === 'stable' ? Math.min(backoffMs, this.leaseLeftMs()) : backoffMs);
    }
  }

  /** One JoinGroup + SyncGroup round. */
  private async joinStep(): Promise<Next> {
    const topics = normaliseTopics(this.hooks.topics());
    await this.prepareJoin(topics);
    if (this.stopping) return 'continue';
    // Kafka's joinGroupTimeoutMs: max(request.timeout.ms, rebalance.timeout.ms + 5 s).
    const parkedMs = Math.max(this.requestTimeoutMs, this.cfg.rebalanceTimeoutMs + PARKED_MARGIN_MS);
    const join: JoinGroupCall = {
      group: this.cfg.group,
      memberId: this.memberId_,
      groupInstanceId: null,
      clientId: this.cfg.clientId,
      clientHost: this.cfg.clientHost,
      sessionTimeoutMs: this.cfg.sessionTimeoutMs,
      rebalanceTimeoutMs: this.cfg.rebalanceTimeoutMs,
      protocolType: 'consumer',
      protocols: memberProtocols(topics, { partitions: this.assignment_, generation: this.assignment_.length > 0 ? this.syncedGeneration : -1 }, this.cfg.protocols),
      requireKnownMemberId: true,
      proposedMemberId: this.cfg.name,
    };
    this.log.debug({ memberId: this.memberId_, reason: this.rejoinReason, topics }, 'joining the group');
    this.rejoinReason = undefined;
    const joinSentMs = performance.now();
    const joined = await this.call('join', parkedMs, () => this.transport.join(join));
    if (joined.kind !== 'answer') return this.unanswered('join', joined);
    const a = joined.value;
    if (a.error !== null) return this.protocolError('join', a.error, a.memberId);
    this.memberId_ = a.memberId;
    this.generation_ = a.generation;
    // The coordinator restarted every member's session as it completed the join (after we sent it).
    this.lastAnsweredSentMs = Math.max(this.lastAnsweredSentMs, joinSentMs);
    if (a.protocolName !== COOPERATIVE_PROTOCOL && this.assignment_.length > 0) {
      this.log.info({ memberId: a.memberId, generation: a.generation, protocol: a.protocolName, partitions: this.assignment_.length }, 'the group left cooperative-sticky: dropping the partitions kept through the rejoin');
      await this.giveUp('lost');
    }
    let assignments: { memberId: string; assignment: Uint8Array }[] = [];
    this.leaderView = undefined;
    if (a.leader === a.memberId) {
      try {
        const led = assignAsLeader(a.protocolName, a.members, this.hooks.partitionCounts, this.log);
        assignments = led.assignments;
        this.leaderView = { topics: led.topics, counts: led.partitionCounts };
      } catch (err) {
        return this.fail('INCONSISTENT_GROUP_PROTOCOL', `as leader of generation ${a.generation}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const sync: SyncGroupCall = {
      group: this.cfg.group,
      memberId: a.memberId,
      groupInstanceId: null,
      generation: a.generation,
      protocolType: a.protocolType,
      protocolName: a.protocolName,
      assignments,
    };
    const syncSentMs = performance.now();
    const synced = await this.call('sync', parkedMs, () => this.transport.sync(sync));
    if (synced.kind !== 'answer') return this.unanswered('sync', synced);
    if (synced.value.error !== null) return this.protocolError('sync', synced.value.error, this.memberId_);
    const partitions = this.readAssignment(synced.value.assignment, topics, a);
    this.lastAnsweredSentMs = syncSentMs;
    this.lastHeartbeatSentMs = syncSentMs;
    this.joinedTopics = topics;
    // Eager: nothing is owned here (given up before the join), so all of it is added. Cooperative:
    // what is owned and not assigned is revoked, what is assigned and not owned is added.
    const assignedKeys = new Set(partitions.map(tpKey));
    const ownedKeys = new Set(this.assignment_.map(tpKey));
    const revoked = this.assignment_.filter((tp) => !assignedKeys.has(tpKey(tp)));
    const added = partitions.filter((tp) => !ownedKeys.has(tpKey(tp)));
    this.assignment_ = partitions;
    this.syncedGeneration = a.generation;
    this.syncedProtocol = a.protocolName;
    this.state_ = 'stable';
    this.log.info({ memberId: a.memberId, generation: a.generation, leader: a.leader === a.memberId, protocol: a.protocolName, partitions: partitions.length, added: added.length, revoked: revoked.length }, 'joined the group');
    if (revoked.length > 0) {
      await this.callback('onRevoke', revoked);
      // KIP-429: rejoin at once, so that the next round can hand the revoked partitions on.
      this.rejoinReason ??= 'revoked partitions to be reassigned';
    }
    await this.callback('onAssign', added);
    // A subscription changed meanwhile is not settled yet: the waiters wait for the next round.
    if (!this.stopping && this.state_ === 'stable' && this.rejoinReason === undefined) this.settleWaiters(true);
    return 'continue';
  }

  /**
   * This member's partitions from the leader's bytes, only of topics it subscribed to: a kafkajs
   * leader deals every subscribed topic of the group to every member. (Java's consumer rejoins
   * instead, which with such a leader never ends.) Unreadable bytes: nothing this generation.
   */
  private readAssignment(bytes: Uint8Array, topics: readonly string[], a: JoinGroupAnswer): readonly TopicPartition[] {
    let all: readonly TopicPartition[];
    try {
      all = decodeAssignment(bytes).partitions;
    } catch (err) {
      this.log.error({ err, generation: a.generation, leader: a.leader }, 'unreadable assignment from the group leader: reading nothing this generation');
      return [];
    }
    const subscribed = new Set(topics);
    const mine = all.filter((tp) => subscribed.has(tp.topic));
    if (mine.length < all.length) this.log.warn({ generation: a.generation, leader: a.leader, ignored: all.length - mine.length }, 'the group leader assigned partitions of topics this member does not subscribe to: ignored');
    return mine;
  }

  /** Sleep until the next heartbeat is due (or a rejoin is asked), check what changed, heartbeat. */
  private async stableStep(): Promise<Next> {
    if (this.rejoinReason !== undefined) return this.toJoin();
    await this.sleep(Math.min(this.lastHeartbeatSentMs + this.cfg.heartbeatIntervalMs - performance.now(), this.leaseLeftMs()));
    if (this.stopping) return 'continue';
    this.rejoinReason ??= this.changeSinceJoin();
    if (this.rejoinReason !== undefined) return this.toJoin();
    if (this.leaseLeftMs() <= 0) return this.lose();
    const sentMs = performance.now();
    this.lastHeartbeatSentMs = sentMs;
    const call: GroupHeartbeatCall = { group: this.cfg.group, memberId: this.memberId_, groupInstanceId: null, generation: this.generation_ };
    const r = await this.call('heartbeat', Math.min(this.requestTimeoutMs, this.leaseLeftMs()), () => this.transport.heartbeat(call));
    if (r.kind !== 'answer') return this.leaseLeftMs() <= 0 && r.kind !== 'stopped' ? this.lose() : this.unanswered('heartbeat', r);
    if (r.value === null || r.value === 'REBALANCE_IN_PROGRESS') this.lastAnsweredSentMs = sentMs;
    if (r.value === null) return 'continue';
    return this.protocolError('heartbeat', r.value, this.memberId_);
  }

  /** Why the member must rejoin although the coordinator did not ask, if it must. */
  private changeSinceJoin(): string | undefined {
    const topics = normaliseTopics(this.hooks.topics());
    if (topics.join('\u0000') !== this.joinedTopics.join('\u0000')) return 'subscription changed';
    const view = this.leaderView;
    if (view === undefined) return undefined;
    const wanted = new Set(view.topics);
    const counts = new Map([...this.hooks.partitionCounts(view.topics)].filter(([t, n]) => wanted.has(t) && n > 0));
    return samePartitionCounts(counts, view.counts) ? undefined : 'partitions of subscribed topics changed';
  }

  private toJoin(): Next {
    this.state_ = 'joining';
    return 'continue';
  }

  private async lose(): Promise<Next> {
    this.log.warn({ memberId: this.memberId_, generation: this.generation_, leaseMs: this.leaseMs }, 'no answer from the coordinator within the session: partitions lost, rejoining');
    await this.giveUp('lost');
    this.rejoinReason ??= 'session lease ran out';
    return this.toJoin();
  }

  private leaseLeftMs(): number {
    return this.lastAnsweredSentMs + this.leaseMs - performance.now();
  }

  /** A request got no answer: stopped, thrown (coordinator moving, network), or timed out. */
  private async unanswered(what: string, r: CallResult<unknown>): Promise<Next> {
    if (r.kind === 'stopped') return 'continue';
    if (this.state_ === 'joining' && this.assignment_.length > 0 && this.leaseLeftMs() <= 0) {
      // Kept through a cooperative rejoin, but the coordinator may have expired the member since.
      this.log.warn({ memberId: this.memberId_, generation: this.generation_, leaseMs: this.leaseMs }, `${what} not answered within the session: partitions kept through the rejoin are lost`);
      await this.giveUp('lost');
    }
    const name = r.kind === 'error' && r.err instanceof Error && 'errorName' in r.err ? r.err.errorName : undefined;
    this.log.info({ memberId: this.memberId_, outcome: r.kind, errorName: name, err: r.kind === 'error' && name === undefined ? r.err : undefined }, `${what} not answered; retrying`);
    return 'backoff'; // a join or sync retries from the join: the group may have moved on
  }

  /** Kafka's handling of each error a join, sync or heartbeat answer may carry. */
  private async protocolError(what: string, error: GroupProtocolError, memberId: string): Promise<Next> {
    this.log.info({ memberId: this.memberId_, generation: this.generation_, error }, `${what} answered ${error}`);
    switch (error) {
      case 'MEMBER_ID_REQUIRED': // KIP-394: rejoin with the id the coordinator gave
        this.memberId_ = memberId;
        return this.toJoinNow('member id required');
      case 'UNKNOWN_MEMBER_ID':
        this.memberId_ = '';
        this.generation_ = -1;
        return this.toJoinNow('unknown member id');
      case 'ILLEGAL_GENERATION': // the member id stays (Kafka resets it for UNKNOWN_MEMBER_ID only)
        this.generation_ = -1;
        return this.toJoinNow('illegal generation');
      case 'REBALANCE_IN_PROGRESS':
        return this.toJoinNow('rebalance in progress');
      case 'NOT_COORDINATOR':
      case 'COORDINATOR_NOT_AVAILABLE':
      case 'UNKNOWN_SERVER_ERROR':
        return 'backoff'; // a heartbeat again (the lease still runs), a join or sync from the join
      case 'FENCED_INSTANCE_ID':
      case 'INCONSISTENT_GROUP_PROTOCOL':
      case 'INVALID_SESSION_TIMEOUT':
      case 'GROUP_MAX_SIZE_REACHED':
      case 'INVALID_GROUP_ID':
        return this.fail(error, `${what}: ${error}`);
    }
  }

  private toJoinNow(reason: string): Next {
    this.rejoinReason = reason;
    this.state_ = 'joining';
    return 'rejoin-now';
  }

  private async fail(error: GroupProtocolError, message: string): Promise<Next> {
    this.failure_ = new GroupMemberError(error, `group ${this.cfg.group}, member ${this.memberId_ || this.cfg.name}: ${message}`);
    this.log.error({ memberId: this.memberId_, error }, 'group membership failed');
    await this.giveUp('lost');
    this.state_ = 'failed';
    this.settleWaiters(false);
    return 'continue';
  }

  /**
   * Before a join (Kafka's onJoinPrepare): with no generation every partition is lost; under
   * cooperative-sticky only those of topics no longer subscribed are revoked; else (eager) all are.
   */
  private async prepareJoin(topics: readonly string[]): Promise<void> {
    if (this.generation_ < 0 || this.memberId_ === '') return this.giveUp('lost');
    if (!this.cooperative) return this.giveUp('revoke');
    const subscribed = new Set(topics);
    const dropped = this.assignment_.filter((tp) => !subscribed.has(tp.topic));
    if (dropped.length === 0) return;
    this.assignment_ = this.assignment_.filter((tp) => subscribed.has(tp.topic));
    await this.callback('onRevoke', dropped);
  }

  /** Hands back every partition (before an eager rejoin, on stop, or lost). */
  private async giveUp(how: 'revoke' | 'lost'): Promise<void> {
    const partitions = this.assignment_;
    this.assignment_ = [];
    if (partitions.length > 0) await this.callback(how === 'revoke' ? 'onRevoke' : 'onLost', partitions);
  }

  private async callback(which: 'onRevoke' | 'onAssign' | 'onLost', partitions: readonly TopicPartition[]): Promise<void> {
    try {
      await this.hooks[which](partitions);
    } catch (err) {
      // Kafka logs a failing rebalance listener and carries on with the rebalance.
      this.log.error({ err, memberId: this.memberId_, partitions: partitions.length }, `${which} failed`);
    }
  }

  /** Runs one request, bounded by `timeoutMs` and abandoned on stop (unless `duringStop`). */
  private async call<T>(what: string, timeoutMs: number, f: () => Promise<T>, duringStop = false): Promise<CallResult<T>> {
    if (this.stopping && !duringStop) return { kind: 'stopped' };
    let timer: NodeJS.Timeout | undefined;
    const answer = Promise.resolve()
      .then(f)
      .then(
        (value): CallResult<T> => ({ kind: 'answer', value }),
        (err: unknown): CallResult<T> => ({ kind: 'error', err }),
      );
    const bounded = new Promise<CallResult<T>>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), Math.max(0, timeoutMs));
      if (!duringStop) this.abort = () => resolve({ kind: 'stopped' });
    });
    try {
      this.log.debug({ memberId: this.memberId_, generation: this.generation_ }, `${what} sent`);
      return await Promise.race([answer, bounded]);
    } finally {
      clearTimeout(timer);
      if (!duringStop) this.abort = undefined;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private settleWaiters(stable: boolean): void {
    for (const w of [...this.waiters]) w(stable);
  }
}
