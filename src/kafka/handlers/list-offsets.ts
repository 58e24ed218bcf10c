import type { FetchService, MetadataService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR, kafkaErrorCode } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { lookupTopic } from './topic-lookup.ts';

export interface ListOffsetsApiDeps {
  readonly metadata: MetadataService;
  readonly fetch: FetchService;
}

interface ListOffsetsPartition {
  readonly partitionIndex: number;
  readonly timestamp: bigint;
  readonly maxNumOffsets?: number;
  /** v4+; -1 skips the check. */
  readonly currentLeaderEpoch?: number;
}

/**
 * ListOffsets (2): each partition is answered by the fetch service's offsetForTimestamp on the
 * partition's leader (forwarded from any node): -2 earliest (log start), -1 latest (high
 * watermark), -3 the record with the largest timestamp, else the earliest record at or after
 * the timestamp, only below the high watermark; none found answers offset -1 and timestamp -1,
 * as Kafka does. With no transactions, read_committed (IsolationLevel 1) reads as
 * read_uncommitted (LSO = HW). v0 answers in the old shape, OldStyleOffsets: one offset, or
 * none (Kafka's v0 also listed segment base offsets for MaxNumOffsets > 1; clients ask for 1).
 * LeaderEpoch (v4+) is the epoch of the leader that wrote the record found (the current
 * epoch for latest), so a consumer can validate the position after a leader change (KIP-320).
 * CurrentLeaderEpoch (v4+) is checked by the leader: FENCED_LEADER_EPOCH when older,
 * UNKNOWN_LEADER_EPOCH when newer.
 */
export function listOffsetsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: ListOffsetsApiDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const topics = req.body['topics'] as { name: string; partitions: ListOffsetsPartition[] }[];
      const responses = await Promise.all(
        topics.map(async (t) => {
          const topic = await lookupTopic(deps.metadata, t.name);
          const partitions = await Promise.all(
            t.partitions.map(async (p): Promise<MessageValue> => {
              const answer = (errorCode: number, offset = -1n, timestamp = -1n, leaderEpoch = -1): MessageValue => ({
                partitionIndex: p.partitionIndex,
                errorCode,
                oldStyleOffsets: offset >= 0n && (p.maxNumOffsets ?? 1) > 0 ? [offset] : [],
                timestamp,
                offset,
                leaderEpoch,
              });
              if (topic === undefined || topic.partitions[p.partitionIndex] === undefined) return answer(KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
              try {
                const found = await deps.fetch.offsetForTimestamp({ topicId: topic.id, partition: p.partitionIndex, timestamp: Number(p.timestamp), currentLeaderEpoch: p.currentLeaderEpoch ?? -1 });
                if (found === undefined) return answer(KAFKA_ERROR.NONE);
                return answer(KAFKA_ERROR.NONE, BigInt(found.offset), BigInt(found.timestamp), found.leaderEpoch);
              } catch (err) {
                return answer(kafkaErrorCode(err));
              }
            }),
          );
          return { name: t.name, partitions };
        }),
      );
      return { throttleTimeMs: 0, topics: responses };
    },
    errorResponse: (req, errorCode) => {
      const topics = req.body['topics'] as { name: string; partitions: ListOffsetsPartition[] }[];
      const partition = (p: ListOffsetsPartition): MessageValue => ({ partitionIndex: p.partitionIndex, errorCode, oldStyleOffsets: [], timestamp: -1n, offset: -1n, leaderEpoch: -1 });
      return { throttleTimeMs: 0, topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map(partition) })) };
    },
  };
}
