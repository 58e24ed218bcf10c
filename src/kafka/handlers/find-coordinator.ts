import type { KafkaGroupService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import type { KafkaAddress } from './metadata.ts';

const { COORDINATOR_NOT_AVAILABLE, TRANSACTIONAL_ID_AUTHORIZATION_FAILED } = KAFKA_ERROR;
const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

export interface FindCoordinatorApiDeps {
  readonly groups: KafkaGroupService;
  readonly kafkaAddress: (brokerId: number) => KafkaAddress | undefined;
}

interface Found {
  readonly key: string;
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

const notFound = (key: string, errorCode: number, errorMessage: string): Found => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage });

/**
 * FindCoordinator (10): the broker coordinating a group (the leader of its offsets partition,
 * the one HTTP consumer groups use) at its Kafka address. COORDINATOR_NOT_AVAILABLE while there
 * is none (the offsets topic is created on first use, or its partition has no leader), which
 * clients retry. v4+ asks for many keys at once (CoordinatorKeys) and answers each. Key type 1
 * (transaction) is refused as InitProducerId refuses a transactional id, so a transactional
 * producer stops with a cause; other key types are INVALID_REQUEST, as in KafkaApis.
 */
export function findCoordinatorApi(specs: ApiSpecs, range: { min: number; max: number }, deps: FindCoordinatorApiDeps): KafkaApi {
  const find = async (key: string, keyType: number): Promise<Found> => {
    if (keyType === KEY_TYPE_TRANSACTION) return notFound(key, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'runnel has no transactions');
    if (keyType !== KEY_TYPE_GROUP) return notFound(key, KAFKA_ERROR.INVALID_REQUEST, `unknown coordinator key type ${keyType}`);
    if (key === '') return notFound(key, KAFKA_ERROR.INVALID_REQUEST, 'the group id is empty');
    try {
      const nodeId = await deps.groups.coordinatorOf(key);
      const at = nodeId === null ? undefined : deps.kafkaAddress(nodeId);
      if (nodeId === null || at === undefined) return notFound(key, COORDINATOR_NOT_AVAILABLE, 'the group has no coordinator yet');
      return { key, nodeId, host: at.host, port: at.port, errorCode: KAFKA_ERROR.NONE, errorMessage: null };
    } catch (err) {
      // Creating the offsets topic failed (no controller, too few brokers): as Kafka answers
      // then, the coordinator is not available yet, which clients retry.
      return notFound(key, COORDINATOR_NOT_AVAILABLE, err instanceof Error ? err.message : String(err));
    }
  };
  const keyType = (body: MessageValue): number => (body['keyType'] as number | undefined) ?? KEY_TYPE_GROUP;
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      if (req.apiVersion >= 4) {
        const keys = req.body['coordinatorKeys'] as string[];
        return { throttleTimeMs: 0, coordinators: await Promise.all(keys.map((k) => find(k, keyType(req.body)))) };
      }
      const f = await find(req.body['key'] as string, keyType(req.body));
      return { throttleTimeMs: 0, errorCode: f.errorCode, errorMessage: f.errorMessage, nodeId: f.nodeId, host: f.host, port: f.port };
    },
  };
}
