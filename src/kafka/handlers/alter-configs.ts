import { invalid, RunnelError } from '../../errors.ts';
import { checkAlterTopicConfigs, checkTopicName } from '../../metadata/topic-checks.ts';
import type { TopicState } from '../../metadata/image.ts';
import { TOPIC_CONFIGS } from '../../metadata/topic-configs.ts';
import type { AdminService, MetadataService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR, kafkaErrorCode } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { RESOURCE_TYPE, TOPIC_CONFIG_KAFKA } from './describe-configs.ts';
import { lookupTopic } from './topic-lookup.ts';

export interface AlterConfigsDeps {
  readonly admin: AdminService;
  readonly metadata: MetadataService;
}

/** IncrementalAlterConfigs ConfigOperation values (AlterConfigOp.OpType). */
const OP = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

/** How long an alter waits for every live broker to apply it, so a describe anywhere sees it. */
const APPLIED_WAIT_MS = 5000;

interface AlterResource<C> {
  resourceType: number;
  resourceName: string;
  configs: C[];
}

/**
 * What one resource's alteration becomes: topic config changes (a value to set, null to reset
 * to the cluster default), or a throw with the Kafka error for the whole resource.
 */
type ToChanges<C> = (t: TopicState, configs: readonly C[]) => Record<string, string | null>;

/**
 * The shared path of AlterConfigs and IncrementalAlterConfigs: per resource, a topic's changes
 * go through the admin service HTTP uses (one ConfigChange record each, all or nothing), after
 * the controller's own checks; validateOnly runs only the checks. Broker resources are refused
 * with INVALID_REQUEST, as Kafka refuses configs that cannot be updated dynamically: runnel's
 * broker configs live in cluster.yaml. A resource named twice gets INVALID_REQUEST.
 */
function alterConfigsHandler<C extends { name: string }>(specs: ApiSpecs, range: { min: number; max: number }, deps: AlterConfigsDeps, toChanges: ToChanges<C>): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const resources = req.body['resources'] as AlterResource<C>[];
      const validateOnly = req.body['validateOnly'] === true;
      const named = new Map<string, number>();
      for (const r of resources) named.set(`${r.resourceType}:${r.resourceName}`, (named.get(`${r.resourceType}:${r.resourceName}`) ?? 0) + 1);
      const responses = await Promise.all(
        resources.map(async (r): Promise<MessageValue> => {
          const answer = (errorCode: number, errorMessage: string | null): MessageValue => ({ errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName });
          try {
            if ((named.get(`${r.resourceType}:${r.resourceName}`) ?? 0) > 1) throw new RunnelError('INVALID_REQUEST', `resource "${r.resourceName}" is named more than once`);
            if (r.resourceType === RESOURCE_TYPE.BROKER) {
              throw new RunnelError('INVALID_REQUEST', `cannot update these configs dynamically: ${r.configs.map((c) => c.name).join(', ')} (broker configs are set in cluster.yaml)`);
            }
            if (r.resourceType !== RESOURCE_TYPE.TOPIC) throw new RunnelError('INVALID_REQUEST', `resource type ${r.resourceType} has no configs here (topics: 2)`);
            checkTopicName(r.resourceName); // ControllerConfigurationValidator: INVALID_TOPIC_EXCEPTION first
            const t = await lookupTopic(deps.metadata, r.resourceName);
            if (t === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${r.resourceName}" does not exist`);
            const seen = new Set<string>();
            for (const c of r.configs) {
              if (seen.has(c.name)) throw new RunnelError('INVALID_REQUEST', `config "${c.name}" is named more than once`);
              seen.add(c.name);
            }
            const changes = toChanges(t, r.configs);
            checkAlterTopicConfigs(t, changes);
            if (!validateOnly && Object.keys(changes).length > 0) {
              await deps.admin.alterTopicConfigs(t.name, changes);
              await deps.metadata.appliedOnLiveBrokers(APPLIED_WAIT_MS);
            }
            return answer(KAFKA_ERROR.NONE, null);
          } catch (err) {
            return answer(kafkaErrorCode(err), err instanceof Error ? err.message : String(err));
          }
        }),
      );
      return { throttleTimeMs: 0, responses };
    },
  };
}

interface IncrementalConfig {
  name: string;
  configOperation: number;
  value: string | null;
}

/**
 * IncrementalAlterConfigs (44): SET and DELETE per config; APPEND and SUBTRACT only on list
 * configs (cleanup.policy), else INVALID_CONFIG, as Kafka's ConfigAdminManager answers.
 */
export function incrementalAlterConfigsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: AlterConfigsDeps): KafkaApi {
  return alterConfigsHandler<IncrementalConfig>(specs, range, deps, (t, configs) => {
    const changes: Record<string, string | null> = {};
    for (const c of configs) {
      requireKnown(c.name);
      if (c.configOperation === OP.DELETE) {
        changes[c.name] = null;
        continue;
      }
      if (c.value === null) throw new RunnelError('INVALID_REQUEST', `null value not supported for: ${c.name}`);
      switch (c.configOperation) {
        case OP.SET:
          changes[c.name] = c.value;
          break;
        case OP.APPEND:
        case OP.SUBTRACT: {
          if (TOPIC_CONFIG_KAFKA[c.name]?.type !== 7) {
            throw invalid(`configs[${c.name}]`, `config value ${c.configOperation === OP.APPEND ? 'append' : 'subtract'} is not allowed for a config that is not a list`, 'INVALID_CONFIG');
          }
          const current = splitList(t.configs[c.name] ?? '');
          const given = splitList(c.value);
          const next = c.configOperation === OP.APPEND ? [...current, ...given.filter((v) => !current.includes(v))] : current.filter((v) => !given.includes(v));
          changes[c.name] = next.join(',');
          break;
        }
        default:
          throw new RunnelError('INVALID_REQUEST', `unknown config operation ${c.configOperation} for ${c.name}`);
      }
    }
    return changes;
  });
}

/** Kafka: "Unknown topic config name" is INVALID_CONFIG. */
function requireKnown(name: string): void {
  if (TOPIC_CONFIGS[name] === undefined) throw invalid(`configs[${name}]`, `unknown topic config; known: ${Object.keys(TOPIC_CONFIGS).join(', ')}`, 'INVALID_CONFIG');
}

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * AlterConfigs (33), the older, whole-set form kafkajs admin.alterConfigs sends: the configs
 * listed are the topic's configs afterwards, every other one returns to the cluster default.
 */
export function alterConfigsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: AlterConfigsDeps): KafkaApi {
  return alterConfigsHandler<{ name: string; value: string | null }>(specs, range, deps, (t, configs) => {
    const changes: Record<string, string | null> = {};
    for (const name of Object.keys(t.configs)) changes[name] = null;
    for (const c of configs) {
      requireKnown(c.name);
      if (c.value === null) throw new RunnelError('INVALID_REQUEST', `null value not supported for: ${c.name}`);
      changes[c.name] = c.value;
    }
    return changes;
  });
}
