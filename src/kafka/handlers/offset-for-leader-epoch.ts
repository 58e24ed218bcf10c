import type { FetchService, MetadataService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR, kafkaErrorCode } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { lookupTopic } from './topic-lookup.ts';

export interface OffsetForLeaderEpochApiDeps {
  readonly metadata: MetadataService;
  readonly fetch: FetchService;
}

interface OffsetForLeaderPartition {
  readonly partition: number;
  readonly leaderEpoch: number;
  /** v2+; -1 skips the check. */
  readonly currentLeaderEpoch?: number;
}

/**
 * OffsetForLeaderEpoch (23): each partition is answered by the fetch service's
 * endOffsetForEpoch on the partition's leader (forwarded from any node): the largest epoch <=
 * the one asked for and where it ends, the log end offset for the current epoch, -1/-1 for an
 * epoch above every one held (Kafka's LeaderEpochFileCache.endOffsetFor). A consumer validates
 * its position with it after a leader change (KIP-320) and truncates to the end offset when
 * its epoch ended earlier. Errors per partition with Kafka's codes; CurrentLeaderEpoch is
 * checked by the leader (FENCED_LEADER_EPOCH when older, UNKNOWN_LEADER_EPOCH when newer).
 * Follower requests (ReplicaId >= 0) are answered as a consumer's.
 */
export function offsetForLeaderEpochApi(specs: ApiSpecs, range: { min: number; max: number }, deps: OffsetForLeaderEpochApiDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const topics = req.body['topics'] as { topic: string; partitions: OffsetForLeaderPartition[] }[];
      const responses = await Promise.all(
        topics.map(async (t) => {
          const topic = await lookupTopic(deps.metadata, t.topic);
          const partitions = await Promise.all(
            t.partitions.map(async (p): Promise<MessageValue> => {
              const answer = (errorCode: number, leaderEpoch = -1, endOffset = -1n): MessageValue => ({ errorCode, partition: p.partition, leaderEpoch, endOffset });
              if (topic === undefined || topic.partitions[p.partition] === undefined) return answer(KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
              try {
                const found = await deps.fetch.endOffsetForEpoch({ topicId: topic.id, partition: p.partition, leaderEpoch: p.leaderEpoch, currentLeaderEpoch: p.currentLeaderEpoch ?? -1 });
                return answer(KAFKA_ERROR.NONE, found.epoch, BigInt(found.endOffset));
              } catch (err) {
                return answer(kafkaErrorCode(err));
              }
            }),
          );
          return { topic: t.topic, partitions };
        }),
      );
      return { throttleTimeMs: 0, topics: responses };
    },
    errorResponse: (req, errorCode) => {
      const topics = req.body['topics'] as { topic: string; partitions: OffsetForLeaderPartition[] }[];
      const partition = (p: OffsetForLeaderPartition): MessageValue => ({ errorCode, partition: p.partition, leaderEpoch: -1, endOffset: -1n });
      return { throttleTimeMs: 0, topics: topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map(partition) })) };
    },
  };
}
