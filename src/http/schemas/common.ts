// Pieces shared by the route schemas (API.md). The schemas serve twice: fastify validates
// params, query strings and bodies with them (ajv), and @fastify/swagger turns them into the
// OpenAPI document at /docs. Response schemas are documentation only (see app.ts).
//
// Conventions: query strings arrive as strings and the handlers parse them (ajv does not
// coerce: `acks=-1` and `timeout_ms=1e3` mean what the handlers say), so query integers are
// digit strings here. `x-expected` and `x-error-name` are read by validation-error.ts.

import type { SwaggerTransform } from '@fastify/swagger';

declare module 'fastify' {
  interface FastifySchema {
    /** OpenAPI only: the route takes no body as {}, so its requestBody is not required (openapi.ts). */
    'x-body-optional'?: boolean;
  }
}

/** OpenAPI tags, one per section of API.md. */
export const TAGS = {
  admin: 'cluster/admin',
  produce: 'produce',
  consume: 'consume',
  groups: 'consumer groups',
  operations: 'operations',
} as const;

/** A JSON Schema (draft 7 / 2020-12 subset ajv and OpenAPI 3.1 share). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** API.md "Errors": the body of every failed request. */
export const ERROR_BODY: JsonSchema = {
  type: 'object',
  required: ['error_code', 'message'],
  properties: {
    error_code: {
      type: 'integer',
      description:
        'The HTTP status times 100 plus a detail (REST Proxy style): 40401 topic not found, 40402 partition not found, ' +
        '40403 consumer instance not found, 40901 already exists, 42201 invalid request field, 50301 not enough replicas / no leader, 50401 timed out ...',
      examples: [42201],
    },
    message: {
      type: 'string',
      description: 'What failed and why; for a bad input it starts with the field: `partitions_count: must be an integer 1-10000, got 0`.',
      examples: ['partitions_count: must be an integer 1-10000, got 0'],
    },
  },
};

/** The error answers every route may give: 4xx for the request, 5xx for the cluster (503s are retriable). */
export const ERROR_RESPONSES: JsonSchema = {
  '4xx': { description: 'The request is wrong; `message` names the field.', ...ERROR_BODY },
  '5xx': { description: 'The cluster cannot do it right now (503 no leader / not enough replicas, 504 timed out): retry.', ...ERROR_BODY },
};

/** A 204 answer. */
/** A v3 list answer: `{"data": [item, ...]}`. */
export function dataList(item: JsonSchema): JsonSchema {
  return { type: 'object', properties: { data: { type: 'array', items: item } } };
}

export const NO_CONTENT: JsonSchema = { description: 'Done; no body.', type: 'null' };

/** Path parameters, by their name in the routes. */
export const PATH_PARAMS = {
  cid: { type: 'string', description: 'The cluster id (cluster.yaml `cluster_id`, e.g. runnel-local); any other is 404.' },
  t: { type: 'string', description: 'Topic name.' },
  // A string: an unknown or non-numeric partition is the handler's 404 (UNKNOWN_PARTITION), not a 422.
  p: { type: 'string', description: 'Partition id, 0 to partitions_count - 1; any other is 404.', examples: ['0'] },
  g: { type: 'string', description: 'Consumer group id: 1-200 characters of a-z A-Z 0-9 . _ -' },
  i: { type: 'string', description: 'Consumer instance name (the `instance_id` POST /consumers/{g} answered).' },
} as const satisfies Record<string, JsonSchema>;

type PathParam = keyof typeof PATH_PARAMS;

/** The params schema of a route whose path has these parameters. */
export function params(...names: PathParam[]): JsonSchema {
  return { type: 'object', required: names, properties: Object.fromEntries(names.map((n) => [n, PATH_PARAMS[n]])) };
}

/** A query-string integer: digits only (what the handlers' queryInt accepts); range checked by the handler. */
export function queryInteger(description: string, expected: string): JsonSchema {
  return { type: 'string', pattern: '^[0-9]+$', description, 'x-expected': expected };
}

/** `timeout_ms` and its synonym `timeout` (API.md: accepted on every read route, and on produce). */
export function timeoutQuery(defaultMs: number, maxMs: number, what: string): Record<string, JsonSchema> {
  const expected = `an integer from 0 to ${maxMs}`;
  return {
    timeout_ms: queryInteger(`${what}, in milliseconds (default ${defaultMs}, at most ${maxMs}).`, expected),
    timeout: queryInteger(
      'The same milliseconds as `timeout_ms` under the REST Proxy\'s and Redpanda\'s name; give one of the two (or equal values).',
      expected,
    ),
  };
}

/** A partition number inside a JSON body. */
export const PARTITION_ID: JsonSchema = { type: 'integer', minimum: 0, 'x-expected': 'an integer >= 0' };

/** `{"topic", "partition"}`. */
export const TOPIC_PARTITION: JsonSchema = {
  type: 'object',
  required: ['topic', 'partition'],
  properties: { topic: { type: 'string' }, partition: PARTITION_ID },
};

/** One record of a consume answer (REST Proxy v2 shape, plus timestamp and headers). */
export const CONSUMED_RECORD: JsonSchema = {
  type: 'object',
  properties: {
    topic: { type: 'string' },
    partition: { type: 'integer' },
    offset: { type: 'integer' },
    key: { description: 'json format: the JSON value (or the UTF-8 text when the bytes are not JSON); binary format: base64. null when absent.' },
    value: { description: 'As key.' },
    timestamp: { type: 'integer', description: 'Milliseconds since the epoch.' },
    headers: {
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' }, value: { type: ['string', 'null'], description: 'base64 in both formats' } } },
    },
  },
};

/** Media types of a JSON body (API.md: application/json and any application/vnd.kafka.*+json). */
export const JSON_BODY_TYPES = ['application/json', 'application/vnd.kafka.v2+json'] as const;

/**
 * A route's request body for the OpenAPI document only, through its `config.swaggerTransform`:
 * fastify never compiles it. For bodies fastify cannot validate (the JSON body of
 * GET .../instances/{i}/offsets: fastify does not parse GET bodies, the handler reads it) and
 * those a handler already checks field by field on a hot path (produce).
 */
export function documentBody(body: JsonSchema): SwaggerTransform {
  return ({ schema, url }) => ({ schema: { ...schema, body }, url });
}
