import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findNode, loadConfig, parseConfig } from '../../src/config/load-config.ts';
import { CONFIG_SCHEMA, configReferenceMarkdown, settings } from '../../src/config/schema.ts';
import { ConfigError } from '../../src/errors.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const NODES = `nodes:
  - {id: 1, host: 127.0.0.1, http_port: 8081, rpc_port: 19091, data_dir: data/node-1}
  - {id: 2, host: 127.0.0.1, http_port: 8082, rpc_port: 19092, data_dir: data/node-2}
  - {id: 3, host: 127.0.0.1, http_port: 8083, rpc_port: 19093, data_dir: data/node-3}
`;
const MINIMAL = `cluster_id: test\n${NODES}`;

/** The ConfigError parseConfig throws for `text`. */
function configError(text: string): ConfigError {
  try {
    parseConfig(text, '/etc/runnel');
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, but the config was accepted');
}

describe('cluster.yaml', () => {
  it('loads the repository cluster.yaml: three local nodes with data dirs next to the file', async () => {
    const cfg = await loadConfig(join(REPO, 'cluster.yaml'));
    expect(cfg.clusterId).toBe('runnel-local');
    expect(cfg.nodes.map((n) => [n.id, n.host, n.httpPort, n.rpcPort, n.dataDir])).toEqual([
      [1, '127.0.0.1', 8081, 19091, join(REPO, 'data/node-1')],
      [2, '127.0.0.1', 8082, 19092, join(REPO, 'data/node-2')],
      [3, '127.0.0.1', 8083, 19093, join(REPO, 'data/node-3')],
    ]);
    expect(cfg.topicDefaults).toEqual({ partitions: 3, replicationFactor: 3, minInsyncReplicas: 2, autoCreate: 'true' });
    expect(findNode(cfg, 2).httpPort).toBe(8082);
    expect(cfg.nodes.map((n) => n.kafkaPort)).toEqual([9092, 9093, 9094]);
  });

  it('applies the documented default of every setting left out', () => {
    const cfg = parseConfig(MINIMAL, '/etc/runnel');
    expect(cfg.raft).toEqual({
      electionTimeoutMs: 1000,
      heartbeatIntervalMs: 100,
      tickMs: 50,
      snapshotEntries: 10_000,
      electionTicks: 20,
      heartbeatTicks: 2,
    });
    expect(cfg.broker).toEqual({ heartbeatIntervalMs: 500, sessionTimeoutMs: 6000, replicaLagTimeMaxMs: 10_000, produceInflightBytesMax: 67_108_864, controlledShutdownTimeoutMs: 5000, controlledShutdownNoControllerMs: 2000, leaderRebalanceIntervalMs: 30_000 });
    expect(cfg.groups).toEqual({ sessionTimeoutMs: 10_000, initialRebalanceDelayMs: 3000, minSessionTimeoutMs: 6000, maxSessionTimeoutMs: 1_800_000, offsetsTopicPartitions: 10 });
    expect(cfg.log).toEqual({
      segmentBytes: 1_073_741_824,
      retentionMs: 604_800_000,
      retentionBytes: -1,
      flush: 'batch',
      retentionCheckIntervalMs: 300_000,
      maxMessageBytes: 1_048_588,
    });
    expect(cfg.rpc).toEqual({ requestTimeoutMs: 5000, connectBackoffMaxMs: 2000, maxFrameBytes: 67_108_864 });
    expect(cfg.process).toEqual({ dataDirLockWaitMs: 10_000 });
    expect(cfg.topicDefaults).toEqual({ partitions: 3, replicationFactor: 3, minInsyncReplicas: 2, autoCreate: 'true' });
  });

  it('takes set values over defaults, and an empty section means all defaults', () => {
    const cfg = parseConfig(
      `${MINIMAL}raft: {election_timeout_ms: 1500, heartbeat_interval_ms: 150, tick_ms: 50}\nlog: {flush: always}\ngroups:\n`,
      '/etc/runnel',
    );
    expect(cfg.raft.electionTicks).toBe(30);
    expect(cfg.raft.heartbeatTicks).toBe(3);
    expect(cfg.log.flush).toBe('always');
    expect(cfg.groups.sessionTimeoutMs).toBe(10_000);
  });

  it('leaves kafka_port unset when a node entry has none: that node serves no Kafka port', () => {
    const cfg = parseConfig(MINIMAL.replace('rpc_port: 19091,', 'rpc_port: 19091, kafka_port: 9092,'), '/etc/runnel');
    expect(cfg.nodes.map((n) => n.kafkaPort)).toEqual([9092, undefined, undefined]);
  });

  it('returns a frozen config', () => {
    const cfg = parseConfig(MINIMAL, '/etc/runnel');
    expect(Object.isFrozen(cfg.raft)).toBe(true);
    expect(Object.isFrozen(cfg.nodes[0])).toBe(true);
  });

  it('resolves a relative data_dir against the directory of the file, and keeps an absolute one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'runnel-config-'));
    try {
      const file = join(dir, 'conf', 'my-cluster.yaml');
      await mkdir(dirname(file));
      await writeFile(
        file,
        'cluster_id: c\nnodes:\n' +
          '  - {id: 1, host: h, http_port: 1, rpc_port: 2, data_dir: ../state/one}\n' +
          '  - {id: 2, host: h, http_port: 3, rpc_port: 4, data_dir: /var/lib/runnel/two}\n' +
          'topic_defaults: {replication_factor: 2}\n',
      );
      const cfg = await loadConfig(file);
      expect(cfg.nodes[0]?.dataDir).toBe(join(dir, 'state/one'));
      expect(cfg.nodes[1]?.dataDir).toBe('/var/lib/runnel/two');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('names the bad field', () => {
    it.each([
      ['an unknown key, with a near miss suggested', `${MINIMAL}raft: {electon_timeout_ms: 900}\n`, 'raft.electon_timeout_ms: unknown setting (did you mean election_timeout_ms?)'],
      ['an unknown top-level key', `${MINIMAL}metrics: {port: 1}\n`, 'metrics: unknown setting'],
      ['an unknown key in a node', MINIMAL.replace('data_dir: data/node-2', 'data_dir: data/node-2, zone: a'), 'nodes[1].zone: unknown setting'],
      ['a port out of range', MINIMAL.replace('rpc_port: 19092', 'rpc_port: 70000'), 'nodes[1].rpc_port: must be an integer 1..65535 (got 70000)'],
      ['a string where an integer belongs', `${MINIMAL}raft: {election_timeout_ms: 1s}\n`, 'raft.election_timeout_ms: must be an integer 1..2147483647 (got "1s")'],
      ['a fraction', `${MINIMAL}broker: {session_timeout_ms: 1.5}\n`, 'broker.session_timeout_ms: must be an integer'],
      ['a missing required setting', NODES, 'cluster_id: required'],
      ['a missing node field', MINIMAL.replace('http_port: 8083, ', ''), 'nodes[2].http_port: required'],
      ['a bad cluster id', MINIMAL.replace('cluster_id: test', 'cluster_id: "my cluster"'), 'cluster_id: must be a string of letters, digits'],
      ['a bad enum value', `${MINIMAL}log: {flush: sometimes}\n`, 'log.flush: must be one of batch, always, os (got "sometimes")'],
      ['a section that is not a mapping', `${MINIMAL}raft: 5\n`, 'raft: must be a mapping (got 5)'],
      ['nodes that are not a list', 'cluster_id: x\nnodes: {id: 1}\n', 'nodes: must be a non-empty list (got a mapping)'],
      ['a duplicate node id', MINIMAL.replace('id: 3,', 'id: 1,'), 'nodes[2].id: 1 is already the id of nodes[0]'],
      ['a port used twice on one host', MINIMAL.replace('rpc_port: 19093', 'rpc_port: 19091'), 'nodes[2].rpc_port: 127.0.0.1:19091 is already used by nodes[0].rpc_port'],
      ['a kafka port equal to another port on one host', MINIMAL.replace('rpc_port: 19093,', 'rpc_port: 19093, kafka_port: 8081,'), 'nodes[2].kafka_port: 127.0.0.1:8081 is already used by nodes[0].http_port'],
      ['a kafka port out of range', MINIMAL.replace('rpc_port: 19093,', 'rpc_port: 19093, kafka_port: 0,'), 'nodes[2].kafka_port: must be an integer 1..65535 (got 0)'],
      ['an http port equal to an rpc port on one host', MINIMAL.replace('http_port: 8082', 'http_port: 19091'), 'nodes[1].http_port: 127.0.0.1:19091 is already used by nodes[0].rpc_port'],
      ['a shared data_dir', MINIMAL.replace('data/node-2', 'data/node-1'), 'nodes[1].data_dir: /etc/runnel/data/node-1 is already the data_dir of nodes[0]'],
      ['a raft heartbeat not below the election timeout', `${MINIMAL}raft: {heartbeat_interval_ms: 1000}\n`, 'raft.heartbeat_interval_ms: must be less than raft.election_timeout_ms (1000)'],
      ['a raft timing off the tick grid', `${MINIMAL}raft: {election_timeout_ms: 1020}\n`, 'raft.election_timeout_ms: must be a multiple of raft.tick_ms (50)'],
      ['a broker heartbeat not below its session timeout', `${MINIMAL}broker: {heartbeat_interval_ms: 6000}\n`, 'broker.heartbeat_interval_ms: must be less than broker.session_timeout_ms'],
      ['a replication factor above the node count', `${MINIMAL}topic_defaults: {replication_factor: 4}\n`, 'topic_defaults.replication_factor: 4 is more than the 3 node(s)'],
      ['min.insync.replicas above the replication factor', `${MINIMAL}topic_defaults: {replication_factor: 2, min_insync_replicas: 3}\n`, 'topic_defaults.min_insync_replicas: 3 is more than topic_defaults.replication_factor (2)'],
      ['a frame bound below the message bound', `${MINIMAL}rpc: {max_frame_bytes: 65536}\nlog: {max_message_bytes: 100000}\n`, 'rpc.max_frame_bytes: must be more than log.max_message_bytes (100000)'],
      ['a duplicate key', `${MINIMAL}cluster_id: again\n`, '(yaml): '],
      ['an empty file', '', '(root): the file is empty'],
      ['a top level that is a list', '- 1\n', '(root): must be a mapping (got a list)'],
    ])('%s', (_what, text, expected) => {
      const err = configError(text);
      expect(err.message.startsWith(expected), err.message).toBe(true);
      expect(err.message.startsWith(`${err.field}: `)).toBe(true);
      expect(err.errorName).toBe('INVALID_CONFIG');
    });

    it('names the file too when loading from disk', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'runnel-config-'));
      try {
        const file = join(dir, 'cluster.yaml');
        await writeFile(file, MINIMAL.replace('rpc_port: 19092', 'rpc_port: 0'));
        const err: unknown = await loadConfig(file).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).message).toBe(`nodes[1].rpc_port: must be an integer 1..65535 (got 0) (in ${file})`);
        const missing: unknown = await loadConfig(join(dir, 'nope.yaml')).catch((e: unknown) => e);
        expect((missing as ConfigError).message).toContain('ENOENT');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  it('renders every setting of the schema, with its default, as the README reference table', () => {
    const md = configReferenceMarkdown();
    const rows = md.trim().split('\n');
    expect(rows[0]).toBe('| setting | type | default | meaning |');
    const names = [...settings()].map(([name]) => name);
    expect(rows.length).toBe(names.length + 2);
    expect(names).toContain('nodes[].rpc_port');
    expect(md).toContain('| `raft.election_timeout_ms` | integer 1..2147483647 | `1000` |');
    expect(md).toContain('| `log.flush` | `batch` \\| `always` \\| `os` | `batch` |');
    expect(md).toContain('| `cluster_id` | string (letters, digits, ".", "_", "-") | required |');
    expect(Object.keys(CONFIG_SCHEMA)).toEqual(['cluster_id', 'nodes', 'topic_defaults', 'raft', 'broker', 'groups', 'log', 'rpc', 'process']);
  });
});
