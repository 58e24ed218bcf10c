import type { LeaveGroupCall } from '../../groups/classic-calls.ts';
import type { ClassicGroupService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import { groupApi } from './group-api.ts';
import { groupProtocolCode } from './group-errors.ts';

/** LeaveGroup v3 (KIP-345) takes a batch of members, each with its group.instance.id. */
const BATCH_VERSION = 3;

/**
 * LeaveGroup (13): members leave the group now instead of at their session timeout, which
 * starts the rebalance at once. v0-2 name one member (MemberId) and answer its error at the
 * top, as Kafka's LeaveGroupResponse does for them; v3+ a batch (static members by instance id,
 * an admin's removeMembersFromConsumerGroup) with an error per member.
 */
export function leaveGroupApi(specs: ApiSpecs, range: { min: number; max: number }, deps: { readonly classicGroups: ClassicGroupService }): KafkaApi {
  return groupApi(specs, range, async ({ body: b, apiVersion }) => {
    const batched = apiVersion >= BATCH_VERSION;
    const members: LeaveGroupCall['members'] = batched
      ? (b['members'] as { memberId: string; groupInstanceId: string | null }[]).map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
      : [{ memberId: b['memberId'] as string, groupInstanceId: null }];
    const a = await deps.classicGroups.leaveHere({ group: b['groupId'] as string, members });
    const answered = a.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: groupProtocolCode(m.error) }));
    if (batched) return { throttleTimeMs: 0, errorCode: groupProtocolCode(a.error), members: answered };
    // v0-2: the group's error, else the member's (Kafka's LeaveGroupResponse.getError).
    return { throttleTimeMs: 0, errorCode: a.error !== null ? groupProtocolCode(a.error) : (answered[0]?.errorCode ?? KAFKA_ERROR.NONE) };
  }, (errorCode) => ({ throttleTimeMs: 0, errorCode, members: [] }));
}
