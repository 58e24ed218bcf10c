// A small in-process classic group coordinator for GroupMember's tests until the real one
// (src/groups/classic-group.ts) is on main; it follows Kafka's GroupMetadataManager for what a
// member sees: KIP-394 MEMBER_ID_REQUIRED, joins parked until every known member rejoined (or the
// rebalance timeout drops the rest), protocol chosen by the members' votes, the leader's sync
// answering the parked followers, REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID
// on heartbeats, session expiry and LeaveGroup starting a rebalance.

import type { GroupProtocolError, JoinGroupAnswer, JoinGroupCall, LeaveGroupAnswer, LeaveGroupCall, ProtocolMetadata, SyncGroupAnswer, SyncGroupCall, GroupHeartbeatCall } from '../../src/groups/classic-calls.ts';
import type { GroupTransport } from '../../src/groups/group-member.ts';

interface Member {
  protocols: readonly ProtocolMetadata[];
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  joinWaiter: ((a: JoinGroupAnswer) => void) | undefined;
  syncWaiter: ((a: SyncGroupAnswer) => void) | undefined;
  assignment: Uint8Array;
  expiry: NodeJS.Timeout | undefined;
}

type State = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

const EMPTY: Uint8Array = new Uint8Array(0);

function joinError(error: GroupProtocolError, memberId: string): JoinGroupAnswer {
  return { error, generation: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] };
}

export class TinyClassicGroup implements GroupTransport {
  state: State = 'Empty';
  generation = 0;
  protocol: string | null = null;
  leader: string | null = null;
  readonly members = new Map<string, Member>();
  private readonly pending = new Set<string>();
  private rebalanceTimer: NodeJS.Timeout | undefined;
  private nextId = 0;

  join(c: JoinGroupCall): Promise<JoinGroupAnswer> {
    let id = c.memberId;
    if (id === '') {
      id = c.proposedMemberId ?? `${c.clientId}-${this.nextId++}`;
      if (c.requireKnownMemberId) {
        this.pending.add(id);
        return Promise.resolve(joinError('MEMBER_ID_REQUIRED', id));
      }
    } else if (!this.members.has(id) && !this.pending.has(id)) {
      return Promise.resolve(joinError('UNKNOWN_MEMBER_ID', id));
    }
    this.pending.delete(id);
    const m: Member = this.members.get(id) ?? { protocols: [], sessionTimeoutMs: c.sessionTimeoutMs, rebalanceTimeoutMs: c.rebalanceTimeoutMs, joinWaiter: undefined, syncWaiter: undefined, assignment: EMPTY, expiry: undefined };
    m.protocols = c.protocols;
    m.sessionTimeoutMs = c.sessionTimeoutMs;
    m.rebalanceTimeoutMs = c.rebalanceTimeoutMs;
    this.members.set(id, m);
    this.touch(id);
    return new Promise((resolve) => {
      m.joinWaiter = resolve;
      if (this.state !== 'PreparingRebalance') this.prepareRebalance();
      this.maybeCompleteJoin();
    });
  }

  sync(c: SyncGroupCall): Promise<SyncGroupAnswer> {
    const m = this.members.get(c.memberId);
    const answer = (error: GroupProtocolError | null, assignment = EMPTY): Promise<SyncGroupAnswer> => Promise.resolve({ error, protocolType: 'consumer', protocolName: this.protocol, assignment });
    if (m === undefined) return answer('UNKNOWN_MEMBER_ID');
    if (c.generation !== this.generation) return answer('ILLEGAL_GENERATION');
    if (this.state === 'PreparingRebalance') return answer('REBALANCE_IN_PROGRESS');
    if (this.state === 'Stable') return answer(null, m.assignment);
    this.touch(c.memberId);
    return new Promise((resolve) => {
      m.syncWaiter = resolve;
      if (c.memberId !== this.leader) return;
      for (const [id, member] of this.members) member.assignment = c.assignments.find((a) => a.memberId === id)?.assignment ?? EMPTY;
      this.state = 'Stable';
      for (const member of this.members.values()) {
        member.syncWaiter?.({ error: null, protocolType: 'consumer', protocolName: this.protocol, assignment: member.assignment });
        member.syncWaiter = undefined;
      }
    });
  }

