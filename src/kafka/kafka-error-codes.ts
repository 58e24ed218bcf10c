// Kafka's numeric error codes (clients/.../common/protocol/Errors.java, protocol.html "Error
// Codes") for the names runnel's errors carry, plus the few only the Kafka door answers (group
// and transaction codes); an error name missing here answers UNKNOWN_SERVER_ERROR.

import type { ErrorName } from '../errors.ts';
import { RunnelError } from '../errors.ts';

/** Codes the Kafka door answers that no RunnelError carries. */
type KafkaOnlyError =
  | 'NONE'
  | 'UNSUPPORTED_VERSION'
  | 'OFFSET_METADATA_TOO_LARGE'
  | 'COORDINATOR_NOT_AVAILABLE'
  | 'UNKNOWN_MEMBER_ID'
  | 'INVALID_COMMIT_OFFSET_SIZE'
  | 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED';

export const KAFKA_ERROR = {
  NONE: 0,
  UNKNOWN_SERVER_ERROR: -1,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  BROKER_NOT_AVAILABLE: 8,
  MESSAGE_TOO_LARGE: 10,
  OFFSET_METADATA_TOO_LARGE: 12,
  NETWORK_EXCEPTION: 13,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  INVALID_TOPIC_EXCEPTION: 17,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_COMMIT_OFFSET_SIZE: 28,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REPLICA_ASSIGNMENT: 39,
  INVALID_CONFIG: 40,
  NOT_CONTROLLER: 41,
  INVALID_REQUEST: 42,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  INVALID_PRODUCER_EPOCH: 47,
  UNSUPPORTED_VERSION: 35,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  KAFKA_STORAGE_ERROR: 56,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  INVALID_RECORD: 87,
  THROTTLING_QUOTA_EXCEEDED: 89,
} as const satisfies Partial<Record<ErrorName | KafkaOnlyError, number>>;

/** The Kafka error code of a failure a service threw. */
export function kafkaErrorCode(err: unknown): number {
  if (err instanceof RunnelError && Object.hasOwn(KAFKA_ERROR, err.errorName)) {
    return KAFKA_ERROR[err.errorName as keyof typeof KAFKA_ERROR];
  }
  return KAFKA_ERROR.UNKNOWN_SERVER_ERROR;
}
