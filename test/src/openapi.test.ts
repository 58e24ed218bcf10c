import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunnelError } from '../../src/errors.ts';
import { buildHttpApp } from '../../src/http/app.ts';
import type { HttpDeps } from '../../src/http/http-deps.ts';
import { MetadataImage } from '../../src/metadata/image.ts';
import { NodeMetrics } from '../../src/metrics/node-metrics.ts';

/** Every route of API.md's tables and sections, as OpenAPI paths, with its query parameters and whether it takes a body. */
const API_MD_ROUTES: readonly { method: string; path: string; query?: readonly string[]; body?: true }[] = [
  // Cluster and admin (v3 shapes)
  { method: 'get', path: '/v3/clusters' },
  { method: 'get', path: '/v3/clusters/{cid}/brokers' },
  { method: 'post', path: '/v3/clusters/{cid}/topics', body: true },
  { method: 'get', path: '/v3/clusters/{cid}/topics', query: ['include_internal'] },
  { method: 'get', path: '/v3/clusters/{cid}/topics/{t}' },
  { method: 'delete', path: '/v3/clusters/{cid}/topics/{t}' },
  { method: 'get', path: '/v3/clusters/{cid}/topics/{t}/partitions' },
  { method: 'get', path: '/v3/clusters/{cid}/topics/{t}/configs' },
  { method: 'get', path: '/v3/clusters/{cid}/topics/{t}/configs/{name}' },
  { method: 'put', path: '/v3/clusters/{cid}/topics/{t}/configs/{name}', body: true },
  { method: 'get', path: '/v3/clusters/{cid}/raft' },
  { method: 'get', path: '/healthz' },
  { method: 'get', path: '/metrics' },
  // Produce (v2 shapes)
  { method: 'post', path: '/topics/{t}', query: ['acks', 'timeout_ms', 'timeout'], body: true },
  { method: 'post', path: '/topics/{t}/partitions/{p}', query: ['acks', 'timeout_ms', 'timeout'], body: true },
  // Consume one partition
  { method: 'get', path: '/topics/{t}/partitions/{p}/records', query: ['offset', 'max_bytes', 'timeout_ms', 'timeout'] },
  { method: 'get', path: '/topics/{t}/partitions/{p}/offsets' },
  // Consumer groups (v2 consumer instances)
  { method: 'post', path: '/consumers/{g}', body: true },
  { method: 'post', path: '/consumers/{g}/instances/{i}/subscription', body: true },
  { method: 'get', path: '/consumers/{g}/instances/{i}/assignments' },
  { method: 'get', path: '/consumers/{g}/instances/{i}/records', query: ['timeout', 'timeout_ms', 'max_bytes'] },
  { method: 'post', path: '/consumers/{g}/instances/{i}/offsets', body: true },
  // GET with a JSON body, as REST Proxy clients send it, or ?partition=topic:p
  { method: 'get', path: '/consumers/{g}/instances/{i}/offsets', query: ['partition'], body: true },
  { method: 'post', path: '/consumers/{g}/instances/{i}/positions', body: true },
  { method: 'post', path: '/consumers/{g}/instances/{i}/positions/beginning', body: true },
  { method: 'post', path: '/consumers/{g}/instances/{i}/positions/end', body: true },
  { method: 'delete', path: '/consumers/{g}/instances/{i}' },
  { method: 'get', path: '/v3/clusters/{cid}/consumer-groups' },
  { method: 'get', path: '/v3/clusters/{cid}/consumer-groups/{g}' },
];

interface Operation {
  tags?: string[];
  parameters?: { in: string; name: string; required?: boolean; schema?: unknown; description?: string }[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
  responses?: Record<string, unknown>;
}
interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string; description?: string };
  tags: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
}
interface ErrorBody {
  error_code: number;
  message: string;
}

