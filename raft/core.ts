import { assert, assertNever } from './assert.ts';
import { Progress } from './progress.ts';
import { quorumIndex, majority, tallyVotes } from './quorum.ts';
import { RaftLog } from './raft-log.ts';
import type {
  AppendRequest,
  AppendResponse,
  Entry,
  HardState,
  HeartbeatRequest,
  Logger,
  Message,
  NodeId,
  ProgressStatus,
  ProposeResult,
  RaftConfig,
  RaftStatus,
  Ready,
  Role,
  SnapshotRequest,
  SoftState,
  VoteRequest,
  VoteResponse,
} from './types.ts';
import { NONE, silentLogger } from './types.ts';

// Distributes MessageBase's fields over every member of the Message union.
type Outgoing = Message extends infer M ? (M extends Message ? Omit<M, 'from'> : never) : never;

const DEFAULT_MAX_INFLIGHT = 256;
const DEFAULT_MAX_ENTRIES_PER_MSG = 512;
const DEFAULT_MAX_BYTES_PER_MSG = 1024 * 1024;
/** Bound on committed entries handed out per Ready (TIGER_STYLE: every batch has a bound). */
const MAX_COMMITTED_PER_READY = 1024;

/**
 * The Raft state machine (etcd-io/raft's raft.go + rawnode.go in one). Pure and synchronous:
 * no I/O, no clock, no randomness except through the injected Rng. Inputs are tick(), step(),
 * propose(), campaign(); outputs are collected into a Ready (see types.ts for its contract).
 */
export class RaftCore {
  readonly id: NodeId;
  private readonly voters: readonly NodeId[];
  private readonly log: RaftLog;
  private readonly logger: Logger;
  private readonly cfg: Required<Omit<RaftConfig, 'logger' | 'applied'>>;

  private term = 0;
  private vote: NodeId = NONE;
  private role: Role = 'follower';
  private leaderId: NodeId = NONE;

  /** Ticks since the last election timeout reset (followers/candidates) or quorum check (leader). */
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** Invariant: in [electionTicks, 2 * electionTicks). */
  private randomizedElectionTimeout = 0;
  /** Monotonic tick counter, for progress bookkeeping only. */
  private now = 0;

  private votes = new Map<NodeId, boolean>();
  private progress = new Map<NodeId, Progress>();
  private msgs: Message[] = [];

  private prevSoft: SoftState;
  private prevHard: HardState;
  /** A Ready has been handed out and not yet advanced. */
  private readyInFlight = false;

  constructor(config: RaftConfig) {
    assert(config.id !== NONE, 'node id must be non-zero');
    assert(config.voters.includes(config.id), `node ${config.id} is not among the voters`);
    assert(config.heartbeatTicks > 0 && config.heartbeatTicks < config.electionTicks, 'heartbeatTicks must be in (0, electionTicks)');
    this.id = config.id;
    this.voters = [...config.voters].sort((a, b) => a - b);
    this.logger = config.logger ?? silentLogger;
    this.cfg = {
      id: config.id,
      voters: this.voters,
      electionTicks: config.electionTicks,
      heartbeatTicks: config.heartbeatTicks,
      storage: config.storage,
      rng: config.rng,
      preVote: config.preVote ?? true,
      checkQuorum: config.checkQuorum ?? true,
      maxInflightMsgs: config.maxInflightMsgs ?? DEFAULT_MAX_INFLIGHT,
      maxEntriesPerMsg: config.maxEntriesPerMsg ?? DEFAULT_MAX_ENTRIES_PER_MSG,
      maxBytesPerMsg: config.maxBytesPerMsg ?? DEFAULT_MAX_BYTES_PER_MSG,
      disableProposalForwarding: config.disableProposalForwarding ?? false,
    };
    this.log = new RaftLog(config.storage);
    const { hardState } = config.storage.initialState();
    this.term = hardState.term;
    this.vote = hardState.vote;
    assert(hardState.commit <= this.log.lastIndex(), `stored commit ${hardState.commit} beyond last index`);
    this.log.commitTo(hardState.commit);
    if (config.applied !== undefined && config.applied > this.log.applied) this.log.appliedTo(config.applied);
    this.becomeFollower(this.term, NONE);
    this.prevSoft = { role: this.role, leaderId: this.leaderId };
    this.prevHard = this.hardState();
  }

