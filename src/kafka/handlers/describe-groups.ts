import type { TopicPartition } from '../../groups/assignor.ts';
import type { GroupSnapshot } from '../../groups/group-calls.ts';
import type { KafkaGroupService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { groupErrorCode } from './group-errors.ts';

/** Kafka's value for "authorized operations not asked for / not known". */
const NO_AUTHORIZED_OPERATIONS = -2147483648;

/** Bytes in Kafka's big-endian framing: int16 / int32 / string (int16 length) / array (int32 count). */
const int16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
const str = (s: string): Buffer => Buffer.concat([int16(Buffer.byteLength(s)), Buffer.from(s)]);
const NULL_BYTES = int32(-1);

/** ConsumerProtocolSubscription v0: the topics a member reads (userData null). */
export function consumerSubscription(topics: readonly string[]): Buffer {
  return Buffer.concat([int16(0), int32(topics.length), ...topics.map(str), NULL_BYTES]);
}

/** ConsumerProtocolAssignment v0: the partitions a member was given, by topic (userData null). */
export function consumerAssignment(tps: readonly TopicPartition[]): Buffer {
  const byTopic = new Map<string, number[]>();
  for (const tp of tps) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  const topics = [...byTopic].map(([t, ps]) => Buffer.concat([str(t), int32(ps.length), ...ps.map(int32)]));
  return Buffer.concat([int16(0), int32(topics.length), ...topics, NULL_BYTES]);
}

/**
 * Kafka's name for a group's state. A group with neither members nor commits does not exist
 * in Kafka: "Dead" (what DescribeGroups answers for an unknown group).
 */
export function kafkaGroupState(g: GroupSnapshot): string {
  return g.state === 'Empty' && g.members.length === 0 && g.offsets.length === 0 ? 'Dead' : g.state;
}

/**
 * DescribeGroups (15): each group as its coordinator holds it, HTTP consumer groups included:
 * state, protocol type "consumer" and the assignor's name once members are Stable, each member
 * with its subscription and assignment in the consumer protocol's encoding (what kafkajs's
 * AssignerProtocol and the Java AdminClient decode). HTTP members have no Kafka client id or
 * host: both empty. NOT_COORDINATOR per group on a node that does not coordinate it.
 */
export function describeGroupsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: { readonly groups: KafkaGroupService }): KafkaApi {
  const describe = async (groupId: string): Promise<MessageValue> => {
    try {
      const g = await deps.groups.describeHere(groupId);
      const state = kafkaGroupState(g);
      return {
        errorCode: KAFKA_ERROR.NONE,
        groupId,
        groupState: state,
        protocolType: state === 'Dead' ? '' : 'consumer',
        protocolData: state === 'Stable' ? (g.protocol ?? '') : '',
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: null,
          clientId: '',
          clientHost: '',
          memberMetadata: consumerSubscription(m.topics),
          memberAssignment: consumerAssignment(m.target),
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
