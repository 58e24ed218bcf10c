import type { CommittedOffset } from '../../groups/group-coordinator.ts';
import type { ClassicGroupService, KafkaGroupService, MetadataService } from '../../services/front-door-services.ts';
import type { KafkaApi } from '../kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka-error-codes.ts';
import type { ApiSpecs } from '../protocol/frames.ts';
import type { MessageValue } from '../protocol/message-codec.ts';
import { groupErrorCode, groupProtocolCode } from './group-errors.ts';
import { lookupTopic } from './topic-lookup.ts';

/** Kafka's offset.metadata.max.bytes default. */
const OFFSET_METADATA_MAX_CHARS = 4096;

export interface OffsetCommitApiDeps {
  readonly metadata: MetadataService;
  readonly groups: KafkaGroupService;
  readonly classicGroups: ClassicGroupService;
}

interface CommitPartition {
  readonly partitionIndex: number;
  readonly committedOffset: bigint;
  readonly committedMetadata: string | null;
}
interface CommitTopic {
  readonly name: string;
  readonly partitions: readonly CommitPartition[];
}

/**
 * OffsetCommit (8) on the group's coordinator, the one HTTP consumer groups use, stored in the
 * offsets topic as theirs are. A commit naming a member or a generation (v1+; v7+ with the
 * static member's group.instance.id) comes from a member of the classic group protocol: the
 * coordinator checks it as Kafka's ClassicGroup.validateOffsetCommit does (ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID), and its error applies to every
 * partition. A commit with generation -1 and no member is a "simple" commit (assign-mode
 * consumers, admin offset resets), accepted only while the group has no members
 * (UNKNOWN_MEMBER_ID otherwise, as in Kafka). NOT_COORDINATOR on a node that does not
 * coordinate the group; per partition, UNKNOWN_TOPIC_OR_PARTITION for a partition that does not
 * exist and OFFSET_METADATA_TOO_LARGE beyond 4096 characters of metadata.
 */
export function offsetCommitApi(specs: ApiSpecs, range: { min: number; max: number }, deps: OffsetCommitApiDeps): KafkaApi {
  const answer = (topics: readonly CommitTopic[], codeOf: (t: CommitTopic, p: CommitPartition) => number): MessageValue => ({
    throttleTimeMs: 0,
    topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codeOf(t, p) })) })),
  });
  return {
    specs,
    minVersion: range.min,
    maxVersion: range.max,
    handle: async (req) => {
      const topics = req.body['topics'] as CommitTopic[];
      const group = req.body['groupId'] as string;
      // Absent below v1 (v0 commits are simple), the instance id below v7: the codec's defaults.
      const member = {
        generation: req.body['generationIdOrMemberEpoch'] as number,
        memberId: req.body['memberId'] as string,
        groupInstanceId: req.body['groupInstanceId'] as string | null,
      };
      const codes = new Map<CommitPartition, number>();
      const offsets: CommittedOffset[] = [];
      for (const t of topics) {
        const topic = await lookupTopic(deps.metadata, t.name);
        for (const p of t.partitions) {
          const metadata = p.committedMetadata ?? '';
          if (topic?.partitions[p.partitionIndex] === undefined) codes.set(p, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
          else if (metadata.length > OFFSET_METADATA_MAX_CHARS) codes.set(p, KAFKA_ERROR.OFFSET_METADATA_TOO_LARGE);
          else offsets.push({ topic: t.name, partition: p.partitionIndex, offset: Number(p.committedOffset), metadata });
        }
      }
      let code: number = KAFKA_ERROR.NONE;
      try {
        if (member.generation >= 0 || member.memberId !== '') code = groupProtocolCode(await deps.classicGroups.commitMemberHere(group, member, offsets));
        else await deps.groups.commitHere(group, offsets);
      } catch (err) {
        code = groupErrorCode(err);
      }
      return answer(topics, (_t, p) => codes.get(p) ?? code);
    },
  };
}
