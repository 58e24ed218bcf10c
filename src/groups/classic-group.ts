// One consumer group under Kafka's classic group protocol, as its coordinator runs it
// (research/kafka-wire.md §3; Kafka's ClassicGroup and the classic half of GroupMetadataManager).
// Pure apart from the answers it parks: time comes in as `nowMs`, deadlines fire on `tick`, and
// the one write (the group record, after the leader's SyncGroup) goes through `persist`.
//
// States: Empty (no members; committed offsets only) -> PreparingRebalance (joins are parked
// until every known member has rejoined or the rebalance timeout fires) -> CompletingRebalance
// (every member has its JoinGroup answer; waiting for the leader's SyncGroup) -> Stable (every
// member has its assignment) -> PreparingRebalance again on a new member, a member that leaves or
// dies, a leader that rejoins or a member whose protocols changed. Dead: deleted.

import { randomUUID } from 'node:crypto';
import type {
  ClassicGroupState,
  ClassicMemberView,
  CommitMember,
  GroupHeartbeatCall,
  GroupProtocolError,
  JoinGroupAnswer,
  JoinGroupCall,
  LeaveGroupAnswer,
  LeaveGroupCall,
  MemberSettings,
  ProtocolMetadata,
  SyncGroupAnswer,
  SyncGroupCall,
} from './classic-calls.ts';

export interface ClassicGroupConfig {
  /** Kafka group.min.session.timeout.ms / group.max.session.timeout.ms (6 s and 30 min). */
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  /** Kafka group.initial.rebalance.delay.ms (3 s): how long the first rebalance of an Empty group waits for more members. */
  readonly initialRebalanceDelayMs: number;
  /** Kafka group.max.size. */
  readonly maxSize: number;
}

/** A group as it is written to the offsets topic after each completed rebalance (Kafka's GroupMetadataValue). */
export interface GroupRecord {
  readonly protocolType: string | null;
  readonly generation: number;
  readonly protocol: string | null;
  readonly leader: string | null;
  readonly members: readonly (MemberSettings & {
    /** Its subscription for the chosen protocol. */
    readonly subscription: Uint8Array;
    readonly assignment: Uint8Array;
    /**
     * Every protocol it offered, in its order (runnel's addition to Kafka's record): a coordinator
     * that takes over then still accepts a new member that shares any of them with the group,
     * not only the chosen one. Absent in records written before it: the chosen protocol only.
     */
    readonly protocols?: readonly ProtocolMetadata[];
  })[];
}

interface Member {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: ProtocolMetadata[];
  assignment: Uint8Array;
  /** Removed when silent past this (unless it waits in a parked JoinGroup or SyncGroup). */
  expiresAtMs: number;
  joinWaiter: ((a: JoinGroupAnswer) => void) | null;
  syncWaiter: ((a: SyncGroupAnswer) => void) | null;
}

const EMPTY = new Uint8Array(0);

export class ClassicGroup {
  private stateName: ClassicGroupState = 'Empty';
  private gen = 0;
  private protocolType: string | null = null;
  private protocolName: string | null = null;
  private leaderId: string | null = null;
  private readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined -> when they lapse. */
  private readonly pending = new Map<string, number>();
  /** group.instance.id -> the member id that holds it now. */
  private readonly staticIds = new Map<string, string>();
  /** PreparingRebalance: when the join phase ends. */
  private joinDeadlineMs: number | null = null;
  /** The first rebalance of an Empty group, still in its initial delay: how much longer it may be extended. */
  private initialDelayLeftMs: number | null = null;
  private newMemberAdded = false;
  /** CompletingRebalance: when members that have not sent SyncGroup are removed. */
  private syncDeadlineMs: number | null = null;

  constructor(
    readonly groupId: string,
    private readonly cfg: ClassicGroupConfig,
    /** Writes the group record (acks=all); a rejection leaves the rebalance to be redone. */
    private readonly persist: (record: GroupRecord) => Promise<void>,
  ) {}