  // ---- inputs ---------------------------------------------------------------------------

  tick(): void {
    this.now++;
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Start an election now (pre-vote first when enabled). */
  campaign(): void {
    if (this.role === 'leader') return;
    if (this.cfg.preVote) this.becomePreCandidate();
    else this.becomeCandidate();
  }

  propose(data: Uint8Array): ProposeResult {
    assert(data.length > 0, 'proposals must not be empty (empty data is the leader no-op)');
    if (this.role === 'leader') {
      const e = this.appendEntry(data);
      return { kind: 'appended', index: e.index, term: e.term };
    }
    if (this.leaderId === NONE || this.cfg.disableProposalForwarding) {
      return { kind: 'not-leader', leaderId: this.leaderId };
    }
    this.send({ type: 'propose', to: this.leaderId, term: 0, data: [data] });
    return { kind: 'forwarded', to: this.leaderId };
  }

  step(m: Message): void {
    assert(m.to === this.id, `message for ${m.to} delivered to ${this.id}`);
    if (!this.voters.includes(m.from)) {
      this.logger.warn({ from: m.from, type: m.type }, 'dropping message from a non-voter');
      return;
    }
    if (m.type === 'propose') {
      this.stepPropose(m.data);
      return;
    }
    if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }

    switch (m.type) {
      case 'pre-vote':
      case 'vote':
        this.handleVoteRequest(m);
        return;
      case 'pre-vote-resp':
      case 'vote-resp':
        this.handleVoteResponse(m);
        return;
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.stepFromLeader(m);
        return;
      case 'append-resp':
        this.handleAppendResponse(m);
        return;
      case 'heartbeat-resp':
        this.handleHeartbeatResponse(m.from);
        return;
      default:
        assertNever(m);
    }
  }

  // ---- term rules (Raft §5.1) -----------------------------------------------------------

  /** A message from a higher term. Returns false if it is to be ignored. */
  private stepHigherTerm(m: Exclude<Message, { type: 'propose' }>): boolean {
    if (m.type === 'pre-vote' || m.type === 'vote') {
      // Thesis §4.2.3 / check-quorum lease: while we hear from a live leader, a node asking
      // for votes is disruptive (partitioned and rejoining), not a sign the leader is gone.
      // A leader is always in its lease: check-quorum makes it step down once it is not.
      const inLease = this.cfg.checkQuorum && this.leaderId !== NONE && this.electionElapsed < this.cfg.electionTicks;
      if (inLease) {
        this.logger.debug({ from: m.from, type: m.type, term: m.term }, 'ignoring vote request inside leader lease');
        return false;
      }
    }
    if (m.type === 'pre-vote') return true; // never changes our term
    if (m.type === 'pre-vote-resp' && !m.reject) return true; // answers our future term
    const leader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot' ? m.from : NONE;
    this.logger.info({ from: m.from, type: m.type, term: m.term, oldTerm: this.term }, 'higher term seen');
    this.becomeFollower(m.term, leader);
    return true;
  }

  private stepLowerTerm(m: Exclude<Message, { type: 'propose' }>): void {
    if ((m.type === 'append' || m.type === 'heartbeat') && (this.cfg.checkQuorum || this.cfg.preVote)) {
      // A deposed leader that cannot learn of the new term (its probes are ignored) would
      // disrupt the cluster forever; tell it our term so it steps down (etcd does the same).
      this.send({ type: 'append-resp', to: m.from, term: this.term, reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
    } else if (m.type === 'pre-vote') {
      this.send({ type: 'pre-vote-resp', to: m.from, term: this.term, reject: true });
    }
    // Everything else from an older term is stale: drop it.
  }

  // ---- elections (Raft §5.2, thesis §9.6 pre-vote) --------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign();
    }
  }

