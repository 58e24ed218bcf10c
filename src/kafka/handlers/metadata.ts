import type { MetadataImage, PartitionState, TopicState } from '../../metadata/image.ts';
import { NO_LEADER } from '../../metadata/image.ts';
import type { MetadataService, QuorumService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { AutoCreateDeps } from './auto-create.ts';
import { autoCreateTopic } from './auto-create.ts';
import { lookupTopic } from './topic-lookup.ts';
import { ZERO_UUID } from '../protocol/message-codec.ts';
import type { MessageValue } from '../protocol/message-codec.ts';

export interface KafkaAddress {
  readonly host: string;
  readonly port: number;
}

export interface MetadataApiDeps extends AutoCreateDeps {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly metadata: MetadataService;
  readonly quorum: QuorumService;
  /** Where a broker serves Kafka (its node entry's host:kafka_port), or undefined if it serves none. */
  readonly kafkaAddress: (brokerId: number) => KafkaAddress | undefined;
}

/**
 * Metadata (3): the live brokers at their Kafka addresses, a live broker as controller id
 * (kafkajs requires one; KRaft names a random live broker too), and the topics asked for.
 * A topic named that does not exist is auto-created when the request allows it (v4+:
 * AllowAutoTopicCreation; v0-3 always, as Kafka) and auto.create.topics.enable is on,
 * answering LEADER_NOT_AVAILABLE until it is usable; else UNKNOWN_TOPIC_OR_PARTITION.
 */
export function metadataApi(specs: ApiSpecs, range: { min: number; max: number }, deps: MetadataApiDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const image = deps.metadata.image();
      const brokers = liveBrokers(image, deps);
      const requested = req.body['topics'] as { name: string | null; topicId: string }[] | null;
      // v0: an empty list means every topic; v1+: null does (MetadataRequest.json).
      const all = requested === null || (req.apiVersion === 0 && requested.length === 0);
      const topics = all
        ? image.allTopics().map((t) => topicBody(t, image))
        : await Promise.all(requested.map((r) => requestedTopic(r, image, deps, req.apiVersion < 4 || req.body['allowAutoTopicCreation'] === true)));
      return {
        throttleTimeMs: 0,
        brokers,
        clusterId: deps.clusterId,
        controllerId: controllerId(brokers, deps.quorum.controllerId(), deps.nodeId),
        topics,
      };
    },
  };
}

export function liveBrokers(image: MetadataImage, deps: MetadataApiDeps): MessageValue[] {
  const out: MessageValue[] = [];
  for (const b of image.allBrokers()) {
    const addr = deps.kafkaAddress(b.id);
    if (!b.fenced && addr !== undefined) out.push({ nodeId: b.id, host: addr.host, port: addr.port, rack: null });
  }
  // While this node is still registering, it names at least itself so the client can come back.
  const self = deps.kafkaAddress(deps.nodeId);
  if (out.length === 0 && self !== undefined) out.push({ nodeId: deps.nodeId, host: self.host, port: self.port, rack: null });
  return out;
}

/** The quorum leader if it is a live broker, else the lowest live broker: never -1 (kafkajs). */
export function controllerId(brokers: readonly MessageValue[], leader: number | null, self: number): number {
  const ids = brokers.map((b) => b['nodeId'] as number);
  if (leader !== null && ids.includes(leader)) return leader;
  return ids[0] ?? self;
}

async function requestedTopic(r: { name: string | null; topicId: string }, image: MetadataImage, deps: MetadataApiDeps, autoCreate: boolean): Promise<MessageValue> {
  let t: TopicState | undefined;
  if (r.name !== null) {
    t = await lookupTopic(deps.metadata, r.name);
  } else if (r.topicId !== ZERO_UUID) {
    t = image.topicById(r.topicId);
  }
  if (t === undefined && r.name !== null && autoCreate) {
    const created = await autoCreateTopic(r.name, deps);
    if ('topic' in created) return topicBody(created.topic, deps.metadata.image());
    return { errorCode: created.errorCode, name: r.name, topicId: r.topicId, isInternal: false, partitions: [] };
  }
  if (t === undefined) {
    return { errorCode: KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, name: r.name, topicId: r.topicId, isInternal: false, partitions: [] };
  }
  return topicBody(t, image);
}

function topicBody(t: TopicState, image: MetadataImage): MessageValue {
  return {
    errorCode: KAFKA_ERROR.NONE,
    name: t.name,
    topicId: t.id,
    // Topics named "__..." are runnel's internal ones (the offsets topic), as in Kafka.
    isInternal: t.name.startsWith('__'),
    partitions: t.partitions.map((p) => partitionBody(p, image)),
  };
}

function partitionBody(p: PartitionState, image: MetadataImage): MessageValue {
  return {
    errorCode: p.leader === NO_LEADER ? KAFKA_ERROR.LEADER_NOT_AVAILABLE : KAFKA_ERROR.NONE,
    partitionIndex: p.partition,
    leaderId: p.leader,
    leaderEpoch: p.leaderEpoch,
    replicaNodes: [...p.replicas],
    isrNodes: [...p.isr],
    offlineReplicas: p.replicas.filter((id) => image.broker(id)?.fenced !== false),
  };
}
