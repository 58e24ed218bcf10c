import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { ConfigError } from '../errors.ts';
import { CONFIG_SCHEMA, camelCase, intRangeDoc } from './schema.ts';
import type { Fields, LeafSpec, SchemaConfig, Spec } from './schema.ts';

export type NodeConfig = SchemaConfig['nodes'][number];
export type TopicDefaults = SchemaConfig['topicDefaults'];
export type BrokerConfig = SchemaConfig['broker'];
export type GroupsConfig = SchemaConfig['groups'];
export type LogConfig = SchemaConfig['log'];
export type FlushPolicy = LogConfig['flush'];
export type RpcConfig = SchemaConfig['rpc'];

export type RaftConfig = SchemaConfig['raft'] & {
  /** election_timeout_ms / tick_ms, for the Raft core (which counts ticks, not ms). */
  readonly electionTicks: number;
  /** heartbeat_interval_ms / tick_ms. Invariant: 0 < heartbeatTicks < electionTicks. */
  readonly heartbeatTicks: number;
};

/**
 * A validated cluster.yaml. Every field is present (defaults applied), camelCase, read-only
 * (frozen at runtime too); every `dataDir` is absolute.
 */
export interface ClusterConfig extends Omit<SchemaConfig, 'raft'> {
  readonly raft: RaftConfig;
}

/** Read, parse and validate a cluster.yaml; relative paths in it are resolved against its directory. */
export async function loadConfig(path: string): Promise<ClusterConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError('(file)', `cannot read ${file}: ${code}`);
  }
  try {
    return parseConfig(text, dirname(file));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.field, err.why, file);
    throw err;
  }
}

/**
 * Parse and validate cluster.yaml text. Throws a ConfigError whose `field` (and the start of
 * its message) is the path of the first bad setting, e.g. `nodes[1].rpc_port`.
 */
export function parseConfig(text: string, baseDir: string): ClusterConfig {
  let doc: unknown;
  try {
    doc = parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError('(yaml)', err instanceof Error ? err.message : String(err));
  }
  if (doc === null || doc === undefined) throw new ConfigError('(root)', 'the file is empty');
  const raw = readFields(CONFIG_SCHEMA, doc, '', resolve(baseDir)) as unknown as SchemaConfig;
  checkNodes(raw.nodes);
  const raft = checkRaft(raw.raft);
  checkTopicDefaults(raw.topicDefaults, raw.nodes.length);
  checkLess(raw.broker.heartbeatIntervalMs, 'broker.heartbeat_interval_ms', raw.broker.sessionTimeoutMs, 'broker.session_timeout_ms');
  checkLess(raw.groups.minSessionTimeoutMs, 'groups.min_session_timeout_ms', raw.groups.maxSessionTimeoutMs, 'groups.max_session_timeout_ms');
  if (raw.rpc.maxFrameBytes <= raw.log.maxMessageBytes) {
    throw new ConfigError('rpc.max_frame_bytes', `must be more than log.max_message_bytes (${raw.log.maxMessageBytes})`);
  }
  return deepFreeze({ ...raw, raft });
}

/** The entry of node `id`, or a ConfigError naming the ids that exist. */
export function findNode(cfg: ClusterConfig, id: number): NodeConfig {
  const node = cfg.nodes.find((n) => n.id === id);
  if (node === undefined) {
    throw new ConfigError('nodes', `no node with id ${id} (ids: ${cfg.nodes.map((n) => n.id).join(', ')})`);
  }
  return node;
}