/**
 * Services that answer just enough for these tests: the docs need none of them, and a request a
 * schema refuses never reaches a handler. Handlers that do run end in a recognisable refusal;
 * anything else a handler reaches rejects, naming itself.
 */
function stubServices(created: unknown[]): HttpDeps {
  const unused = (what: string) => () => Promise.reject(new Error(`stub: ${what} is not used by these tests`));
  const noTopic = (name: string) => Promise.reject(new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `stub: reached the handler for topic ${name}`));
  return {
    cluster: { clusterId: 'runnel-local', nodeId: 1 },
    metadata: {
      image: () => new MetadataImage(),
      findTopic: () => Promise.resolve(undefined),
      requireTopic: noTopic,
      topicConfig: () => '',
      topicConfigIsDefault: () => true,
      appliedOnLiveBrokers: () => Promise.resolve(true),
    },
    admin: {
      createTopic: () => Promise.reject(new RunnelError('TOPIC_ALREADY_EXISTS', 'stub: reached the createTopic handler')),
      deleteTopic: unused('deleteTopic'),
      alterTopicConfigs: unused('alterTopicConfigs'),
    },
    quorum: { controllerId: () => null, joined: () => false, status: unused('quorum status') },
    produce: { produce: unused('produce'), produceOwn: unused('produceOwn') },
    produceBudget: { acquire: () => () => undefined },
    fetch: { consume: unused('consume'), offsets: unused('offsets'), offsetForTimestamp: unused('offsetForTimestamp'), endOffsetForEpoch: unused('endOffsetForEpoch') },
    groups: { list: unused('group list'), describe: unused('group describe'), alterOffsets: unused('alterOffsets') },
    consumers: {
      create: (_group: string, body: unknown) => {
        created.push(body);
        return Promise.resolve({ instance_id: 'c1', base_uri: 'http://stub/consumers/g/instances/c1' });
      },
      call: unused('consumer instance call'),
    },
    metrics: new NodeMetrics(1),
    testHooks: { cutLinks: () => undefined, localReplica: () => undefined },
  };
}