  /** A group as a coordinator that takes over finds it in the offsets topic: Stable with its last members (each with a fresh session), or Empty. */
  static fromRecord(groupId: string, record: GroupRecord, cfg: ClassicGroupConfig, nowMs: number, persist: (record: GroupRecord) => Promise<void>): ClassicGroup {
    const g = new ClassicGroup(groupId, cfg, persist);
    g.gen = record.generation;
    if (record.members.length === 0 || record.protocol === null || record.protocolType === null) {
      g.stateName = 'Empty';
      return g;
    }
    g.protocolType = record.protocolType;
    g.protocolName = record.protocol;
    for (const m of record.members) {
      g.members.set(m.memberId, {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        protocolType: record.protocolType,
        protocols: m.protocols !== undefined && m.protocols.length > 0 ? [...m.protocols] : [{ name: record.protocol, metadata: m.subscription }],
        assignment: m.assignment,
        expiresAtMs: nowMs + m.sessionTimeoutMs,
        joinWaiter: null,
        syncWaiter: null,
      });
      if (m.groupInstanceId !== null) g.staticIds.set(m.groupInstanceId, m.memberId);
    }
    g.leaderId = record.leader !== null && g.members.has(record.leader) ? record.leader : (g.members.keys().next().value ?? null);
    g.stateName = 'Stable';
    return g;
  }

  get state(): ClassicGroupState {
    return this.stateName;
  }

  get generation(): number {
    return this.gen;
  }

  get isEmpty(): boolean {
    return this.members.size === 0 && this.pending.size === 0;
  }

  get groupProtocolType(): string | null {
    return this.protocolType;
  }

  memberIds(): string[] {
    return [...this.members.keys()].sort();
  }

  hasMember(memberId: string): boolean {
    return this.members.has(memberId);
  }

  clientIdOf(memberId: string): string | undefined {
    return this.members.get(memberId)?.clientId;
  }

