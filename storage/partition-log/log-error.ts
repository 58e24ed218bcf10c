// Typed failures of a partition log. storage/ may not import src/, so the broker maps these
// codes (named after Kafka's error names) onto its RunnelError table.

export type LogErrorCode =
  /** A read below logStartOffset or above logEndOffset. */
  | 'OFFSET_OUT_OF_RANGE'
  /** A batch failed its CRC or is malformed (Kafka CORRUPT_MESSAGE). */
  | 'CORRUPT_MESSAGE'
  /** A follower append does not start at logEndOffset (Kafka UnexpectedAppendOffsetException). */
  | 'INVALID_BASE_OFFSET'
  /** A well-formed input the log refuses, e.g. a leader append of more than one batch. */
  | 'INVALID_RECORD'
  /** The log is closed or its directory failed (Kafka KAFKA_STORAGE_ERROR). */
  | 'KAFKA_STORAGE_ERROR'
  /** An idempotent producer's batch does not continue its sequence (Kafka OutOfOrderSequenceException). */
  | 'OUT_OF_ORDER_SEQUENCE_NUMBER'
  /** An idempotent producer's batch carries an epoch older than the producer's (Kafka InvalidProducerEpochException). */
  | 'INVALID_PRODUCER_EPOCH';

export class LogError extends Error {
  constructor(
    readonly code: LogErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LogError';
  }
}
