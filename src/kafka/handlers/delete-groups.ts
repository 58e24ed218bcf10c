import type { ClassicGroupService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import { groupErrorCode, groupProtocolCode } from './group-errors.ts';

/**
 * DeleteGroups (42): removes groups without members and their committed offsets, each on its
 * coordinator (admin clients send each group to the node FindCoordinator named):
 * GROUP_ID_NOT_FOUND for no such group, NON_EMPTY_GROUP while it has members, NOT_COORDINATOR
 * on another node, per group.
 */
export function deleteGroupsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: { readonly classicGroups: ClassicGroupService }): KafkaApi {
  const remove = (groupId: string): Promise<{ groupId: string; errorCode: number }> =>
    deps.classicGroups.deleteGroupHere(groupId).then(
      (error) => ({ groupId, errorCode: groupProtocolCode(error) }),
      (err: unknown) => ({ groupId, errorCode: groupErrorCode(err) }),
    );
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => ({ throttleTimeMs: 0, results: await Promise.all((req.body['groupsNames'] as string[]).map(remove)) }),
  };
}
