import type { FetchService, MetadataService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR, kafkaErrorCode } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { fetchPartitions } from './fetch-read.ts';
import type { PartitionOutcome, PartitionRead } from './fetch-read.ts';
import { lookupTopic } from './topic-lookup.ts';

export interface FetchApiDeps {
  readonly metadata: MetadataService;
  readonly fetch: FetchService;
}

/** A topic of the request: by name up to v12, by topic id from v13 (KIP-516). */
interface FetchTopic {
  readonly topic?: string;
  readonly topicId?: string;
  readonly partitions: FetchPartition[];
}

interface FetchPartition {
  readonly partition: number;
  readonly fetchOffset: bigint;
  readonly partitionMaxBytes: number;
  /** v9+; -1 (the default before v9) skips the check. */
  readonly currentLeaderEpoch?: number;
}

/**
 * A long poll never outlives this (Kafka clients' request.timeout.ms default, above any
 * fetch.max.wait.ms they send): a request naming days would hold its waiters that long.
 */
const FETCH_MAX_WAIT_CAP_MS = 30_000;

/** Fetch's MaxBytes before v3, which had none (Kafka uses Int.MaxValue). */
const UNBOUNDED_RESPONSE_BYTES = 2 ** 31 - 1;

/**
 * Fetch (1): each partition is read through the fetch service, the same call an HTTP consume
 * makes, on the partition's leader; the batches come back as stored (never re-encoded). As
 * Kafka's ReplicaManager.fetchMessages (fetch-read.ts): the answer comes at once when MinBytes
 * are there over all partitions, a partition fails or MaxWaitMs is 0, else once MinBytes
 * arrive or MaxWaitMs passes; it holds to MaxBytes over all partitions and PartitionMaxBytes
 * each, but carries at least one whole batch of the first partition with data (KIP-74).
 * CurrentLeaderEpoch (v9+) is checked by the leader: FENCED_LEADER_EPOCH when older,
 * UNKNOWN_LEADER_EPOCH when newer (KIP-320); an offset outside [log start, log end] is
 * OFFSET_OUT_OF_RANGE. Fetch sessions are declined (SessionId 0: clients send full fetches,
 * KIP-227). With no transactions, LastStableOffset = HighWatermark, and read_committed reads
 * as read_uncommitted. From v13 topics are named by their topic id (the id Metadata v10+
 * answers), and an id no topic has is UNKNOWN_TOPIC_ID.
 */
export function fetchApi(specs: ApiSpecs, range: { min: number; max: number }, deps: FetchApiDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const maxWaitMs = Math.min(FETCH_MAX_WAIT_CAP_MS, Math.max(0, req.body['maxWaitMs'] as number));
      const minBytes = req.body['minBytes'] as number;
      const maxBytes = req.apiVersion >= 3 ? Math.max(0, req.body['maxBytes'] as number) : UNBOUNDED_RESPONSE_BYTES;
      const topics = req.body['topics'] as FetchTopic[];
      const byId = req.apiVersion >= 13;
      const found = byId ? topics.map((t) => deps.metadata.image().topicById(t.topicId ?? '')) : await Promise.all(topics.map((t) => lookupTopic(deps.metadata, t.topic ?? '')));
      const unknownCode = byId ? KAFKA_ERROR.UNKNOWN_TOPIC_ID : KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION;
      // In request order: what to read, and where each answer goes.
      const reads: PartitionRead[] = [];
      const slots: (number | 'unknown')[][] = topics.map((t, ti) =>
        t.partitions.map((p) => {
          const topic = found[ti];
          if (topic === undefined || topic.partitions[p.partition] === undefined) return 'unknown';
          reads.push({ topicId: topic.id, partition: p.partition, fetchOffset: Number(p.fetchOffset), partitionMaxBytes: Math.max(0, p.partitionMaxBytes), currentLeaderEpoch: p.currentLeaderEpoch ?? -1 });
          return reads.length - 1;
        }),
      );
      // A partition in error answers at once, as Kafka's errorReadingData does.
      const anyUnknown = slots.some((s) => s.includes('unknown'));
      const outcomes = await fetchPartitions(deps.fetch, reads, { maxWaitMs: anyUnknown ? 0 : maxWaitMs, minBytes, maxBytes });
      const responses = topics.map((t, ti) => ({
        topic: t.topic,
        topicId: t.topicId ?? found[ti]?.id,
        partitions: t.partitions.map((p, pi) => {
          // A known topic's missing partition stays UNKNOWN_TOPIC_OR_PARTITION at every version.
          const unknown = found[ti] === undefined ? unknownCode : KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION;
          return partitionAnswer(p.partition, slots[ti]?.[pi] ?? 'unknown', outcomes, unknown);
        }),
      }));
      return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NONE, sessionId: 0, responses };
    },
    errorResponse: (req, errorCode) => {
      const topics = req.body['topics'] as FetchTopic[];
      const responses = topics.map((t) => ({ topic: t.topic, topicId: t.topicId, partitions: t.partitions.map((p) => partitionAnswer(p.partition, { err: errorCode })) }));
      return { throttleTimeMs: 0, errorCode, sessionId: 0, responses };
    },
  };
}

/** One partition's answer: from its read, unknown, or a Kafka error code for all of them. */
function partitionAnswer(partition: number, slot: number | 'unknown' | { err: number }, outcomes: readonly PartitionOutcome[] = [], unknownCode: number = KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION): MessageValue {
  const answer = (errorCode: number, hw = -1n, logStart = -1n, records: Buffer | null = null): MessageValue => ({
    partitionIndex: partition,
    errorCode,
    highWatermark: hw,
    lastStableOffset: hw,
    logStartOffset: logStart,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records,
  });
  if (typeof slot === 'object') return answer(slot.err);
  const o = slot === 'unknown' ? undefined : outcomes[slot];
  if (o === undefined) return answer(unknownCode);
  if ('err' in o) return answer(kafkaErrorCode(o.err));
  return answer(KAFKA_ERROR.NONE, BigInt(o.ok.highWatermark), BigInt(o.ok.logStartOffset), o.ok.records);
}
