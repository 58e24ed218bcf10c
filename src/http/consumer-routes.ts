import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { invalid, RunnelError } from '../errors.ts';
import type { TopicPartition } from '../groups/assignor.ts';
import type { GroupView } from '../groups/group-admin.ts';
import type { GroupService, MetadataService } from '../services/front-door-services.ts';
import type { InstanceOp } from './consumers/instance-ops.ts';
import { checkCluster } from './http-deps.ts';
import type { HttpDeps } from './http-deps.ts';
import { parseTimeoutMs, queryInt } from './produce-request.ts';
import { documentBody } from './schemas/common.ts';
import { consumerSchemas } from './schemas/consumer-schemas.ts';

type Params = Record<string, string>;
type Query = Record<string, unknown>;

const MAX_POLL_TIMEOUT_MS = 300_000;
const DEFAULT_POLL_TIMEOUT_MS = 1000;
const DEFAULT_POLL_MAX_BYTES = 1024 * 1024;
const MAX_POLL_MAX_BYTES = 64 * 1024 * 1024;
/** Bound on the partitions of one offsets reset. */
const MAX_ALTER_OFFSETS = 10_000;

/**
 * preValidation of the routes whose body may be left out (the handlers read no body as {}):
 * their schemas say "object", which an absent body would fail.
 */
function absentBodyAsEmpty(req: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  req.body ??= {};
  done();
}

function obj(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalid('body', 'must be a JSON object');
  return body as Record<string, unknown>;
}

function partitionsOf(list: unknown, field: string): TopicPartition[] {
  if (!Array.isArray(list)) throw invalid(field, 'must be a list of {"topic", "partition"}');
  return list.map((x: unknown, i) => {
    const e = x as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null || typeof e['topic'] !== 'string') throw invalid(`${field}[${i}].topic`, 'must be a string');
    if (!Number.isInteger(e['partition']) || (e['partition'] as number) < 0) throw invalid(`${field}[${i}].partition`, 'must be an integer >= 0');
    return { topic: e['topic'], partition: e['partition'] as number };
  });
}

function offsetsOf(list: unknown, field: string): { topic: string; partition: number; offset: number }[] {
  const tps = partitionsOf(list, field);
  return tps.map((tp, i) => {
    const o = (list as Record<string, unknown>[])[i]?.['offset'];
    if (!Number.isInteger(o) || (o as number) < 0) throw invalid(`${field}[${i}].offset`, 'must be an integer >= 0');
    return { ...tp, offset: o as number };
  });
}

/** `?partition=orders:0&partition=orders:1` (the GET offsets alternative to a body). */
function partitionsFromQuery(q: Query): TopicPartition[] | undefined {
  const raw = q['partition'];
  if (raw === undefined) return undefined;
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((v: unknown, i) => {
    const m = typeof v === 'string' ? /^(.+):(\d+)$/.exec(v) : null;
    if (m === null) throw invalid(`partition[${i}]`, 'must look like topic:partition');
    return { topic: m[1] ?? '', partition: Number(m[2]) };
  });
}

/** Bound on a GET body read by hand (a list of partitions). */
const MAX_GET_BODY_BYTES = 1024 * 1024;

/** The JSON body of a GET request, read from the raw stream (undefined when there is none). */
async function readGetBody(req: FastifyRequest): Promise<unknown> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (length === 0 && req.headers['transfer-encoding'] === undefined) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.raw) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_GET_BODY_BYTES) throw invalid('body', `larger than ${MAX_GET_BODY_BYTES} bytes`);
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RunnelError('BAD_REQUEST', 'body: not valid JSON');
  }
}

