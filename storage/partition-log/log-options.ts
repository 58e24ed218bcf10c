// Options, logger and counters of a PartitionLog.

export const HIGH_WATERMARK_CHECKPOINT = 'high-watermark';
export const DEFAULT_INDEX_INTERVAL_BYTES = 4096;

/** The subset of a pino logger the log uses. */
export interface PartitionLogLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export type FlushPolicy = 'batch' | 'always' | 'os';

export interface PartitionLogOptions {
  readonly dir: string;
  /** A segment rolls before it would exceed this; a bigger batch gets a segment of its own. */
  readonly segmentBytes: number;
  /** Bytes of batches between two offset index entries (default 4096). */
  readonly indexIntervalBytes?: number;
  readonly flush: FlushPolicy;
  /** Delete segments whose newest record is older than this; -1 keeps them forever. */
  readonly retentionMs: number;
  /** Delete the oldest segments while the log is bigger than this; -1 for no limit. */
  readonly retentionBytes: number;
  readonly logger?: PartitionLogLogger;
}

export interface PartitionLogStats {
  /** fdatasync calls on segment files. */
  fsyncs: number;
  /** Bytes of batches read and skipped while locating a read's first batch. */
  scannedBytes: number;
  segments: number;
}
