// One consumer group as its coordinator sees it: members, the target assignment, and which
// partitions each member may read right now. Pure: time comes in as `nowMs`, no I/O, no timers.
//
// Safety (no partition ever has two readers, even mid-rebalance, with lost answers): a member
// may be reading a partition if it reported owning it in its latest heartbeat, or if the last
// answer sent to it allowed it (it may have started reading without reporting it yet, and an
// answer that took a partition away may have been lost). Both count as the member's CLAIM.
// A partition is allowed to a member only when it is in its target and no other member claims
// it. A member therefore gives a partition up in two heartbeats (the first answer drops it,
// the next heartbeat reports it gone) and only then can another member be allowed it.
//
// The member side of the contract (the I/O around this class must keep it):
// - heartbeats of one member are sequential; `owned` is what it reads when it sends one;
// - on an answer it drops at once every partition not in `allowed` (and forgets its position);
// - it stops reading everything when it has had no answer for sessionTimeoutMs, counted from
//   when it SENT its last answered heartbeat, so it has stopped before `expire` removes it;
// - it stops reading before it calls `leave`.

import { assign, compareStrings, compareTopicPartitions, tpKey } from './assignor.ts';
import type { AssignmentStrategy, TopicPartition } from './assignor.ts';

/** Members per group (Kafka group.max.size); a heartbeat from one more new member throws. */
export const MAX_MEMBERS = 1000;

/** Kafka GROUP_MAX_SIZE_REACHED: the group already has MAX_MEMBERS members. */
export class GroupMaxSizeReachedError extends Error {
  constructor(
    readonly groupId: string,
    readonly memberId: string,
  ) {
    super(`group ${groupId} already has the maximum of ${MAX_MEMBERS} members; ${memberId} cannot join`);
    this.name = 'GroupMaxSizeReachedError';
  }
}

export interface Heartbeat {
  readonly memberId: string;
  /** The node the consumer instance lives on. */
  readonly nodeId: number;
  readonly topics: readonly string[];
  readonly strategy: AssignmentStrategy;
  /** Partitions the member is reading as it sends this heartbeat. */
  readonly owned: readonly TopicPartition[];
  readonly sessionTimeoutMs: number;
}

export interface HeartbeatAnswer {
  readonly generation: number;
  /** Partitions the member may read now; it drops every other one at once. */
  readonly allowed: TopicPartition[];
  /** Partitions the member will be allowed once their previous readers have let go. */
  readonly target: TopicPartition[];
  /** Every member reads exactly its target (the group is Stable). */
  readonly settled: boolean;
}

export type GroupPhase = 'Empty' | 'PreparingRebalance' | 'Stable';

export interface GroupDescription {
  readonly state: GroupPhase;
  readonly generation: number;
  readonly protocol: AssignmentStrategy | null;
  readonly members: {
    readonly memberId: string;
    readonly nodeId: number;
    readonly topics: string[];
    readonly target: TopicPartition[];
    readonly owned: TopicPartition[];
  }[];
}

export interface GroupStateOptions {
  /**
   * Allow no partition that its member does not already report owning before this time. A
   * coordinator that takes over a group (failover) starts empty and learns the members only
   * from their heartbeats; until every member that may still be reading has heartbeated (one
   * session timeout), it cannot know who reads what. Set it to takeover time + the largest
   * session timeout; leave it unset for a group this coordinator saw created.
   */
  readonly holdGrantsUntilMs?: number;
}

interface MemberState {
  readonly memberId: string;
  nodeId: number;
  /** Sorted, without duplicates. */
  topics: string[];
  strategy: AssignmentStrategy;
  sessionTimeoutMs: number;
  lastSeenMs: number;
  /** As reported in the latest heartbeat, sorted, without duplicates. */
  owned: TopicPartition[];
  /** Invariant: the targets of all members are disjoint. Sorted. */
  target: TopicPartition[];
  /** What the last answer allowed. Invariant: disjoint from every other member's claim. */
  allowed: TopicPartition[];
}

export class GroupState {
  private readonly byId = new Map<string, MemberState>();
  private gen = 0;
  private protocol: AssignmentStrategy | null = null;
  /** Partition counts the current targets were computed from (subscribed topics only). */
  private counts = new Map<string, number>();
  private readonly holdGrantsUntilMs: number;

  constructor(
    readonly groupId: string,
    options: GroupStateOptions = {},
  ) {
    this.holdGrantsUntilMs = options.holdGrantsUntilMs ?? Number.NEGATIVE_INFINITY;
  }

  get generation(): number {
    return this.gen;
  }

  get isEmpty(): boolean {
    return this.byId.size === 0;
  }

  members(): string[] {
    return [...this.byId.keys()].sort(compareStrings);
  }

  memberNode(memberId: string): number | undefined {
    return this.byId.get(memberId)?.nodeId;
  }