/** GET /v3/clusters/{cid}/consumer-groups/{g}: a group in the REST v3 shape. */
function groupBody(clusterId: string, g: GroupView): Record<string, unknown> {
  return {
    cluster_id: clusterId,
    consumer_group_id: g.group,
    state: g.state,
    generation: g.generation,
    partition_assignor: g.protocol,
    coordinator_id: g.coordinatorId,
    members: g.members.map((m) => ({ consumer_id: m.memberId, instance_id: m.groupInstanceId, client_id: m.clientId, host: m.host, assignments: m.assignments })),
    partitions: g.partitions.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      consumer_id: p.consumerId,
      committed_offset: p.committedOffset,
      end_offset: p.endOffset,
      lag: p.lag,
    })),
  };
}

/**
 * API.md "Consumer groups (v2 consumer instances)" and the v3 consumer-group views. An
 * instance lives on the node that created it; any other node forwards to it (found through
 * the group's coordinator), so clients may call any node.
 */
export function registerConsumerRoutes(
  app: FastifyInstance,
  deps: Pick<HttpDeps, 'cluster' | 'consumers'> & { readonly metadata: MetadataService; readonly groups: GroupService },
): void {
  const { cluster, consumers, metadata, groups } = deps;
  const call = (req: FastifyRequest<{ Params: Params }>, op: InstanceOp): Promise<unknown> => consumers.call(req.params['g'] ?? '', req.params['i'] ?? '', op);
  const noContent = (reply: FastifyReply) => reply.status(204).send();
  const base = '/consumers/:g/instances/:i';
  const S = consumerSchemas({
    defaultPollTimeoutMs: DEFAULT_POLL_TIMEOUT_MS,
    maxPollTimeoutMs: MAX_POLL_TIMEOUT_MS,
    defaultPollMaxBytes: DEFAULT_POLL_MAX_BYTES,
    maxPollMaxBytes: MAX_POLL_MAX_BYTES,
    maxAlterOffsets: MAX_ALTER_OFFSETS,
  });
  const withBody = (schema: FastifySchema) => ({ schema, preValidation: absentBodyAsEmpty });

  app.post<{ Params: Params }>('/consumers/:g', withBody(S.create), async (req) => consumers.create(req.params['g'] ?? '', req.body));

  app.post<{ Params: Params }>(`${base}/subscription`, withBody(S.subscribe), async (req, reply) => {
    const b = obj(req.body);
    const topics = b['topics'];
    const pattern = b['topic_pattern'];
    if (topics !== undefined && pattern !== undefined) throw invalid('topics', 'give either topics or topic_pattern, not both');
    if (pattern !== undefined) {
      if (typeof pattern !== 'string' || pattern === '') throw invalid('topic_pattern', 'must be a non-empty string');
      await call(req, { op: 'subscribe', pattern });
    } else {
      if (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === 'string' && t !== '')) throw invalid('topics', 'must be a non-empty list of topic names');
      for (const t of topics as string[]) {
        if ((await metadata.findTopic(t)) === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topics: topic "${t}" not found`);
      }
      await call(req, { op: 'subscribe', topics: topics as string[] });
    }
    return noContent(reply);
  });

  app.get<{ Params: Params }>(`${base}/subscription`, { schema: S.subscription }, (req) => call(req, { op: 'subscription' }));
  app.delete<{ Params: Params }>(`${base}/subscription`, { schema: S.unsubscribe }, async (req, reply) => {
    await call(req, { op: 'unsubscribe' });
    return noContent(reply);
  });

  app.get<{ Params: Params }>(`${base}/assignments`, { schema: S.assignments }, (req) => call(req, { op: 'assignments' }));

  app.get<{ Params: Params; Querystring: Query }>(`${base}/records`, { schema: S.records }, async (req, reply) => {
    const timeoutMs = parseTimeoutMs(req.query, DEFAULT_POLL_TIMEOUT_MS, MAX_POLL_TIMEOUT_MS);
    const maxBytes = queryInt(req.query, 'max_bytes', 1, MAX_POLL_MAX_BYTES) ?? DEFAULT_POLL_MAX_BYTES;
    const records = await call(req, { op: 'poll', timeoutMs, maxBytes });
    return reply.type('application/vnd.kafka.v2+json').send(records);
  });

  app.post<{ Params: Params }>(`${base}/offsets`, withBody(S.commit), async (req, reply) => {
    const b = obj(req.body);
    const list = b['offsets'] ?? b['partitions'];
    await call(req, list === undefined ? { op: 'commit' } : { op: 'commit', offsets: offsetsOf(list, b['offsets'] !== undefined ? 'offsets' : 'partitions') });
    return noContent(reply);
  });

  app.get<{ Params: Params; Querystring: Query }>(`${base}/offsets`, { schema: S.committed, config: { swaggerTransform: documentBody(S.committedBody) } }, async (req) => {
    // REST Proxy clients send the partitions as a JSON body on this GET; fastify does not parse GET bodies.
    const b = obj(req.body ?? (await readGetBody(req)));
    const fromBody = b['partitions'] === undefined ? undefined : partitionsOf(b['partitions'], 'partitions');
    const partitions = fromBody ?? partitionsFromQuery(req.query);
    return call(req, partitions === undefined ? { op: 'committed' } : { op: 'committed', partitions });
  });

  app.post<{ Params: Params }>(`${base}/positions`, withBody(S.seek), async (req, reply) => {
    await call(req, { op: 'seek', offsets: offsetsOf(obj(req.body)['offsets'], 'offsets') });
    return noContent(reply);
  });

  for (const where of ['beginning', 'end'] as const) {
    app.post<{ Params: Params }>(`${base}/positions/${where}`, withBody(S.seekTo(where)), async (req, reply) => {
      await call(req, { op: 'seekTo', where, partitions: partitionsOf(obj(req.body)['partitions'], 'partitions') });
      return noContent(reply);
    });
  }

  app.delete<{ Params: Params }>(base, { schema: S.deleteInstance }, async (req, reply) => {
    await call(req, { op: 'delete' });
    return noContent(reply);
  });

  app.get<{ Params: Params }>('/v3/clusters/:cid/consumer-groups', { schema: S.listGroups }, async (req) => {
    checkCluster(cluster, req.params['cid']);
    const ids = await groups.list();
    return { data: await Promise.all(ids.map(async (g) => groupBody(cluster.clusterId, await groups.describe(g)))) };
  });

  app.get<{ Params: Params }>('/v3/clusters/:cid/consumer-groups/:g', { schema: S.group }, async (req) => {
    checkCluster(cluster, req.params['cid']);
    return groupBody(cluster.clusterId, await groups.describe(req.params['g'] ?? ''));
  });

  // Not in the REST Proxy: Kafka's AdminClient.alterConsumerGroupOffsets, for `runnel group
  // reset-offsets`. Each offset is the new committed offset (the next to read), not the last
  // processed one as on an instance's commit. 409 NON_EMPTY_GROUP while the group has members.
  app.post<{ Params: Params }>('/v3/clusters/:cid/consumer-groups/:g/offsets', withBody(S.alterOffsets), async (req) => {
    checkCluster(cluster, req.params['cid']);
    const offsets = offsetsOf(obj(req.body)['offsets'], 'offsets');
    if (offsets.length === 0 || offsets.length > MAX_ALTER_OFFSETS) throw invalid('offsets', `must list 1 to ${MAX_ALTER_OFFSETS} partitions`);
    const counts = new Map<string, number>();
    for (const [i, o] of offsets.entries()) {
      const count = counts.get(o.topic) ?? (await metadata.requireTopic(o.topic)).partitions.length;
      counts.set(o.topic, count);
      if (o.partition >= count) throw new RunnelError('UNKNOWN_PARTITION', `offsets[${i}].partition: topic "${o.topic}" has partitions 0-${count - 1}, not ${o.partition}`);
    }
    await groups.alterOffsets(req.params['g'] ?? '', offsets);
    return { offsets: offsets.map((o) => ({ ...o, metadata: '' })) };
  });
}
