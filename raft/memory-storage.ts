import type { Entry, HardState, RaftStorage, Snapshot, SnapshotMeta } from './types.ts';
import { NONE } from './types.ts';

/** One Ready's worth of state to make durable (step 1 of the Ready contract). */
export interface StorageUpdate {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
}

export class StorageError extends Error {
  constructor(
    readonly code: 'compacted' | 'unavailable' | 'snapshot-out-of-date',
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

export const emptySnapshot = (voters: readonly number[]): Snapshot => ({
  meta: { index: 0, term: 0, voters: [...voters] },
  data: new Uint8Array(0),
});

/**
 * The raft log held in memory (etcd's MemoryStorage). The simulator uses it as the "synced"
 * state of a node; the LevelDB store mirrors its durable contents into one of these so the
 * synchronous core can read them.
 *
 * Invariant: entries[k].index === snapshot.meta.index + 1 + k (no gaps, contiguous after the
 * snapshot).
 */
export class MemoryRaftStorage implements RaftStorage {
  private hardState: HardState = { term: 0, vote: NONE, commit: 0 };
  private snap: Snapshot;
  private log: Entry[] = [];

  constructor(voters: readonly number[]) {
    this.snap = emptySnapshot(voters);
  }

  initialState(): { hardState: HardState } {
    return { hardState: this.hardState };
  }

  firstIndex(): number {
    return this.snap.meta.index + 1;
  }

  lastIndex(): number {
    return this.snap.meta.index + this.log.length;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  term(i: number): number {
    const offset = this.snap.meta.index;
    if (i === offset) return this.snap.meta.term;
    if (i < offset) throw new StorageError('compacted', `term(${i}): compacted up to ${offset}`);
    const e = this.log[i - offset - 1];
    if (e === undefined) throw new StorageError('unavailable', `term(${i}): last index is ${this.lastIndex()}`);
    return e.term;
  }

  entries(lo: number, hi: number): Entry[] {
    const offset = this.snap.meta.index;
    if (lo <= offset) throw new StorageError('compacted', `entries(${lo}): compacted up to ${offset}`);
    if (hi > this.lastIndex() + 1) {
      throw new StorageError('unavailable', `entries(${lo}, ${hi}): last index is ${this.lastIndex()}`);
    }
    return this.log.slice(lo - offset - 1, hi - offset - 1);
  }

  /** Apply one Ready's durable part: snapshot first, then hard state and entries. */
  apply(update: StorageUpdate): void {
    if (update.snapshot !== undefined) this.applySnapshot(update.snapshot);
    if (update.hardState !== undefined) this.hardState = update.hardState;
    if (update.entries.length > 0) this.append(update.entries);
  }

  /** Replace the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.snap.meta.index) {
      throw new StorageError(
        'snapshot-out-of-date',
        `snapshot at ${snapshot.meta.index} is not newer than ${this.snap.meta.index}`,
      );
    }
    this.snap = snapshot;
    this.log = [];
  }

  /**
   * Record that the state machine's image at `index` (already applied) is `data`, and drop
   * the log up to and including `index`.
   */
  compact(index: number, data: Uint8Array, voters: readonly number[]): SnapshotMeta {
    if (index <= this.snap.meta.index) {
      throw new StorageError('snapshot-out-of-date', `compact(${index}): already compacted to ${this.snap.meta.index}`);
    }
    if (index > this.lastIndex()) {
      throw new StorageError('unavailable', `compact(${index}): last index is ${this.lastIndex()}`);
    }
    const meta: SnapshotMeta = { index, term: this.term(index), voters: [...voters] };
    this.log = this.log.slice(index - this.snap.meta.index);
    this.snap = { meta, data };
    return meta;
  }

  /** Append entries, discarding any stored suffix from entries[0].index on. */
  private append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const offset = this.snap.meta.index;
    if (first.index <= offset) {
      // Entries at or below the snapshot are already committed and covered by it.
      const skip = offset + 1 - first.index;
      if (skip >= entries.length) return;
      this.append(entries.slice(skip));
      return;
    }
    if (first.index > this.lastIndex() + 1) {
      throw new StorageError('unavailable', `append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    }
    this.log.length = first.index - offset - 1;
    for (const e of entries) this.log.push(e);
  }
}
