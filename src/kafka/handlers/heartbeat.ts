import type { ClassicGroupService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import { groupApi, memberOf } from './group-api.ts';
import { groupProtocolCode } from './group-errors.ts';

/**
 * Heartbeat (12): a member of a generation is alive. REBALANCE_IN_PROGRESS tells it to rejoin,
 * ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID that it was left behind (the coordinator decides);
 * v3+ carries the group.instance.id (FENCED_INSTANCE_ID for a replaced static member).
 */
export function heartbeatApi(specs: ApiSpecs, range: { min: number; max: number }, deps: { readonly classicGroups: ClassicGroupService }): KafkaApi {
  return groupApi(
    specs,
    range,
    async ({ body }) => ({ throttleTimeMs: 0, errorCode: groupProtocolCode(await deps.classicGroups.heartbeatHere(memberOf(body))) }),
    (errorCode) => ({ throttleTimeMs: 0, errorCode }),
  );
}
