// Route schemas of API.md "Cluster and admin (v3 shapes)" (admin-routes.ts). See common.ts.

import type { FastifySchema } from 'fastify';
import { MAX_PARTITIONS } from '../../metadata/topic-checks.ts';
import { TOPIC_CONFIGS } from '../../metadata/topic-configs.ts';
import { dataList, ERROR_BODY, ERROR_RESPONSES, JSON_BODY_TYPES, NO_CONTENT, params, TAGS } from './common.ts';
import type { JsonSchema } from './common.ts';

const KNOWN_CONFIGS = Object.entries(TOPIC_CONFIGS)
  .map(([name, spec]) => `\`${name}\` (${spec.doc})`)
  .join('; ');

const CONFIG: JsonSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    value: { type: 'string' },
    is_default: { type: 'boolean', description: 'true when the value comes from cluster.yaml, not from the topic' },
  },
};

const PARTITION: JsonSchema = {
  type: 'object',
  properties: {
    partition_id: { type: 'integer' },
    leader_id: { type: ['integer', 'null'], description: 'null while the partition has no leader' },
    leader_epoch: { type: 'integer' },
    partition_epoch: { type: 'integer' },
    replicas: { type: 'array', items: { type: 'integer' }, description: 'broker ids, preferred leader first' },
    isr: { type: 'array', items: { type: 'integer' }, description: 'the in-sync replicas' },
    high_watermark: { type: ['integer', 'null'], description: "from the partition's leader; null when it does not answer within 1 s" },
    log_start_offset: { type: ['integer', 'null'], description: 'as high_watermark' },
  },
};

const TOPIC: JsonSchema = {
  type: 'object',
  properties: {
    cluster_id: { type: 'string' },
    topic_name: { type: 'string' },
    topic_id: { type: 'string' },
    is_internal: { type: 'boolean', description: 'true for __consumer_offsets' },
    partitions_count: { type: 'integer' },
    replication_factor: { type: 'integer' },
    configs: { type: 'array', items: CONFIG },
    partitions: { type: 'array', items: PARTITION, description: 'offsets are null here; GET .../partitions fills them' },
  },
};

const CREATE_TOPIC_BODY: JsonSchema = {
  type: 'object',
  required: ['topic_name'],
  additionalProperties: false,
  properties: {
    topic_name: { type: 'string', description: '1-249 characters of a-z A-Z 0-9 . _ - (not "." or "..").' },
    partitions_count: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_PARTITIONS,
      description: 'Default: cluster.yaml topic_defaults.partitions.',
      'x-expected': `an integer 1-${MAX_PARTITIONS}`,
      'x-error-name': 'INVALID_PARTITIONS',
    },
    replication_factor: {
      type: 'integer',
      minimum: 1,
      description: 'At most the number of live (unfenced) brokers. Default: topic_defaults.replication_factor.',
      'x-expected': 'an integer >= 1',
      'x-error-name': 'INVALID_REPLICATION_FACTOR',
    },
    configs: {
      type: 'array',
      description: `Topic configs; unknown names are refused (422). Known: ${KNOWN_CONFIGS}. Unset ones default to cluster.yaml.`,
      items: {
        type: 'object',
        required: ['name', 'value'],
        properties: {
          name: { type: 'string' },
          // The handler takes numbers and booleans too and stores their text.
          value: { type: ['string', 'number', 'boolean'], description: 'The value as a string ("2"); numbers and booleans are taken as their text.' },
        },
      },
    },
  },
  examples: [{ topic_name: 'orders', partitions_count: 3, replication_factor: 3, configs: [{ name: 'min.insync.replicas', value: '2' }] }],
};

const CLUSTER_PARAMS = params('cid');
const TOPIC_PARAMS = params('cid', 't');
const CONFIG_PARAMS: JsonSchema = {
  type: 'object',
  required: ['cid', 't', 'name'],
  properties: { ...(params('cid', 't')['properties'] as object), name: { type: 'string', description: `A topic config name: ${Object.keys(TOPIC_CONFIGS).join(', ')}.` } },
};

const admin = (s: FastifySchema): FastifySchema => ({ tags: [TAGS.admin], ...s, response: { ...(s.response as object), ...ERROR_RESPONSES } });

