// Route schemas of API.md "Produce (v2 shapes)" and "Consume one partition" (data-routes.ts).
// See common.ts.

import type { FastifySchema } from 'fastify';
import { CONSUMED_RECORD, ERROR_RESPONSES, params, queryInteger, TAGS, timeoutQuery } from './common.ts';
import type { JsonSchema } from './common.ts';

/** The bounds and defaults of data-routes.ts, quoted in the descriptions. */
export interface DataRouteLimits {
  readonly maxRecordsPerRequest: number;
  readonly defaultProduceTimeoutMs: number;
  readonly maxTimeoutMs: number;
  readonly defaultReadMaxBytes: number;
  readonly defaultReadTimeoutMs: number;
}

const PRODUCE_TYPES = ['application/vnd.kafka.json.v2+json', 'application/vnd.kafka.binary.v2+json', 'application/json'] as const;

const EMBEDDED =
  'In application/vnd.kafka.json.v2+json (and plain application/json) any JSON value, stored as its JSON text; ' +
  'in application/vnd.kafka.binary.v2+json a base64 string of the bytes. null or absent: none.';

function produceBody(maxRecords: number): JsonSchema {
  return {
    type: 'object',
    required: ['records'],
    additionalProperties: false,
    properties: {
      records: {
        type: 'array',
        minItems: 1,
        maxItems: maxRecords,
        description: 'Appended in order; the records of one request for one partition form one batch. One `offsets` entry each in the answer.',
        items: {
          type: 'object',
          additionalProperties: false,
          properties: {
            key: { description: `${EMBEDDED} Records without a partition go by murmur2(key) (Kafka's default partitioner), keyless ones stick to one partition per request.` },
            value: { description: EMBEDDED },
            partition: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, description: 'The partition; on /partitions/{p} it may be left out or must equal p.' },
            headers: {
              type: 'array',
              items: {
                type: 'object',
                required: ['name'],
                additionalProperties: false,
                properties: { name: { type: 'string' }, value: { type: ['string', 'null'], description: 'base64 in both formats' } },
              },
            },
          },
        },
      },
    },
    examples: [{ records: [{ key: 'user-7', value: { amount: 3 }, partition: 1, headers: [{ name: 'trace', value: 'YWJj' }] }] }],
  };
}

const PRODUCE_ANSWER: JsonSchema = {
  type: 'object',
  properties: {
    offsets: {
      type: 'array',
      description: 'One entry per record, in request order.',
      items: {
        type: 'object',
        properties: {
          partition: { type: 'integer' },
          offset: { type: ['integer', 'null'], description: 'null if this record failed, or with acks=0' },
          error_code: {
            type: ['integer', 'null'],
            description: "null on success; 50003 for a retriable broker condition, 50002 for another, else the client fault's 4xx code",
          },
          error: { type: ['string', 'null'], description: 'The Kafka error name: NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT, MESSAGE_TOO_LARGE, ...' },
        },
      },
    },
  },
};

export function dataSchemas(l: DataRouteLimits) {
  const produceQuery: JsonSchema = {
    type: 'object',
    properties: {
      acks: {
        type: 'string',
        enum: ['all', '-1', '1', '0'],
        description: 'all (= -1, the default): every in-sync replica, at least min.insync.replicas; 1: the leader only; 0: answer at once (offsets null).',
        'x-expected': 'all, -1, 1 or 0',
      },
      ...timeoutQuery(l.defaultProduceTimeoutMs, l.maxTimeoutMs, 'How long to wait for the acks'),
    },
  };
  const body = produceBody(l.maxRecordsPerRequest);
  const produce = (summary: string, path: JsonSchema): FastifySchema => ({
    tags: [TAGS.produce],
    summary,
    description:
      'If any record failed, the status is the first failure\'s (503 NOT_ENOUGH_REPLICAS / no leader, 504 timed out; 4xx for client faults) ' +
      'and each `offsets` entry still says its own outcome. A refused request appends nothing.',
    consumes: PRODUCE_TYPES,
    params: path,
    querystring: produceQuery,
    response: { 200: PRODUCE_ANSWER, ...ERROR_RESPONSES },
  });
  return {
    /**
     * The request body of both produce routes, documentation only (documentBody): the handler's
     * parseProduceBody already checks every record, its base64 included (which a schema cannot),
     * and names the field; the produce route carries the benchmark's >100k records/s, and an
     * ajv pass over every record first would walk the whole body a second time for no refusal
     * the handler does not already make.
     */
    produceBody: body,
    produce: produce('Produce records; each goes to its partition, else by key hash, else round-robin', params('t')),
    produceToPartition: produce('Produce records to one partition', params('t', 'p')),
    records: {
      tags: [TAGS.consume],
      summary: 'Read one partition from an offset',
      description:
        'Records in offset order, only below the high watermark; waits up to timeout_ms when there is nothing, then answers []. ' +
        'The Accept header picks the format (application/vnd.kafka.binary.v2+json: base64; otherwise json). ' +
        'An offset below the log start or above the end is 416 OFFSET_OUT_OF_RANGE.',
      params: params('t', 'p'),
      querystring: {
        type: 'object',
        required: ['offset'],
        properties: {
          offset: queryInteger('The first offset to read.', 'an integer >= 0'),
          max_bytes: queryInteger(`Bound on the answer's record bytes (default ${l.defaultReadMaxBytes}).`, 'an integer from 1 to 2147483647'),
          ...timeoutQuery(l.defaultReadTimeoutMs, l.maxTimeoutMs, 'How long to wait when nothing is there'),
        },
      },
      produces: ['application/vnd.kafka.json.v2+json', 'application/vnd.kafka.binary.v2+json'],
      response: { 200: { type: 'array', items: CONSUMED_RECORD }, ...ERROR_RESPONSES },
    },
    offsets: {
      tags: [TAGS.consume],
      summary: "A partition's log start offset and high watermark",
      params: params('t', 'p'),
      response: {
        200: {
          type: 'object',
          properties: {
            beginning_offset: { type: 'integer', description: 'the log start offset' },
            end_offset: { type: 'integer', description: 'the high watermark: the next offset a consumer can read up to' },
          },
        },
        ...ERROR_RESPONSES,
      },
    },
    noTopic: { hide: true },
  } satisfies Record<string, FastifySchema | JsonSchema>;
}
