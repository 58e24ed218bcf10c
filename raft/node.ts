// PLACEHOLDER: signature only, being written now.
import type { PersistentRaftStorage } from './persistent-storage.ts';
import type { Entry, Logger, Message, NodeId, RaftStatus, Rng, Snapshot } from './types.ts';

/** How the driver reaches peers. Best effort: may drop, delay, reorder; raft copes. */
export interface Transport {
  send(msg: Message): void;
}

/** The replicated state machine the driver feeds committed entries to. */
export interface StateMachine {
  /** Apply one committed entry (never the empty leader no-op). Called in log order. */
  apply(entry: Entry): void | Promise<void>;
  /** Replace all state with a snapshot image (installed from the leader or on restart). */
  restore(snapshot: Snapshot): void | Promise<void>;
  /** Serialise the state as of the last applied entry, for log compaction. */
  snapshot(): Uint8Array | Promise<Uint8Array>;
}

export interface RaftNodeOptions {
  readonly id: NodeId;
  readonly voters: readonly NodeId[];
  readonly storage: PersistentRaftStorage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine;
  /** Wall-clock length of one tick. */
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Take a snapshot and compact once this many entries were applied since the last one. */
  readonly snapshotEntries?: number;
  readonly rng?: Rng;
  readonly logger?: Logger;
}

export class NotLeaderError extends Error {
  constructor(readonly leaderId: NodeId) {
    super(leaderId === 0 ? 'not the raft leader; no leader is known' : `not the raft leader; the leader is node ${leaderId}`);
    this.name = 'NotLeaderError';
  }
}

/** Drives a RaftCore: ticker, Ready loop (persist -> send -> apply -> advance), proposals. */
export class RaftNode {
  constructor(opts: RaftNodeOptions) { void opts; }
  /** Begin ticking. The node restores the state machine from the stored snapshot first. */
  async start(): Promise<void> {}
  /** Stop ticking, finish the Ready in flight, reject pending proposals. */
  async close(): Promise<void> {}
  /** Deliver a message received from the transport. */
  receive(msg: Message): void { void msg; }
  /** Resolves with the entry's position once it is committed and applied here. */
  async propose(data: Uint8Array): Promise<{ index: number; term: number }> { void data; throw new Error('not yet'); }
  status(): RaftStatus { throw new Error('not yet'); }
}
