// rpc `fetch`: the follower side of replication asks a leader for the records after its log end
// (Kafka's Fetch with fetch sessions). Declared here, between the caller (replica-fetcher.ts)
// and the handler (ReplicaManager.handleFetch), so both read the same checks.

import { invalid } from '../errors.ts';
import type { RpcMethod } from '../rpc/rpc-method.ts';
import type { Fields } from '../rpc/wire-shape.ts';
import { bool, bytes, fields, int, listOf, str } from '../rpc/wire-shape.ts';
import type { FetchPartitionRequest, PartitionRef, SessionRefusal } from './fetch-session.ts';
import type { FetchPartitionResponse, FetchRequest, FetchResponse } from './replica-fetcher.ts';

const ref = (o: Fields): PartitionRef => ({ topicId: str(o, 'topicId'), partition: int(o, 'partition') });

function partitionRequest(v: unknown, what: string): FetchPartitionRequest {
  const o = fields(v, what);
  return { ...ref(o), leaderEpoch: int(o, 'leaderEpoch'), fetchOffset: int(o, 'fetchOffset'), lastFetchedEpoch: int(o, 'lastFetchedEpoch') };
}

function partitionResponse(v: unknown, what: string): FetchPartitionResponse {
  const o = fields(v, what);
  const error = o['error'] === undefined ? undefined : fields(o['error'], 'error');
  const diverging = o['divergingEpoch'] === undefined ? undefined : fields(o['divergingEpoch'], 'divergingEpoch');
  return {
    ...ref(o),
    ...(error !== undefined ? { error: { errorName: str(error, 'errorName'), message: str(error, 'message') } } : {}),
    ...(o['records'] !== undefined ? { records: bytes(o, 'records') } : {}),
    ...(o['highWatermark'] !== undefined ? { highWatermark: int(o, 'highWatermark') } : {}),
    ...(o['logStartOffset'] !== undefined ? { logStartOffset: int(o, 'logStartOffset') } : {}),
    ...(diverging !== undefined ? { divergingEpoch: { epoch: int(diverging, 'epoch'), endOffset: int(diverging, 'endOffset') } } : {}),
    ...(o['behindLogStart'] !== undefined ? { behindLogStart: bool(o, 'behindLogStart') } : {}),
  };
}

function sessionRefusal(o: Fields): SessionRefusal | undefined {
  const e = o['sessionError'];
  if (e === undefined) return undefined;
  if (e !== 'FETCH_SESSION_ID_NOT_FOUND' && e !== 'INVALID_FETCH_SESSION_EPOCH') throw invalid('sessionError', 'must be a fetch session refusal');
  return e;
}

export const FETCH_RPC: RpcMethod<FetchRequest, FetchResponse> = {
  name: 'fetch',
  parseRequest: (payload) => {
    const o = fields(payload, 'fetch');
    return {
      replicaId: int(o, 'replicaId'),
      maxWaitMs: int(o, 'maxWaitMs'),
      maxBytes: int(o, 'maxBytes'),
      sessionId: int(o, 'sessionId'),
      sessionEpoch: int(o, 'sessionEpoch'),
      partitions: listOf(o, 'partitions', partitionRequest),
      forgotten: listOf(o, 'forgotten', (v, what) => ref(fields(v, what))),
    };
  },
  parseResponse: (payload) => {
    const o = fields(payload, 'fetch answer');
    const refusal = sessionRefusal(o);
    return { partitions: listOf(o, 'partitions', partitionResponse), sessionId: int(o, 'sessionId'), ...(refusal !== undefined ? { sessionError: refusal } : {}) };
  },
};
