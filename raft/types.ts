// Public types of the raft library. The library knows nothing of topics or brokers: an entry's
// data is opaque bytes to it.

export type NodeId = number;

/** No node: used for `vote` and `leaderId` when there is none. Node ids are positive integers. */
export const NONE = 0;

/**
 * One log entry. A zero-length `data` is the no-op a new leader appends to commit entries of
 * earlier terms (Raft §5.4.2, §8); propose() refuses empty data so the two cannot be confused.
 */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/** What must be on stable storage before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  /** Candidate voted for in `term`, or NONE. */
  readonly vote: NodeId;
  /** Highest index known committed. Persisting it is an optimisation, not a safety need. */
  readonly commit: number;
}

export interface SnapshotMeta {
  /** Last index covered by the snapshot. */
  readonly index: number;
  /** Term of the entry at `index`. */
  readonly term: number;
  readonly voters: readonly NodeId[];
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The application's state machine image at meta.index. */
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

// ---- messages ---------------------------------------------------------------------------

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /**
   * Sender's term. For pre-vote requests it is the term the sender *would* campaign in
   * (its own term + 1); pre-vote responses carry the term of the request they answer when
   * granted, else the responder's term.
   */
  readonly term: number;
}

export interface VoteRequest extends MessageBase {
  readonly type: 'pre-vote' | 'vote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

export interface VoteResponse extends MessageBase {
  readonly type: 'pre-vote-resp' | 'vote-resp';
  readonly reject: boolean;
}

export interface AppendRequest extends MessageBase {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendResponse extends MessageBase {
  readonly type: 'append-resp';
  readonly reject: boolean;
  /** On success: the index the follower now matches up to. On reject: the prevIndex refused. */
  readonly index: number;
  /**
   * On reject, fast backtracking (etcd's findConflictByTerm): the largest index the follower
   * has whose term is <= hintTerm, and that term. The leader probes from there.
   */
  readonly hintIndex: number;
  readonly hintTerm: number;
}

export interface HeartbeatRequest extends MessageBase {
  readonly type: 'heartbeat';
  /** min(follower's match, leader commit): never ahead of what the follower is known to hold. */
  readonly commit: number;
}

export interface HeartbeatResponse extends MessageBase {
  readonly type: 'heartbeat-resp';
}

export interface SnapshotRequest extends MessageBase {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

/** A proposal forwarded by a follower to the leader it knows (term 0: not term-checked). */
export interface ProposeRequest extends MessageBase {
  readonly type: 'propose';
  readonly data: readonly Uint8Array[];
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotRequest
  | ProposeRequest;

export type MessageType = Message['type'];

// ---- Ready ------------------------------------------------------------------------------

export interface SoftState {
  readonly role: Role;
  readonly leaderId: NodeId;
}

/**
 * Everything the core asks its driver to do. The driver MUST handle a Ready in this order
 * (the contract of etcd's doc.go, simplified to "persist everything before sending anything"):
 *
 *   1. Persist `snapshot` (if any), then `hardState` (if any) and `entries` atomically and
 *      durably (fsync). `entries` may overwrite the stored log from entries[0].index on:
 *      everything stored at or after that index is discarded first.
 *   2. Send `messages`. Never before step 1 is durable: a vote or an append ack promises
 *      what was just persisted.
 *   3. Apply `snapshot` (if any) to the state machine, then `committedEntries` in order.
 *   4. Call `advance(ready)`.
 *
 * No other call into the core may happen between ready() and advance() except tick/step/
 * propose, whose effects appear in the next Ready.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly snapshot?: Snapshot;
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
}

// ---- injected seams ---------------------------------------------------------------------

/** A source of randomness; seeded in tests so a run replays exactly. */
export interface Rng {
  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
}

/** The subset of pino the core uses, so the simulator can capture or silence it. */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
};

/**
 * The core's read-only view of stable storage. The driver writes to it (through
 * PersistentRaftStorage in raft/node.ts) only while handling a Ready, so every read here sees
 * exactly what has been persisted. All indices are absolute log indices.
 *
 * Invariant: firstIndex() === snapshot().meta.index + 1 and lastIndex() >= firstIndex() - 1.
 */
export interface RaftStorage {
  initialState(): { hardState: HardState };
  /** Entries [lo, hi); lo >= firstIndex(), hi <= lastIndex() + 1. */
  entries(lo: number, hi: number): Entry[];
  /** Term of entry i, for firstIndex() - 1 <= i <= lastIndex() (the snapshot's index included). */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

export type ProposeResult =
  | { readonly kind: 'appended'; readonly index: number; readonly term: number }
  | { readonly kind: 'forwarded'; readonly to: NodeId }
  | { readonly kind: 'not-leader'; readonly leaderId: NodeId };

export interface RaftConfig {
  readonly id: NodeId;
  /** Voting members, the node itself included. Fixed for now (no membership changes). */
  readonly voters: readonly NodeId[];
  /**
   * Base election timeout in ticks. Each follower/candidate waits a random number of ticks in
   * [electionTicks, 2 * electionTicks) before campaigning (Raft §5.2).
   */
  readonly electionTicks: number;
  /** Leader sends heartbeats every heartbeatTicks; must be < electionTicks. */
  readonly heartbeatTicks: number;
  readonly storage: RaftStorage;
  readonly rng: Rng;
  readonly logger?: Logger;
  /** Raft thesis §9.6: campaign only after a pre-vote round a majority would grant. */
  readonly preVote?: boolean;
  /** Raft thesis §6.2: a leader not heard from a majority within an election timeout steps down. */
  readonly checkQuorum?: boolean;
  /** Pipelining bound: append messages in flight per follower before waiting for acks. */
  readonly maxInflightMsgs?: number;
  /** At most this many entries per append message. */
  readonly maxEntriesPerMsg?: number;
  /** Bytes of entry data per append message (at least one entry is always sent). */
  readonly maxBytesPerMsg?: number;
  /** Last index the state machine applied before a restart (0 = replay from the snapshot). */
  readonly applied?: number;
  /** When true, a follower answers not-leader instead of forwarding proposals. */
  readonly disableProposalForwarding?: boolean;
}

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  /** Ticks since this peer was last heard from (for status pages). */
  readonly ticksSinceContact: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId;
  readonly leaderId: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  /** Only on the leader: replication progress of every voter (itself included). */
  readonly progress?: ReadonlyMap<NodeId, ProgressStatus>;
}
