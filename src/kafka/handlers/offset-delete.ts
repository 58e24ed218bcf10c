import type { TopicPartition } from '../../groups/assignor.ts';
import type { ClassicGroupService, MetadataService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { groupApi } from './group-api.ts';
import { groupProtocolCode } from './group-errors.ts';
import { lookupTopic } from './topic-lookup.ts';

interface DeleteTopic {
  readonly name: string;
  readonly partitions: readonly { readonly partitionIndex: number }[];
}

/**
 * OffsetDelete (47, KIP-496): removes a group's committed offsets of some partitions, on its
 * coordinator. As Kafka's KafkaApis, a partition that does not exist is
 * UNKNOWN_TOPIC_OR_PARTITION and is not sent on; the coordinator refuses a partition its
 * consumer group subscribes to (GROUP_SUBSCRIBED_TO_TOPIC) and a whole group that is unknown
 * (GROUP_ID_NOT_FOUND) or has members of another protocol type (NON_EMPTY_GROUP), which the
 * answer carries at the top with no partitions.
 */
export function offsetDeleteApi(specs: ApiSpecs, range: { min: number; max: number }, deps: { readonly classicGroups: ClassicGroupService; readonly metadata: MetadataService }): KafkaApi {
  const groupError = (errorCode: number): MessageValue => ({ throttleTimeMs: 0, errorCode, topics: [] });
  return groupApi(specs, range, async (req) => {
    const topics = req.body['topics'] as DeleteTopic[];
    const codes = new Map<string, number>();
    const known: TopicPartition[] = [];
    for (const t of topics) {
      const topic = await lookupTopic(deps.metadata, t.name);
      for (const p of t.partitions) {
        if (topic?.partitions[p.partitionIndex] === undefined) codes.set(`${t.name}:${p.partitionIndex}`, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
        else known.push({ topic: t.name, partition: p.partitionIndex });
      }
    }
    const a = await deps.classicGroups.deleteOffsetsHere(req.body['groupId'] as string, known);
    if (a.error !== null) return groupError(groupProtocolCode(a.error));
    for (const p of a.partitions) codes.set(`${p.topic}:${p.partition}`, groupProtocolCode(p.error));
    return {
      throttleTimeMs: 0,
      errorCode: KAFKA_ERROR.NONE,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codes.get(`${t.name}:${p.partitionIndex}`) ?? KAFKA_ERROR.NONE })),
      })),
    };
  }, groupError);
}
