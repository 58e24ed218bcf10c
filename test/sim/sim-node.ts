import { RaftCore } from '../../raft/core.ts';
import { MemoryRaftStorage } from '../../raft/memory-storage.ts';
import type { Logger, NodeId, Ready } from '../../raft/types.ts';
import type { InvariantChecker } from './invariants.ts';
import type { Prng } from './prng.ts';

export interface SimNodeConfig {
  readonly id: NodeId;
  readonly voters: readonly NodeId[];
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxInflightMsgs: number;
  readonly maxEntriesPerMsg: number;
  readonly rng: Prng;
  readonly logger: Logger;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const encodeText = (s: string): Uint8Array => encoder.encode(s);
export const decodeText = (b: Uint8Array): string => decoder.decode(b);

/** The state machine's snapshot: the whole applied sequence (small in the simulator). */
export const encodeStateMachine = (sm: readonly string[]): Uint8Array => encoder.encode(JSON.stringify(sm));
export function decodeStateMachine(data: Uint8Array): string[] {
  if (data.length === 0) return [];
  return JSON.parse(decoder.decode(data)) as string[];
}

/**
 * One simulated node: a RaftCore over a MemoryRaftStorage that holds exactly what has been
 * synced. A crash drops the core, the Ready being persisted and the state machine; a restart
 * builds them again from the storage alone, as a real process restart would.
 */
export class SimNode {
  /** Synced state: survives crashes. Written only when a sync completes. */
  readonly storage: MemoryRaftStorage;
  /** Undefined while crashed. */
  core: RaftCore | undefined;
  /** The Ready being persisted (at most one at a time, as in the real driver). */
  pending: Ready | undefined;
  /** Fault injection: the node loses power before `pending` is synced. */
  crashBeforeSync = false;
  /** Bumped on every crash: events scheduled for an older incarnation are void. */
  incarnation = 0;
  /** State machine: sm[i - 1] is the data applied at log index i ('' for a leader no-op). */
  sm: string[] = [];

  constructor(readonly cfg: SimNodeConfig) {
    this.storage = new MemoryRaftStorage(cfg.voters);
  }

  get id(): NodeId {
    return this.cfg.id;
  }

  get up(): boolean {
    return this.core !== undefined;
  }

  boot(): void {
    const snap = this.storage.snapshot();
    this.sm = decodeStateMachine(snap.data);
    this.core = new RaftCore({
      id: this.cfg.id,
      voters: this.cfg.voters,
      electionTicks: this.cfg.electionTicks,
      heartbeatTicks: this.cfg.heartbeatTicks,
      storage: this.storage,
      rng: this.cfg.rng,
      logger: this.cfg.logger,
      preVote: this.cfg.preVote,
      checkQuorum: this.cfg.checkQuorum,
      maxInflightMsgs: this.cfg.maxInflightMsgs,
      maxEntriesPerMsg: this.cfg.maxEntriesPerMsg,
      applied: snap.meta.index,
    });
  }

  crash(): void {
    this.core = undefined;
    this.pending = undefined;
    this.crashBeforeSync = false;
    this.sm = [];
    this.incarnation++;
  }

  /**
   * Steps 1, 3 and 4 of the Ready contract once its sync is done: make it durable, apply the
   * snapshot and committed entries (checked by `checker`), advance. The caller sends the
   * messages (step 2) in between, or earlier under a deliberate bug. Returns the index of an
   * installed snapshot, if any.
   */
  completeReady(rd: Ready, checker: InvariantChecker): number | undefined {
    const core = this.core;
    if (core === undefined) throw new Error(`node ${this.id} is down`);
    this.storage.apply({
      entries: rd.entries,
      ...(rd.hardState !== undefined ? { hardState: rd.hardState } : {}),
      ...(rd.snapshot !== undefined ? { snapshot: rd.snapshot } : {}),
    });
    if (rd.snapshot !== undefined) {
      const sm = decodeStateMachine(rd.snapshot.data);
      checker.onSnapshotApplied(this, sm);
      this.sm = sm;
    }
    for (const e of rd.committedEntries) checker.onApplied(this, e.index, decodeText(e.data));
    core.advance(rd);
    return rd.snapshot?.meta.index;
  }

  /** Compacts the log into a snapshot of the state machine once `every` applied entries piled up. */
  maybeCompact(every: number): boolean {
    const applied = this.sm.length;
    if (applied - this.storage.firstIndex() + 1 < every || applied > this.storage.lastIndex()) return false;
    this.storage.compact(applied, encodeStateMachine(this.sm), this.cfg.voters);
    return true;
  }
}
