import type { ClassicGroupSnapshot } from '../../groups/classic-calls.ts';
import type { KafkaGroupService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { groupErrorCode } from './group-errors.ts';

/** Kafka's value for "authorized operations not asked for / not known". */
const NO_AUTHORIZED_OPERATIONS = -2147483648;
const EMPTY = Buffer.alloc(0);

/**
 * Kafka's name for a group's state. A group with neither members nor commits does not exist
 * in Kafka: "Dead" (what DescribeGroups answers for an unknown group).
 */
export function kafkaGroupState(g: ClassicGroupSnapshot): string {
  return g.state === 'Empty' && g.members.length === 0 && g.offsets.length === 0 ? 'Dead' : g.state;
}

/**
 * DescribeGroups (15): each group as its coordinator holds it, Kafka and HTTP members alike:
 * state, protocol type and the chosen protocol (assignor) once Stable, each member with its
 * client id, host, and subscription and assignment bytes as the members sent them.
 * NOT_COORDINATOR per group on a node that does not coordinate it.
 */
export function describeGroupsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: { readonly groups: KafkaGroupService }): KafkaApi {
  const describe = async (groupId: string): Promise<MessageValue> => {
    try {
      const g = await deps.groups.describeClassicHere(groupId);
      const state = kafkaGroupState(g);
      return {
        errorCode: KAFKA_ERROR.NONE,
        groupId,
        groupState: state,
        protocolType: g.protocolType ?? '',
        protocolData: state === 'Stable' ? (g.protocol ?? '') : '',
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          // As Kafka's ClassicGroup.describe: the bytes only once the group is Stable.
          memberMetadata: state === 'Stable' ? Buffer.from(m.metadata) : EMPTY,
          memberAssignment: state === 'Stable' ? Buffer.from(m.assignment) : EMPTY,
        })),
        authorizedOperations: NO_AUTHORIZED_OPERATIONS,
      };
    } catch (err) {
      return { errorCode: groupErrorCode(err), groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: NO_AUTHORIZED_OPERATIONS };
    }
  };
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => ({ throttleTimeMs: 0, groups: await Promise.all((req.body['groups'] as string[]).map(describe)) }),
  };
}
