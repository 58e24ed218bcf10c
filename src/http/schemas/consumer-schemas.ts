// Route schemas of API.md "Consumer groups (v2 consumer instances)" and the v3 group views
// (consumer-routes.ts). See common.ts. Bodies of these routes may be absent (the handlers
// treat no body as {}): consumer-routes.ts turns an absent body into {} before validation.

import type { FastifySchema } from 'fastify';
import { CONSUMED_RECORD, dataList, ERROR_RESPONSES, JSON_BODY_TYPES, NO_CONTENT, PARTITION_ID, params, queryInteger, TAGS, TOPIC_PARTITION, timeoutQuery } from './common.ts';
import type { JsonSchema } from './common.ts';

/** The bounds and defaults of consumer-routes.ts, quoted in the descriptions. */
export interface ConsumerRouteLimits {
  readonly defaultPollTimeoutMs: number;
  readonly maxPollTimeoutMs: number;
  readonly defaultPollMaxBytes: number;
  readonly maxPollMaxBytes: number;
  readonly maxAlterOffsets: number;
}

/** A consumer setting: a string, though numbers and booleans are taken as their text (REST Proxy clients send both). */
const setting = (description: string): JsonSchema => ({ type: ['string', 'number', 'boolean', 'null'], description });

const CREATE_BODY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: setting('The instance name, 1-200 characters of a-z A-Z 0-9 . _ - (default: a random rest-consumer-<uuid>); 409 if the group has it.'),
    format: setting('Embedded format of the records answered: "json" or "binary" (default binary, as the REST Proxy).'),
    'auto.offset.reset': setting('Where a partition with no committed offset starts: "earliest", "latest" (default) or "none" (416).'),
    'auto.commit.enable': setting('"true" (default): returned records are committed every auto.commit.interval.ms and on leaving; "false": commit with POST .../offsets.'),
    'auto.commit.interval.ms': setting('Auto-commit period (default 5000).'),
    'consumer.session.timeout.ms': setting('A member silent this long is removed from the group (100-3600000; default cluster.yaml groups.session_timeout_ms).'),
    'partition.assignment.strategy': setting('"range" (default) or "roundrobin" (Kafka class names such as RoundRobinAssignor are accepted).'),
    'consumer.request.timeout.ms': setting('Accepted for REST Proxy compatibility; polls use their own timeout.'),
    'fetch.min.bytes': setting('Accepted for REST Proxy compatibility; ignored.'),
  },
  examples: [{ name: 'c1', format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' }],
};

const OFFSET: JsonSchema = {
  type: 'object',
  required: ['topic', 'partition', 'offset'],
  properties: { topic: { type: 'string' }, partition: PARTITION_ID, offset: { type: 'integer', minimum: 0, 'x-expected': 'an integer >= 0' } },
};

const OFFSETS_LIST = (description: string): JsonSchema => ({ type: 'array', items: OFFSET, description });
const PARTITIONS_LIST = (description: string): JsonSchema => ({ type: 'array', items: TOPIC_PARTITION, description });

const COMMIT_SEMANTICS =
  '`offset` is the last processed record: the committed offset becomes offset + 1 (the next to read), as the REST Proxy does.';

const INSTANCE_PARAMS = params('g', 'i');

const GROUP: JsonSchema = {
  type: 'object',
  properties: {
    cluster_id: { type: 'string' },
    consumer_group_id: { type: 'string' },
    state: { type: 'string', enum: ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'] },
    generation: { type: 'integer' },
    partition_assignor: { type: ['string', 'null'] },
    coordinator_id: { type: ['integer', 'null'] },
    members: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          consumer_id: { type: 'string', description: "The member id (an HTTP consumer instance's name)" },
          instance_id: { type: ['string', 'null'], description: 'group.instance.id of a static member' },
          client_id: { type: 'string', description: 'runnel-rest-node-N for an HTTP consumer instance living on node N' },
          host: { type: 'string' },
          assignments: { type: 'array', items: TOPIC_PARTITION },
        },
      },
    },
    partitions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          topic: { type: 'string' },
          partition: { type: 'integer' },
          consumer_id: { type: ['string', 'null'] },
          committed_offset: { type: ['integer', 'null'], description: 'the next offset the group will read' },
          end_offset: { type: ['integer', 'null'], description: 'the high watermark' },
          lag: { type: ['integer', 'null'], description: 'end_offset - committed_offset' },
        },
      },
    },
  },
};

