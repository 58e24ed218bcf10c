import { RunnelError } from '../../errors.ts';
import { checkCreatePartitions } from '../../metadata/topic-checks.ts';
import type { CreatePartitionsRequest } from '../../metadata/topic-checks.ts';
import type { MetadataService, PartitionAdminService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR, kafkaErrorCode } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { usableEverywhere } from './admin-topics.ts';

export interface CreatePartitionsDeps {
  readonly admin: PartitionAdminService;
  readonly metadata: MetadataService;
}

interface PartitionsTopic {
  name: string;
  count: number;
  assignments: { brokerIds: number[] }[] | null;
}

/**
 * CreatePartitions (37): raise each topic's partition count through the active controller
 * (new PartitionRecords, placed as CreateTopics places them, or on the brokers the client
 * assigned). Answered once every new partition has a leader in this node's image and every live
 * broker has applied as far as this node, as CreateTopics is, bounded by timeoutMs. validateOnly
 * runs the controller's checks against this node's image. A topic named twice gets
 * INVALID_REQUEST (Kafka: "Duplicate topic in request").
 */
export function createPartitionsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: CreatePartitionsDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const topics = req.body['topics'] as PartitionsTopic[];
      const validateOnly = req.body['validateOnly'] === true;
      const deadline = Date.now() + Math.max(0, req.body['timeoutMs'] as number);
      const seen = new Map<string, number>();
      for (const t of topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
      const results = await Promise.all(
        topics.map(async (t): Promise<MessageValue> => {
          try {
            if ((seen.get(t.name) ?? 0) > 1) throw new RunnelError('INVALID_REQUEST', `topic "${t.name}" is named more than once`);
            const call: CreatePartitionsRequest = { name: t.name, count: t.count, ...(t.assignments === null ? {} : { assignments: t.assignments.map((a) => a.brokerIds) }) };
            if (validateOnly) {
              checkCreatePartitions(call, deps.metadata.image());
              return { name: t.name, errorCode: KAFKA_ERROR.NONE, errorMessage: null };
            }
            const grown = await deps.admin.createPartitions(call);
            if (!(await usableEverywhere(deps.metadata, grown, deadline))) {
              throw new RunnelError('REQUEST_TIMED_OUT', `partitions of "${t.name}" were added but not every live broker knew their leaders in time`);
            }
            return { name: t.name, errorCode: KAFKA_ERROR.NONE, errorMessage: null };
          } catch (err) {
            return { name: t.name, errorCode: kafkaErrorCode(err), errorMessage: err instanceof Error ? err.message : String(err) };
          }
        }),
      );
      return { throttleTimeMs: 0, results };
    },
  };
}
