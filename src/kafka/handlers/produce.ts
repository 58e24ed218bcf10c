import type { MetadataService, ProduceBudget, ProduceService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR, kafkaErrorCode } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import type { AutoCreateDeps } from './auto-create.ts';
import { autoCreateTopic } from './auto-create.ts';
import { lookupTopic } from './topic-lookup.ts';

export interface ProduceApiDeps extends AutoCreateDeps {
  readonly metadata: MetadataService;
  readonly produce: ProduceService;
  readonly produceBudget: ProduceBudget;
}

interface PartitionData {
  readonly index: number;
  readonly records: Buffer | null;
}

/** Produce v3+ carries RecordBatch v2 only; v0-2 are advertised but refused, as Kafka 4.0 does (KAFKA-18659). */
const FIRST_SERVED_VERSION = 3;

/**
 * Produce (0): each partition's batch goes to the produce service exactly as the client sent
 * it (the bytes stored are the bytes sent; the leader stamps offsets in the header), the same
 * call an HTTP produce makes. acks=0 gets no response at all (KafkaApis.handleProduceRequest).
 */
export function produceApi(specs: ApiSpecs, range: { min: number; max: number }, deps: ProduceApiDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const acks = req.body['acks'] as number;
      const timeoutMs = req.body['timeoutMs'] as number;
      const topics = req.body['topicData'] as { name: string; partitionData: PartitionData[] }[];
      const responses = await Promise.all(
        topics.map(async (t) => {
          // A missing topic is auto-created (auto.create.topics.enable); until usable, its error for every partition.
          const found = await lookupTopic(deps.metadata, t.name);
          const known = found !== undefined ? { topic: found } : req.apiVersion >= FIRST_SERVED_VERSION ? await autoCreateTopic(t.name, deps) : { errorCode: KAFKA_ERROR.UNSUPPORTED_VERSION };
          const topic = 'topic' in known ? known.topic : undefined;
          const missingCode = 'errorCode' in known ? known.errorCode : KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION;
          const partitionResponses = await Promise.all(
            t.partitionData.map(async (p): Promise<MessageValue> => {
              const answer = (errorCode: number, baseOffset = -1n): MessageValue => ({ index: p.index, errorCode, baseOffset, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage: null });
              if (req.apiVersion < FIRST_SERVED_VERSION) return answer(KAFKA_ERROR.UNSUPPORTED_VERSION);
              if (topic === undefined) return answer(missingCode);
              if (topic.partitions[p.index] === undefined) return answer(KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
              if (acks !== 0 && acks !== 1 && acks !== -1) return answer(KAFKA_ERROR.INVALID_REQUEST);
              if (p.records === null || p.records.length === 0) return answer(KAFKA_ERROR.CORRUPT_MESSAGE);
              try {
                const release = deps.produceBudget.acquire(p.records.length);
                try {
                  const base = await deps.produce.produce({ topicId: topic.id, partition: p.index, batch: p.records, acks: acks, timeoutMs });
                  return answer(KAFKA_ERROR.NONE, BigInt(base));
                } finally {
                  release();
                }
              } catch (err) {
                return answer(kafkaErrorCode(err));
              }
            }),
          );
          return { name: t.name, partitionResponses };
        }),
      );
      return acks === 0 ? null : { responses, throttleTimeMs: 0 };
    },
  };
}
