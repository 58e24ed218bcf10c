// The log of one partition replica, in one directory (Kafka's UnifiedLog + LocalLog, shrunk):
//
//   00000000000000000000.log / .index / .timeindex
//                                       segments named by base offset, see segment.ts
//   leader-epoch-checkpoint             epoch -> start offset, see epoch-cache.ts
//   high-watermark                      the last checkpointed high watermark
//   00000000000000000000.snapshot       producer state at that offset, see producer-snapshots.ts
//
// Mutations (appends, truncation, retention) run one at a time through a promise queue, so
// concurrent appendAsLeader calls get contiguous offsets in call order. Reads run beside them
// with positional reads; they only look at bytes whose append has completed (segment.size,
// logEndOffset are published after the write), and hold a segment reference so a concurrent
// delete closes the file only after them.
//
// Flush policy (`flush`):
//   'always' fsync the segment after every append, before it resolves (and before the next
//            append starts).
//   'batch'  group commit (group-commit.ts): an append resolves after an fsync that started
//            after its write; appends arriving while an fsync runs share the next one.
//   'os'     never fsync on append; the page cache decides. A crash may lose acknowledged
//            appends, which replication must cover. close() and flush() still fsync.
// Rolling a segment fsyncs the old one under 'always' and 'batch'. Checkpoint files (epochs,
// high watermark) are always written atomically and fsynced.

import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BATCH_HEADER_BYTES,
  batchBaseOffset,
  batchLastOffset,
  batchLeaderEpoch,
  batchTotalBytes,
  batches,
  CONTROL_FLAG,
  readBatchHeader,
  TRANSACTIONAL_FLAG,
  setBaseOffset,
  setPartitionLeaderEpoch,
  verifyBatch,
} from '../record-batch.ts';
import { readCheckpoint, syncDir, writeCheckpoint } from './checkpoint-file.ts';
import { LeaderEpochCache } from './epoch-cache.ts';
import type { EpochEntry } from './epoch-cache.ts';
import { GroupCommit } from './group-commit.ts';
import { LogError } from './log-error.ts';
import { DEFAULT_INDEX_INTERVAL_BYTES, HIGH_WATERMARK_CHECKPOINT } from './log-options.ts';
import type { PartitionLogLogger, PartitionLogOptions, PartitionLogStats } from './log-options.ts';
import { ProducerStateTable } from './producer-state.ts';
import { loadLatestSnapshot, pruneSnapshots, removeAllSnapshots, writeSnapshot } from './producer-snapshots.ts';
import { recoverSegments } from './recovery.ts';
import { floorSegment, retainedFrom } from './retention.ts';

export { LogError } from './log-error.ts';
export type { LogErrorCode } from './log-error.ts';
export { DEFAULT_INDEX_INTERVAL_BYTES, HIGH_WATERMARK_CHECKPOINT } from './log-options.ts';
export type { FlushPolicy, PartitionLogLogger, PartitionLogOptions, PartitionLogStats } from './log-options.ts';
import { Segment } from './segment.ts';
import type { ReadStats } from './segment.ts';
import type { TimestampOffset } from './time-index.ts';

export type { TimestampOffset } from './time-index.ts';

/** Index entries hold offsets relative to the segment base as uint32. */
const MAX_RELATIVE_OFFSET = 0xffffffff;
const silent: PartitionLogLogger = { info: () => undefined, warn: () => undefined };
/** Producer state is rebuilt by reading the log in chunks of this size. */
const REPLAY_CHUNK_BYTES = 1 << 20;

/** Where a leader append landed; `duplicate` when it was a resend of a batch already in the log. */
export interface LeaderAppend {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly duplicate?: true;
}
const noop = (): void => undefined;

