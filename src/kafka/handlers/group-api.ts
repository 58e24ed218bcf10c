import type { GroupHeartbeatCall } from '../../groups/classic-calls.ts';
import type { KafkaApi, RequestContext } from '../kafka-connection.ts';
import type { ApiSpecs, DecodedRequest } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { groupErrorCode } from './group-errors.ts';

// What the classic group APIs' handlers share: the answer to a call that failed, the member a
// request names, and the bytes passed between the codec and the coordinator.

/** The member a Heartbeat, SyncGroup or member commit names (GroupId, MemberId, GroupInstanceId, GenerationId). */
export function memberOf(body: MessageValue): GroupHeartbeatCall {
  return {
    group: body['groupId'] as string,
    memberId: body['memberId'] as string,
    groupInstanceId: body['groupInstanceId'] as string | null,
    generation: body['generationId'] as number,
  };
}

/** Bytes the coordinator answered, as the codec writes them (a Buffer over the same memory, no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Bytes of a request the coordinator keeps (subscriptions, assignments), copied: the decoded
 * ones are views of the request frame, which may share memory with the connection's other
 * buffered requests (a whole Produce) that a long-lived member would otherwise pin.
 */
export function ownedBytes(view: Buffer): Uint8Array {
  return new Uint8Array(view);
}

/**
 * A group API whose `call` answers from the coordinator; a call that does not reach a loaded
 * coordinator (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, an offsets-topic write that
 * failed) answers `failed` with its code, as Kafka's request classes' getErrorResponse.
 */
export function groupApi(
  specs: ApiSpecs,
  range: { min: number; max: number },
  call: (req: DecodedRequest, ctx: RequestContext) => Promise<MessageValue>,
  failed: (errorCode: number, req: DecodedRequest) => MessageValue,
): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req, ctx) => {
      try {
        return await call(req, ctx);
      } catch (err) {
        return failed(groupErrorCode(err), req);
      }
    },
  };
}
