import type { ClassicGroupService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import { asBuffer, groupApi, ownedBytes } from './group-api.ts';
import { groupProtocolCode } from './group-errors.ts';

/** JoinGroup v7 (KIP-559) answers the protocol type, and may answer a null protocol name. */
const PROTOCOL_TYPE_VERSION = 7;
/** JoinGroup v4 (KIP-394): a new member first gets MEMBER_ID_REQUIRED and its id, then rejoins. */
const MEMBER_ID_REQUIRED_VERSION = 4;

/**
 * JoinGroup (11), the classic group protocol's first step, on the group's coordinator: the
 * answer may wait (parked) until the group's rebalance completes. Before v1 there is no
 * rebalance timeout: the session timeout is both (JoinGroupRequest.json). v4+ requires a known
 * member id (KIP-394), v5+ carries the static member's group.instance.id (KIP-345). The member's
 * client id is the request header's, its host the connection's, as Kafka records them for
 * DescribeGroups. NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS as the answer's error when
 * the call does not reach a loaded coordinator, as in Kafka's JoinGroupRequest.getErrorResponse.
 */
export function joinGroupApi(specs: ApiSpecs, range: { min: number; max: number }, deps: { readonly classicGroups: ClassicGroupService }): KafkaApi {
  // Below v7 the protocol name is not nullable: '' for none (Kafka's UNKNOWN_PROTOCOL_NAME).
  const protocolName = (v: number, name: string | null): string | null => (v >= PROTOCOL_TYPE_VERSION ? name : (name ?? ''));
  return groupApi(specs, range, async ({ body: b, apiVersion: v }, ctx) => {
    const sessionTimeoutMs = b['sessionTimeoutMs'] as number;
    const a = await deps.classicGroups.joinHere({
      group: b['groupId'] as string,
      memberId: b['memberId'] as string,
      groupInstanceId: b['groupInstanceId'] as string | null,
      clientId: ctx.clientId ?? '',
      clientHost: ctx.clientHost,
      sessionTimeoutMs,
      rebalanceTimeoutMs: v >= 1 ? (b['rebalanceTimeoutMs'] as number) : sessionTimeoutMs,
      protocolType: b['protocolType'] as string,
      protocols: (b['protocols'] as { name: string; metadata: Buffer }[]).map((p) => ({ name: p.name, metadata: ownedBytes(p.metadata) })),
      requireKnownMemberId: v >= MEMBER_ID_REQUIRED_VERSION,
    });
    return {
      throttleTimeMs: 0,
      errorCode: groupProtocolCode(a.error),
      generationId: a.generation,
      protocolType: a.protocolType,
      protocolName: protocolName(v, a.protocolName),
      leader: a.leader,
      memberId: a.memberId,
      members: a.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: asBuffer(m.metadata) })),
    };
  }, (errorCode, req) => ({ throttleTimeMs: 0, errorCode, generationId: -1, protocolType: null, protocolName: protocolName(req.apiVersion, null), leader: '', memberId: '', members: [] }));
}