  join(c: JoinGroupCall, nowMs: number): Promise<JoinGroupAnswer> {
    const fail = (error: GroupProtocolError, memberId = c.memberId): Promise<JoinGroupAnswer> => Promise.resolve(this.joinError(error, memberId));
    if (this.stateName === 'Dead') return fail('COORDINATOR_NOT_AVAILABLE');
    if (c.sessionTimeoutMs < this.cfg.minSessionTimeoutMs || c.sessionTimeoutMs > this.cfg.maxSessionTimeoutMs) return fail('INVALID_SESSION_TIMEOUT');
    if (!this.supportsProtocols(c.memberId, c.protocolType, c.protocols)) return fail('INCONSISTENT_GROUP_PROTOCOL');

    if (c.memberId === '') {
      if (c.groupInstanceId !== null) {
        const known = this.staticIds.get(c.groupInstanceId);
        const newId = `${c.groupInstanceId}-${randomUUID()}`;
        if (known !== undefined && this.members.has(known)) return this.replaceStaticMember(known, newId, c, nowMs);
        if (this.members.size >= this.cfg.maxSize) return fail('GROUP_MAX_SIZE_REACHED');
        return this.addMemberAndRebalance(newId, c, nowMs);
      }
      const proposed = c.proposedMemberId;
      if (proposed !== undefined && proposed !== '' && this.members.has(proposed)) return this.join({ ...c, memberId: proposed }, nowMs);
      const newId = proposed !== undefined && proposed !== '' ? proposed : `${c.clientId}-${randomUUID()}`;
      if (c.requireKnownMemberId) {
        if (this.members.size + this.pending.size >= this.cfg.maxSize) return fail('GROUP_MAX_SIZE_REACHED');
        this.pending.set(newId, nowMs + c.sessionTimeoutMs);
        return fail('MEMBER_ID_REQUIRED', newId);
      }
      if (this.members.size >= this.cfg.maxSize) return fail('GROUP_MAX_SIZE_REACHED');
      return this.addMemberAndRebalance(newId, c, nowMs);
    }

    if (this.pending.has(c.memberId)) {
      this.pending.delete(c.memberId);
      if (this.members.size >= this.cfg.maxSize) return fail('GROUP_MAX_SIZE_REACHED');
      return this.addMemberAndRebalance(c.memberId, c, nowMs);
    }
    const fenced = this.fencedInstance(c.memberId, c.groupInstanceId);
    if (fenced !== null) return fail(fenced);
    const m = this.members.get(c.memberId);
    if (m === undefined) return fail('UNKNOWN_MEMBER_ID');
    switch (this.stateName) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(m, c, nowMs);
      case 'CompletingRebalance':
        // The same metadata: it lost the JoinGroup answer; answer it again.
        if (sameProtocols(m.protocols, c.protocols)) return Promise.resolve(this.joinAnswer(m));
        return this.updateMemberAndRebalance(m, c, nowMs);
      case 'Stable':
        if (m.memberId !== this.leaderId && sameProtocols(m.protocols, c.protocols)) {
          m.expiresAtMs = nowMs + m.sessionTimeoutMs;
          return Promise.resolve(this.joinAnswer(m));
        }
        return this.updateMemberAndRebalance(m, c, nowMs);
      case 'Empty':
        return fail('UNKNOWN_MEMBER_ID');
    }
  }

  sync(c: SyncGroupCall, nowMs: number): Promise<SyncGroupAnswer> {
    const fail = (error: GroupProtocolError): Promise<SyncGroupAnswer> => Promise.resolve({ error, protocolType: this.protocolType, protocolName: this.protocolName, assignment: EMPTY });
    if (this.stateName === 'Dead') return fail('COORDINATOR_NOT_AVAILABLE');
    const fenced = this.fencedInstance(c.memberId, c.groupInstanceId);
    if (fenced !== null) return fail(fenced);
    const m = this.members.get(c.memberId);
    if (m === undefined) return fail('UNKNOWN_MEMBER_ID');
    if (c.generation !== this.gen) return fail('ILLEGAL_GENERATION');
    if ((c.protocolType !== null && c.protocolType !== this.protocolType) || (c.protocolName !== null && c.protocolName !== this.protocolName)) return fail('INCONSISTENT_GROUP_PROTOCOL');
    m.expiresAtMs = nowMs + m.sessionTimeoutMs;
    switch (this.stateName) {
      case 'PreparingRebalance':
        return fail('REBALANCE_IN_PROGRESS');
      case 'Stable':
        return Promise.resolve({ error: null, protocolType: this.protocolType, protocolName: this.protocolName, assignment: m.assignment });
      case 'CompletingRebalance': {
        const answer = new Promise<SyncGroupAnswer>((resolve) => {
          m.syncWaiter?.({ error: 'REBALANCE_IN_PROGRESS', protocolType: this.protocolType, protocolName: this.protocolName, assignment: EMPTY });
          m.syncWaiter = resolve;
        });
        if (m.memberId === this.leaderId) this.completeSync(c.assignments);
        return answer;
      }
      case 'Empty':
        return fail('UNKNOWN_MEMBER_ID');
    }
  }

  heartbeat(c: GroupHeartbeatCall, nowMs: number): GroupProtocolError | null {
    if (this.stateName === 'Dead') return 'COORDINATOR_NOT_AVAILABLE';
    const fenced = this.fencedInstance(c.memberId, c.groupInstanceId);
    if (fenced !== null) return fenced;
    const m = this.members.get(c.memberId);
    if (m === undefined) return 'UNKNOWN_MEMBER_ID';
    if (c.generation !== this.gen) return 'ILLEGAL_GENERATION';
    m.expiresAtMs = nowMs + m.sessionTimeoutMs;
    return this.stateName === 'PreparingRebalance' ? 'REBALANCE_IN_PROGRESS' : null;
  }

  leave(c: LeaveGroupCall, nowMs: number): LeaveGroupAnswer {
    const results = c.members.map((who) => {
      const memberId = who.memberId !== '' ? who.memberId : who.groupInstanceId !== null ? (this.staticIds.get(who.groupInstanceId) ?? '') : '';
      let error: GroupProtocolError | null = null;
      if (this.pending.delete(memberId)) error = null;
      else if (who.groupInstanceId !== null && who.memberId !== '' && this.fencedInstance(who.memberId, who.groupInstanceId) !== null) error = 'FENCED_INSTANCE_ID';
      else if (!this.members.has(memberId)) error = 'UNKNOWN_MEMBER_ID';
      else this.removeMember(memberId);
      return { memberId: who.memberId, groupInstanceId: who.groupInstanceId, error };
    });
    this.afterRemoval(nowMs);
    return { error: null, members: results };
  }

  /** Kafka's ClassicGroup.validateOffsetCommit: null when the commit may be written. A valid member's commit also restarts its session. */
  validateCommit(who: CommitMember, nowMs: number): GroupProtocolError | null {
    if (this.stateName === 'Dead') return 'COORDINATOR_NOT_AVAILABLE';
    if (who.memberId === '' && who.generation < 0) return this.stateName === 'Empty' ? null : 'UNKNOWN_MEMBER_ID';
    const fenced = this.fencedInstance(who.memberId, who.groupInstanceId);
    if (fenced !== null) return fenced;
    const m = this.members.get(who.memberId);
    if (m === undefined) return 'UNKNOWN_MEMBER_ID';
    if (who.generation !== this.gen) return 'ILLEGAL_GENERATION';
    if (this.stateName === 'CompletingRebalance') return 'REBALANCE_IN_PROGRESS';
    m.expiresAtMs = Math.max(m.expiresAtMs, nowMs + m.sessionTimeoutMs);
    return null;
  }

  /** Fires due deadlines: lapsed pending ids and sessions, the end of the join phase, the sync timeout. */
  tick(nowMs: number): void {
    for (const [id, until] of this.pending) if (until < nowMs) this.pending.delete(id);
    let removed = false;
    for (const m of [...this.members.values()]) {
      if (m.joinWaiter === null && m.syncWaiter === null && m.expiresAtMs < nowMs) {
        this.removeMember(m.memberId);
        removed = true;
      }
    }
    if (removed) this.afterRemoval(nowMs);
    if (this.stateName === 'PreparingRebalance' && this.joinDeadlineMs !== null && nowMs >= this.joinDeadlineMs) {
      const left = this.initialDelayLeftMs;
      if (left !== null && this.newMemberAdded && left > 0) {
        // Kafka's InitialDelayedJoin: members are still arriving; wait one more delay, within the rebalance timeout.
        const delay = Math.min(this.cfg.initialRebalanceDelayMs, left);
        this.initialDelayLeftMs = left - delay;
        this.newMemberAdded = false;
        this.joinDeadlineMs = nowMs + delay;
      } else {
        this.completeJoin(nowMs);
      }
    } else if (this.stateName === 'PreparingRebalance') {
      this.maybeCompleteJoin(nowMs);
    }
    if (this.stateName === 'CompletingRebalance' && this.syncDeadlineMs !== null && nowMs >= this.syncDeadlineMs) {
      for (const m of [...this.members.values()]) if (m.syncWaiter === null) this.removeMember(m.memberId);
      this.prepareRebalance(nowMs);
      this.maybeCompleteJoin(nowMs);
    }
  }

  /** The coordinator lost the group (failover, deletion): every parked answer gets `error`; the group is Dead. */
  close(error: GroupProtocolError): void {
    for (const m of this.members.values()) {
      m.joinWaiter?.(this.joinError(error, m.memberId));
      m.syncWaiter?.({ error, protocolType: this.protocolType, protocolName: this.protocolName, assignment: EMPTY });
      m.joinWaiter = null;
      m.syncWaiter = null;
    }
    this.stateName = 'Dead';
  }

  describe(): { state: ClassicGroupState; generation: number; protocolType: string | null; protocol: string | null; leader: string | null; members: ClassicMemberView[] } {
    const members = this.memberIds().flatMap((id) => {
      const m = this.members.get(id);
      if (m === undefined) return [];
      const metadata = m.protocols.find((p) => p.name === this.protocolName)?.metadata ?? EMPTY;
      return [{ memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost, metadata, assignment: m.assignment }];
    });
    return { state: this.stateName, generation: this.gen, protocolType: this.protocolType, protocol: this.protocolName, leader: this.leaderId, members };
  }

  // ---- internals ----------------------------------------------------------------------

  private joinError(error: GroupProtocolError, memberId: string): JoinGroupAnswer {
    return { error, generation: -1, protocolType: this.protocolType, protocolName: this.protocolName, leader: '', memberId, members: [] };
  }

  private joinAnswer(m: Member): JoinGroupAnswer {
    const members =
      m.memberId === this.leaderId
        ? this.memberIds().flatMap((id) => {
            const x = this.members.get(id);
            return x === undefined ? [] : [{ memberId: id, groupInstanceId: x.groupInstanceId, metadata: x.protocols.find((p) => p.name === this.protocolName)?.metadata ?? EMPTY }];
          })
        : [];
    return { error: null, generation: this.gen, protocolType: this.protocolType, protocolName: this.protocolName, leader: this.leaderId ?? '', memberId: m.memberId, members };
  }

  /** FENCED_INSTANCE_ID when `groupInstanceId` now belongs to another member id (Kafka checks this before the member id). */
  private fencedInstance(memberId: string, groupInstanceId: string | null): GroupProtocolError | null {
    if (groupInstanceId === null) return null;
    const holder = this.staticIds.get(groupInstanceId);
    return holder !== undefined && holder !== memberId ? 'FENCED_INSTANCE_ID' : null;
  }

  /** Kafka's supportsProtocols: an Empty group takes any non-empty protocol list; otherwise the type must match and every other member must share a protocol with it. */
  private supportsProtocols(memberId: string, protocolType: string, protocols: readonly ProtocolMetadata[]): boolean {
    if (protocolType === '' || protocols.length === 0) return false;
    const others = [...this.members.values()].filter((m) => m.memberId !== memberId);
    if (others.length === 0) return true;
    if (this.protocolType !== null && protocolType !== this.protocolType) return false;
    return protocols.some((p) => others.every((m) => m.protocols.some((q) => q.name === p.name)));
  }

  private addMemberAndRebalance(memberId: string, c: JoinGroupCall, nowMs: number): Promise<JoinGroupAnswer> {
    const answer = new Promise<JoinGroupAnswer>((resolve) => {
      const m: Member = {
        memberId,
        groupInstanceId: c.groupInstanceId,
        clientId: c.clientId,
        clientHost: c.clientHost,
        sessionTimeoutMs: c.sessionTimeoutMs,
        rebalanceTimeoutMs: c.rebalanceTimeoutMs,
        protocolType: c.protocolType,
        protocols: [...c.protocols],
        assignment: EMPTY,
        expiresAtMs: nowMs + c.sessionTimeoutMs,
        joinWaiter: resolve,
        syncWaiter: null,
      };
      this.members.set(memberId, m);
      if (c.groupInstanceId !== null) this.staticIds.set(c.groupInstanceId, memberId);
    });
    if (this.members.size === 1 || this.protocolType === null) this.protocolType = c.protocolType;
    this.leaderId ??= memberId;
    this.newMemberAdded = true;
    if (this.stateName === 'PreparingRebalance') this.maybeCompleteJoin(nowMs);
    else this.prepareRebalance(nowMs);
    return answer;
  }

  private updateMemberAndRebalance(m: Member, c: JoinGroupCall, nowMs: number): Promise<JoinGroupAnswer> {
    m.clientId = c.clientId;
    m.clientHost = c.clientHost;
    m.sessionTimeoutMs = c.sessionTimeoutMs;
    m.rebalanceTimeoutMs = c.rebalanceTimeoutMs;
    m.protocols = [...c.protocols];
    m.expiresAtMs = nowMs + c.sessionTimeoutMs;
    const answer = new Promise<JoinGroupAnswer>((resolve) => {
      m.joinWaiter?.(this.joinError('REBALANCE_IN_PROGRESS', m.memberId));
      m.joinWaiter = resolve;
    });
    if (this.stateName === 'PreparingRebalance') this.maybeCompleteJoin(nowMs);
    else this.prepareRebalance(nowMs);
    return answer;
  }

  /**
   * KIP-345: a static member came back with a new member id. In a Stable group with unchanged
   * protocols it takes its old place and assignment without a rebalance (once the group record
   * names its new id); otherwise it rejoins as the member it replaces.
   */
  private replaceStaticMember(oldId: string, newId: string, c: JoinGroupCall, nowMs: number): Promise<JoinGroupAnswer> {
    const old = this.members.get(oldId);
    if (old === undefined) return Promise.resolve(this.joinError('UNKNOWN_MEMBER_ID', c.memberId));
    old.joinWaiter?.(this.joinError('FENCED_INSTANCE_ID', oldId));
    old.syncWaiter?.({ error: 'FENCED_INSTANCE_ID', protocolType: this.protocolType, protocolName: this.protocolName, assignment: EMPTY });
    const unchanged = sameProtocols(old.protocols, c.protocols);
    const m: Member = { ...old, memberId: newId, clientId: c.clientId, clientHost: c.clientHost, sessionTimeoutMs: c.sessionTimeoutMs, rebalanceTimeoutMs: c.rebalanceTimeoutMs, protocols: [...c.protocols], expiresAtMs: nowMs + c.sessionTimeoutMs, joinWaiter: null, syncWaiter: null };
    this.members.delete(oldId);
    this.members.set(newId, m);
    if (c.groupInstanceId !== null) this.staticIds.set(c.groupInstanceId, newId);
    if (this.leaderId === oldId) this.leaderId = newId;
    if (this.stateName === 'Stable' && unchanged) {
      const gen = this.gen;
      return this.persist(this.record()).then(
        () => (this.gen === gen && this.members.get(newId) === m ? this.joinAnswer(m) : this.joinError('REBALANCE_IN_PROGRESS', newId)),
        () => this.joinError('UNKNOWN_SERVER_ERROR', newId),
      );
    }
    return this.updateMemberAndRebalance(m, c, nowMs);
  }

  private prepareRebalance(nowMs: number): void {
    if (this.stateName === 'CompletingRebalance') this.resetAssignments('REBALANCE_IN_PROGRESS');
    this.syncDeadlineMs = null;
    if (this.stateName === 'Empty') {
      const timeout = this.rebalanceTimeoutMs();
      const delay = Math.min(this.cfg.initialRebalanceDelayMs, timeout);
      this.initialDelayLeftMs = delay > 0 ? timeout - delay : null;
      this.newMemberAdded = false;
      this.joinDeadlineMs = nowMs + delay;
    } else {
      this.initialDelayLeftMs = null;
      this.joinDeadlineMs = nowMs + this.rebalanceTimeoutMs();
    }
    this.stateName = 'PreparingRebalance';
    this.maybeCompleteJoin(nowMs);
  }

  private maybeCompleteJoin(nowMs: number): void {
    if (this.stateName !== 'PreparingRebalance' || this.initialDelayLeftMs !== null) return;
    if (this.pending.size > 0) return;
    for (const m of this.members.values()) if (m.joinWaiter === null) return;
    this.completeJoin(nowMs);
  }

  /** Ends the join phase: members that did not rejoin are removed; the next generation starts and every member gets its JoinGroup answer. */
  private completeJoin(nowMs: number): void {
    for (const m of [...this.members.values()]) if (m.joinWaiter === null) this.removeMember(m.memberId);
    this.joinDeadlineMs = null;
    this.initialDelayLeftMs = null;
    this.newMemberAdded = false;
    this.gen++;
    if (this.members.size === 0) {
      this.stateName = 'Empty';
      this.protocolName = null;
      this.protocolType = null;
      this.leaderId = null;
      void this.persist(this.record()).catch(() => undefined);
      return;
    }
    this.protocolName = this.selectProtocol();
    this.stateName = 'CompletingRebalance';
    this.syncDeadlineMs = nowMs + this.rebalanceTimeoutMs();
    for (const m of this.members.values()) {
      m.expiresAtMs = nowMs + m.sessionTimeoutMs;
      const resolve = m.joinWaiter;
      m.joinWaiter = null;
      resolve?.(this.joinAnswer(m));
    }
  }

  /** The leader's SyncGroup: write the group record with its assignment, then answer every parked SyncGroup. */
  private completeSync(assignments: SyncGroupCall['assignments']): void {
    const gen = this.gen;
    const given = new Map(assignments.map((a) => [a.memberId, a.assignment]));
    const next = new Map([...this.members.keys()].map((id) => [id, given.get(id) ?? EMPTY]));
    const still = (): boolean => this.gen === gen && this.stateName === 'CompletingRebalance';
    this.persist(this.record(next)).then(
      () => {
        if (!still()) return;
        for (const m of this.members.values()) {
          m.assignment = next.get(m.memberId) ?? EMPTY;
          const resolve = m.syncWaiter;
          m.syncWaiter = null;
          resolve?.({ error: null, protocolType: this.protocolType, protocolName: this.protocolName, assignment: m.assignment });
        }
        this.stateName = 'Stable';
        this.syncDeadlineMs = null;
      },
      () => {
        // Kafka: a failed store resets the assignment and answers the error; members rejoin.
        if (!still()) return;
        this.resetAssignments('NOT_COORDINATOR');
      },
    );
  }

  private resetAssignments(error: GroupProtocolError): void {
    for (const m of this.members.values()) {
      m.assignment = EMPTY;
      const resolve = m.syncWaiter;
      m.syncWaiter = null;
      resolve?.({ error, protocolType: this.protocolType, protocolName: this.protocolName, assignment: EMPTY });
    }
  }

  private removeMember(memberId: string): void {
    const m = this.members.get(memberId);
    if (m === undefined) return;
    this.members.delete(memberId);
    if (m.groupInstanceId !== null && this.staticIds.get(m.groupInstanceId) === memberId) this.staticIds.delete(m.groupInstanceId);
    m.joinWaiter?.(this.joinError('UNKNOWN_MEMBER_ID', memberId));
    m.syncWaiter?.({ error: 'UNKNOWN_MEMBER_ID', protocolType: this.protocolType, protocolName: this.protocolName, assignment: EMPTY });
    m.joinWaiter = null;
    m.syncWaiter = null;
    if (this.leaderId === memberId) {
      const next = [...this.members.values()].find((x) => x.joinWaiter !== null) ?? this.members.values().next().value;
      this.leaderId = next?.memberId ?? null;
    }
  }

  /** After members left or died: a settled group rebalances; a rebalance in progress may now be complete. */
  private afterRemoval(nowMs: number): void {
    if (this.stateName === 'Stable' || this.stateName === 'CompletingRebalance') this.prepareRebalance(nowMs);
    else this.maybeCompleteJoin(nowMs);
  }

  /** The largest rebalance timeout any member sent (Kafka's ClassicGroup.rebalanceTimeoutMs). */
  private rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /** Kafka's selectProtocol: of the protocols every member supports, the one most members list first among them; a tie goes to the leader's preference. */
  private selectProtocol(): string {
    const all = [...this.members.values()];
    const leader = (this.leaderId !== null ? this.members.get(this.leaderId) : undefined) ?? all[0];
    const candidates = (leader?.protocols ?? []).map((p) => p.name).filter((name) => all.every((m) => m.protocols.some((p) => p.name === name)));
    const votes = new Map<string, number>();
    for (const m of all) {
      const choice = m.protocols.find((p) => candidates.includes(p.name))?.name;
      if (choice !== undefined) votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best = candidates[0] ?? '';
    for (const name of candidates) if ((votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name;
    return best;
  }

  private record(assignments?: ReadonlyMap<string, Uint8Array>): GroupRecord {
    return {
      protocolType: this.protocolType,
      generation: this.gen,
      protocol: this.protocolName,
      leader: this.leaderId,
      members: this.memberIds().flatMap((id) => {
        const m = this.members.get(id);
        if (m === undefined) return [];
        return [
          {
            memberId: id,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            sessionTimeoutMs: m.sessionTimeoutMs,
            rebalanceTimeoutMs: m.rebalanceTimeoutMs,
            subscription: m.protocols.find((p) => p.name === this.protocolName)?.metadata ?? EMPTY,
            assignment: assignments?.get(id) ?? m.assignment,
            protocols: m.protocols,
          },
        ];
      }),
    };
  }
}

function sameProtocols(a: readonly ProtocolMetadata[], b: readonly ProtocolMetadata[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]?.name && Buffer.compare(Buffer.from(p.metadata), Buffer.from(b[i]?.metadata ?? EMPTY)) === 0);
}
