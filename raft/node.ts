import { RaftCore } from './core.ts';
import type { PersistentRaftStorage } from './persistent-storage.ts';
import type { Entry, Logger, Message, NodeId, RaftStatus, Ready, Rng, Snapshot, SoftState } from './types.ts';
import { NONE, silentLogger } from './types.ts';

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
  /**
   * Index the state machine had already applied before this start (when it persists its own
   * image). 0 means it starts empty and is restored from the stored snapshot.
   */
  readonly applied?: number;
  /** Randomness for election timeouts; defaults to Math.random (the driver is not the pure core). */
  readonly rng?: Rng;
  readonly logger?: Logger;
  /** Role or leader changed. */
  readonly onSoftState?: (soft: SoftState) => void;
  /**
   * Storage or the state machine failed: the node has stopped and must not be used again
   * (a raft node that cannot persist cannot keep its promises). Defaults to rethrowing.
   */
  readonly onFatal?: (err: unknown) => void;
}

export class NotLeaderError extends Error {
  constructor(readonly leaderId: NodeId) {
    super(leaderId === NONE ? 'not the raft leader; no leader is known' : `not the raft leader; the leader is node ${leaderId}`);
    this.name = 'NotLeaderError';
  }
}

/** The proposal's entry was overwritten by another leader's: it did not and will not commit. */
export class ProposalDroppedError extends Error {
  constructor(index: number) {
    super(`proposal at index ${index} was superseded by a new leader; it did not commit`);
    this.name = 'ProposalDroppedError';
  }
}

/**
 * Whether the proposal commits cannot be told here: its index was covered by a snapshot
 * installed from the leader before it applied, or this node stopped leading first.
 */
export class ProposalOutcomeUnknownError extends Error {
  constructor(index: number, why = 'was covered by a snapshot from the leader') {
    super(`proposal at index ${index} ${why}; its outcome is unknown`);
    this.name = 'ProposalOutcomeUnknownError';
  }
}

export class NodeClosedError extends Error {
  constructor() {
    super('raft node is closed');
    this.name = 'NodeClosedError';
  }
}

const defaultRng: Rng = { int: (n) => Math.floor(Math.random() * n) };
const DEFAULT_SNAPSHOT_ENTRIES = 10_000;

interface PendingProposal {
  readonly term: number;
  readonly resolve: (pos: { index: number; term: number }) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Drives a RaftCore: a ticker, the Ready loop and proposals. The Ready contract (types.ts)
 * lives here and only here: persist (sync) -> send -> apply -> advance, one Ready at a time.
 */
export class RaftNode {
  private core: RaftCore | undefined;
  private ticker: NodeJS.Timeout | undefined;
  /** The Ready loop's current run; undefined when idle. */
  private loop: Promise<void> | undefined;
  private closed = false;
  /** By log index. Bounded by the leader's own uncommitted tail. */
  private readonly pending = new Map<number, PendingProposal>();
  private lastSnapshotIndex = 0;
  /** Highest index applied here (entries, no-ops and snapshots). */
  private appliedIndex = 0;
  private readonly appliedWaiters: { index: number; resolve: () => void }[] = [];
  private readonly log: Logger;

  constructor(private readonly opts: RaftNodeOptions) {
    this.log = opts.logger ?? silentLogger;
  }

  /** Restore the state machine from the stored snapshot if it is behind, then begin ticking. */
  async start(): Promise<void> {
    const { storage, stateMachine } = this.opts;
    const snap = storage.snapshot();
    let applied = this.opts.applied ?? 0;
    if (snap.meta.index > applied) {
      await stateMachine.restore(snap);
      applied = snap.meta.index;
    }
    this.lastSnapshotIndex = snap.meta.index;
    this.appliedIndex = applied;
    this.core = new RaftCore({
      id: this.opts.id,
      voters: this.opts.voters,
      electionTicks: this.opts.electionTicks,
      heartbeatTicks: this.opts.heartbeatTicks,
      storage,
      rng: this.opts.rng ?? defaultRng,
      logger: this.log,
      applied,
      // Callers need an answer per proposal; the rpc layer forwards to the leader instead.
      disableProposalForwarding: true,
    });
    this.ticker = setInterval(() => {
      this.core?.tick();
      this.schedule();
    }, this.opts.tickMs);
    this.schedule();
  }

  /** Stop ticking, let the Ready in flight finish, reject pending proposals. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    await this.loop;
    this.rejectAll(new NodeClosedError());
  }

  /** Deliver a message received from the transport. */
  receive(msg: Message): void {
    if (this.closed || this.core === undefined) return;
    this.core.step(msg);
    this.schedule();
  }