// ---- reading values against the schema ----

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readFields(fields: Fields, value: unknown, path: string, baseDir: string): Record<string, unknown> {
  if (!isMapping(value)) throw new ConfigError(path === '' ? '(root)' : path, `must be a mapping (got ${show(value)})`);
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(fields, key)) throw new ConfigError(join(path, key), `unknown setting${suggest(key, Object.keys(fields))}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(fields)) {
    out[camelCase(key)] = readValue(spec, value[key], join(path, key), baseDir);
  }
  return out;
}

function readValue(spec: Spec, value: unknown, path: string, baseDir: string): unknown {
  switch (spec.kind) {
    case 'section':
      // `raft:` with nothing under it is YAML null: all defaults, like leaving it out.
      return readFields(spec.fields, value ?? {}, path, baseDir);
    case 'list': {
      if (value === undefined) throw new ConfigError(path, 'required');
      if (!Array.isArray(value) || value.length === 0) throw new ConfigError(path, `must be a non-empty list (got ${show(value)})`);
      return value.map((item: unknown, i) => readFields(spec.item, item, `${path}[${i}]`, baseDir));
    }
    case 'int':
    case 'string':
    case 'path':
    case 'enum':
      return readLeaf(spec, value, path, baseDir);
  }
}

function readLeaf(spec: LeafSpec, value: unknown, path: string, baseDir: string): unknown {
  if (value === undefined) {
    if (spec.kind === 'int' && spec.optional === true) return undefined;
    if (spec.default === undefined) throw new ConfigError(path, 'required');
    return spec.default;
  }
  switch (spec.kind) {
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < spec.min || value > spec.max) {
        throw new ConfigError(path, `must be an ${intRangeDoc(spec)} (got ${show(value)})`);
      }
      return value;
    case 'string':
      if (typeof value !== 'string' || !spec.pattern.test(value)) {
        throw new ConfigError(path, `must be a string of ${spec.patternDoc} (got ${show(value)})`);
      }
      return value;
    case 'path':
      if (typeof value !== 'string' || value === '' || value.includes('\0')) {
        throw new ConfigError(path, `must be a non-empty path (got ${show(value)})`);
      }
      return resolve(baseDir, value);
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) {
        throw new ConfigError(path, `must be one of ${spec.values.join(', ')} (got ${show(value)})`);
      }
      return value;
  }
}

function show(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (isMapping(v)) return 'a mapping';
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** ` (did you mean election_timeout_ms?)` for a near miss among the known keys. */
function suggest(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best === undefined ? '' : ` (did you mean ${best}?)`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

// ---- rules that span settings ----

function checkNodes(nodes: readonly NodeConfig[]): void {
  const ids = new Map<number, number>();
  // Every listening port of every node on one host: http, rpc and kafka ports share the host's space.
  const ports = new Map<string, string>();
  const dirs = new Map<string, number>();
  nodes.forEach((n, i) => {
    const first = ids.get(n.id);
    if (first !== undefined) throw new ConfigError(`nodes[${i}].id`, `${n.id} is already the id of nodes[${first}]`);
    ids.set(n.id, i);
    const listening = [['http_port', n.httpPort], ['rpc_port', n.rpcPort], ['kafka_port', n.kafkaPort]] as const;
    for (const [key, port] of listening) {
      if (port === undefined) continue;
      const where = `${n.host}:${port}`;
      const taken = ports.get(where);
      if (taken !== undefined) throw new ConfigError(`nodes[${i}].${key}`, `${where} is already used by ${taken}`);
      ports.set(where, `nodes[${i}].${key}`);
    }
    const dirKey = `${n.host}:${n.dataDir}`;
    const sharing = dirs.get(dirKey);
    if (sharing !== undefined) throw new ConfigError(`nodes[${i}].data_dir`, `${n.dataDir} is already the data_dir of nodes[${sharing}] on ${n.host}`);
    dirs.set(dirKey, i);
  });
}

function checkRaft(raft: SchemaConfig['raft']): RaftConfig {
  for (const [key, value] of [['election_timeout_ms', raft.electionTimeoutMs], ['heartbeat_interval_ms', raft.heartbeatIntervalMs]] as const) {
    if (value % raft.tickMs !== 0) throw new ConfigError(`raft.${key}`, `must be a multiple of raft.tick_ms (${raft.tickMs}), got ${value}`);
  }
  checkLess(raft.heartbeatIntervalMs, 'raft.heartbeat_interval_ms', raft.electionTimeoutMs, 'raft.election_timeout_ms');
  return { ...raft, electionTicks: raft.electionTimeoutMs / raft.tickMs, heartbeatTicks: raft.heartbeatIntervalMs / raft.tickMs };
}

function checkTopicDefaults(t: TopicDefaults, nodeCount: number): void {
  if (t.replicationFactor > nodeCount) {
    throw new ConfigError('topic_defaults.replication_factor', `${t.replicationFactor} is more than the ${nodeCount} node(s) in nodes`);
  }
  if (t.minInsyncReplicas > t.replicationFactor) {
    throw new ConfigError(
      'topic_defaults.min_insync_replicas',
      `${t.minInsyncReplicas} is more than topic_defaults.replication_factor (${t.replicationFactor}): acks=all could never succeed`,
    );
  }
}

function checkLess(value: number, name: string, bound: number, boundName: string): void {
  if (value >= bound) throw new ConfigError(name, `must be less than ${boundName} (${bound}), got ${value}`);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