  private handleVoteRequest(m: VoteRequest): void {
    const respType = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.leaderId === NONE) ||
      (m.type === 'pre-vote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) {
      // The response carries the request's term so the candidate counts it (for pre-vote
      // that term is one we are not in yet).
      this.send({ type: respType, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
      this.logger.debug({ to: m.from, type: m.type, term: m.term }, 'granted vote');
    } else {
      this.send({ type: respType, to: m.from, term: this.term, reject: true });
    }
  }

  private handleVoteResponse(m: VoteResponse): void {
    const expected = this.role === 'pre-candidate' ? 'pre-vote-resp' : this.role === 'candidate' ? 'vote-resp' : undefined;
    if (m.type !== expected) return;
    this.votes.set(m.from, !m.reject);
    switch (tallyVotes(this.voters, this.votes)) {
      case 'won':
        if (this.role === 'pre-candidate') this.becomeCandidate();
        else this.becomeLeader();
        return;
      case 'lost':
        this.becomeFollower(this.term, NONE);
        return;
      case 'pending':
        return;
    }
  }

  private requestVotes(type: 'pre-vote' | 'vote', term: number): void {
    this.votes = new Map([[this.id, true]]);
    if (tallyVotes(this.voters, this.votes) === 'won') {
      // Single-voter cluster.
      if (type === 'pre-vote') this.becomeCandidate();
      else this.becomeLeader();
      return;
    }
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const to of this.voters) {
      if (to !== this.id) this.send({ type, to, term, lastLogIndex, lastLogTerm });
    }
  }

