import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalid, RunnelError } from '../errors.ts';
import type { TopicPartition } from '../groups/assignor.ts';
import type { InstanceOp } from '../groups/consumer-registry.ts';
import type { RunnelNode } from '../node/runnel-node.ts';
import { parseTimeoutMs, queryInt } from './produce-request.ts';

type Params = Record<string, string>;
type Query = Record<string, unknown>;

const MAX_POLL_TIMEOUT_MS = 300_000;
const DEFAULT_POLL_TIMEOUT_MS = 1000;
const DEFAULT_POLL_MAX_BYTES = 1024 * 1024;

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

/**
 * API.md "Consumer groups (v2 consumer instances)" and the v3 consumer-group views. An
 * instance lives on the node that created it; any other node forwards to it (found through
 * the group's coordinator), so clients may call any node.
 */
export function registerConsumerRoutes(app: FastifyInstance, node: RunnelNode): void {
  const call = (req: FastifyRequest<{ Params: Params }>, op: InstanceOp): Promise<unknown> => node.instanceCall(req.params['g'] ?? '', req.params['i'] ?? '', op);
  const noContent = (reply: FastifyReply) => reply.status(204).send();
  const base = '/consumers/:g/instances/:i';

  app.post<{ Params: Params }>('/consumers/:g', async (req) => node.consumers.create(req.params['g'] ?? '', req.body));

  app.post<{ Params: Params }>(`${base}/subscription`, async (req, reply) => {
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
        if ((await node.findTopic(t)) === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topics: topic "${t}" not found`);
      }
      await call(req, { op: 'subscribe', topics: topics as string[] });
    }
    return noContent(reply);
  });

  app.get<{ Params: Params }>(`${base}/subscription`, (req) => call(req, { op: 'subscription' }));
  app.delete<{ Params: Params }>(`${base}/subscription`, async (req, reply) => {
    await call(req, { op: 'unsubscribe' });
    return noContent(reply);
  });

  app.get<{ Params: Params }>(`${base}/assignments`, (req) => call(req, { op: 'assignments' }));

  app.get<{ Params: Params; Querystring: Query }>(`${base}/records`, async (req, reply) => {
    const timeoutMs = parseTimeoutMs(req.query, DEFAULT_POLL_TIMEOUT_MS, MAX_POLL_TIMEOUT_MS);
    const maxBytes = queryInt(req.query, 'max_bytes', 1, 64 * 1024 * 1024) ?? DEFAULT_POLL_MAX_BYTES;
    const records = await call(req, { op: 'poll', timeoutMs, maxBytes });
    return reply.type('application/vnd.kafka.v2+json').send(records);
  });

  app.post<{ Params: Params }>(`${base}/offsets`, async (req, reply) => {
    const b = obj(req.body);
    const list = b['offsets'] ?? b['partitions'];
    await call(req, list === undefined ? { op: 'commit' } : { op: 'commit', offsets: offsetsOf(list, b['offsets'] !== undefined ? 'offsets' : 'partitions') });
    return noContent(reply);
  });

  app.get<{ Params: Params; Querystring: Query }>(`${base}/offsets`, async (req) => {
    // REST Proxy clients send the partitions as a JSON body on this GET; fastify does not parse GET bodies.
    const b = obj(req.body ?? (await readGetBody(req)));
    const fromBody = b['partitions'] === undefined ? undefined : partitionsOf(b['partitions'], 'partitions');
    const partitions = fromBody ?? partitionsFromQuery(req.query);
    return call(req, partitions === undefined ? { op: 'committed' } : { op: 'committed', partitions });
  });

  app.post<{ Params: Params }>(`${base}/positions`, async (req, reply) => {
    await call(req, { op: 'seek', offsets: offsetsOf(obj(req.body)['offsets'], 'offsets') });
    return noContent(reply);
  });

  for (const where of ['beginning', 'end'] as const) {
    app.post<{ Params: Params }>(`${base}/positions/${where}`, async (req, reply) => {
      await call(req, { op: 'seekTo', where, partitions: partitionsOf(obj(req.body)['partitions'], 'partitions') });
      return noContent(reply);
    });
  }

  app.delete<{ Params: Params }>(base, async (req, reply) => {
    await call(req, { op: 'delete' });
    return noContent(reply);
  });

  app.get<{ Params: Params }>('/v3/clusters/:cid/consumer-groups', async (req) => {
    node.checkCluster(req.params['cid']);
    const ids = await node.groupIds();
    return { data: await Promise.all(ids.map((g) => node.describeGroup(g))) };
  });

  app.get<{ Params: Params }>('/v3/clusters/:cid/consumer-groups/:g', async (req) => {
    node.checkCluster(req.params['cid']);
    return node.describeGroup(req.params['g'] ?? '');
  });
}
