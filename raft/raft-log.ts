import { assert } from './assert.ts';
import type { Entry, RaftStorage, Snapshot } from './types.ts';

/**
 * The log as the core sees it: the stable part in RaftStorage plus an unstable tail (entries
 * and possibly a snapshot) not yet handed to the driver for persistence (etcd's raftLog +
 * unstable).
 *
 * Invariants:
 *   applied <= committed <= lastIndex()
 *   unstable entries are contiguous and start at `offset`
 *   when an unstable snapshot is present, offset === snapshot.meta.index + 1 and the stable
 *   storage is stale (it is replaced when the snapshot is persisted)
 */
export class RaftLog {
  private unstableSnapshot: Snapshot | undefined = undefined;
  private unstable: Entry[] = [];
  /** Index of unstable[0] (or where it would go). */
  private offset: number;
  committed: number;
  applied: number;

  constructor(private readonly storage: RaftStorage) {
    this.offset = storage.lastIndex() + 1;
    const snapIndex = storage.firstIndex() - 1;
    this.committed = snapIndex;
    this.applied = snapIndex;
  }

  firstIndex(): number {
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.meta.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstable.length > 0) return this.offset + this.unstable.length - 1;
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.meta.index;
    return this.storage.lastIndex();
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, 'term of the last index is always known');
    return t;
  }

  /** Term of entry i, or undefined when i is compacted away or beyond the end. */
  term(i: number): number | undefined {
    if (i >= this.offset) {
      const e = this.unstable[i - this.offset];
      return e?.term;
    }
    const snap = this.unstableSnapshot;
    if (snap !== undefined) return i === snap.meta.index ? snap.meta.term : undefined;
    if (i < this.storage.firstIndex() - 1 || i > this.storage.lastIndex()) return undefined;
    return this.storage.term(i);
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** Raft §5.4.1: compare last term first, then index. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries [lo, hi) limited to maxCount entries and maxBytes of data (at least one entry).
   * Returns undefined if lo is compacted away.
   */
  slice(lo: number, hi: number, maxCount: number, maxBytes: number): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    hi = Math.min(hi, this.lastIndex() + 1, lo + maxCount);
    if (lo >= hi) return [];
    const out: Entry[] = [];
    if (lo < this.offset) {
      for (const e of this.storage.entries(lo, Math.min(hi, this.offset))) out.push(e);
    }
    for (let i = Math.max(lo, this.offset); i < hi; i++) {
      const e = this.unstable[i - this.offset];
      assert(e !== undefined, `unstable entry ${i} present`);
      out.push(e);
    }
    let bytes = 0;
    for (let k = 0; k < out.length; k++) {
      bytes += (out[k] as Entry).data.length;
      if (bytes > maxBytes && k > 0) return out.slice(0, k);
    }
    return out;
  }

  /**
   * etcd's findConflictByTerm: the largest index <= index whose term is <= term, and that
   * term (0 if unknown because compacted). Lets a leader skip a whole conflicting term per
   * round trip instead of one entry.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; ; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
  }

  /**
   * Append leader entries after (prevIndex, prevTerm). Returns the last index now known to
   * match the leader, or undefined if prevIndex/prevTerm do not match (Raft §5.3).
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    let conflict = 0;
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) {
        conflict = e.index;
        break;
      }
    }
    if (conflict !== 0) {
      // An entry at or below the commit index can never conflict: that would mean two
      // different entries were committed at one index.
      assert(conflict > this.committed, `conflict at ${conflict} <= committed ${this.committed}`);
      this.append(entries.slice(conflict - prevIndex - 1));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** Append to the unstable tail, truncating anything at or after entries[0].index. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index > this.committed, `append at ${first.index} would overwrite committed ${this.committed}`);
    const after = first.index;
    if (after === this.offset + this.unstable.length) {
      for (const e of entries) this.unstable.push(e);
    } else if (after <= this.offset) {
      // Replaces the whole unstable tail; the stored entries from `after` on are overwritten
      // when this tail is persisted (RaftStorage contract).
      this.offset = after;
      this.unstable = [...entries];
    } else {
      this.unstable = this.unstable.slice(0, after - this.offset);
      for (const e of entries) this.unstable.push(e);
    }
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Raft §5.4.2: only an entry of the leader's current term is committed by counting replicas. */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /** Install a snapshot received from the leader; the log becomes exactly the snapshot. */
  restore(snapshot: Snapshot): void {
    this.unstableSnapshot = snapshot;
    this.unstable = [];
    this.offset = snapshot.meta.index + 1;
    this.committed = snapshot.meta.index;
  }

  // ---- Ready support ----

  unstableEntries(): readonly Entry[] {
    return this.unstable;
  }

  pendingSnapshot(): Snapshot | undefined {
    return this.unstableSnapshot;
  }

  /** Committed entries not yet applied, at most maxCount. Empty while a snapshot is pending. */
  nextCommitted(maxCount: number): Entry[] {
    if (this.unstableSnapshot !== undefined) return [];
    const lo = this.applied + 1;
    const hi = Math.min(this.committed + 1, lo + maxCount);
    if (lo >= hi) return [];
    const es = this.slice(lo, hi, maxCount, Number.POSITIVE_INFINITY);
    assert(es !== undefined, `committed entries from ${lo} are available`);
    return es;
  }

  hasNextCommitted(): boolean {
    return this.unstableSnapshot === undefined && this.committed > this.applied;
  }

  /** Entries up to (index, term) are now durable; drop them from the unstable tail. */
  stableTo(index: number, term: number): void {
    if (index < this.offset) return;
    // If the tail was truncated and rewritten since the Ready was made, the term no longer
    // matches and the (newer) entries stay unstable to be persisted next.
    if (this.unstable[index - this.offset]?.term !== term) return;
    this.unstable = this.unstable.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.unstableSnapshot?.meta.index === index) this.unstableSnapshot = undefined;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index <= this.committed && index >= this.applied, `applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
  }
}
