import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';

/** KIP-511: ApiVersions v3+ names the client software; Kafka answers INVALID_REQUEST to names outside this pattern. */
const SOFTWARE_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export interface AdvertisedApi {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
}

/** ApiVersions (18): the advertised ranges, the same on every node (clients pick versions from any one). */
export function apiVersionsApi(specs: ApiSpecs, range: { min: number; max: number }, advertised: () => readonly AdvertisedApi[]): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: (req) => {
      const name = req.body['clientSoftwareName'] as string;
      const version = req.body['clientSoftwareVersion'] as string;
      const valid = req.apiVersion < 3 || (SOFTWARE_PATTERN.test(name) && SOFTWARE_PATTERN.test(version));
      return Promise.resolve({
        errorCode: valid ? KAFKA_ERROR.NONE : KAFKA_ERROR.INVALID_REQUEST,
        apiKeys: valid ? advertised() : [],
        throttleTimeMs: 0,
      });
    },
  };
}
