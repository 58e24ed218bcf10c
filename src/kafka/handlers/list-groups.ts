import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import { groupErrorCode } from './group-errors.ts';
import { kafkaGroupState, kafkaGroupView } from './describe-groups.ts';
import type { GroupViewDeps } from './describe-groups.ts';

/**
 * ListGroups (16): the groups this node coordinates (Kafka's answer is per broker; admin
 * clients ask every broker), Kafka and HTTP consumer groups (kafkaGroupView), with their
 * protocol type ("consumer"; '' for a group of commits alone) and (v4+) their state, filtered
 * by StatesFilter when it names any (case-insensitively, as Kafka compares). Groups with
 * neither members nor commits do not exist for Kafka: left out.
 */
export function listGroupsApi(specs: ApiSpecs, range: { min: number; max: number }, deps: GroupViewDeps): KafkaApi {
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const filter = new Set(((req.body['statesFilter'] as string[] | undefined) ?? []).map((s) => s.toLowerCase()));
      try {
        const ids = await deps.groups.listHere();
        // A group that moved away between the listing and its description is left out.
        const views = await Promise.all(ids.map((id) => kafkaGroupView(deps, id).then((g) => ({ groupState: kafkaGroupState(g), protocolType: g.protocolType ?? '' }), () => undefined)));
        const groups = ids.flatMap((groupId, i) => {
          const v = views[i];
          return v !== undefined && v.groupState !== 'Dead' && (filter.size === 0 || filter.has(v.groupState.toLowerCase())) ? [{ groupId, ...v }] : [];
        });
        return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NONE, groups };
      } catch (err) {
        return { throttleTimeMs: 0, errorCode: groupErrorCode(err), groups: [] };
      }
    },
  };
}