export class PartitionLog {
  // Invariant: never empty; contiguous (each segment's nextOffset is the next one's base);
  // replaced, never mutated, so a reader's snapshot stays consistent.
  private segments: readonly Segment[];
  // Invariant: logStartOffset <= hw <= logEndOffset.
  private hw: number;
  /** The value the `high-watermark` file holds, once this process wrote it. */
  private checkpointedHw: number | undefined;
  private tail: Promise<void> = Promise.resolve();
  private hwTail: Promise<void> = Promise.resolve();
  private closing = false;
  private closed: Promise<void> | undefined;
  /** Set when a write failed midway: the on-disk state is unknown, so the log refuses work. */
  private failure: unknown;
  private fsyncs = 0;
  /**
   * End offset of what the last completed fsync covers ('batch', 'always'). Invariant:
   * durableEnd <= logEndOffset; truncation lowers both. Under 'os' durableEndOffset is the log end.
   */
  private durableEnd: number;
  /** Bumped by every truncation: an fsync pass that started before one must not raise durableEnd. */
  private truncations = 0;
  private readonly readStats: ReadStats = { scannedBytes: 0 };
  private readonly groupCommit: GroupCommit;
  private readonly log: PartitionLogLogger;
  private readonly indexIntervalBytes: number;
  /** The idempotent producers of the batches in this log (producer-state.ts). */
  readonly producers = new ProducerStateTable();

  private constructor(
    private opts: PartitionLogOptions,
    segments: Segment[],
    private readonly epochs: LeaderEpochCache,
    hw: number,
  ) {
    this.segments = segments;
    this.hw = hw;
    // What recovery found on disk counts as durable: nothing newer can be covered by a later fsync.
    this.durableEnd = (segments.at(-1) as Segment).nextOffset;
    this.log = opts.logger ?? silent;
    this.indexIntervalBytes = opts.indexIntervalBytes ?? DEFAULT_INDEX_INTERVAL_BYTES;
    this.groupCommit = new GroupCommit(() => this.syncDirty());
  }

  /**
   * Opens (creating if needed) the log in `opts.dir`. Recovery: the active segment is scanned
   * in full and cut at the first torn, CRC-failing or non-contiguous batch; older segments keep
   * their index if it checks out, else are recovered the same way, and a cut in one of them
   * drops every later segment. Then the epoch cache is truncated to the log end and the high
   * watermark clamped into the log.
   */
  static async open(opts: PartitionLogOptions): Promise<PartitionLog> {
    const interval = opts.indexIntervalBytes ?? DEFAULT_INDEX_INTERVAL_BYTES;
    if (!Number.isSafeInteger(opts.segmentBytes) || opts.segmentBytes < BATCH_HEADER_BYTES || opts.segmentBytes > 0x7fffffff) {
      throw new RangeError(`segmentBytes must be an integer in [${BATCH_HEADER_BYTES}, 2^31-1], got ${opts.segmentBytes}`);
    }
    if (!Number.isSafeInteger(interval) || interval < 1) throw new RangeError(`indexIntervalBytes must be >= 1, got ${interval}`);
    const log = opts.logger ?? silent;
    const dir = opts.dir;
    await mkdir(dir, { recursive: true });
    const segments = await recoverSegments(dir, interval, log);
    if (segments.length === 0) segments.push(await Segment.create(dir, 0, interval));
    const logStart = (segments[0] as Segment).baseOffset;
    const logEnd = (segments.at(-1) as Segment).nextOffset;
    const epochs = await LeaderEpochCache.load(dir);
    const cutEnd = epochs.truncateFromEnd(logEnd);
    const cutStart = epochs.truncateFromStart(logStart);
    if (cutEnd || cutStart) await epochs.checkpoint();
    const saved = (await readCheckpoint(join(dir, HIGH_WATERMARK_CHECKPOINT), 1))?.[0]?.[0] ?? logStart;
    const hw = Math.min(Math.max(saved, logStart), logEnd);
    const opened = new PartitionLog(opts, segments, epochs, hw);
    const replayed = await opened.rebuildProducerState(logEnd);
    log.info({ dir, logStartOffset: logStart, logEndOffset: logEnd, highWatermark: hw, segments: segments.length, producers: opened.producers.size, replayed }, 'opened partition log');
    return opened;
  }

