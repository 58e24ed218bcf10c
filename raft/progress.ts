import { assert } from './assert.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * The leader's view of one follower (etcd's tracker.Progress).
 *
 * probe:     one append at a time until the follower's match point is found.
 * replicate: entries are pipelined optimistically, `next` runs ahead of `match`, at most
 *            maxInflight append messages unacknowledged.
 * snapshot:  a snapshot was sent; appends wait until it is acknowledged (or given up on).
 *
 * Invariant: match < next.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append is outstanding, wait for its answer (or a heartbeat answer). */
  probeSent = false;
  /** In snapshot state: the snapshot's index, and the tick it was sent at. */
  pendingSnapshot = 0;
  snapshotSentTick = 0;
  /** Tick of the last message from this peer (check-quorum, status). */
  lastContactTick = 0;
  /** Last index of each unacknowledged append in replicate state, ascending. */
  private inflight: number[] = [];

  constructor(
    next: number,
    private readonly maxInflight: number,
  ) {
    this.next = next;
  }

  becomeProbe(): void {
    // After a snapshot, resume probing right after it.
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.resetState('probe');
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.resetState('replicate');
  }

  becomeSnapshot(snapshotIndex: number, tick: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
    this.snapshotSentTick = tick;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflight = [];
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= this.maxInflight;
      case 'snapshot':
        return true;
    }
  }

  /** Record that an append ending at lastIndex was sent. */
  sentEntries(count: number, lastIndex: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflight.push(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** A successful append answer up to n. Returns false if it told us nothing new. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    // Free acknowledged pipeline slots.
    let k = 0;
    while (k < this.inflight.length && (this.inflight[k] as number) <= n) k++;
    if (k > 0) this.inflight = this.inflight.slice(k);
    return updated;
  }

  /**
   * A rejected append of prevIndex `rejected`; `matchHint` is where the follower's log may
   * match. Returns false if the rejection is stale (answers an older probe).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    const next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    // No step back is possible (the follower refuses what we believe it matched, which only a
    // follower that lost acknowledged entries does): wait for the next heartbeat instead of
    // resending the same probe in a tight loop.
    if (next === this.next) return false;
    this.next = next;
    this.probeSent = false;
    assert(this.next > this.match, 'next > match');
    return true;
  }

  /** A heartbeat answer proves the follower is alive: let one more message through. */
  onHeartbeatResponse(): void {
    this.probeSent = false;
    if (this.state === 'replicate' && this.inflight.length >= this.maxInflight) this.inflight.shift();
  }

  inflightCount(): number {
    return this.inflight.length;
  }
}