  /**
   * Records a heartbeat (an unknown member id joins: this is also how a new coordinator
   * rebuilds the group after a failover) and answers what the member may read. Rebalances when
   * the member is new, its subscription or strategy changed, or a subscribed topic's partition
   * count changed. Throws GroupMaxSizeReachedError for a new member beyond MAX_MEMBERS.
   */
  heartbeat(hb: Heartbeat, nowMs: number, partitionCounts: ReadonlyMap<string, number>): HeartbeatAnswer {
    const topics = [...new Set(hb.topics)].sort(compareStrings);
    let m = this.byId.get(hb.memberId);
    let changed = false;
    if (m === undefined) {
      if (this.byId.size >= MAX_MEMBERS) throw new GroupMaxSizeReachedError(this.groupId, hb.memberId);
      m = { memberId: hb.memberId, nodeId: hb.nodeId, topics, strategy: hb.strategy, sessionTimeoutMs: hb.sessionTimeoutMs, lastSeenMs: nowMs, owned: [], target: [], allowed: [] };
      this.byId.set(hb.memberId, m);
      changed = true;
    } else if (m.strategy !== hb.strategy || !sameStrings(m.topics, topics)) {
      changed = true;
    }
    m.nodeId = hb.nodeId;
    m.topics = topics;
    m.strategy = hb.strategy;
    m.sessionTimeoutMs = hb.sessionTimeoutMs;
    m.lastSeenMs = nowMs;
    m.owned = sortedUnique(hb.owned);

    const counts = this.subscribedCounts(partitionCounts);
    if (changed || !sameCounts(counts, this.counts)) this.rebalance(counts);

    const others = this.claimsExcept(m.memberId);
    const mine = new Set(m.owned.map(tpKey));
    const holding = nowMs < this.holdGrantsUntilMs;
    m.allowed = m.target.filter((tp) => !others.has(tpKey(tp)) && (!holding || mine.has(tpKey(tp))));
    return { generation: this.gen, allowed: [...m.allowed], target: [...m.target], settled: this.settled() };
  }

  /**
   * A call other than a heartbeat (a commit) shows the member is alive: its session restarts.
   * Safe: it does not change what the member owns or may read.
   */
  touch(memberId: string, nowMs: number): void {
    const m = this.byId.get(memberId);
    if (m !== undefined) m.lastSeenMs = Math.max(m.lastSeenMs, nowMs);
  }

  /** The member left (it has stopped reading): remove it and rebalance. False if unknown. */
  leave(memberId: string, _nowMs: number): boolean {
    if (!this.byId.delete(memberId)) return false;
    this.rebalance(this.counts);
    return true;
  }

  /** Removes the members silent past their session timeout, rebalances if any; their ids. */
  expire(nowMs: number): string[] {
    const removed = this.members().filter((id) => {
      const m = this.byId.get(id);
      return m !== undefined && m.lastSeenMs + m.sessionTimeoutMs < nowMs;
    });
    for (const id of removed) this.byId.delete(id);
    if (removed.length > 0) this.rebalance(this.counts);
    return removed;
  }

  /**
   * Whether the coordinator takes a commit from this member for this partition: the last answer
   * allowed it to the member, so nobody else can be reading it. A member that still holds a
   * partition the latest rebalance moved away may commit it until its next heartbeat (as Kafka's
   * cooperative protocol lets an owner commit before it revokes); any other member is refused.
   */
  canCommit(memberId: string, tp: TopicPartition): boolean {
    const m = this.byId.get(memberId);
    if (m === undefined) return false;
    const key = tpKey(tp);
    return m.allowed.some((a) => tpKey(a) === key) && !this.claimsExcept(memberId).has(key);
  }

  describe(): GroupDescription {
    const members = this.members().flatMap((id) => {
      const m = this.byId.get(id);
      return m === undefined ? [] : [{ memberId: m.memberId, nodeId: m.nodeId, topics: [...m.topics], target: [...m.target], owned: [...m.owned] }];
    });
    const state: GroupPhase = members.length === 0 ? 'Empty' : this.settled() ? 'Stable' : 'PreparingRebalance';
    return { state, generation: this.gen, protocol: members.length === 0 ? null : this.protocol, members };
  }

  private rebalance(counts: Map<string, number>): void {
    this.gen++;
    const members = [...this.byId.values()];
    const subscribed = new Set(members.flatMap((m) => m.topics));
    this.counts = new Map([...counts].filter(([t]) => subscribed.has(t)));
    this.protocol = members.length === 0 ? null : chooseStrategy(members.map((m) => m.strategy));
    if (this.protocol === null) return;
    // Sticky on the targets; a member without one (it just joined) on what it reads, so a new
    // coordinator rebuilding the group after a failover keeps the assignment members hold.
    const previous = new Map(members.map((m) => [m.memberId, m.target.length > 0 ? m.target : m.owned]));
    const next = assign(this.protocol, members, this.counts, previous);
    for (const m of members) m.target = next.get(m.memberId) ?? [];
  }

  /** Counts of the topics any member subscribes to (0 for a topic that does not exist). */
  private subscribedCounts(partitionCounts: ReadonlyMap<string, number>): Map<string, number> {
    const out = new Map<string, number>();
    for (const m of this.byId.values()) for (const t of m.topics) out.set(t, partitionCounts.get(t) ?? 0);
    return out;
  }

  /** Every partition some member other than `memberId` reports owning or was last allowed. */
  private claimsExcept(memberId: string): Set<string> {
    const out = new Set<string>();
    for (const m of this.byId.values()) {
      if (m.memberId === memberId) continue;
      for (const tp of m.owned) out.add(tpKey(tp));
      for (const tp of m.allowed) out.add(tpKey(tp));
    }
    return out;
  }

  private settled(): boolean {
    for (const m of this.byId.values()) {
      if (m.owned.length !== m.target.length || m.owned.some((tp, i) => tpKey(tp) !== tpKey(m.target[i] ?? tp) || m.target[i] === undefined)) return false;
    }
    return true;
  }
}

/** The strategy most members ask for; a tie goes to 'range'. */
function chooseStrategy(strategies: readonly AssignmentStrategy[]): AssignmentStrategy {
  const range = strategies.filter((s) => s === 'range').length;
  return strategies.length - range > range ? 'roundrobin' : 'range';
}

function sortedUnique(tps: readonly TopicPartition[]): TopicPartition[] {
  const byKey = new Map<string, TopicPartition>();
  for (const tp of tps) byKey.set(tpKey(tp), { topic: tp.topic, partition: tp.partition });
  return [...byKey.values()].sort(compareTopicPartitions);
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameCounts(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [t, n] of a) if (b.get(t) !== n) return false;
  return true;
}