  get logStartOffset(): number {
    return (this.segments[0] as Segment).baseOffset;
  }

  /** The offset the next appended record gets. */
  get logEndOffset(): number {
    return this.active.nextOffset;
  }

  /**
   * Offsets below this are on disk per the flush policy: fsynced under 'batch' and 'always',
   * the whole log under 'os' (which leaves durability to replication). A leader's high
   * watermark never passes its own durable end, so an append can be replicated while its
   * fsync runs and still be acknowledged only once both are done.
   */
  get durableEndOffset(): number {
    return this.opts.flush === 'os' ? this.logEndOffset : Math.min(this.durableEnd, this.logEndOffset);
  }

  get highWatermark(): number {
    return this.hw;
  }

  get sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  get stats(): PartitionLogStats {
    return { fsyncs: this.fsyncs, scannedBytes: this.readStats.scannedBytes, segments: this.segments.length };
  }

  /** In memory only, clamped to [logStartOffset, logEndOffset]; see checkpointHighWatermark. */
  setHighWatermark(hw: number): void {
    this.hw = Math.min(Math.max(hw, this.logStartOffset), this.logEndOffset);
  }

  /** Writes the current high watermark to `high-watermark` atomically. */
  checkpointHighWatermark(): Promise<void> {
    this.checkOpen();
    return this.writeHighWatermark();
  }

  /**
   * Appends one v2 batch as the leader: stamps baseOffset = logEndOffset and the leader epoch
   * into `batch` in place (both outside the CRC), records a new epoch in the epoch cache.
   * Resolves once the batch is durable per the flush policy; `onWritten` runs as soon as its
   * bytes are in the file (readable, not yet fsynced), before any later append is written.
   * A batch of an idempotent producer is checked against the producer state first, in log
   * order: a resend of one of its last batches is not written again but answered with the
   * offsets it has (`duplicate`); a stale epoch or a sequence gap fails with
   * INVALID_PRODUCER_EPOCH or OUT_OF_ORDER_SEQUENCE_NUMBER.
   */
  async appendAsLeader(batch: Buffer, leaderEpoch: number, onWritten?: (appended: { baseOffset: number; lastOffset: number }) => void): Promise<LeaderAppend> {
    if (!verifyBatch(batch, 0)) throw new LogError('CORRUPT_MESSAGE', 'appendAsLeader: the batch fails its CRC or length check');
    if (batchTotalBytes(batch, 0) !== batch.length) throw new LogError('INVALID_RECORD', 'appendAsLeader takes exactly one batch');
    const header = readBatchHeader(batch, 0);
    // Kafka's LogValidator: clients never write control records; runnel has no transactions.
    if ((header.attributes & CONTROL_FLAG) !== 0) throw new LogError('INVALID_RECORD', 'appendAsLeader: clients may not write control batches');
    if ((header.attributes & TRANSACTIONAL_FLAG) !== 0) throw new LogError('INVALID_RECORD', 'appendAsLeader: transactional batches are not supported (runnel has no transactions)');
    const result = await this.enqueue(async (): Promise<LeaderAppend> => {
      const verdict = this.producers.check(header);
      if (verdict.kind === 'duplicate') return { baseOffset: verdict.baseOffset, lastOffset: verdict.lastOffset, duplicate: true };
      const baseOffset = this.logEndOffset;
      setBaseOffset(batch, 0, baseOffset);
      setPartitionLeaderEpoch(batch, 0, leaderEpoch);
      if (this.epochs.assign(leaderEpoch, baseOffset)) await this.epochs.checkpoint();
      await this.writeBatches(batch);
      const appended = { baseOffset, lastOffset: batchLastOffset(batch, 0) };
      onWritten?.(appended);
      if (this.opts.flush === 'always') await this.syncDirty();
      return appended;
    });
    if (this.opts.flush === 'batch') await this.groupCommit.sync();
    return result;
  }

