import type { KafkaGroupService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import { groupErrorCode } from './group-errors.ts';
import { kafkaGroupState } from './describe-groups.ts';

/**
 * ListGroups (16): the groups this node coordinates (Kafka's answer is per broker; admin
 * clients ask every broker), HTTP consumer groups included, with protocol type "consumer" and
 * (v4+) their state, filtered by StatesFilter when it names any (case-insensitively, as
 * Kafka compares). Groups with neither members nor commits do not exist for Kafka: left out.
 */
export function listGroupsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: { readonly groups: KafkaGroupService }): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const filter = new Set(((req.body['statesFilter'] as string[] | undefined) ?? []).map((s) => s.toLowerCase()));
      try {
        const ids = await deps.groups.listHere();
        // A group that moved away between the listing and its description is left out.
        const described = await Promise.all(ids.map((id) => deps.groups.describeClassicHere(id).then((g) => ({ state: kafkaGroupState(g), protocolType: g.protocolType ?? '' }), () => ({ state: 'Dead', protocolType: '' }))));
        const groups = ids.flatMap((groupId, i) => {
          const d = described[i] ?? { state: 'Dead', protocolType: '' };
          return d.state !== 'Dead' && (filter.size === 0 || filter.has(d.state.toLowerCase())) ? [{ groupId, protocolType: d.protocolType, groupState: d.state }] : [];
        });
        return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NONE, groups };
      } catch (err) {
        return { throttleTimeMs: 0, errorCode: groupErrorCode(err), groups: [] };
      }
    },
  };
}
