import type { FastifyInstance } from 'fastify';
import { invalid, RunnelError } from '../errors.ts';
import type { PartitionState, TopicState } from '../metadata/image.ts';
import { isInternalTopic } from '../groups/offsets-topic.ts';
import { TOPIC_CONFIGS } from '../metadata/topic-configs.ts';
import type { AdminService, FetchService, MetadataService, QuorumService } from '../services/front-door-services.ts';
import { checkCluster } from './http-deps.ts';
import type { ClusterIdentity } from './http-deps.ts';
import { adminSchemas as S } from './schemas/admin-schemas.ts';

type Params = Record<string, string>;

/** The partitions listing waits at most this long for a leader's offsets. */
const OFFSETS_TIMEOUT_MS = 1000;

type AdminDeps = { readonly cluster: ClusterIdentity; readonly metadata: MetadataService; readonly admin: AdminService; readonly quorum: QuorumService; readonly fetch: FetchService };

function topicConfigs(metadata: MetadataService, t: TopicState): { name: string; value: string; is_default: boolean }[] {
  return Object.keys(TOPIC_CONFIGS).map((name) => ({ name, value: metadata.topicConfig(t, name), is_default: metadata.topicConfigIsDefault(t, name) }));
}

function partitionBody(p: PartitionState): Record<string, unknown> {
  return {
    partition_id: p.partition,
    leader_id: p.leader < 0 ? null : p.leader,
    leader_epoch: p.leaderEpoch,
    partition_epoch: p.partitionEpoch,
    replicas: p.replicas,
    isr: p.isr,
    // Filled from the partition's leader where it answers (partitionWithOffsets).
    high_watermark: null,
    log_start_offset: null,
  };
}

function topicBody(deps: AdminDeps, t: TopicState): Record<string, unknown> {
  return {
    cluster_id: deps.cluster.clusterId,
    topic_name: t.name,
    topic_id: t.id,
    is_internal: isInternalTopic(t.name),
    partitions_count: t.partitions.length,
    replication_factor: t.partitions[0]?.replicas.length ?? 0,
    configs: topicConfigs(deps.metadata, t),
    partitions: t.partitions.map(partitionBody),
  };
}

function parseCreateTopic(body: unknown): { name: string; partitions?: number; replicationFactor?: number; configs: Record<string, string> } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('body', 'must be a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b['topic_name'] !== 'string') throw invalid('topic_name', 'is required and must be a string');
  const out: { name: string; partitions?: number; replicationFactor?: number; configs: Record<string, string> } = { name: b['topic_name'], configs: {} };
  if (b['partitions_count'] !== undefined) {
    if (!Number.isInteger(b['partitions_count'])) throw invalid('partitions_count', 'must be an integer', 'INVALID_PARTITIONS');
    out.partitions = b['partitions_count'] as number;
  }
  if (b['replication_factor'] !== undefined) {
    if (!Number.isInteger(b['replication_factor'])) throw invalid('replication_factor', 'must be an integer', 'INVALID_REPLICATION_FACTOR');
    out.replicationFactor = b['replication_factor'] as number;
  }
  const configs = b['configs'];
  if (configs !== undefined) {
    if (!Array.isArray(configs)) throw invalid('configs', 'must be a list of {"name", "value"}');
    configs.forEach((c: unknown, i) => {
      const e = c as Record<string, unknown> | null;
      if (typeof e !== 'object' || e === null || typeof e['name'] !== 'string') throw invalid(`configs[${i}].name`, 'must be a string');
      const v = e['value'];
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw invalid(`configs[${i}].value`, 'must be a string');
      out.configs[e['name']] = String(v);
    });
  }
  for (const k of Object.keys(b)) {
    if (!['topic_name', 'partitions_count', 'replication_factor', 'configs'].includes(k)) throw invalid(k, 'unknown field');
  }
  return out;
}

