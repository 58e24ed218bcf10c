import { invalid, RunnelError } from '../errors.ts';
import type { MetadataImage, TopicState } from './image.ts';
import { placeReplicas } from './placement.ts';
import { validateTopicConfigs } from './topic-configs.ts';

// The controller's checks of topic commands, as pure functions of the image: the controller runs
// each before it commits records, and the Kafka admin APIs run them alone for validateOnly.

export interface TopicDefaults {
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly minInsyncReplicas: number;
}

export interface CreateTopicRequest {
  readonly name: string;
  readonly partitions?: number;
  readonly replicationFactor?: number;
  readonly configs: Readonly<Record<string, string>>;
}

export const MAX_PARTITIONS = 10_000;
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * What creating a topic would be: its partition count and replication factor (the defaults for
 * those left out) and the live brokers to place it on, or the error Kafka names (bad name,
 * partitions, replication factor or configs; the topic exists). The controller runs it before
 * it creates; CreateTopics with validateOnly runs it alone.
 */
export function checkCreateTopic(req: CreateTopicRequest, img: MetadataImage, d: TopicDefaults): { partitions: number; rf: number; live: number[] } {
  checkTopicName(req.name);
  const partitions = req.partitions ?? d.partitions;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw invalid('partitions_count', `must be an integer 1-${MAX_PARTITIONS}, got ${partitions}`, 'INVALID_PARTITIONS');
  }
  const live = img.allBrokers().filter((b) => !b.fenced).map((b) => b.id);
  const rf = req.replicationFactor ?? d.replicationFactor;
  if (!Number.isInteger(rf) || rf < 1) {
    throw invalid('replication_factor', `must be an integer >= 1, got ${rf}`, 'INVALID_REPLICATION_FACTOR');
  }
  if (rf > live.length) {
    throw invalid('replication_factor', `${rf} is more than the ${live.length} live brokers`, 'INVALID_REPLICATION_FACTOR');
  }
  validateTopicConfigs(req.configs, rf);
  if (img.topic(req.name) !== undefined) {
    throw new RunnelError('TOPIC_ALREADY_EXISTS', `topic "${req.name}" already exists`);
  }
  return { partitions, rf, live };
}

/** A legal Kafka topic name (Topic.validate), else INVALID_TOPIC_EXCEPTION. */
export function checkTopicName(name: string): void {
  if (!isLegalTopicName(name)) {
    throw invalid('topic_name', `"${name}" is not a valid topic name: 1-249 characters of a-z A-Z 0-9 . _ -`, 'INVALID_TOPIC_EXCEPTION');
  }
}

export interface CreatePartitionsRequest {
  readonly name: string;
  /** The new partition count. */
  readonly count: number;
  /** Replicas of each new partition, first the preferred leader; absent: placed like a new topic. */
  readonly assignments?: readonly (readonly number[])[];
}

/**
 * What raising a topic's partition count would add (the replicas of each new partition), or
 * the error Kafka names: UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS for a count not above
 * the current one, INVALID_REPLICA_ASSIGNMENT for assignments that do not fit, and
 * INVALID_REPLICATION_FACTOR when too few brokers are live to place them. CreatePartitions
 * with validateOnly runs it alone.
 */
export function checkCreatePartitions(req: CreatePartitionsRequest, img: MetadataImage): { topic: TopicState; placement: number[][] } {
  const topic = img.topic(req.name);
  if (topic === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${req.name}" does not exist`);
  const current = topic.partitions.length;
  if (!Number.isInteger(req.count) || req.count > MAX_PARTITIONS) {
    throw invalid('count', `must be an integer up to ${MAX_PARTITIONS}, got ${req.count}`, 'INVALID_PARTITIONS');
  }
  if (req.count <= current) {
    throw invalid('count', `topic "${req.name}" has ${current} partitions; the new count ${req.count} must be higher`, 'INVALID_PARTITIONS');
  }
  const rf = topic.partitions[0]?.replicas.length ?? 1;
  const added = req.count - current;
  const live = img.allBrokers().filter((b) => !b.fenced).map((b) => b.id);
  if (req.assignments === undefined) {
    if (rf > live.length) throw invalid('count', `the topic's replication factor ${rf} is more than the ${live.length} live brokers`, 'INVALID_REPLICATION_FACTOR');
    const leaderCount = new Map<number, number>();
    for (const t of img.allTopics()) for (const p of t.partitions) leaderCount.set(p.leader, (leaderCount.get(p.leader) ?? 0) + 1);
    return { topic, placement: placeReplicas(live, added, rf, leaderCount) };
  }
  if (req.assignments.length !== added) {
    throw invalid('assignments', `${req.assignments.length} assignments for ${added} new partitions`, 'INVALID_REPLICA_ASSIGNMENT');
  }
  const placement = req.assignments.map((replicas, i) => {
    const where = `assignments[${i}]`;
    if (replicas.length !== rf) throw invalid(where, `${replicas.length} replicas, but the topic's partitions have ${rf}`, 'INVALID_REPLICA_ASSIGNMENT');
    if (new Set(replicas).size !== replicas.length) throw invalid(where, 'names a broker twice', 'INVALID_REPLICA_ASSIGNMENT');
    const unknown = replicas.find((b) => img.broker(b) === undefined);
    if (unknown !== undefined) throw invalid(where, `broker ${unknown} is not registered`, 'INVALID_REPLICA_ASSIGNMENT');
    if (!replicas.some((b) => live.includes(b))) throw invalid(where, 'every broker named is fenced', 'INVALID_REPLICA_ASSIGNMENT');
    return [...replicas];
  });
  return { topic, placement };
}

/**
 * Whether setting (string) or resetting (null) these configs of a topic is allowed: known names
 * and values, and min.insync.replicas within the replication factor once applied. Throws
 * INVALID_CONFIG naming the config. The controller runs it before it alters; the Kafka config
 * APIs with validateOnly run it alone.
 */
export function checkAlterTopicConfigs(t: TopicState, changes: Readonly<Record<string, string | null>>): void {
  const next: Record<string, string> = { ...t.configs };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  const rf = t.partitions[0]?.replicas.length ?? 1;
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(changes)) if (v !== null) set[k] = v;
  validateTopicConfigs(set, rf);
  const minIsr = next['min.insync.replicas'];
  if (minIsr !== undefined && Number(minIsr) > rf) {
    throw invalid('configs[min.insync.replicas]', `${minIsr} is more than the replication factor ${rf}`, 'INVALID_CONFIG');
  }
}

export function isLegalTopicName(name: string): boolean {
  return TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}