  // ---- role transitions -----------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.leaderId = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.cfg.rng.int(this.cfg.electionTicks);
    this.votes = new Map();
    this.progress = new Map();
  }

  private becomeFollower(term: number, leader: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.leaderId = leader;
    this.logger.info({ term, leader }, 'became follower');
  }

  private becomePreCandidate(): void {
    // Pre-vote changes neither term nor vote: a node that cannot win never disrupts anyone.
    this.role = 'pre-candidate';
    this.leaderId = NONE;
    this.votes = new Map();
    this.logger.info({ term: this.term }, 'became pre-candidate');
    this.requestVotes('pre-vote', this.term + 1);
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.logger.info({ term: this.term }, 'became candidate');
    this.requestVotes('vote', this.term);
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader');
    this.reset(this.term);
    this.role = 'leader';
    this.leaderId = this.id;
    const last = this.log.lastIndex();
    for (const v of this.voters) {
      const pr = new Progress(last + 1, this.cfg.maxInflightMsgs);
      pr.lastContactTick = this.now; // every peer gets one election timeout before check-quorum counts it out
      if (v === this.id) {
        pr.match = last;
        pr.becomeReplicate();
      }
      this.progress.set(v, pr);
    }
    this.logger.info({ term: this.term }, 'became leader');
    // Raft §5.4.2 / §8: an entry of the new term commits everything before it.
    this.appendEntry(new Uint8Array(0));
  }

  // ---- leader ---------------------------------------------------------------------------

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    if (this.cfg.checkQuorum && !this.quorumRecentlyActive()) {
      this.logger.warn({ term: this.term }, 'stepping down: no contact with a quorum within an election timeout');
      this.becomeFollower(this.term, NONE);
      return;
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /**
   * Thesis §6.2 check-quorum: has a majority (self included) answered within the last
   * election timeout? Checked every tick, so a leader cut off from the majority steps down at
   * most one election timeout after it last heard from it.
   */
  private quorumRecentlyActive(): boolean {
    let active = 0;
    for (const [id, pr] of this.progress) {
      if (id === this.id || this.now - pr.lastContactTick < this.cfg.electionTicks) active++;
    }
    return active >= majority(this.voters.length);
  }

  private stepPropose(data: readonly Uint8Array[]): void {
    if (this.role !== 'leader') {
      this.logger.debug({ leader: this.leaderId }, 'dropping forwarded proposal: not the leader');
      return;
    }
    for (const d of data) if (d.length > 0) this.appendEntry(d);
  }

  private appendEntry(data: Uint8Array): Entry {
    const e: Entry = { index: this.log.lastIndex() + 1, term: this.term, data };
    this.log.append([e]);
    this.selfProgress().maybeUpdate(e.index);
    this.maybeCommit();
    this.broadcastAppend();
    return e;
  }

  private selfProgress(): Progress {
    const pr = this.progress.get(this.id);
    assert(pr !== undefined, 'leader tracks itself');
    return pr;
  }

  private maybeCommit(): boolean {
    const matches = this.voters.map((v) => this.progress.get(v)?.match ?? 0);
    return this.log.maybeCommit(quorumIndex(matches), this.term);
  }

  private broadcastAppend(sendIfEmpty = false): void {
    for (const to of this.voters) if (to !== this.id) this.sendAppend(to, sendIfEmpty);
  }

  private broadcastHeartbeat(): void {
    for (const to of this.voters) {
      if (to === this.id) continue;
      const pr = this.progress.get(to);
      const commit = Math.min(pr?.match ?? 0, this.log.committed);
      this.send({ type: 'heartbeat', to, term: this.term, commit });
    }
  }

  /**
   * Send the entries `to` is missing, or a snapshot if they were compacted away. Returns
   * true if a message was sent. With sendIfEmpty an empty append still goes out (it probes
   * the follower's log after lost messages).
   */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    assert(pr !== undefined, `progress for ${to}`);
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries =
      prevTerm === undefined
        ? undefined
        : this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.maxEntriesPerMsg, this.cfg.maxBytesPerMsg);
    if (prevTerm === undefined || entries === undefined) {
      return this.sendSnapshot(to, pr);
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'append', to, term: this.term, prevIndex, prevTerm, entries, commit: this.log.committed });
    const last = entries[entries.length - 1];
    pr.sentEntries(entries.length, last?.index ?? prevIndex);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const snapshot = this.cfg.storage.snapshot();
    assert(snapshot.meta.index > 0, 'entries are compacted only behind a snapshot');
    this.logger.info({ to, index: snapshot.meta.index, term: snapshot.meta.term }, 'sending snapshot');
    this.send({ type: 'snapshot', to, term: this.term, snapshot });
    pr.becomeSnapshot(snapshot.meta.index, this.now);
    return true;
  }

  private handleAppendResponse(m: AppendResponse): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(m.from);
    assert(pr !== undefined, `progress for ${m.from}`);
    this.noteContact(pr);
    if (m.reject) {
      // Fast backtracking: skip the follower's whole conflicting term in one step.
      const probeFrom = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (pr.maybeDecrTo(m.index, probeFrom)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    }
    // A new commit index goes out at once, in empty appends if need be, rather than waiting
    // for the next heartbeat: followers apply (and answer reads) a heartbeat sooner.
    if (this.maybeCommit()) this.broadcastAppend(true);
    // Pipelining: keep the window full while there is more to send.
    while (this.sendAppend(m.from, false)) {
      if (pr.state !== 'replicate') break;
    }
  }

  private handleHeartbeatResponse(from: NodeId): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(from);
    assert(pr !== undefined, `progress for ${from}`);
    this.noteContact(pr);
    pr.onHeartbeatResponse();
    // A snapshot that was never acknowledged (lost, or the follower restarted) is retried by
    // going back to probing, which resends it if still needed.
    if (pr.state === 'snapshot' && this.now - pr.snapshotSentTick >= this.cfg.electionTicks) pr.becomeProbe();
    if (pr.match < this.log.lastIndex()) this.sendAppend(from, true);
  }

  private noteContact(pr: Progress): void {
    pr.lastContactTick = this.now;
  }

  // ---- follower side of replication ------------------------------------------------------

  private stepFromLeader(m: AppendRequest | HeartbeatRequest | SnapshotRequest): void {
    if (this.role === 'leader') {
      assert(false, `two leaders in term ${this.term}: ${this.id} and ${m.from}`);
    }
    if (this.role !== 'follower') this.becomeFollower(this.term, m.from);
    this.electionElapsed = 0;
    this.leaderId = m.from;
    switch (m.type) {
      case 'append':
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
        this.send({ type: 'heartbeat-resp', to: m.from, term: this.term });
        return;
      case 'snapshot':
        this.handleSnapshot(m);
        return;
    }
  }

  private handleAppend(m: AppendRequest): void {
    const ack = (index: number): void =>
      this.send({ type: 'append-resp', to: m.from, term: this.term, reject: false, index, hintIndex: 0, hintTerm: 0 });
    if (m.prevIndex < this.log.committed) {
      ack(this.log.committed);
      return;
    }
    const lastNew = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      ack(lastNew);
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.logger.debug({ prevIndex: m.prevIndex, prevTerm: m.prevTerm, hint }, 'rejecting append: log mismatch');
    this.send({ type: 'append-resp', to: m.from, term: this.term, reject: true, index: m.prevIndex, hintIndex: hint.index, hintTerm: hint.term });
  }

  private handleSnapshot(m: SnapshotRequest): void {
    const { index, term } = m.snapshot.meta;
    const ack = (i: number): void =>
      this.send({ type: 'append-resp', to: m.from, term: this.term, reject: false, index: i, hintIndex: 0, hintTerm: 0 });
    if (index <= this.log.committed) {
      ack(this.log.committed);
      return;
    }
    if (this.log.matchTerm(index, term)) {
      // We already hold the snapshot's last entry: just fast-forward the commit index.
      this.log.commitTo(index);
      ack(this.log.lastIndex());
      return;
    }
    this.logger.info({ index, term }, 'installing snapshot from leader');
    this.log.restore(m.snapshot);
    ack(this.log.lastIndex());
  }

  // ---- output ---------------------------------------------------------------------------

  private send(m: Outgoing): void {
    this.msgs.push({ ...m, from: this.id });
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  hasReady(): boolean {
    if (this.readyInFlight) return false;
    const hs = this.hardState();
    return (
      this.msgs.length > 0 ||
      this.log.unstableEntries().length > 0 ||
      this.log.pendingSnapshot() !== undefined ||
      this.log.hasNextCommitted() ||
      !sameHardState(hs, this.prevHard) ||
      this.role !== this.prevSoft.role ||
      this.leaderId !== this.prevSoft.leaderId
    );
  }

  ready(): Ready {
    assert(!this.readyInFlight, 'ready() called again before advance()');
    this.readyInFlight = true;
    const soft: SoftState = { role: this.role, leaderId: this.leaderId };
    const hs = this.hardState();
    const snapshot = this.log.pendingSnapshot();
    const rd: {
      -readonly [K in keyof Ready]: Ready[K];
    } = {
      entries: [...this.log.unstableEntries()],
      messages: this.msgs,
      committedEntries: this.log.nextCommitted(MAX_COMMITTED_PER_READY),
    };
    this.msgs = [];
    if (soft.role !== this.prevSoft.role || soft.leaderId !== this.prevSoft.leaderId) {
      rd.softState = soft;
      this.prevSoft = soft;
    }
    if (!sameHardState(hs, this.prevHard)) {
      rd.hardState = hs;
      this.prevHard = hs;
    }
    if (snapshot !== undefined) rd.snapshot = snapshot;
    return rd;
  }

  advance(rd: Ready): void {
    assert(this.readyInFlight, 'advance() without ready()');
    this.readyInFlight = false;
    if (rd.snapshot !== undefined) {
      this.log.stableSnapTo(rd.snapshot.meta.index);
      this.log.appliedTo(rd.snapshot.meta.index);
    }
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) this.log.stableTo(last.index, last.term);
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied !== undefined) this.log.appliedTo(lastApplied.index);
  }

  /**
   * Term of entry i in this node's log, persisted or not; undefined when i is compacted into
   * the snapshot or beyond the end. For invariant checkers and diagnostics.
   */
  logTermAt(i: number): number | undefined {
    return this.log.term(i);
  }

  /** First index still held as an entry (everything before is in the snapshot). */
  logFirstIndex(): number {
    return this.log.firstIndex();
  }

  status(): RaftStatus {
    const base = {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leaderId: this.leaderId,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
    };
    if (this.role !== 'leader') return base;
    const progress = new Map<NodeId, ProgressStatus>();
    for (const [id, pr] of this.progress) {
      progress.set(id, {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        ticksSinceContact: id === this.id ? 0 : this.now - pr.lastContactTick,
      });
    }
    return { ...base, progress };
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
