import { isLegalTopicName } from '../../metadata/topic-checks.ts';
import type { TopicDefaults } from '../../metadata/topic-checks.ts';
import type { TopicState } from '../../metadata/image.ts';
import { TOPIC_CONFIGS } from '../../metadata/topic-configs.ts';
import type { MetadataService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { lookupTopic } from './topic-lookup.ts';

/** Kafka's ConfigResource.Type ids. */
export const RESOURCE_TYPE = { TOPIC: 2, BROKER: 4 } as const;

/** DescribeConfigsResponse ConfigSource values (ConfigEntry.ConfigSource). */
const SOURCE = { DYNAMIC_TOPIC_CONFIG: 1, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const;

/** DescribeConfigsResponse ConfigType values (ConfigDef.Type as the protocol numbers it). */
const TYPE = { BOOLEAN: 1, STRING: 2, INT: 3, SHORT: 4, LONG: 5, LIST: 7 } as const;

/**
 * Kafka's type of each topic config and the broker config that is its default (LogConfig's
 * synonyms: retention.ms <- log.retention.ms, max.message.bytes <- message.max.bytes, ...).
 */
export const TOPIC_CONFIG_KAFKA: Readonly<Record<string, { readonly type: number; readonly brokerName: string }>> = {
  'min.insync.replicas': { type: TYPE.INT, brokerName: 'min.insync.replicas' },
  'retention.ms': { type: TYPE.LONG, brokerName: 'log.retention.ms' },
  'retention.bytes': { type: TYPE.LONG, brokerName: 'log.retention.bytes' },
  'segment.bytes': { type: TYPE.INT, brokerName: 'log.segment.bytes' },
  'cleanup.policy': { type: TYPE.LIST, brokerName: 'log.cleanup.policy' },
  'max.message.bytes': { type: TYPE.INT, brokerName: 'message.max.bytes' },
  'unclean.leader.election.enable': { type: TYPE.BOOLEAN, brokerName: 'unclean.leader.election.enable' },
};

export interface DescribeConfigsDeps {
  readonly nodeId: number;
  readonly metadata: MetadataService;
  readonly topicDefaults: TopicDefaults;
  /** The cluster-wide values of the topic configs (cluster.yaml). */
  readonly topicConfigDefaults: Readonly<Record<string, string>>;
  readonly autoCreateTopicsEnable: boolean;
}

interface Entry {
  readonly name: string;
  readonly value: string;
  readonly source: number;
  readonly type: number;
  readonly readOnly: boolean;
  readonly doc: string;
  readonly synonyms: readonly { name: string; value: string; source: number }[];
}

interface Resource {
  resourceType: number;
  resourceName: string;
  configurationKeys: string[] | null;
}

/**
 * DescribeConfigs (32): topic resources list runnel's topic configs (set on the topic: source
 * DYNAMIC_TOPIC_CONFIG, else the cluster default from cluster.yaml: DEFAULT_CONFIG), broker
 * resources this broker's static configs (read-only: runnel has no dynamic broker configs;
 * "" names the dynamic cluster defaults, of which there are none), as Kafka's ConfigHelper
 * does. An unknown topic gets UNKNOWN_TOPIC_OR_PARTITION, another broker's id or another
 * resource type INVALID_REQUEST, each for that resource alone.
 */
export function describeConfigsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: DescribeConfigsDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const includeSynonyms = req.body['includeSynonyms'] === true;
      const includeDocumentation = req.body['includeDocumentation'] === true;
      const results = await Promise.all(
        (req.body['resources'] as Resource[]).map(async (r): Promise<MessageValue> => {
          const answer = (errorCode: number, errorMessage: string | null, entries: readonly Entry[] = []): MessageValue => ({
            errorCode,
            errorMessage,
            resourceType: r.resourceType,
            resourceName: r.resourceName,
            configs: entries
              .filter((e) => r.configurationKeys === null || r.configurationKeys.includes(e.name))
              .map((e) => ({
                name: e.name,
                value: e.value,
                readOnly: e.readOnly,
                isDefault: e.source === SOURCE.DEFAULT_CONFIG,
                configSource: e.source,
                isSensitive: false,
                synonyms: includeSynonyms ? e.synonyms : [],
                configType: e.type,
                documentation: includeDocumentation ? e.doc : null,
              })),
          });
          switch (r.resourceType) {
            case RESOURCE_TYPE.TOPIC: {
              // ConfigHelper: Topic.validate first, so an illegal name is INVALID_TOPIC_EXCEPTION.
              if (!isLegalTopicName(r.resourceName)) return answer(KAFKA_ERROR.INVALID_TOPIC_EXCEPTION, `"${r.resourceName}" is not a legal topic name`);
              const t = await lookupTopic(deps.metadata, r.resourceName);
              if (t === undefined) return answer(KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, `topic "${r.resourceName}" does not exist`);
              return answer(KAFKA_ERROR.NONE, null, topicEntries(t, deps));
            }
            case RESOURCE_TYPE.BROKER:
              if (r.resourceName === '') return answer(KAFKA_ERROR.NONE, null);
              if (r.resourceName !== String(deps.nodeId)) {
                return answer(KAFKA_ERROR.INVALID_REQUEST, `unexpected broker id, expected ${deps.nodeId} or empty string, but received ${r.resourceName}`);
              }
              return answer(KAFKA_ERROR.NONE, null, brokerEntries(deps));
            default:
              return answer(KAFKA_ERROR.INVALID_REQUEST, `resource type ${r.resourceType} has no configs here (topics: 2, brokers: 4)`);
          }
        }),
      );
      return { throttleTimeMs: 0, results };
    },
  };
}

