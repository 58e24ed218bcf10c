import type { GroupSnapshot } from '../../groups/group-calls.ts';
import type { ClassicGroupSnapshot } from '../../groups/classic-calls.ts';
import { encodeAssignment, encodeSubscription } from '../../groups/consumer-protocol.ts';
import type { ClassicGroupService, KafkaGroupService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { asBuffer } from './group-api.ts';
import { groupErrorCode } from './group-errors.ts';

/** Kafka's value for "authorized operations not asked for / not known". */
const NO_AUTHORIZED_OPERATIONS = -2147483648;

const EMPTY = Buffer.alloc(0);

/**
 * Kafka's name for a group's state. A group with neither members nor commits does not exist
 * in Kafka: "Dead" (what DescribeGroups answers for an unknown group).
 */
export function kafkaGroupState(g: GroupSnapshot | ClassicGroupSnapshot): string {
  return g.state === 'Empty' && g.members.length === 0 && g.offsets.length === 0 ? 'Dead' : g.state;
}

/**
 * A group as Kafka tools see it. Until HTTP consumer instances become classic members, a group
 * has Kafka members (the classic protocol) or HTTP ones (the coordinator's own protocol), never
 * both at once: the classic group while it has members or a rebalance under way, else the HTTP
 * one, its members' subscriptions and assignments in the consumer protocol's encoding, without
 * client id or host (protocol type "consumer").
 */
export async function kafkaGroupView(deps: GroupViewDeps, groupId: string): Promise<ClassicGroupSnapshot> {
  const classic = await deps.classicGroups.describeClassicHere(groupId);
  if (classic.members.length > 0 || classic.state !== 'Empty') return classic;
  const http = await deps.groups.describeHere(groupId);
  if (http.members.length === 0 && http.state === 'Empty') return classic;
  return {
    state: http.state,
    generation: http.generation,
    protocolType: 'consumer',
    protocol: http.protocol,
    leader: null,
    members: http.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: null,
      clientId: '',
      clientHost: '',
      metadata: encodeSubscription({ topics: m.topics }),
      assignment: encodeAssignment({ partitions: m.target }),
    })),
    offsets: http.offsets,
  };
}

export interface GroupViewDeps {
  readonly groups: KafkaGroupService;
  readonly classicGroups: ClassicGroupService;
}

/**
 * DescribeGroups (15): each group as its coordinator holds it (kafkaGroupView): state,
 * protocol type and, while Stable, the chosen protocol with each member's subscription and
 * assignment bytes (what kafkajs's AssignerProtocol and the Java AdminClient decode); outside
 * Stable the members without them, as Kafka's ClassicGroup.describe answers. Each member with
 * its client id, host and (v4+) group.instance.id. An unknown group is "Dead" with no error;
 * NOT_COORDINATOR per group on a node that does not coordinate it.
 */
export function describeGroupsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: GroupViewDeps): KafkaApi {
  const describe = async (groupId: string): Promise<MessageValue> => {
    try {
      const g = await kafkaGroupView(deps, groupId);
      const state = kafkaGroupState(g);
      const stable = state === 'Stable';
      return {
        errorCode: KAFKA_ERROR.NONE,
        groupId,
        groupState: state,
        protocolType: state === 'Dead' ? '' : (g.protocolType ?? ''),
        protocolData: stable ? (g.protocol ?? '') : '',
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: stable ? asBuffer(m.metadata) : EMPTY,
          memberAssignment: stable ? asBuffer(m.assignment) : EMPTY,
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
