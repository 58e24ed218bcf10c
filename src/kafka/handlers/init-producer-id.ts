import type { ProducerIdService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR, kafkaErrorCode } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';

/**
 * A transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED (Errors.java code 53): runnel
 * has no transaction coordinator, so no one may use one. Clients treat it as fatal (Java:
 * TransactionalIdAuthorizationException; librdkafka: a fatal error; kafkajs: not retriable), so
 * a transactional producer stops at once with a cause instead of retrying a coordinator that
 * will never come (COORDINATOR_NOT_AVAILABLE would make it retry until its timeout).
 */
const { TRANSACTIONAL_ID_AUTHORIZATION_FAILED } = KAFKA_ERROR;
const NO_PRODUCER_ID = -1n;
const NO_PRODUCER_EPOCH = -1;

export interface InitProducerIdApiDeps {
  readonly producerIds: ProducerIdService;
}

/**
 * InitProducerId (22) for idempotent producers, as Kafka's TransactionCoordinator answers a
 * null transactional id: a fresh producer id with epoch 0 from this broker's block, whatever
 * producer id and epoch the request carries (v3+, KIP-360: an idempotent producer that lost
 * its sequence state asks again and gets a new id; Kafka "blindly accepts" it). As in
 * KafkaApis, v3+ with exactly one of producerId/producerEpoch set is INVALID_REQUEST. While no
 * id block can be had the answer is COORDINATOR_LOAD_IN_PROGRESS, which clients retry.
 * Errors carry producer id -1 and epoch -1 (InitProducerIdRequest.getErrorResponse).
 */
export function initProducerIdApi(specs: ApiSpecs, range: { min: number; max: number }, deps: InitProducerIdApiDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const answer = (errorCode: number, producerId = NO_PRODUCER_ID, producerEpoch = NO_PRODUCER_EPOCH): MessageValue => ({ throttleTimeMs: 0, errorCode, producerId, producerEpoch });
      if (req.body['transactionalId'] !== null) return answer(TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      if (req.apiVersion >= 3) {
        const noId = req.body['producerId'] === NO_PRODUCER_ID;
        const noEpoch = req.body['producerEpoch'] === NO_PRODUCER_EPOCH;
        if (noId !== noEpoch) return answer(KAFKA_ERROR.INVALID_REQUEST);
      }
      try {
        return answer(KAFKA_ERROR.NONE, await deps.producerIds.next(), 0);
      } catch (err) {
        return answer(kafkaErrorCode(err));
      }
    },
  };
}