function topicEntries(t: TopicState, deps: DescribeConfigsDeps): Entry[] {
  return Object.entries(TOPIC_CONFIGS).map(([name, spec]) => {
    const kafka = TOPIC_CONFIG_KAFKA[name] ?? { type: TYPE.STRING, brokerName: name };
    const fallback = { name: kafka.brokerName, value: deps.topicConfigDefaults[name] ?? '', source: SOURCE.DEFAULT_CONFIG };
    const own = t.configs[name];
    return {
      name,
      value: deps.metadata.topicConfig(t, name),
      source: own === undefined ? SOURCE.DEFAULT_CONFIG : SOURCE.DYNAMIC_TOPIC_CONFIG,
      type: kafka.type,
      readOnly: false,
      doc: spec.doc,
      synonyms: own === undefined ? [fallback] : [{ name, value: own, source: SOURCE.DYNAMIC_TOPIC_CONFIG }, fallback],
    };
  });
}

function brokerEntries(deps: DescribeConfigsDeps): Entry[] {
  const d = deps.topicDefaults;
  const fixed: [string, string, number, string][] = [
    ['broker.id', String(deps.nodeId), TYPE.INT, 'this node id (cluster.yaml nodes[].id)'],
    ['auto.create.topics.enable', String(deps.autoCreateTopicsEnable), TYPE.BOOLEAN, 'create a missing topic named by Metadata or Produce, with the defaults below'],
    ['num.partitions', String(d.partitions), TYPE.INT, 'partitions of a topic created without a count'],
    ['default.replication.factor', String(d.replicationFactor), TYPE.SHORT, 'replicas of a topic created without a replication factor'],
  ];
  const fromTopics = Object.entries(TOPIC_CONFIGS)
    .filter(([name]) => TOPIC_CONFIG_KAFKA[name] !== undefined)
    .map(([name, spec]): [string, string, number, string] => {
      const kafka = TOPIC_CONFIG_KAFKA[name] ?? { type: TYPE.STRING, brokerName: name };
      return [kafka.brokerName, deps.topicConfigDefaults[name] ?? '', kafka.type, `default of the topic config ${name}: ${spec.doc}`];
    });
  return [...fixed, ...fromTopics].map(([name, value, type, doc]) => ({
    name,
    value,
    source: SOURCE.STATIC_BROKER_CONFIG,
    type,
    readOnly: true,
    doc,
    synonyms: [{ name, value, source: SOURCE.STATIC_BROKER_CONFIG }],
  }));
}
