import type { TopicDefaults } from '../metadata/topic-checks.ts';
import type { ClassicGroupService, FetchService, KafkaGroupService, MetadataService, PartitionAdminService, ProduceBudget, ProduceService, ProducerIdService, QuorumService } from '../services/front-door-services.ts';
import { createTopicsApi, deleteTopicsApi } from './handlers/admin-topics.ts';
import { alterConfigsApi, incrementalAlterConfigsApi } from './handlers/alter-configs.ts';
import { createPartitionsApi } from './handlers/create-partitions.ts';
import { describeConfigsApi } from './handlers/describe-configs.ts';
import { apiVersionsApi } from './handlers/api-versions.ts';
import type { AdvertisedApi } from './handlers/api-versions.ts';
import { deleteGroupsApi } from './handlers/delete-groups.ts';
import { describeGroupsApi } from './handlers/describe-groups.ts';
import { describeClusterApi } from './handlers/describe-cluster.ts';
import { fetchApi } from './handlers/fetch.ts';
import { findCoordinatorApi } from './handlers/find-coordinator.ts';
import { heartbeatApi } from './handlers/heartbeat.ts';
import { initProducerIdApi } from './handlers/init-producer-id.ts';
import { joinGroupApi } from './handlers/join-group.ts';
import { leaveGroupApi } from './handlers/leave-group.ts';
import { listGroupsApi } from './handlers/list-groups.ts';
import { listOffsetsApi } from './handlers/list-offsets.ts';
import { metadataApi } from './handlers/metadata.ts';
import type { KafkaAddress } from './handlers/metadata.ts';
import { offsetCommitApi } from './handlers/offset-commit.ts';
import { offsetDeleteApi } from './handlers/offset-delete.ts';
import { offsetFetchApi } from './handlers/offset-fetch.ts';
import { offsetForLeaderEpochApi } from './handlers/offset-for-leader-epoch.ts';
import { produceApi } from './handlers/produce.ts';
import { syncGroupApi } from './handlers/sync-group.ts';
import type { KafkaApi, KafkaApiTable } from './kafka-connection.ts';
import { KAFKA_ERROR } from './kafka-error-codes.ts';
import { encodeResponse, loadApiSpecs } from './protocol/frames.ts';

/**
 * The APIs this node serves, with the version ranges it advertises (research/kafka-wire.md
 * §1.5): one table, identical on every node. Only APIs with a working handler are listed, so
 * that clients never call one that is missing: librdkafka decides its features from this list
 * (Produce 3 and Fetch 4 in range turn on RecordBatch v2; Produce 7 and Fetch 10 on ZSTD;
 * ListOffsets 1 on offsets by timestamp). Fetch v13 names topics by topic id (KIP-516), which
 * @platformatic/kafka's consumer stream needs (it sends topic ids whatever version it speaks).
 * ListOffsets serves v0-7 (v0 in the old
 * OldStyleOffsets shape), so clients start at beginning, end, or a time; OffsetForLeaderEpoch
 * v2-4 (Kafka 4.0's range; librdkafka sends v2) lets clients validate a position after a
 * leader change (KIP-320). CreateTopics, DeleteTopics, CreatePartitions, DescribeCluster,
 * DescribeConfigs, AlterConfigs (kafkajs admin.alterConfigs) and IncrementalAlterConfigs (the
 * Java AdminClient's, librdkafka's) serve the admin clients from their lowest versions.
 * Metadata and Produce auto-create a missing topic (auto.create.topics.enable). InitProducerId
 * v0-4 gives idempotent producers an id from this broker's block (transactional ids are
 * refused: runnel has no transactions; v5 only adds TRANSACTION_ABORTABLE, for transactions).
 * FindCoordinator v0-4 names a group's coordinator (the one HTTP consumer groups use). The
 * classic group protocol (§3) is served on it: JoinGroup v0-7 (min 0 so that old librdkafka
 * turns consumer groups on, as Kafka 4.0's min of 2 does not; v4+ MEMBER_ID_REQUIRED, v5+
 * static members, v7 the protocol type), SyncGroup v0-5, Heartbeat v0-4, LeaveGroup v0-4 (v3+
 * batched members), OffsetCommit v0-8 (members of a generation, and "simple" commits with
 * generation -1 for consumers that assign partitions themselves), OffsetFetch v0-8,
 * DeleteGroups v0-2 and OffsetDelete v0; ListGroups v0-4 and DescribeGroups v0-5 show the
 * groups a node coordinates, Kafka and HTTP members alike.
 */
export const SERVED_VERSIONS = {
  Produce: { min: 0, max: 9 },
  Fetch: { min: 4, max: 13 },
  ListOffsets: { min: 0, max: 7 },
  OffsetForLeaderEpoch: { min: 2, max: 4 },
  ApiVersions: { min: 0, max: 3 },
  Metadata: { min: 0, max: 12 },
  CreateTopics: { min: 0, max: 7 },
  DeleteTopics: { min: 0, max: 6 },
  DescribeCluster: { min: 0, max: 1 },
  InitProducerId: { min: 0, max: 4 },
  CreatePartitions: { min: 0, max: 3 },
  DescribeConfigs: { min: 0, max: 4 },
  AlterConfigs: { min: 0, max: 2 },
  IncrementalAlterConfigs: { min: 0, max: 1 },
  FindCoordinator: { min: 0, max: 4 },
  OffsetCommit: { min: 0, max: 8 },
  OffsetFetch: { min: 0, max: 8 },
  ListGroups: { min: 0, max: 4 },
  DescribeGroups: { min: 0, max: 5 },
  JoinGroup: { min: 0, max: 7 },
  SyncGroup: { min: 0, max: 5 },
  Heartbeat: { min: 0, max: 4 },
  LeaveGroup: { min: 0, max: 4 },
  DeleteGroups: { min: 0, max: 2 },
  OffsetDelete: { min: 0, max: 0 },
} as const;

