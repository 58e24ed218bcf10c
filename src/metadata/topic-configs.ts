import type { ClusterConfig } from '../config/load-config.ts';
import type { TopicState } from './image.ts';
import { invalid } from '../errors.ts';

/** The topic configs runnel understands (Kafka names), with their value checks. */
interface TopicConfigSpec {
  readonly doc: string;
  /** Returns a reason if `value` is not acceptable. */
  readonly check: (value: string) => string | undefined;
}

const intAtLeast =
  (min: number) =>
  (value: string): string | undefined =>
    /^-?\d+$/.test(value) && Number.isSafeInteger(Number(value)) && Number(value) >= min
      ? undefined
      : `must be an integer >= ${min}`;

export const TOPIC_CONFIGS: Readonly<Record<string, TopicConfigSpec>> = {
  'min.insync.replicas': { doc: 'replicas that must hold a record before acks=all succeeds', check: intAtLeast(1) },
  'retention.ms': { doc: 'delete segments older than this (-1: keep forever)', check: intAtLeast(-1) },
  'retention.bytes': { doc: 'delete oldest segments beyond this size per partition (-1: no limit)', check: intAtLeast(-1) },
  'segment.bytes': { doc: 'roll a new segment file at this size', check: intAtLeast(1024) },
  'cleanup.policy': {
    doc: 'what retention does with old segments: delete (compaction is not supported)',
    check: (v) => (v === 'delete' ? undefined : 'must be "delete" (compaction is not supported)'),
  },
  'max.message.bytes': { doc: 'largest record batch accepted by produce', check: intAtLeast(1) },
  'unclean.leader.election.enable': {
    doc: 'allow an out-of-sync replica to become leader when no in-sync one is left (may lose data)',
    check: (v) => (v === 'true' || v === 'false' ? undefined : 'must be "true" or "false"'),
  },
};

/**
 * Validate a set of topic configs against the known names and types, and against the
 * topic's replication factor. Throws a 422 naming the offending config.
 */
export function validateTopicConfigs(configs: Readonly<Record<string, string>>, replicationFactor: number): void {
  for (const [name, value] of Object.entries(configs)) {
    const spec = TOPIC_CONFIGS[name];
    if (spec === undefined) {
      throw invalid(`configs[${name}]`, `unknown config; known: ${Object.keys(TOPIC_CONFIGS).join(', ')}`, 'INVALID_CONFIG');
    }
    const why = spec.check(value);
    if (why !== undefined) throw invalid(`configs[${name}]`, `${why}, got ${JSON.stringify(value)}`, 'INVALID_CONFIG');
  }
  const minIsr = configs['min.insync.replicas'];
  if (minIsr !== undefined && Number(minIsr) > replicationFactor) {
    throw invalid(
      'configs[min.insync.replicas]',
      `${minIsr} is more than the replication factor ${replicationFactor}: acks=all could never succeed`,
      'INVALID_CONFIG',
    );
  }
}

/** The cluster-wide values of the topic configs (cluster.yaml), used where a topic sets none. */
export function topicConfigDefaults(config: ClusterConfig): Readonly<Record<string, string>> {
  return {
    'min.insync.replicas': String(config.topicDefaults.minInsyncReplicas),
    'retention.ms': String(config.log.retentionMs),
    'retention.bytes': String(config.log.retentionBytes),
    'segment.bytes': String(config.log.segmentBytes),
    'cleanup.policy': 'delete',
    'max.message.bytes': String(config.log.maxMessageBytes),
    'unclean.leader.election.enable': 'false',
  };
}

/** A topic config: set on the topic, else the cluster default (API.md). */
export function topicConfigValue(t: TopicState, name: string, defaults: Readonly<Record<string, string>>): string {
  return t.configs[name] ?? defaults[name] ?? '';
}