  heartbeat(c: GroupHeartbeatCall): Promise<GroupProtocolError | null> {
    if (!this.members.has(c.memberId)) return Promise.resolve('UNKNOWN_MEMBER_ID');
    if (c.generation !== this.generation) return Promise.resolve('ILLEGAL_GENERATION');
    this.touch(c.memberId);
    return Promise.resolve(this.state === 'PreparingRebalance' ? 'REBALANCE_IN_PROGRESS' : null);
  }

  leave(c: LeaveGroupCall): Promise<LeaveGroupAnswer> {
    const members = c.members.map(({ memberId, groupInstanceId }) => {
      const known = this.members.has(memberId);
      if (known) this.remove(memberId);
      return { memberId, groupInstanceId, error: known ? null : ('UNKNOWN_MEMBER_ID' as const) };
    });
    return Promise.resolve({ error: null, members });
  }

  close(): void {
    clearTimeout(this.rebalanceTimer);
    for (const m of this.members.values()) clearTimeout(m.expiry);
  }

  private touch(id: string): void {
    const m = this.members.get(id);
    if (m === undefined) return;
    clearTimeout(m.expiry);
    // Kafka's shouldKeepAlive: a member waiting on its join or sync answer does not expire.
    m.expiry = setTimeout(() => (m.joinWaiter !== undefined || m.syncWaiter !== undefined ? this.touch(id) : this.remove(id)), m.sessionTimeoutMs);
  }

  private remove(id: string): void {
    const m = this.members.get(id);
    if (m === undefined) return;
    clearTimeout(m.expiry);
    this.members.delete(id);
    m.joinWaiter?.(joinError('UNKNOWN_MEMBER_ID', id));
    m.syncWaiter?.({ error: 'UNKNOWN_MEMBER_ID', protocolType: null, protocolName: null, assignment: EMPTY });
    if (this.members.size === 0) {
      clearTimeout(this.rebalanceTimer);
      this.state = 'Empty';
      this.generation++;
      this.leader = null;
      return;
    }
    if (this.leader === id) this.leader = null;
    if (this.state === 'PreparingRebalance') this.maybeCompleteJoin();
    else this.prepareRebalance();
  }

  private prepareRebalance(): void {
    for (const m of this.members.values()) {
      m.syncWaiter?.({ error: 'REBALANCE_IN_PROGRESS', protocolType: null, protocolName: null, assignment: EMPTY });
      m.syncWaiter = undefined;
    }
    this.state = 'PreparingRebalance';
    const timeoutMs = Math.max(...[...this.members.values()].map((m) => m.rebalanceTimeoutMs));
    clearTimeout(this.rebalanceTimer);
    this.rebalanceTimer = setTimeout(() => this.completeJoin(), timeoutMs);
  }

  private maybeCompleteJoin(): void {
    if ([...this.members.values()].every((m) => m.joinWaiter !== undefined)) this.completeJoin();
  }

  private completeJoin(): void {
    clearTimeout(this.rebalanceTimer);
    for (const [id, m] of [...this.members]) {
      if (m.joinWaiter !== undefined) continue;
      clearTimeout(m.expiry);
      this.members.delete(id);
    }
    if (this.members.size === 0) {
      this.state = 'Empty';
      return;
    }
    this.generation++;
    this.protocol = this.vote();
    if (this.leader === null || !this.members.has(this.leader)) this.leader = [...this.members.keys()][0] ?? null;
    this.state = 'CompletingRebalance';
    for (const [id, m] of this.members) {
      const waiter = m.joinWaiter;
      m.joinWaiter = undefined;
      this.touch(id);
      const members = id === this.leader ? [...this.members].map(([memberId, x]) => ({ memberId, groupInstanceId: null, metadata: x.protocols.find((p) => p.name === this.protocol)?.metadata ?? EMPTY })) : [];
      waiter?.({ error: null, generation: this.generation, protocolType: 'consumer', protocolName: this.protocol, leader: this.leader ?? '', memberId: id, members });
    }
  }

  /** Kafka's ClassicGroup.selectProtocol: among protocols every member supports, each member votes for its first. */
  private vote(): string | null {
    const all = [...this.members.values()];
    const candidates = (all[0]?.protocols ?? []).map((p) => p.name).filter((n) => all.every((m) => m.protocols.some((p) => p.name === n)));
    const votes = new Map<string, number>();
    for (const m of all) {
      const pick = m.protocols.find((p) => candidates.includes(p.name))?.name;
      if (pick !== undefined) votes.set(pick, (votes.get(pick) ?? 0) + 1);
    }
    return [...votes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
  }
}
