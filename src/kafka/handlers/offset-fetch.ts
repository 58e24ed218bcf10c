import type { TopicPartition } from '../../groups/assignor.ts';
import type { CommittedOffset } from '../../groups/group-coordinator.ts';
import type { KafkaGroupService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { groupErrorCode } from './group-errors.ts';

export interface OffsetFetchApiDeps {
  readonly groups: KafkaGroupService;
}

interface FetchTopic {
  readonly name: string;
  readonly partitionIndexes: readonly number[];
}

interface GroupAnswer {
  readonly errorCode: number;
  readonly topics: MessageValue[];
}

/** Committed offsets by topic, in the response's shape (leader epoch -1: runnel stores none). */
function byTopic(offsets: readonly CommittedOffset[], errorCode: number): MessageValue[] {
  const topics = new Map<string, MessageValue[]>();
  for (const o of offsets) {
    const partitions = topics.get(o.topic) ?? [];
    partitions.push({ partitionIndex: o.partition, committedOffset: BigInt(o.offset), committedLeaderEpoch: -1, metadata: o.metadata, errorCode });
    topics.set(o.topic, partitions);
  }
  return [...topics].map(([name, partitions]) => ({ name, partitions }));
}

/**
 * OffsetFetch (9): the committed offsets of a group from its coordinator, the one HTTP consumer
 * groups use (so a commit through either door is read through the other): -1 for a partition
 * without commit, and every committed partition when topics is null (v2+). v8+ asks for many
 * groups at once. NOT_COORDINATOR on a node that does not coordinate the group; the group's
 * error is at the top (v2-7), per group (v8+), or on every partition (v0-1, as Kafka answers).
 */
export function offsetFetchApi(specs: ApiSpecs, range: { min: number; max: number }, deps: OffsetFetchApiDeps): KafkaApi {
  const fetchGroup = async (group: string, topics: readonly FetchTopic[] | null): Promise<GroupAnswer> => {
    const partitions: TopicPartition[] | undefined = topics?.flatMap((t) => t.partitionIndexes.map((partition) => ({ topic: t.name, partition })));
    try {
      return { errorCode: KAFKA_ERROR.NONE, topics: byTopic(await deps.groups.fetchHere(group, partitions), KAFKA_ERROR.NONE) };
    } catch (err) {
      const errorCode = groupErrorCode(err);
      const none = (partitions ?? []).map((tp) => ({ ...tp, offset: -1, metadata: '' }));
      return { errorCode, topics: byTopic(none, errorCode) };
    }
  };
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      if (req.apiVersion >= 8) {
        const groups = req.body['groups'] as { groupId: string; topics: FetchTopic[] | null }[];
        return { throttleTimeMs: 0, groups: await Promise.all(groups.map(async (g) => ({ groupId: g.groupId, ...(await fetchGroup(g.groupId, g.topics)) }))) };
      }
      const a = await fetchGroup(req.body['groupId'] as string, req.body['topics'] as FetchTopic[] | null);
      // v0-1 carry no top-level error: the partitions carry it (byTopic put it there).
      return { throttleTimeMs: 0, topics: a.topics, errorCode: a.errorCode };
    },
  };
}