  /** Resolves with the entry's position once it is committed and applied here. */
  propose(data: Uint8Array): Promise<{ index: number; term: number }> {
    if (this.closed || this.core === undefined) return Promise.reject(new NodeClosedError());
    const r = this.core.propose(data);
    if (r.kind !== 'appended') return Promise.reject(new NotLeaderError(r.kind === 'not-leader' ? r.leaderId : r.to));
    const promise = new Promise<{ index: number; term: number }>((resolve, reject) => {
      this.pending.set(r.index, { term: r.term, resolve, reject });
    });
    this.schedule();
    return promise;
  }

  /** Resolves once the entry at `index` (or a snapshot covering it) has been applied here. */
  whenApplied(index: number): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  status(): RaftStatus {
    if (this.core === undefined) throw new NodeClosedError();
    return this.core.status();
  }

  private schedule(): void {
    if (this.loop !== undefined || this.closed || this.core === undefined) return;
    if (!this.core.hasReady()) return;
    this.loop = this.run().finally(() => {
      this.loop = undefined;
      // Work that arrived while the last Ready was being persisted.
      this.schedule();
    });
  }

  private async run(): Promise<void> {
    const core = this.core;
    if (core === undefined) return;
    try {
      while (core.hasReady()) {
        const rd = core.ready();
        await this.handle(rd);
        core.advance(rd);
        await this.maybeCompact(core);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private async handle(rd: Ready): Promise<void> {
    const { storage, transport, stateMachine } = this.opts;
    // 1. Persist, durably, before anything that depends on it leaves this node.
    if (rd.hardState !== undefined || rd.entries.length > 0 || rd.snapshot !== undefined) {
      await storage.persist({
        ...(rd.hardState !== undefined && { hardState: rd.hardState }),
        ...(rd.snapshot !== undefined && { snapshot: rd.snapshot }),
        entries: rd.entries,
      });
    }
    // 2. Send.
    for (const m of rd.messages) transport.send(m);
    if (rd.softState !== undefined) {
      // A proposal still pending when this node stops leading may commit under the next leader
      // or vanish; its proposer must not wait forever for an answer this node cannot give.
      if (rd.softState.role !== 'leader') {
        for (const [i, p] of this.pending) p.reject(new ProposalOutcomeUnknownError(i, 'this node stopped leading before it committed'));
        this.pending.clear();
      }
      this.opts.onSoftState?.(rd.softState);
    }
    // 3. Apply.
    if (rd.snapshot !== undefined) {
      await stateMachine.restore(rd.snapshot);
      this.lastSnapshotIndex = rd.snapshot.meta.index;
      this.settleUpTo(rd.snapshot.meta.index, undefined);
      this.noteApplied(rd.snapshot.meta.index);
    }
    for (const e of rd.committedEntries) {
      if (e.data.length > 0) await stateMachine.apply(e);
      this.settleUpTo(e.index, e);
    }
    const last = rd.committedEntries[rd.committedEntries.length - 1];
    if (last !== undefined) this.noteApplied(last.index);
  }

  private noteApplied(index: number): void {
    this.appliedIndex = Math.max(this.appliedIndex, index);
    for (let k = this.appliedWaiters.length - 1; k >= 0; k--) {
      const w = this.appliedWaiters[k];
      if (w !== undefined && w.index <= this.appliedIndex) {
        this.appliedWaiters.splice(k, 1);
        w.resolve();
      }
    }
  }

  /** Settle proposals at or below `index`; `entry` is the one applied at exactly `index`. */
  private settleUpTo(index: number, entry: Entry | undefined): void {
    for (const [i, p] of this.pending) {
      if (i > index) continue;
      this.pending.delete(i);
      if (entry === undefined) {
        // Covered by a snapshot from the leader: whether our entry is in it cannot be told.
        p.reject(new ProposalOutcomeUnknownError(i));
      } else if (i === index && entry.term === p.term) {
        p.resolve({ index: i, term: p.term });
      } else {
        p.reject(new ProposalDroppedError(i));
      }
    }
  }

  private async maybeCompact(core: RaftCore): Promise<void> {
    const every = this.opts.snapshotEntries ?? DEFAULT_SNAPSHOT_ENTRIES;
    const { applied } = core.status();
    if (applied - this.lastSnapshotIndex < every) return;
    const data = await this.opts.stateMachine.snapshot();
    await this.opts.storage.compact(applied, data, this.opts.voters);
    this.lastSnapshotIndex = applied;
    this.log.info({ index: applied, bytes: data.length }, 'compacted raft log behind a snapshot');
  }

  private rejectAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private fail(err: unknown): void {
    this.closed = true;
    clearInterval(this.ticker);
    this.rejectAll(new NodeClosedError());
    if (this.opts.onFatal !== undefined) this.opts.onFatal(err);
    else throw err;
  }
}