  /**
   * Appends batches as a follower: offsets and epochs are the leader's. Every batch must pass
   * its CRC, the batches must be contiguous and the first must start at logEndOffset.
   */
  async appendAsFollower(batches: Buffer): Promise<void> {
    if (batches.length === 0) return;
    let at = 0;
    let expected = batchBaseOffset(batches, 0);
    while (at < batches.length) {
      if (!verifyBatch(batches, at)) throw new LogError('CORRUPT_MESSAGE', `appendAsFollower: the batch at byte ${at} fails its CRC or length check`);
      if (batchBaseOffset(batches, at) !== expected) throw new LogError('CORRUPT_MESSAGE', `appendAsFollower: batch at byte ${at} does not continue offset ${expected}`);
      expected = batchLastOffset(batches, at) + 1;
      at += batchTotalBytes(batches, at);
    }
    await this.enqueue(async () => {
      const first = batchBaseOffset(batches, 0);
      if (first !== this.logEndOffset) throw new LogError('INVALID_BASE_OFFSET', `appendAsFollower: batches start at ${first}, log ends at ${this.logEndOffset}`);
      let changed = false;
      for (let b = 0; b < batches.length; b += batchTotalBytes(batches, b)) {
        if (this.epochs.assign(batchLeaderEpoch(batches, b), batchBaseOffset(batches, b))) changed = true;
      }
      if (changed) await this.epochs.checkpoint();
      await this.writeBatches(batches);
      if (this.opts.flush === 'always') await this.syncDirty();
    });
    if (this.opts.flush === 'batch') await this.groupCommit.sync();
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` but at least one when any is
   * available, none with lastOffset >= `upperBound` (HW for consumers, LEO for followers).
   * Reads come from one segment; `nextOffset` is where the next read continues.
   */
  async read(offset: number, maxBytes: number, upperBound: number): Promise<{ records: Buffer; nextOffset: number }> {
    this.checkOpen();
    const segs = this.segments;
    const start = (segs[0] as Segment).baseOffset;
    const end = (segs.at(-1) as Segment).nextOffset;
    if (offset < start || offset > end) throw new LogError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside [${start}, ${end}]`);
    const limit = Math.min(upperBound, end);
    if (offset >= limit) return { records: Buffer.alloc(0), nextOffset: offset };
    const seg = segs[floorSegment(segs, offset)] as Segment;
    if (seg.isClosed) throw new LogError('KAFKA_STORAGE_ERROR', `segment ${seg.baseOffset} is closed`);
    seg.acquire();
    try {
      return await seg.read(offset, maxBytes, limit, this.readStats);
    } finally {
      seg.release();
    }
  }

  /**
   * Kafka ListOffsets by timestamp (UnifiedLog.fetchOffsetByTimestamp): the earliest record
   * whose timestamp is >= `timestampMs`, with that timestamp; undefined when none is. The first
   * segment whose largest timestamp reaches it holds the answer (every record of an earlier
   * segment is older); within it the time index, the offset index and a scan of batch headers
   * find the batch, and its records are read. Timestamps need not grow with offsets. Not
   * bounded by the high watermark: a consumer-facing caller drops an answer at or above it.
   */
  offsetForTimestamp(timestampMs: number): Promise<TimestampOffset | undefined> {
    return this.searchSegments((segs) => segs.find((s) => s.maxTimestamp >= timestampMs), () => timestampMs);
  }

  /**
   * ListOffsets MAX_TIMESTAMP (KIP-734): the earliest record holding the log's largest
   * timestamp; undefined when the log holds no record with a timestamp. One pass over the
   * segments' largest timestamps, then one segment search.
   */
  maxTimestampOffset(): Promise<TimestampOffset | undefined> {
    const largest = (segs: readonly Segment[]): Segment | undefined => {
      let best: Segment | undefined;
      // Segment.maxTimestamp is -1 until a batch has a timestamp; ties keep the earliest.
      for (const s of segs) if (s.maxTimestamp > (best?.maxTimestamp ?? -1)) best = s;
      return best;
    };
    return this.searchSegments(largest, (seg) => seg.maxTimestamp);
  }

  /**
   * Removes every record at and after `offset`, deleting later segments whole. Kafka truncates
   * followers at batch boundaries; an offset inside a batch truncates to that batch's base
   * offset (the whole batch goes). At or below logStartOffset the log restarts empty at
   * `offset` (Kafka truncateFullyAndStartAt). Entries of the epoch cache starting at or after the
   * new end are dropped and the high watermark is clamped.
   */
  truncateTo(offset: number): Promise<void> {
    return this.enqueue(async () => {
      if (offset >= this.logEndOffset) {
        // Nothing to cut, but an epoch entry may start at the log end with no batch in it: this
        // broker became leader (assignLeaderEpochAtEnd) and appended nothing before another
        // leader took over. Left in place, the follower would keep presenting that epoch and
        // the leader keep answering "diverging" (Kafka UnifiedLog.truncateTo does the same).
        if (this.epochs.truncateFromEnd(this.logEndOffset)) await this.epochs.checkpoint();
        return;
      }
      if (offset <= this.logStartOffset) {
        await this.restartAt(offset);
        return;
      }
      const segs = this.segments;
      const i = floorSegment(segs, offset);
      const seg = segs[i] as Segment;
      const doomed = segs.slice(i + 1);
      this.segments = segs.slice(0, i + 1);
      for (const d of doomed) await d.remove();
      await seg.truncateTo(offset);
      const end = seg.nextOffset;
      this.truncations++;
      this.durableEnd = Math.min(this.durableEnd, end);
      if (this.opts.flush !== 'os') await this.syncDirty();
      if (this.epochs.truncateFromEnd(end)) await this.epochs.checkpoint();
      this.hw = Math.min(this.hw, end);
      await this.rebuildProducerState(end);
      this.log.info({ dir: this.opts.dir, offset, logEndOffset: end, removedSegments: doomed.length }, 'truncated log');
    });
  }

  /** Empties the log and restarts it at `offset` (a follower behind the leader's log start). */
  truncateFullyAndStartAt(offset: number): Promise<void> {
    return this.enqueue(() => this.restartAt(offset));
  }

  /**
   * A new leader records that `leaderEpoch` starts at its log end, at once, as Kafka's
   * makeLeader does (KIP-101): the epoch checkpoint (write, fsync, rename) is paid when
   * leadership changes instead of inside the first produce request of the epoch. Ordered
   * with appends, so that first append finds the epoch already assigned.
   */
  assignLeaderEpochAtEnd(leaderEpoch: number): Promise<void> {
    return this.enqueue(async () => {
      if (this.epochs.assign(leaderEpoch, this.logEndOffset)) await this.epochs.checkpoint();
    });
  }

  latestEpoch(): number {
    return this.epochs.latestEpoch();
  }

  /** The leader epoch that wrote `offset`; -1 when the epoch history does not reach back that far. */
  epochForOffset(offset: number): number {
    return this.epochs.epochForOffset(offset);
  }

  epochStartOffset(epoch: number): number | undefined {
    return this.epochs.epochStartOffset(epoch);
  }

  epochEntries(): readonly EpochEntry[] {
    return this.epochs.all();
  }

  /** KIP-101/279 OffsetsForLeaderEpoch; see LeaderEpochCache.endOffsetFor. */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } {
    return this.epochs.endOffsetFor(epoch, this.logEndOffset);
  }

  /** Topic configs changed: later rolls and retention runs use the new limits. */
  updateLimits(limits: { segmentBytes: number; retentionMs: number; retentionBytes: number }): void {
    this.opts = { ...this.opts, ...limits };
  }

  /**
   * Deletes old segments, oldest first, while each is past retentionMs (by its newest
   * timestamp) or the log without it is still at least retentionBytes. Never the active
   * segment, never a segment holding offsets at or above the high watermark. Returns how
   * many segments went; logStartOffset moves to the first remaining one.
   */
  applyRetention(nowMs: number): Promise<number> {
    return this.enqueue(async () => {
      const segs = this.segments;
      const n = retainedFrom(segs, this.hw, nowMs, this.opts);
      if (n === 0) return 0;
      const doomed = segs.slice(0, n);
      this.segments = segs.slice(n);
      for (const d of doomed) await d.remove();
      if (this.epochs.truncateFromStart(this.logStartOffset)) await this.epochs.checkpoint();
      await pruneSnapshots(this.opts.dir, this.logStartOffset);
      this.log.info({ dir: this.opts.dir, deletedSegments: n, logStartOffset: this.logStartOffset }, 'retention deleted segments');
      return n;
    });
  }

  /** fsyncs every segment written since its last fsync. */
  async flush(): Promise<void> {
    this.checkOpen();
    await this.syncDirty();
  }

  /** Waits for queued appends and fsyncs, flushes, checkpoints the high watermark, closes files. */
  close(): Promise<void> {
    return this.closeFiles(true);
  }

  /** Closes the log and removes its directory (nothing is flushed or checkpointed first: it all goes). */
  async deleteAll(): Promise<void> {
    await this.closeFiles(false);
    await rm(this.opts.dir, { recursive: true, force: true });
  }

  /** `persist`: flush, write the indexes, the high watermark and a producer snapshot, so the next open has nothing to replay. */
  private closeFiles(persist: boolean): Promise<void> {
    this.closing = true;
    this.closed ??= (async () => {
      await this.tail;
      await this.groupCommit.idle();
      try {
        if (persist && this.failure === undefined) {
          await this.syncDirty();
          await this.active.writeIndex(true);
          await this.writeHighWatermark();
          // A clean close leaves nothing to replay on the next open.
          await writeSnapshot(this.opts.dir, this.logEndOffset, this.producers.list(), true);
        }
      } finally {
        for (const s of this.segments) await s.close();
      }
      this.log.info({ dir: this.opts.dir, logEndOffset: this.logEndOffset, highWatermark: this.hw }, 'closed partition log');
    })();
    return this.closed;
  }

  /** Searches the segment `pick` chooses for the first record at or after `target(segment)`. */
  private async searchSegments(
    pick: (segs: readonly Segment[]) => Segment | undefined,
    target: (seg: Segment) => number,
  ): Promise<TimestampOffset | undefined> {
    for (;;) {
      this.checkOpen();
      const seg = pick(this.segments);
      if (seg === undefined) return undefined;
      // Dropped by a running truncation or retention: pick again once it is done (restartAt
      // closes segments before it replaces the list).
      if (seg.isClosed) {
        await this.tail;
        continue;
      }
      seg.acquire();
      try {
        return await seg.findOffsetByTimestamp(target(seg), this.readStats);
      } finally {
        seg.release();
      }
    }
  }

  private get active(): Segment {
    return this.segments.at(-1) as Segment;
  }

  private checkOpen(): void {
    if (this.closing) throw new LogError('KAFKA_STORAGE_ERROR', `log ${this.opts.dir} is closed`);
  }

  /** Runs `fn` after every earlier mutation; a non-LogError failure fences the log. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new LogError('KAFKA_STORAGE_ERROR', `log ${this.opts.dir} is closed`));
    const run = this.tail.then(async () => {
      if (this.failure !== undefined) throw new LogError('KAFKA_STORAGE_ERROR', `log ${this.opts.dir} failed earlier: ${this.failure instanceof Error ? this.failure.message : 'unknown error'}`);
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof LogError)) {
          this.failure = err;
          this.log.warn({ dir: this.opts.dir, err }, 'partition log write failed; refusing further writes');
        }
        throw err;
      }
    });
    this.tail = run.then(noop, noop);
    return run;
  }

  /**
   * Writes validated, offset-stamped batches, rolling segments where needed, and applies each
   * to the producer state (a roll snapshots the state of everything before the new segment).
   */
  private async writeBatches(buf: Buffer): Promise<void> {
    let runStart = 0;
    let at = 0;
    while (at < buf.length) {
      const total = batchTotalBytes(buf, at);
      const active = this.active;
      const pending = active.size + (at - runStart);
      const tooBig = pending > 0 && pending + total > this.opts.segmentBytes;
      if (tooBig || batchLastOffset(buf, at) - active.baseOffset > MAX_RELATIVE_OFFSET) {
        if (at > runStart) active.append(buf, runStart, at);
        runStart = at;
        await this.roll(batchBaseOffset(buf, at));
      }
      const h = readBatchHeader(buf, at);
      this.producers.apply(h, h.baseOffset);
      at += total;
    }
    if (at > runStart) this.active.append(buf, runStart, at);
  }

  /**
   * Makes the producer state that of the batches below `end`: the newest snapshot at or below
   * it, then the batches from there (Kafka's ProducerStateManager.truncateAndReload plus
   * UnifiedLog.rebuildProducerState). Returns how many batches were replayed.
   */
  private async rebuildProducerState(end: number): Promise<number> {
    const snap = await loadLatestSnapshot(this.opts.dir, end);
    this.producers.load(snap?.entries ?? []);
    let offset = Math.max(snap?.offset ?? 0, this.logStartOffset);
    let replayed = 0;
    while (offset < end) {
      const { records, nextOffset } = await this.read(offset, REPLAY_CHUNK_BYTES, end);
      if (records.length === 0) break;
      for (const { header } of batches(records)) {
        if (header.baseOffset < offset) continue;
        this.producers.apply(header, header.baseOffset);
        replayed++;
      }
      offset = nextOffset;
    }
    return replayed;
  }

  private async roll(baseOffset: number): Promise<void> {
    const old = this.active;
    const durable = this.opts.flush !== 'os';
    if (durable) await this.syncDirty();
    old.markInactive();
    await old.writeIndex(durable);
    const seg = await Segment.create(this.opts.dir, baseOffset, this.indexIntervalBytes);
    await writeSnapshot(this.opts.dir, baseOffset, this.producers.list(), durable);
    if (durable) await syncDir(this.opts.dir);
    this.segments = [...this.segments, seg];
    await pruneSnapshots(this.opts.dir, this.logStartOffset);
    this.log.info({ dir: this.opts.dir, baseOffset }, 'rolled segment');
  }

  private async restartAt(offset: number): Promise<void> {
    const doomed = this.segments;
    this.truncations++;
    this.durableEnd = offset;
    for (const d of doomed) await d.remove();
    this.segments = [await Segment.create(this.opts.dir, offset, this.indexIntervalBytes)];
    if (this.opts.flush !== 'os') await syncDir(this.opts.dir);
    if (this.epochs.clear()) await this.epochs.checkpoint();
    this.producers.clear();
    await removeAllSnapshots(this.opts.dir);
    this.hw = offset;
    this.log.info({ dir: this.opts.dir, logStartOffset: offset }, 'log restarted empty');
  }

  private async syncDirty(): Promise<void> {
    // Writes complete before they move the log end, so everything below it now is in the
    // files this fsync pass flushes.
    const covered = this.logEndOffset;
    const truncations = this.truncations;
    for (const s of this.segments) {
      if (s.dirty && (await s.sync())) this.fsyncs++;
    }
    if (truncations === this.truncations) this.durableEnd = Math.max(this.durableEnd, covered);
  }

  private writeHighWatermark(): Promise<void> {
    // Periodic checkpoints of an idle partition would rewrite and fsync the same value.
    if (this.hw === this.checkpointedHw) return this.hwTail;
    const hw = this.hw;
    // Serialized so two checkpoints never race on the same temporary file.
    const run = this.hwTail.then(async () => {
      await writeCheckpoint(join(this.opts.dir, HIGH_WATERMARK_CHECKPOINT), [[hw]]);
      this.checkpointedHw = hw;
    });
    this.hwTail = run.then(noop, noop);
    return run;
  }
}
