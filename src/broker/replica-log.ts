/**
 * What the broker needs of a partition replica's log (storage/partition-log implements it).
 * Offsets are Kafka offsets: logEndOffset is the next offset to be assigned.
 */
export interface ReplicaLog {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** Offsets below this are durable per the flush policy (<= logEndOffset); a leader's HW never passes it. */
  readonly durableEndOffset: number;
  readonly highWatermark: number;
  setHighWatermark(hw: number): void;
  checkpointHighWatermark(): Promise<void>;
  /**
   * One RecordBatch v2; the log assigns offsets from logEndOffset and stamps the epoch.
   * `onWritten` runs once the bytes are readable; the promise resolves once they are durable.
   * An idempotent producer's batch is checked against the log's producer state first: a resend
   * of a batch the log holds answers with its offsets (`duplicate`, nothing written).
   */
  appendAsLeader(
    batch: Buffer,
    leaderEpoch: number,
    onWritten?: (appended: { baseOffset: number; lastOffset: number }) => void,
  ): Promise<{ baseOffset: number; lastOffset: number; duplicate?: true }>;
  /** Consecutive batches with the leader's offsets, starting exactly at logEndOffset. */
  appendAsFollower(batches: Buffer): Promise<void>;
  /** Whole batches from the one holding `offset`, none reaching `upperBound`. */
  read(offset: number, maxBytes: number, upperBound: number): Promise<{ records: Buffer; nextOffset: number }>;
  truncateTo(offset: number): Promise<void>;
  /** Empties the log and restarts it at `offset` (a follower behind the leader's log start). */
  truncateFullyAndStartAt(offset: number): Promise<void>;
  /** Deletes whole old segments past retention.ms / retention.bytes, never at or above the HW. */
  applyRetention(nowMs: number): Promise<number>;
  updateLimits(limits: { segmentBytes: number; retentionMs: number; retentionBytes: number }): void;
  /** A new leader's epoch starts at its log end: recorded (and checkpointed) now, ordered with appends. */
  assignLeaderEpochAtEnd(leaderEpoch: number): Promise<void>;
  latestEpoch(): number;
  /** The leader epoch that wrote `offset` (the latest starting at or before it); -1 when the history does not reach back that far. */
  epochForOffset(offset: number): number;
  /**
   * ListOffsets by timestamp: the earliest record whose timestamp is >= `timestampMs`, with
   * that timestamp; undefined when none is. Not bounded by the high watermark (callers are).
   */
  offsetForTimestamp(timestampMs: number): Promise<{ offset: number; timestamp: number } | undefined>;
  /** ListOffsets MAX_TIMESTAMP: the earliest record holding the largest timestamp; undefined when empty. */
  maxTimestampOffset(): Promise<{ offset: number; timestamp: number } | undefined>;
  /** KIP-101 OffsetsForLeaderEpoch: the largest epoch <= `epoch` held, and where it ends. */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number };
  close(): Promise<void>;
  deleteAll(): Promise<void>;
}

export interface ReplicaLogOptions {
  readonly dir: string;
  readonly segmentBytes: number;
  readonly retentionMs: number;
  readonly retentionBytes: number;
  readonly flush: 'batch' | 'always' | 'os';
}

export type OpenReplicaLog = (opts: ReplicaLogOptions) => Promise<ReplicaLog>;
