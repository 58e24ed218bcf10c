// The leader-epoch cache (KIP-101, KIP-279): for each leader epoch that wrote to this log, the
// offset of its first record. Followers ask the leader for the end offset of their latest
// epoch and truncate to it, so a replica that diverged under an old leader converges.
// Persisted in `leader-epoch-checkpoint` (Kafka's LeaderEpochCheckpointFile layout).

import { join } from 'node:path';
import { readCheckpoint, writeCheckpoint } from './checkpoint-file.ts';

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

export class LeaderEpochCache {
  // Invariant: strictly increasing in both epoch and startOffset.
  private entries: EpochEntry[];

  private constructor(
    private readonly path: string,
    entries: EpochEntry[],
  ) {
    this.entries = entries;
  }

  static async load(dir: string): Promise<LeaderEpochCache> {
    const path = join(dir, LEADER_EPOCH_CHECKPOINT);
    const rows = (await readCheckpoint(path, 2)) ?? [];
    const cache = new LeaderEpochCache(path, []);
    for (const [epoch, startOffset] of rows as [number, number][]) cache.assign(epoch, startOffset);
    return cache;
  }

  all(): readonly EpochEntry[] {
    return this.entries;
  }

  latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? -1;
  }

  /** The epoch that wrote `offset`: the latest one starting at or before it; -1 when none does (Kafka's LeaderEpochFileCache.epochForOffset). */
  epochForOffset(offset: number): number {
    let epoch = -1;
    for (const e of this.entries) {
      if (e.startOffset > offset) break;
      epoch = e.epoch;
    }
    return epoch;
  }

  epochStartOffset(epoch: number): number | undefined {
    return this.entries.find((e) => e.epoch === epoch)?.startOffset;
  }

  /**
   * Records that `epoch` starts at `startOffset`. Returns true when the cache changed (the caller
   * checkpoints). Kafka's LeaderEpochFileCache.assign: a repeat of the latest epoch at a later
   * offset is a no-op; otherwise entries that would break monotonicity (epoch >= the new one or
   * startOffset >= the new one) are dropped first.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0 || startOffset < 0) return false;
    const latest = this.entries.at(-1);
    if (latest !== undefined && latest.epoch === epoch && latest.startOffset <= startOffset) return false;
    while (this.entries.length > 0) {
      const last = this.entries.at(-1) as EpochEntry;
      if (last.epoch < epoch && last.startOffset < startOffset) break;
      this.entries.pop();
    }
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /** Drops entries starting at or after `endOffset` (the log was truncated there). */
  truncateFromEnd(endOffset: number): boolean {
    const before = this.entries.length;
    while ((this.entries.at(-1)?.startOffset ?? -1) >= endOffset) this.entries.pop();
    return this.entries.length !== before;
  }

  /**
   * The log now starts at `startOffset`: entries starting at or before it collapse into one,
   * the latest of them, moved up to `startOffset` (Kafka truncateFromStart).
   */
  truncateFromStart(startOffset: number): boolean {
    let n = 0;
    while (n < this.entries.length && (this.entries[n] as EpochEntry).startOffset <= startOffset) n++;
    if (n === 0) return false;
    const kept = this.entries[n - 1] as EpochEntry;
    if (n === 1 && kept.startOffset === startOffset) return false;
    this.entries = [{ epoch: kept.epoch, startOffset }, ...this.entries.slice(n)];
    return true;
  }

  clear(): boolean {
    const changed = this.entries.length > 0;
    this.entries = [];
    return changed;
  }

  /**
   * OffsetsForLeaderEpoch, exactly Kafka's LeaderEpochFileCache.endOffsetFor:
   * - requested epoch -1, or above every cached epoch: { -1, -1 };
   * - the latest epoch: { epoch, logEndOffset } (it is still being written);
   * - otherwise the largest cached epoch <= requested and the start offset of the first epoch
   *   above the requested one; when no cached epoch is <= requested (history removed by
   *   retention) Kafka answers { requested, start offset of the first cached epoch }.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    const undefinedAnswer = { epoch: -1, endOffset: -1 };
    if (requestedEpoch === -1) return undefinedAnswer;
    const latest = this.entries.at(-1);
    if (latest !== undefined && latest.epoch === requestedEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higherAt = this.entries.findIndex((e) => e.epoch > requestedEpoch);
    const higher = this.entries[higherAt];
    if (higher === undefined) return undefinedAnswer;
    const floor = this.entries[higherAt - 1];
    if (floor === undefined) return { epoch: requestedEpoch, endOffset: higher.startOffset };
    return { epoch: floor.epoch, endOffset: higher.startOffset };
  }

  async checkpoint(): Promise<void> {
    await writeCheckpoint(
      this.path,
      this.entries.map((e) => [e.epoch, e.startOffset]),
    );
  }
}
