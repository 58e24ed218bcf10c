import type { FastifyInstance, FastifyRequest } from 'fastify';
import { batches, buildBatch, decodeRecords } from '../../storage/record-batch.ts';
import type { RecordInput } from '../../storage/record-batch.ts';
import { partitionForKey, RoundRobin } from '../broker/partitioner.ts';
import { invalid, RunnelError } from '../errors.ts';
import type { TopicState } from '../metadata/image.ts';
import type { FetchService, MetadataService, ProduceBudget, ProduceService } from '../services/front-door-services.ts';
import { acceptFormat, parseConsumeQuery } from './consume-response.ts';
import { formatRecord } from './consumers/consumed-record.ts';
import type { ConsumedRecord } from './consumers/consumed-record.ts';
import { formatFromContentType, parseAcks, parseProduceBody, parseTimeoutMs, produceResponse } from './produce-request.ts';
import type { Acks, ProduceOutcome } from './produce-request.ts';
import { documentBody } from './schemas/common.ts';
import { dataSchemas } from './schemas/data-schemas.ts';

type Params = Record<string, string>;
type Query = Record<string, unknown>;

/** Bounds of one request (STYLE.md: every batch has a bound). */
const MAX_RECORDS_PER_REQUEST = 10_000;
const DEFAULT_PRODUCE_TIMEOUT_MS = 30_000;
const MAX_TIMEOUT_MS = 300_000;
const DEFAULT_READ_MAX_BYTES = 1024 * 1024;
const DEFAULT_READ_TIMEOUT_MS = 1000;

function partitionOr404(t: TopicState, raw: string | undefined): number {
  const p = Number(raw);
  if (raw === undefined || !/^\d+$/.test(raw) || p >= t.partitions.length) {
    throw new RunnelError('UNKNOWN_PARTITION', `partition: topic "${t.name}" has partitions 0-${t.partitions.length - 1}, not ${raw ?? '(none)'}`);
  }
  return p;
}

/**
 * API.md "Produce (v2 shapes)" and "Consume one partition". Any node accepts: a record set is
 * built into one RecordBatch per partition here, and the batch's bytes go to the partition's
 * leader unchanged (the leader only stamps offsets and its epoch).
 */
