import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MetadataApiDeps } from './metadata.ts';
import { controllerId, liveBrokers } from './metadata.ts';

/**
 * DescribeCluster (60): the cluster id, the live brokers at their Kafka addresses and the
 * controller id, chosen as Metadata chooses them (a live broker, never -1).
 */
export function describeClusterApi(specs: ApiSpecs, range: { min: number; max: number }, deps: MetadataApiDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: (req) => {
      // v1 EndpointType 2 asks for controller endpoints; runnel's controllers are its brokers.
      const brokers = liveBrokers(deps.metadata.image(), deps);
      return Promise.resolve({
        throttleTimeMs: 0,
        errorCode: KAFKA_ERROR.NONE,
        errorMessage: null,
        endpointType: req.apiVersion >= 1 ? req.body['endpointType'] : 1,
        clusterId: deps.clusterId,
        controllerId: controllerId(brokers, deps.quorum.controllerId(), deps.nodeId),
        brokers: brokers.map((b) => ({ brokerId: b['nodeId'], host: b['host'], port: b['port'], rack: null })),
        clusterAuthorizedOperations: -2147483648,
      });
    },
    errorResponse: (req, errorCode) => ({
      throttleTimeMs: 0,
      errorCode,
      errorMessage: null,
      endpointType: req.apiVersion >= 1 ? req.body['endpointType'] : 1,
      clusterId: '',
      controllerId: -1,
      brokers: [],
      clusterAuthorizedOperations: -2147483648,
    }),
  };
}
