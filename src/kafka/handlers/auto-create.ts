import { RunnelError } from '../../errors.ts';
import { checkTopicName } from '../../metadata/topic-checks.ts';
import type { TopicState } from '../../metadata/image.ts';
import type { AdminService, MetadataService } from '../../services/front-door-services.ts';
import { KAFKA_ERROR, kafkaErrorCode } from '../kafka-error-codes.ts';
import { usableEverywhere } from './admin-topics.ts';
import { lookupTopic } from './topic-lookup.ts';

export interface AutoCreateDeps {
  readonly admin: AdminService;
  readonly metadata: MetadataService;
  /** Kafka's auto.create.topics.enable (cluster.yaml topic_defaults.auto_create). */
  readonly autoCreateTopicsEnable: boolean;
}

/** The longest a Metadata or Produce request waits for a topic it auto-creates to become usable. */
const AUTO_CREATE_WAIT_MS = 5000;

/** Errors that mean "not yet" (the controller is moving or slow): the client asks again. */
const RETRIABLE = new Set(['NOT_CONTROLLER', 'REQUEST_TIMED_OUT', 'NETWORK_EXCEPTION', 'BROKER_NOT_AVAILABLE', 'LEADER_NOT_AVAILABLE']);

/** The topic, usable through any broker; or the Kafka error code to answer for it. */
export type AutoCreated = { readonly topic: TopicState } | { readonly errorCode: number };

/**
 * Kafka's automatic topic creation for a topic a Metadata or Produce request names and that
 * does not exist: created through the active controller with the cluster's topic defaults.
 * Answered with the topic once it has leaders known to every live broker, else
 * LEADER_NOT_AVAILABLE, which clients retry (KafkaApis: a topic being auto-created is
 * LEADER_NOT_AVAILABLE). Clients and nodes racing to create the same name all succeed: the
 * controller runs creates one at a time and the losers' TOPIC_ALREADY_EXISTS means "there it is".
 * With auto.create.topics.enable off: UNKNOWN_TOPIC_OR_PARTITION; an illegal name:
 * INVALID_TOPIC_EXCEPTION. Internal names ("__...") are never auto-created: the node makes
 * its internal topics itself, with their own settings.
 */
export async function autoCreateTopic(name: string, deps: AutoCreateDeps): Promise<AutoCreated> {
  if (!deps.autoCreateTopicsEnable || name.startsWith('__')) return { errorCode: KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION };
  const deadline = Date.now() + AUTO_CREATE_WAIT_MS;
  try {
    checkTopicName(name);
    await deps.admin.createTopic({ name, configs: {} }).catch((err: unknown) => {
      if (!(err instanceof RunnelError && err.errorName === 'TOPIC_ALREADY_EXISTS')) throw err;
    });
  } catch (err) {
    const retriable = err instanceof RunnelError && RETRIABLE.has(err.errorName);
    return { errorCode: retriable ? KAFKA_ERROR.LEADER_NOT_AVAILABLE : kafkaErrorCode(err) };
  }
  const t = await lookupTopic(deps.metadata, name);
  if (t === undefined || !(await usableEverywhere(deps.metadata, t, deadline))) return { errorCode: KAFKA_ERROR.LEADER_NOT_AVAILABLE };
  return { topic: deps.metadata.image().topicById(t.id) ?? t };
}
