import type { FastifyInstance, onResponseAsyncHookHandler, preSerializationAsyncHookHandler } from 'fastify';
import type { NodeMetrics, RequestSeries } from '../metrics/node-metrics.ts';
import type { MetadataService } from '../services/front-door-services.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Records in this request's answer, left by the metrics preSerialization hook (0 when none). */
    metricsRecords: number;
  }
}

interface MeteredRoute {
  readonly series: 'produce' | 'fetch';
  /** Records in the answer object, counted without walking it: one `offsets` entry per produced record; a consume answer is the array of records. */
  readonly records: (payload: unknown) => number;
  /** Whether the topic is a path parameter (a consumer instance's poll spans topics: topic label ""). */
  readonly topicInPath: boolean;
}

const producedRecords = (payload: unknown): number => {
  const offsets = typeof payload === 'object' && payload !== null ? (payload as { offsets?: unknown }).offsets : undefined;
  return Array.isArray(offsets) ? offsets.length : 0;
};
const consumedRecords = (payload: unknown): number => (Array.isArray(payload) ? payload.length : 0);

/** The metered routes by "METHOD url-pattern" (API.md). */
const METERED = new Map<string, MeteredRoute>([
  ['POST /topics/:t', { series: 'produce', records: producedRecords, topicInPath: true }],
  ['POST /topics/:t/partitions/:p', { series: 'produce', records: producedRecords, topicInPath: true }],
  ['GET /topics/:t/partitions/:p/records', { series: 'fetch', records: consumedRecords, topicInPath: true }],
  ['GET /consumers/:g/instances/:i/records', { series: 'fetch', records: consumedRecords, topicInPath: false }],
]);

/**
 * The per-request produce and fetch series: hooks attached, as each route is declared, to the
 * metered routes only (every other request pays nothing). They count once per request (a few
 * label hashes) and never walk the records. The topic label is the path's topic only when it
 * exists in the metadata image, else "" (unknown topics are client input and must not create
 * series). Call before the routes are declared.
 */
export function meterRoutes(app: FastifyInstance, deps: { readonly metrics: NodeMetrics; readonly metadata: MetadataService }): void {
  const { metrics, metadata } = deps;
  app.decorateRequest('metricsRecords', 0);
  app.addHook('onRoute', (route) => {
    const m = typeof route.method === 'string' ? METERED.get(`${route.method} ${route.url}`) : undefined;
    if (m === undefined) return;
    const s: RequestSeries = metrics[m.series];
    const preSerialization: preSerializationAsyncHookHandler = async (req, reply, payload) => {
      if (reply.statusCode < 300) req.metricsRecords = m.records(payload);
      return payload;
    };
    const onResponse: onResponseAsyncHookHandler = async (req, reply) => {
      const name = m.topicInPath ? (req.params as Record<string, string | undefined>)['t'] : undefined;
      const topic = name !== undefined && metadata.image().topic(name) !== undefined ? name : '';
      s.requests.inc({ topic, status: String(reply.statusCode) });
      s.duration.observe({ topic }, reply.elapsedTime / 1000);
      if (req.metricsRecords > 0) s.records.inc({ topic }, req.metricsRecords);
      // Bytes in: the request body as declared; bytes out: the body fastify sent (it sets Content-Length).
      const bytes = Number(m.series === 'produce' ? req.headers['content-length'] : reply.getHeader('content-length'));
      if (bytes > 0) s.bytes.inc({ topic }, bytes);
    };
    route.preSerialization = [...hooksOf(route.preSerialization), preSerialization];
    route.onResponse = [...hooksOf(route.onResponse), onResponse];
  });
}

function hooksOf<T>(h: T | T[] | undefined): T[] {
  return h === undefined ? [] : Array.isArray(h) ? h : [h];
}

/** `GET /metrics`: Prometheus text format 0.0.4, served by every node. */
export function registerMetricsRoutes(app: FastifyInstance, deps: { readonly metrics: NodeMetrics }): void {
  const { metrics } = deps;
  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.scrape();
    return reply.type(metrics.contentType).send(text);
  });
}