export function registerDataRoutes(
  app: FastifyInstance,
  deps: { readonly metadata: MetadataService; readonly produce: ProduceService; readonly produceBudget: ProduceBudget; readonly fetch: FetchService },
): void {
  const { metadata, produce: producer, produceBudget, fetch } = deps;
  const roundRobin = new RoundRobin();
  const S = dataSchemas({
    maxRecordsPerRequest: MAX_RECORDS_PER_REQUEST,
    defaultProduceTimeoutMs: DEFAULT_PRODUCE_TIMEOUT_MS,
    maxTimeoutMs: MAX_TIMEOUT_MS,
    defaultReadMaxBytes: DEFAULT_READ_MAX_BYTES,
    defaultReadTimeoutMs: DEFAULT_READ_TIMEOUT_MS,
  });
  // The produce body is documented, not validated by a schema: see S.produceBody.
  const produceDocs = { swaggerTransform: documentBody(S.produceBody) };

  const produce = async (req: FastifyRequest<{ Params: Params; Querystring: Query }>, pathPartition: string | undefined) => {
    const format = formatFromContentType(req.headers['content-type']);
    const acks = parseAcks(typeof req.query['acks'] === 'string' ? req.query['acks'] : undefined);
    const timeoutMs = parseTimeoutMs(req.query, DEFAULT_PRODUCE_TIMEOUT_MS, MAX_TIMEOUT_MS);
    const t = await metadata.requireTopic(req.params['t'] ?? '');
    const pinned = pathPartition === undefined ? undefined : partitionOr404(t, pathPartition);
    const records = parseProduceBody(req.body, format, { maxRecords: MAX_RECORDS_PER_REQUEST, ...(pinned !== undefined ? { pathPartition: pinned } : {}) });
    const count = t.partitions.length;
    // Keyless records of one request stick to one partition (Kafka's sticky partitioner), so they form one batch.
    let sticky: number | undefined;
    const groups = new Map<number, { indexes: number[]; records: RecordInput[] }>();
    const now = Date.now();
    records.forEach((r, i) => {
      let p: number;
      if (r.partition !== undefined) {
        if (r.partition >= count) throw new RunnelError('UNKNOWN_PARTITION', `records[${i}].partition: topic "${t.name}" has partitions 0-${count - 1}, not ${r.partition}`);
        p = r.partition;
      } else if (r.key !== null) {
        p = partitionForKey(r.key, count);
      } else {
        sticky ??= roundRobin.next(t.name, count);
        p = sticky;
      }
      const g = groups.get(p) ?? { indexes: [], records: [] };
      g.indexes.push(i);
      g.records.push({ key: r.key, value: r.value, headers: r.headers, timestamp: now });
      groups.set(p, g);
    });
    // Build and size-check every batch before anything is appended: a refused request leaves every log untouched.
    const maxBytes = Number(metadata.topicConfig(t, 'max.message.bytes'));
    const built = [...groups].map(([partition, g]) => {
      // Producer id, epoch and sequence are stamped when it is sent (ProduceService.produceOwn).
      const batch = buildBatch(g.records);
      if (batch.length > maxBytes) {
        throw new RunnelError('MESSAGE_TOO_LARGE', `records: the ${g.records.length} record(s) for partition ${partition} make a ${batch.length}-byte batch; max.message.bytes is ${maxBytes}`);
      }
      return { partition, indexes: g.indexes, batch };
    });
    const bytes = built.reduce((n, b) => n + b.batch.length, 0);
    const release = produceBudget.acquire(bytes);
    try {
      return await send(req, t, built, records.length, acks, timeoutMs);
    } finally {
      release();
    }
  };

  const send = async (
    req: FastifyRequest,
    t: TopicState,
    built: readonly { partition: number; indexes: number[]; batch: Buffer }[],
    count: number,
    acks: Acks,
    timeoutMs: number,
  ) => {
    const outcomes: ProduceOutcome[] = new Array<ProduceOutcome>(count);
    if (acks === 0) {
      // acks=0: answer at once; the append happens (or fails, logged) after.
      for (const b of built) {
        producer.produceOwn({ topicId: t.id, partition: b.partition, batch: b.batch, acks, timeoutMs }, b.indexes.length).catch((err: unknown) => req.log.warn({ err, topic: t.name, partition: b.partition }, 'acks=0 produce failed'));
      }
      const partitionOf = new Map(built.flatMap((b) => b.indexes.map((i) => [i, b.partition] as const)));
      return { status: 200, body: { offsets: Array.from({ length: count }, (_, i) => ({ partition: partitionOf.get(i) ?? 0, offset: null, error_code: null, error: null })) } };
    }
    await Promise.all(
      built.map(async (b) => {
        try {
          const base = await producer.produceOwn({ topicId: t.id, partition: b.partition, batch: b.batch, acks, timeoutMs }, b.indexes.length);
          b.indexes.forEach((recordIndex, k) => (outcomes[recordIndex] = { partition: b.partition, offset: base + k }));
        } catch (err) {
          const e = err instanceof RunnelError ? err : new RunnelError('UNKNOWN_SERVER_ERROR', err instanceof Error ? err.message : String(err));
          for (const recordIndex of b.indexes) outcomes[recordIndex] = { partition: b.partition, error: e };
        }
      }),
    );
    return produceResponse(outcomes);
  };

  app.post<{ Params: Params; Querystring: Query }>('/topics/:t', { schema: S.produce, config: produceDocs }, async (req, reply) => {
    const r = await produce(req, undefined);
    return reply.status(r.status).send(r.body);
  });

  app.post<{ Params: Params; Querystring: Query }>('/topics/:t/partitions/:p', { schema: S.produceToPartition, config: produceDocs }, async (req, reply) => {
    const r = await produce(req, req.params['p']);
    return reply.status(r.status).send(r.body);
  });

  app.get<{ Params: Params; Querystring: Query }>('/topics/:t/partitions/:p/records', { schema: S.records }, async (req, reply) => {
    const format = acceptFormat(req.headers.accept);
    const t = await metadata.requireTopic(req.params['t'] ?? '');
    const partition = partitionOr404(t, req.params['p']);
    const q = parseConsumeQuery(req.query, { maxBytes: DEFAULT_READ_MAX_BYTES, timeoutMs: DEFAULT_READ_TIMEOUT_MS, maxTimeoutMs: MAX_TIMEOUT_MS });
    const { records } = await fetch.consume({ topicId: t.id, partition, offset: q.offset, maxBytes: q.maxBytes, timeoutMs: q.timeoutMs });
    const out: ConsumedRecord[] = [];
    for (const { at } of batches(records)) {
      for (const r of decodeRecords(records, at)) if (r.offset >= q.offset) out.push(formatRecord(t.name, partition, r, format));
    }
    return reply.type(`application/vnd.kafka.${format}.v2+json`).send(out);
  });

  app.get<{ Params: Params }>('/topics/:t/partitions/:p/offsets', { schema: S.offsets }, async (req) => {
    const t = await metadata.requireTopic(req.params['t'] ?? '');
    const partition = partitionOr404(t, req.params['p']);
    const o = await fetch.offsets(t.id, partition);
    return { beginning_offset: o.logStartOffset, end_offset: o.highWatermark };
  });

  // A missing topic in the path of a produce is a bad URL, not an unknown route.
  app.post('/topics', { schema: S.noTopic }, () => {
    throw invalid('topic', 'name the topic in the path: POST /topics/{topic}');
  });
}