describe('OpenAPI document and schema validation', () => {
  let app: FastifyInstance;
  let doc: OpenApiDoc;
  const created: unknown[] = [];

  beforeAll(async () => {
    app = buildHttpApp({ services: stubServices(created), logger: pino({ level: 'silent' }) });
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    doc = res.json<OpenApiDoc>();
  });
  afterAll(async () => {
    await app.close();
  });

  const post = async (url: string, body: unknown, contentType = 'application/json') => {
    const res = await app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload: JSON.stringify(body) });
    return { status: res.statusCode, body: res.json<ErrorBody>() };
  };

  it('serves an OpenAPI 3 document at /docs/json, titled runnel with the package version', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('runnel');
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.info.description).toContain('README');
    expect(doc.tags.map((t) => t.name)).toEqual(['cluster/admin', 'produce', 'consume', 'consumer groups', 'operations']);
    const yaml = await app.inject({ method: 'GET', url: '/docs/yaml' });
    expect(yaml.statusCode).toBe(200);
    expect(yaml.body).toMatch(/^openapi: 3\./m);
  });

  it('documents every route of API.md with its method, tags, path parameters and error shape', () => {
    const missing = API_MD_ROUTES.filter((r) => doc.paths[r.path]?.[r.method] === undefined).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(missing).toEqual([]);
    for (const r of API_MD_ROUTES) {
      const op = doc.paths[r.path]?.[r.method] ?? {};
      const what = `${r.method.toUpperCase()} ${r.path}`;
      expect(op.tags?.length, what).toBeGreaterThan(0);
      for (const name of [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
        const p = op.parameters?.find((x) => x.in === 'path' && x.name === name);
        expect(p?.schema, `${what}: path parameter ${name}`).toBeDefined();
        expect(p?.description, `${what}: path parameter ${name}`).toBeTruthy();
      }
      if (r.path !== '/healthz' && r.path !== '/metrics') expect(Object.keys(op.responses ?? {}), what).toEqual(expect.arrayContaining(['4XX', '5XX']));
    }
  });

  it('gives every route with a body or a query string a request schema', () => {
    for (const r of API_MD_ROUTES) {
      const op = doc.paths[r.path]?.[r.method] ?? {};
      const what = `${r.method.toUpperCase()} ${r.path}`;
      const query = (op.parameters ?? []).filter((p) => p.in === 'query');
      expect(query.map((p) => p.name).sort(), what).toEqual([...(r.query ?? [])].sort());
      for (const p of query) expect(p.description, `${what} ?${p.name}`).toBeTruthy();
      if (r.body === true) {
        const content = op.requestBody?.content ?? {};
        expect(Object.keys(content), what).toContain('application/json');
        expect(Object.values(content)[0]?.schema?.properties, what).toBeDefined();
      } else {
        expect(op.requestBody, what).toBeUndefined();
      }
    }
    // The produce body in full, and the content types API.md lists.
    const produce = doc.paths['/topics/{t}']?.['post']?.requestBody?.content ?? {};
    expect(Object.keys(produce).sort()).toEqual(['application/json', 'application/vnd.kafka.binary.v2+json', 'application/vnd.kafka.json.v2+json']);
    expect(Object.keys(produce['application/json']?.schema?.properties ?? {})).toEqual(['records']);
    // A body the handler may go without (no body = {}) is not required; one it needs is.
    const required = (method: string, path: string) => doc.paths[path]?.[method]?.requestBody?.required;
    expect(required('get', '/consumers/{g}/instances/{i}/offsets')).toBe(false);
    expect(required('post', '/consumers/{g}/instances/{i}/offsets')).toBe(false);
    expect(required('post', '/consumers/{g}')).toBe(false);
    expect(required('post', '/v3/clusters/{cid}/topics')).toBe(true);
    expect(JSON.stringify(doc)).not.toContain('x-body-optional');
    // The offsets synonym and the GET-with-body form are described.
    const commit = JSON.stringify(doc.paths['/consumers/{g}/instances/{i}/offsets']);
    expect(commit).toContain('synonym of `offsets`');
    expect(commit).toContain('JSON body on this GET');
  });

  it('keeps the test hooks and the docs themselves out of the document', () => {
    const paths = Object.keys(doc.paths);
    expect(paths.filter((p) => p.startsWith('/_test') || p.startsWith('/docs'))).toEqual([]);
  });

  it('serves Swagger UI as HTML at /docs', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('swagger');
  });

  describe('a request a schema refuses', () => {
    it.each([
      ['a partitions_count of the wrong type', { topic_name: 'a', partitions_count: 'three' }, 42203, 'partitions_count: must be an integer 1-10000, got "three"'],
      // Not coerced: "3" is not 3 to the handler either.
      ['a partitions_count given as a string', { topic_name: 'a', partitions_count: '3' }, 42203, 'partitions_count: must be an integer 1-10000, got "3"'],
      ['a partitions_count out of range', { topic_name: 'a', partitions_count: 0 }, 42203, 'partitions_count: must be an integer 1-10000, got 0'],
      ['a replication_factor below 1', { topic_name: 'a', replication_factor: 0 }, 42204, 'replication_factor: must be an integer >= 1, got 0'],
      ['a missing topic_name', { partitions_count: 3 }, 42201, 'topic_name: is required'],
      ['an unknown field', { topic_name: 'a', colour: 'red' }, 42201, 'colour: unknown field; known: topic_name, partitions_count, replication_factor, configs'],
      ['a config without a value', { topic_name: 'a', configs: [{ name: 'retention.ms' }] }, 42201, 'configs[0].value: is required'],
      ['a body that is not an object', ['a'], 42201, 'body: must be a JSON object, got ["a"]'],
    ])('answers %s with 422 {error_code, message naming the field}', async (_what, body, code, message) => {
      const r = await post('/v3/clusters/runnel-local/topics', body);
      expect(r.status).toBe(422);
      expect(r.body).toEqual({ error_code: code, message });
    });

    it('names query parameters: acks, a repeated one, a missing offset, a non-numeric timeout', async () => {
      const cases: [string, string, string][] = [
        ['POST', '/topics/t?acks=2', 'acks: must be all, -1, 1 or 0, got "2"'],
        ['POST', '/topics/t?timeout_ms=1&timeout_ms=2', 'timeout_ms: given more than once'],
        ['GET', '/topics/t/partitions/0/records', 'offset: is required'],
        ['GET', '/topics/t/partitions/0/records?offset=-3', 'offset: must be an integer >= 0, got "-3"'],
        ['GET', '/consumers/g/instances/c1/records?timeout=soon', 'timeout: must be an integer from 0 to 300000, got "soon"'],
        ['GET', '/consumers/g/instances/c1/offsets?partition=orders', 'partition: must be topic:partition (repeatable), got "orders"'],
      ];
      for (const [method, url, message] of cases) {
        const res = await app.inject({ method: method as 'GET' | 'POST', url, headers: { 'content-type': 'application/json' }, ...(method === 'POST' ? { payload: '{"records":[{"value":1}]}' } : {}) });
        expect([res.statusCode, res.json<ErrorBody>()], `${method} ${url}`).toEqual([422, { error_code: 42201, message }]);
      }
    });

    it('names fields deep in a consumer body, under either name of the offsets list', async () => {
      const commit = await post('/consumers/g/instances/c1/offsets', { partitions: [{ topic: 'orders', partition: -1, offset: 4 }] });
      expect(commit).toEqual({ status: 422, body: { error_code: 42201, message: 'partitions[0].partition: must be an integer >= 0, got -1' } });
      const seek = await post('/consumers/g/instances/c1/positions', { offsets: [{ topic: 'orders', partition: 0 }] });
      expect(seek.body.message).toBe('offsets[0].offset: is required');
      const create = await post('/consumers/g', { name: 'c1', colour: 'red' });
      expect(create.body.message).toMatch(/^colour: unknown field; known: name, format, /);
    });
  });

  it('validates application/vnd.kafka.*+json bodies the same way, and lets valid ones through to the handler', async () => {
    const bad = await post('/v3/clusters/runnel-local/topics', { topic_name: 'a', partitions_count: 0 }, 'application/vnd.kafka.v3+json');
    expect(bad).toEqual({ status: 422, body: { error_code: 42203, message: 'partitions_count: must be an integer 1-10000, got 0' } });
    // Numbers and booleans are accepted as config values, as the handler takes them.
    const ok = await post('/v3/clusters/runnel-local/topics', { topic_name: 'a', partitions_count: 1, configs: [{ name: 'retention.ms', value: 1000 }] }, 'application/vnd.kafka.v3+json');
    expect(ok.body.message).toBe('stub: reached the createTopic handler');
  });

  it('leaves the produce body to its handler (documented, not walked by ajv) but still checks the query', async () => {
    const r = await post('/topics/t?acks=all', { records: 'not a list', extra: 1 }, 'application/vnd.kafka.json.v2+json');
    expect(r.body.message).toBe('stub: reached the handler for topic t');
  });

  it('takes a consumer-instance body that is left out as {}', async () => {
    created.length = 0;
    const res = await app.inject({ method: 'POST', url: '/consumers/g' });
    expect(res.statusCode).toBe(200);
    expect(created).toEqual([{}]);
  });

  it('keeps fastify refusals in the same shape: bad JSON is 400 with error_code 40001', async () => {
    const res = await app.inject({ method: 'POST', url: '/v3/clusters/runnel-local/topics', headers: { 'content-type': 'application/json' }, payload: '{"topic_name":' });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error_code).toBe(40001);
  });
});