/** API.md "Cluster and admin (v3 shapes)": every node answers; writes go to the controller. */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { cluster, metadata, admin, quorum } = deps;
  const inCluster = (p: Params): void => checkCluster(cluster, p['cid']);
  const topicOr404 = (name: string): Promise<TopicState> => metadata.requireTopic(name);

  app.get('/healthz', { schema: S.healthz }, (_req, reply) => {
    if (!quorum.joined()) {
      const err = new RunnelError('BROKER_NOT_AVAILABLE', `node ${cluster.nodeId} has not joined the quorum yet`);
      return reply.status(503).send({ error_code: err.errorCode, message: err.message, status: 'starting', node_id: cluster.nodeId });
    }
    return { status: 'ok', node_id: cluster.nodeId };
  });

  app.get('/v3/clusters', { schema: S.clusters }, () => {
    return { data: [{ cluster_id: cluster.clusterId, controller_id: quorum.controllerId(), node_id: cluster.nodeId }] };
  });

  app.get<{ Params: Params }>('/v3/clusters/:cid', { schema: S.cluster }, (req) => {
    inCluster(req.params);
    return { cluster_id: cluster.clusterId, controller_id: quorum.controllerId() };
  });

  app.get<{ Params: Params }>('/v3/clusters/:cid/brokers', { schema: S.brokers }, (req) => {
    inCluster(req.params);
    const brokers = metadata.image().allBrokers().sort((a, b) => a.id - b.id);
    return {
      data: brokers.map((b) => ({ broker_id: b.id, host: b.host, port: b.httpPort, rpc_port: b.rpcPort, kafka_port: b.kafkaPort ?? null, status: b.fenced ? 'fenced' : 'active' })),
    };
  });

  app.get<{ Params: Params }>('/v3/clusters/:cid/raft', { schema: S.raft }, async (req) => {
    inCluster(req.params);
    const q = await quorum.status();
    return {
      leader_id: q.leaderId,
      term: q.term,
      commit_index: q.commitIndex,
      voters: q.voters.map((v) => ({ node_id: v.nodeId, match_index: v.matchIndex, last_contact_ms: v.lastContactMs })),
    };
  });

  app.post<{ Params: Params }>('/v3/clusters/:cid/topics', { schema: S.createTopic }, async (req, reply) => {
    inCluster(req.params);
    const t = await admin.createTopic(parseCreateTopic(req.body));
    return reply.status(201).send(topicBody(deps, t));
  });

  app.get<{ Params: Params; Querystring: Record<string, string> }>('/v3/clusters/:cid/topics', { schema: S.listTopics }, (req) => {
    inCluster(req.params);
    // Internal topics (__consumer_offsets) only when asked for, as Kafka's tools do.
    const internal = req.query['include_internal'] === 'true';
    const topics = metadata
      .image()
      .allTopics()
      .filter((t) => internal || !isInternalTopic(t.name))
      .sort((a, b) => a.name.localeCompare(b.name));
    return { data: topics.map((t) => topicBody(deps, t)) };
  });

  app.get<{ Params: Params }>('/v3/clusters/:cid/topics/:t', { schema: S.getTopic }, async (req) => {
    inCluster(req.params);
    return topicBody(deps, await topicOr404(req.params['t'] ?? ''));
  });

  app.delete<{ Params: Params }>('/v3/clusters/:cid/topics/:t', { schema: S.deleteTopic }, async (req, reply) => {
    inCluster(req.params);
    await admin.deleteTopic(req.params['t'] ?? '');
    return reply.status(204).send();
  });

  /** The partition as the image has it, with its leader's high watermark and log start offset. */
  const partitionWithOffsets = async (t: TopicState, p: PartitionState): Promise<Record<string, unknown>> => {
    const body = partitionBody(p);
    try {
      const o = await deps.fetch.offsets(t.id, p.partition, OFFSETS_TIMEOUT_MS);
      return { ...body, high_watermark: o.highWatermark, log_start_offset: o.logStartOffset };
    } catch {
      return body; // leader unreachable or not ready: the offsets stay null
    }
  };

  app.get<{ Params: Params }>('/v3/clusters/:cid/topics/:t/partitions', { schema: S.partitions }, async (req) => {
    inCluster(req.params);
    const t = await topicOr404(req.params['t'] ?? '');
    return { data: await Promise.all(t.partitions.map((p) => partitionWithOffsets(t, p))) };
  });

  app.get<{ Params: Params }>('/v3/clusters/:cid/topics/:t/partitions/:p', { schema: S.partition }, async (req) => {
    inCluster(req.params);
    const t = await topicOr404(req.params['t'] ?? '');
    const p = t.partitions[Number(req.params['p'])];
    if (p === undefined || !/^\d+$/.test(req.params['p'] ?? '')) {
      throw new RunnelError('UNKNOWN_PARTITION', `topic "${t.name}" has no partition ${req.params['p']}`);
    }
    return partitionWithOffsets(t, p);
  });

  app.get<{ Params: Params }>('/v3/clusters/:cid/topics/:t/configs', { schema: S.configs }, async (req) => {
    inCluster(req.params);
    return { data: topicConfigs(metadata, await topicOr404(req.params['t'] ?? '')) };
  });

  app.get<{ Params: Params }>('/v3/clusters/:cid/topics/:t/configs/:name', { schema: S.config }, async (req) => {
    inCluster(req.params);
    const c = topicConfigs(metadata, await topicOr404(req.params['t'] ?? '')).find((x) => x.name === req.params['name']);
    if (c === undefined) throw new RunnelError('NOT_FOUND', `config "${req.params['name']}" is not a topic config runnel knows`);
    return c;
  });

  app.put<{ Params: Params }>('/v3/clusters/:cid/topics/:t/configs/:name', { schema: S.setConfig }, async (req, reply) => {
    inCluster(req.params);
    const body = req.body as Record<string, unknown> | null;
    const value = body?.['value'];
    if (typeof value !== 'string' && value !== null) throw invalid('value', 'must be a string (or null to reset to the default)');
    const name = req.params['name'] ?? '';
    await admin.alterTopicConfigs(req.params['t'] ?? '', { [name]: value });
    return reply.status(204).send();
  });
}