export interface KafkaServices {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly metadata: MetadataService;
  readonly quorum: QuorumService;
  readonly produce: ProduceService;
  readonly produceBudget: ProduceBudget;
  readonly fetch: FetchService;
  readonly kafkaAddress: (brokerId: number) => KafkaAddress | undefined;
  readonly admin: PartitionAdminService;
  readonly topicDefaults: TopicDefaults;
  readonly producerIds: ProducerIdService;
  /** The cluster-wide values of the topic configs (cluster.yaml), for DescribeConfigs. */
  readonly topicConfigDefaults: Readonly<Record<string, string>>;
  /** Kafka's auto.create.topics.enable (cluster.yaml topic_defaults.auto_create). */
  readonly autoCreateTopicsEnable: boolean;
  /** Consumer groups' coordinators, shared with the HTTP door's consumer groups. */
  readonly groups: KafkaGroupService;
  /** The classic group protocol (JoinGroup, SyncGroup, ...) on the same coordinators. */
  readonly classicGroups: ClassicGroupService;
}

export function kafkaApiTable(services: KafkaServices): KafkaApiTable {
  const apiVersionsSpecs = loadApiSpecs('ApiVersions');
  const apis: KafkaApi[] = [
    apiVersionsApi(apiVersionsSpecs, SERVED_VERSIONS.ApiVersions, () => advertised),
    metadataApi(loadApiSpecs('Metadata'), SERVED_VERSIONS.Metadata, services),
    produceApi(loadApiSpecs('Produce'), SERVED_VERSIONS.Produce, services),
    fetchApi(loadApiSpecs('Fetch'), SERVED_VERSIONS.Fetch, services),
    createTopicsApi(loadApiSpecs('CreateTopics'), SERVED_VERSIONS.CreateTopics, services),
    deleteTopicsApi(loadApiSpecs('DeleteTopics'), SERVED_VERSIONS.DeleteTopics, services),
    describeClusterApi(loadApiSpecs('DescribeCluster'), SERVED_VERSIONS.DescribeCluster, services),
    listOffsetsApi(loadApiSpecs('ListOffsets'), SERVED_VERSIONS.ListOffsets, services),
    offsetForLeaderEpochApi(loadApiSpecs('OffsetForLeaderEpoch'), SERVED_VERSIONS.OffsetForLeaderEpoch, services),
    initProducerIdApi(loadApiSpecs('InitProducerId'), SERVED_VERSIONS.InitProducerId, services),
    createPartitionsApi(loadApiSpecs('CreatePartitions'), SERVED_VERSIONS.CreatePartitions, services),
    describeConfigsApi(loadApiSpecs('DescribeConfigs'), SERVED_VERSIONS.DescribeConfigs, services),
    alterConfigsApi(loadApiSpecs('AlterConfigs'), SERVED_VERSIONS.AlterConfigs, services),
    incrementalAlterConfigsApi(loadApiSpecs('IncrementalAlterConfigs'), SERVED_VERSIONS.IncrementalAlterConfigs, services),
    findCoordinatorApi(loadApiSpecs('FindCoordinator'), SERVED_VERSIONS.FindCoordinator, services),
    offsetCommitApi(loadApiSpecs('OffsetCommit'), SERVED_VERSIONS.OffsetCommit, services),
    offsetFetchApi(loadApiSpecs('OffsetFetch'), SERVED_VERSIONS.OffsetFetch, services),
    listGroupsApi(loadApiSpecs('ListGroups'), SERVED_VERSIONS.ListGroups, services),
    describeGroupsApi(loadApiSpecs('DescribeGroups'), SERVED_VERSIONS.DescribeGroups, services),
    joinGroupApi(loadApiSpecs('JoinGroup'), SERVED_VERSIONS.JoinGroup, services),
    syncGroupApi(loadApiSpecs('SyncGroup'), SERVED_VERSIONS.SyncGroup, services),
    heartbeatApi(loadApiSpecs('Heartbeat'), SERVED_VERSIONS.Heartbeat, services),
    leaveGroupApi(loadApiSpecs('LeaveGroup'), SERVED_VERSIONS.LeaveGroup, services),
    deleteGroupsApi(loadApiSpecs('DeleteGroups'), SERVED_VERSIONS.DeleteGroups, services),
    offsetDeleteApi(loadApiSpecs('OffsetDelete'), SERVED_VERSIONS.OffsetDelete, services),
  ];
  const byKey = new Map(apis.map((a) => [a.specs.apiKey, a]));
  const advertised: AdvertisedApi[] = apis.map((a) => ({ apiKey: a.specs.apiKey, minVersion: a.minVersion, maxVersion: a.maxVersion }));
  return {
    get: (apiKey) => byKey.get(apiKey),
    unsupportedApiVersions: (correlationId) =>
      encodeResponse(apiVersionsSpecs, 0, correlationId, {
        errorCode: KAFKA_ERROR.UNSUPPORTED_VERSION,
        apiKeys: advertised.filter((a) => a.apiKey === apiVersionsSpecs.apiKey),
      }),
  };
}