export const adminSchemas = {
  healthz: {
    tags: [TAGS.operations],
    summary: 'Liveness: 200 once this node has joined the metadata quorum',
    response: {
      200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] }, node_id: { type: 'integer' } } },
      503: {
        description: 'Not joined yet: the error shape plus status "starting".',
        type: 'object',
        properties: { ...(ERROR_BODY['properties'] as object), status: { type: 'string', enum: ['starting'] }, node_id: { type: 'integer' } },
      },
    },
  },
  clusters: admin({
    summary: 'The cluster (a list of one)',
    response: {
      200: dataList({
        type: 'object',
        properties: {
          cluster_id: { type: 'string' },
          controller_id: { type: ['integer', 'null'], description: 'the active controller (raft leader); null during an election' },
          node_id: { type: 'integer', description: 'the node that answered' },
        },
      }),
    },
  }),
  cluster: admin({
    summary: 'The cluster',
    params: CLUSTER_PARAMS,
    response: { 200: { type: 'object', properties: { cluster_id: { type: 'string' }, controller_id: { type: ['integer', 'null'] } } } },
  }),
  brokers: admin({
    summary: 'Brokers, with their fenced/active status',
    params: CLUSTER_PARAMS,
    response: {
      200: dataList({
        type: 'object',
        properties: {
          broker_id: { type: 'integer' },
          host: { type: 'string' },
          port: { type: 'integer', description: 'HTTP port' },
          rpc_port: { type: 'integer' },
          kafka_port: { type: ['integer', 'null'], description: 'Kafka listener port (from its registration); null: no Kafka listener' },
          status: { type: 'string', enum: ['active', 'fenced'], description: 'fenced: missed heartbeats past broker.session_timeout_ms' },
        },
      }),
    },
  }),
  raft: admin({
    tags: [TAGS.operations],
    summary: 'The metadata quorum as its leader sees it',
    params: CLUSTER_PARAMS,
    response: {
      200: {
        type: 'object',
        properties: {
          leader_id: { type: ['integer', 'null'] },
          term: { type: 'integer' },
          commit_index: { type: 'integer' },
          voters: {
            type: 'array',
            items: { type: 'object', properties: { node_id: { type: 'integer' }, match_index: { type: 'integer' }, last_contact_ms: { type: ['integer', 'null'] } } },
          },
        },
      },
    },
  }),
  createTopic: admin({
    summary: 'Create a topic',
    description: '201 with the topic; 409 if it exists; 422 for a bad name, count, factor > live brokers or unknown config.',
    params: CLUSTER_PARAMS,
    consumes: JSON_BODY_TYPES,
    body: CREATE_TOPIC_BODY,
    response: { 201: { description: 'Created.', ...TOPIC } },
  }),
  listTopics: admin({
    summary: 'Topics, by name',
    params: CLUSTER_PARAMS,
    querystring: {
      type: 'object',
      properties: { include_internal: { type: 'string', description: '`true` also lists internal topics (__consumer_offsets); anything else does not.' } },
    },
    response: { 200: dataList(TOPIC) },
  }),
  getTopic: admin({ summary: 'One topic; 404 if unknown', params: TOPIC_PARAMS, response: { 200: TOPIC } }),
  deleteTopic: admin({ summary: 'Delete a topic; its data is removed from every replica', params: TOPIC_PARAMS, response: { 204: NO_CONTENT } }),
  partitions: admin({
    summary: "A topic's partitions, with leader, ISR and the leader's offsets",
    params: TOPIC_PARAMS,
    response: { 200: dataList(PARTITION) },
  }),
  partition: admin({ summary: 'One partition', params: params('cid', 't', 'p'), response: { 200: PARTITION } }),
  configs: admin({ summary: "A topic's configs (every known name, with is_default)", params: TOPIC_PARAMS, response: { 200: dataList(CONFIG) } }),
  config: admin({ summary: 'One topic config', params: CONFIG_PARAMS, response: { 200: CONFIG } }),
  setConfig: admin({
    summary: 'Set (or with null, reset) one topic config',
    params: CONFIG_PARAMS,
    consumes: JSON_BODY_TYPES,
    body: {
      type: 'object',
      required: ['value'],
      properties: { value: { type: ['string', 'null'], description: 'The new value as a string; null resets it to the cluster default.', 'x-expected': 'a string (or null to reset to the default)' } },
      examples: [{ value: '60000' }],
    },
    response: { 204: NO_CONTENT },
  }),
} satisfies Record<string, FastifySchema>;
