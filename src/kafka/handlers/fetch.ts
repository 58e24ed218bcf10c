import type { FetchService, MetadataService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR, kafkaErrorCode } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { lookupTopic } from './topic-lookup.ts';

export interface FetchApiDeps {
  readonly metadata: MetadataService;
  readonly fetch: FetchService;
}

interface FetchPartition {
  readonly partition: number;
  readonly fetchOffset: bigint;
  readonly partitionMaxBytes: number;
}

/**
 * Fetch (1): each partition is read through the fetch service, the same call an HTTP consume
 * makes; the batches come back as stored (never re-encoded). Every partition long-polls up to
 * MaxWaitMs when nothing is there (so an empty fetch waits, one with data returns at once), and
 * fetch sessions are declined (SessionId 0: clients send full fetches, KIP-227). With no
 * transactions, LastStableOffset = HighWatermark, and read_committed reads as read_uncommitted.
 * TODO(issue 12): return as soon as MinBytes are there across partitions, MaxBytes across the
 * response, CurrentLeaderEpoch checks (FENCED/UNKNOWN_LEADER_EPOCH).
 */
export function fetchApi(specs: ApiSpecs, range: { min: number; max: number }, deps: FetchApiDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const maxWaitMs = Math.max(0, req.body['maxWaitMs'] as number);
      const topics = req.body['topics'] as { topic: string; partitions: FetchPartition[] }[];
      const responses = await Promise.all(
        topics.map(async (t) => {
          const topic = await lookupTopic(deps.metadata, t.topic);
          const partitions = await Promise.all(
            t.partitions.map(async (p): Promise<MessageValue> => {
              const answer = (errorCode: number, hw = -1n, logStart = -1n, records: Buffer | null = null): MessageValue => ({
                partitionIndex: p.partition,
                errorCode,
                highWatermark: hw,
                lastStableOffset: hw,
                logStartOffset: logStart,
                abortedTransactions: null,
                preferredReadReplica: -1,
                records,
              });
              if (topic === undefined || topic.partitions[p.partition] === undefined) return answer(KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
              try {
                const call = { topicId: topic.id, partition: p.partition, offset: Number(p.fetchOffset), maxBytes: Math.max(1, p.partitionMaxBytes), timeoutMs: maxWaitMs };
                const read = await deps.fetch.consume(call);
                return answer(KAFKA_ERROR.NONE, BigInt(read.highWatermark), BigInt(read.logStartOffset), read.records);
              } catch (err) {
                return answer(kafkaErrorCode(err));
              }
            }),
          );
          return { topic: t.topic, topicId: topic?.id, partitions };
        }),
      );
      return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NONE, sessionId: 0, responses };
    },
  };
}