const groups = (s: FastifySchema): FastifySchema => ({ tags: [TAGS.groups], ...s, response: { ...(s.response as object), ...ERROR_RESPONSES } });

export function consumerSchemas(l: ConsumerRouteLimits) {
  return {
    create: groups({
      summary: 'Create a consumer instance in a group',
      description: 'The instance lives on the node that created it; any node forwards to it. The body may be left out (every setting has a default).',
      'x-body-optional': true,
      params: params('g'),
      consumes: JSON_BODY_TYPES,
      body: CREATE_BODY,
      response: {
        200: {
          type: 'object',
          properties: { instance_id: { type: 'string' }, base_uri: { type: 'string', description: 'http://<node>/consumers/{g}/instances/{i}' } },
        },
      },
    }),
    subscribe: groups({
      summary: 'Subscribe to topics (joins the group: a rebalance)',
      description: 'Give `topics` or `topic_pattern`, not both.',
      params: INSTANCE_PARAMS,
      consumes: JSON_BODY_TYPES,
      body: {
        type: 'object',
        properties: {
          topics: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, description: 'Topic names; each must exist (404).', 'x-expected': 'a non-empty list of topic names' },
          topic_pattern: { type: 'string', minLength: 1, description: 'A regular expression over topic names, e.g. "orders-.*"; matching topics created later are picked up.' },
        },
        examples: [{ topics: ['orders'] }, { topic_pattern: 'orders-.*' }],
      },
      response: { 204: NO_CONTENT },
    }),
    subscription: groups({
      summary: 'The topics this instance is subscribed to',
      params: INSTANCE_PARAMS,
      response: { 200: { type: 'object', properties: { topics: { type: 'array', items: { type: 'string' } } } } },
    }),
    unsubscribe: groups({ summary: 'Drop the subscription (leaves the group)', params: INSTANCE_PARAMS, response: { 204: NO_CONTENT } }),
    assignments: groups({
      summary: 'The partitions the group assigned to this instance',
      params: INSTANCE_PARAMS,
      response: { 200: { type: 'object', properties: { partitions: { type: 'array', items: TOPIC_PARTITION } } } },
    }),
    records: groups({
      tags: [TAGS.groups, TAGS.consume],
      summary: "Poll records from this member's partitions (also its heartbeat)",
      description:
        'The first poll after a subscribe waits (up to its timeout) for the group to settle, then returns records: never [] just because the assignment was still forming. ' +
        "Records are in the instance's format (json or binary).",
      params: INSTANCE_PARAMS,
      querystring: {
        type: 'object',
        properties: {
          ...timeoutQuery(l.defaultPollTimeoutMs, l.maxPollTimeoutMs, 'How long to wait for records'),
          max_bytes: queryInteger(`Bound on the answer's record bytes (default ${l.defaultPollMaxBytes}).`, `an integer from 1 to ${l.maxPollMaxBytes}`),
        },
      },
      produces: ['application/vnd.kafka.v2+json'],
      response: { 200: { type: 'array', items: CONSUMED_RECORD } },
    }),
    commit: groups({
      summary: 'Commit offsets',
      'x-body-optional': true,
      description: `${COMMIT_SEMANTICS} \`partitions\` is a synonym of \`offsets\` (Redpanda's name). An empty body (or {}) commits everything this instance has returned. 409 for a partition it does not own.`,
      params: INSTANCE_PARAMS,
      consumes: JSON_BODY_TYPES,
      body: {
        type: 'object',
        properties: {
          offsets: OFFSETS_LIST(`The offsets to commit. ${COMMIT_SEMANTICS}`),
          partitions: OFFSETS_LIST('Synonym of `offsets` (Redpanda); used when `offsets` is absent.'),
        },
        examples: [{ offsets: [{ topic: 'orders', partition: 0, offset: 41 }] }],
      },
      response: { 204: NO_CONTENT },
    }),
    committedBody: {
      type: 'object',
      properties: { partitions: PARTITIONS_LIST('The partitions to look up.') },
      examples: [{ partitions: [{ topic: 'orders', partition: 0 }] }],
    } satisfies JsonSchema,
    committed: groups({
      summary: 'Committed offsets',
      'x-body-optional': true,
      description:
        'The partitions come as a JSON body on this GET ({"partitions":[{"topic","partition"}]}, as REST Proxy clients send it), ' +
        'or as ?partition=orders:0&partition=orders:1, or not at all: every assigned partition. `offset` is the committed offset = the next to read.',
      params: INSTANCE_PARAMS,
      querystring: {
        type: 'object',
        properties: {
          partition: {
            anyOf: [
              { type: 'string', pattern: '^.+:[0-9]+$' },
              { type: 'array', items: { type: 'string', pattern: '^.+:[0-9]+$' } },
            ],
            description: 'topic:partition; repeat the parameter for more.',
            'x-expected': 'topic:partition (repeatable)',
          },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            offsets: {
              type: 'array',
              items: { type: 'object', properties: { topic: { type: 'string' }, partition: { type: 'integer' }, offset: { type: 'integer' }, metadata: { type: 'string' } } },
            },
          },
        },
      },
    }),
    seek: groups({
      summary: 'Seek: the next poll reads these partitions from these offsets',
      params: INSTANCE_PARAMS,
      consumes: JSON_BODY_TYPES,
      body: { type: 'object', required: ['offsets'], properties: { offsets: OFFSETS_LIST('The offsets to read next.') } },
      response: { 204: NO_CONTENT },
    }),
    seekTo: (where: 'beginning' | 'end'): FastifySchema =>
      groups({
        summary: `Seek to the ${where} of partitions`,
        params: INSTANCE_PARAMS,
        consumes: JSON_BODY_TYPES,
        body: { type: 'object', required: ['partitions'], properties: { partitions: PARTITIONS_LIST('Partitions this instance owns.') } },
        response: { 204: NO_CONTENT },
      }),
    deleteInstance: groups({ summary: 'Delete the instance (leaves the group: a rebalance)', params: INSTANCE_PARAMS, response: { 204: NO_CONTENT } }),
    listGroups: groups({
      summary: 'Consumer groups, each as GET .../consumer-groups/{g}',
      params: params('cid'),
      response: { 200: dataList(GROUP) },
    }),
    group: groups({ summary: 'A consumer group: state, members, assignment, committed offset and lag per partition', params: params('cid', 'g'), response: { 200: GROUP } }),
    alterOffsets: groups({
      summary: "Reset a group's committed offsets (Kafka AdminClient.alterConsumerGroupOffsets; not in the REST Proxy)",
      description:
        'Each `offset` becomes the committed offset itself (the next to read), unlike an instance commit. 409 NON_EMPTY_GROUP while the group has members; 404 for an unknown topic or partition.',
      params: params('cid', 'g'),
      consumes: JSON_BODY_TYPES,
      body: {
        type: 'object',
        required: ['offsets'],
        properties: {
          // The count bound is the handler's to refuse (its message says it), so only documented here.
          offsets: OFFSETS_LIST(`The new committed offsets, 1 to ${l.maxAlterOffsets} partitions.`),
        },
        examples: [{ offsets: [{ topic: 'orders', partition: 0, offset: 0 }] }],
      },
      response: { 200: { type: 'object', properties: { offsets: { type: 'array', items: { ...OFFSET, properties: { ...(OFFSET['properties'] as object), metadata: { type: 'string' } } } } } } },
    }),
  } satisfies Record<string, FastifySchema | JsonSchema | ((where: 'beginning' | 'end') => FastifySchema)>;
}
