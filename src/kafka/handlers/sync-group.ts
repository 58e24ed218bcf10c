import type { ClassicGroupService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import { asBuffer, groupApi, memberOf, ownedBytes } from './group-api.ts';
import { groupProtocolCode } from './group-errors.ts';

/**
 * SyncGroup (14), the classic protocol's second step: the leader brings every member's
 * assignment, the followers wait (parked) for theirs. v3+ carries the group.instance.id; v5+
 * the protocol type and name, which the coordinator checks against the group's
 * (INCONSISTENT_GROUP_PROTOCOL, KIP-559) and answers back.
 */
export function syncGroupApi(specs: ApiSpecs, range: { min: number; max: number }, deps: { readonly classicGroups: ClassicGroupService }): KafkaApi {
  return groupApi(specs, range, async ({ body: b }) => {
    const a = await deps.classicGroups.syncHere({
      ...memberOf(b),
      protocolType: b['protocolType'] as string | null,
      protocolName: b['protocolName'] as string | null,
      assignments: (b['assignments'] as { memberId: string; assignment: Buffer }[]).map((x) => ({ memberId: x.memberId, assignment: ownedBytes(x.assignment) })),
    });
    return { throttleTimeMs: 0, errorCode: groupProtocolCode(a.error), protocolType: a.protocolType, protocolName: a.protocolName, assignment: asBuffer(a.assignment) };
  }, (errorCode) => ({ throttleTimeMs: 0, errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) }));
}
