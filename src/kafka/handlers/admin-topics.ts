import type { TopicDefaults } from '../../metadata/topic-checks.ts';
import { checkCreateTopic } from '../../metadata/topic-checks.ts';
import type { TopicState } from '../../metadata/image.ts';
import { NO_LEADER } from '../../metadata/image.ts';
import type { AdminService, MetadataService } from '../../services/front-door-services.ts';
import { RunnelError } from '../../errors.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR, kafkaErrorCode } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { ZERO_UUID } from '../protocol/message-codec.ts';

export interface AdminTopicsDeps {
  readonly admin: AdminService;
  readonly metadata: MetadataService;
  readonly topicDefaults: TopicDefaults;
}

/** How often CreateTopics looks again for the new topic's leaders, within the request's timeout. */
const LEADER_POLL_MS = 20;

interface CreatableTopic {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  assignments: unknown[];
  configs: { name: string; value: string | null }[];
}

/**
 * CreateTopics (19): each topic through the admin service HTTP uses (the controller validates
 * and places it), with Kafka's per-topic error codes; -1 partitions or replication factor means
 * the cluster default; validateOnly runs the controller's checks against this node's image and
 * creates nothing. A created topic is answered once this node's image has it with a leader for
 * every partition and every live broker has applied as far as this node (rpc
 * `metadata-applied`), bounded by timeoutMs: a client may produce to it through any broker at once.
 */
export function createTopicsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: AdminTopicsDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const topics = req.body['topics'] as CreatableTopic[];
      const timeoutMs = Math.max(0, req.body['timeoutMs'] as number);
      const validateOnly = req.body['validateOnly'] === true;
      const deadline = Date.now() + timeoutMs;
      const results = await Promise.all(topics.map((t) => createOne(t, validateOnly, deadline, deps)));
      return { throttleTimeMs: 0, topics: results };
    },
  };
}

async function createOne(t: CreatableTopic, validateOnly: boolean, deadline: number, deps: AdminTopicsDeps): Promise<MessageValue> {
  try {
    if (t.assignments.length > 0) throw new RunnelError('INVALID_REQUEST', 'manual replica assignments are not supported');
    const configs: Record<string, string> = {};
    for (const c of t.configs) {
      if (c.value === null) throw new RunnelError('INVALID_CONFIG', `configs[${c.name}]: a null value is not allowed`);
      configs[c.name] = c.value;
    }
    const req = {
      name: t.name,
      configs,
      ...(t.numPartitions === -1 ? {} : { partitions: t.numPartitions }),
      ...(t.replicationFactor === -1 ? {} : { replicationFactor: t.replicationFactor }),
    };
    if (validateOnly) {
      const { partitions, rf } = checkCreateTopic(req, deps.metadata.image(), deps.topicDefaults);
      return { name: t.name, topicId: ZERO_UUID, errorCode: KAFKA_ERROR.NONE, errorMessage: null, numPartitions: partitions, replicationFactor: rf, configs: [] };
    }
    const created = await deps.admin.createTopic(req);
    if (!(await usableEverywhere(deps.metadata, created, deadline))) {
      return failed(t.name, new RunnelError('REQUEST_TIMED_OUT', `topic "${t.name}" was created but not every live broker knew its leaders in time`));
    }
    return {
      name: t.name,
      topicId: created.id,
      errorCode: KAFKA_ERROR.NONE,
      errorMessage: null,
      numPartitions: created.partitions.length,
      replicationFactor: created.partitions[0]?.replicas.length ?? -1,
      configs: Object.entries(created.configs).map(([name, value]) => ({ name, value, readOnly: false, configSource: 1, isSensitive: false })),
    };
  } catch (err) {
    return failed(t.name, err);
  }
}

function failed(name: string, err: unknown): MessageValue {
  return {
    name,
    topicId: ZERO_UUID,
    errorCode: kafkaErrorCode(err),
    errorMessage: err instanceof Error ? err.message : String(err),
    numPartitions: -1,
    replicationFactor: -1,
    configs: null,
  };
}

/**
 * Whether, before the deadline, this node's image shows the topic with as many partitions as
 * `t` and a leader for each, and every live broker has applied as far as this node (rpc
 * `metadata-applied`): a client may then use it through any broker.
 */
export async function usableEverywhere(metadata: MetadataService, t: TopicState, deadline: number): Promise<boolean> {
  for (;;) {
    const now = metadata.image().topicById(t.id);
    if (now !== undefined && now.partitions.length >= Math.max(1, t.partitions.length) && now.partitions.every((p) => p.leader !== NO_LEADER)) break;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, LEADER_POLL_MS));
  }
  return metadata.appliedOnLiveBrokers(Math.max(1, deadline - Date.now()));
}

/**
 * DeleteTopics (20): each topic (by name; v6+ also by id) through the admin service, with
 * UNKNOWN_TOPIC_OR_PARTITION for one that does not exist.
 */
export function deleteTopicsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: AdminTopicsDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const named: { name: string | null; topicId: string }[] =
        req.apiVersion >= 6
          ? (req.body['topics'] as { name: string | null; topicId: string }[])
          : (req.body['topicNames'] as string[]).map((name) => ({ name, topicId: ZERO_UUID }));
      const responses = await Promise.all(
        named.map(async (n) => {
          const name = n.name ?? deps.metadata.image().topicById(n.topicId)?.name ?? null;
          try {
            if (name === null) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `no topic has id ${n.topicId}`);
            await deps.admin.deleteTopic(name);
            return { name, topicId: n.topicId, errorCode: KAFKA_ERROR.NONE, errorMessage: null };
          } catch (err) {
            return { name, topicId: n.topicId, errorCode: kafkaErrorCode(err), errorMessage: err instanceof Error ? err.message : String(err) };
          }
        }),
      );
      return { throttleTimeMs: 0, responses };
    },
  };
}
