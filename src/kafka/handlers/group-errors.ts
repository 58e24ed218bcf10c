import { RunnelError } from '../../errors.ts';
import type { ErrorName } from '../../errors.ts';
import type { GroupProtocolError } from '../../groups/classic-calls.ts';
import { KAFKA_ERROR, kafkaErrorCode } from '../kafka-error-codes.ts';

/**
 * The code a failed call on the group coordinator answers, as Kafka's GroupMetadataManager
 * maps the errors of its offsets-topic append: a partition without enough replicas or a
 * timeout is COORDINATOR_NOT_AVAILABLE, a lost leadership NOT_COORDINATOR (both retried by
 * clients), a too large batch INVALID_COMMIT_OFFSET_SIZE. A group with members refuses a
 * commit without member (NON_EMPTY_GROUP) as Kafka does: UNKNOWN_MEMBER_ID.
 */
const MAPPED: Partial<Record<ErrorName, number>> = {
  NOT_ENOUGH_REPLICAS: KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE,
  REQUEST_TIMED_OUT: KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE,
  LEADER_NOT_AVAILABLE: KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE,
  UNKNOWN_TOPIC_OR_PARTITION: KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE,
  NOT_LEADER_OR_FOLLOWER: KAFKA_ERROR.NOT_COORDINATOR,
  KAFKA_STORAGE_ERROR: KAFKA_ERROR.NOT_COORDINATOR,
  MESSAGE_TOO_LARGE: KAFKA_ERROR.INVALID_COMMIT_OFFSET_SIZE,
  NON_EMPTY_GROUP: KAFKA_ERROR.UNKNOWN_MEMBER_ID,
};

export function groupErrorCode(err: unknown): number {
  if (!(err instanceof RunnelError)) return KAFKA_ERROR.UNKNOWN_SERVER_ERROR;
  return MAPPED[err.errorName] ?? kafkaErrorCode(err);
}

/** The code of an error the group protocol answered (classic-calls.ts); every such name is in KAFKA_ERROR. */
export function groupProtocolCode(error: GroupProtocolError | 'GROUP_ID_NOT_FOUND' | 'NON_EMPTY_GROUP' | 'GROUP_SUBSCRIBED_TO_TOPIC' | null): number {
  return error === null ? KAFKA_ERROR.NONE : KAFKA_ERROR[error];
}
