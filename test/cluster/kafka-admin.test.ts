import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { MessageValue } from '../../src/kafka/protocol/message-codec.ts';
import { kafkaCall } from '../support/kafka-call.ts';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';

/** A kafkajs admin client bootstrapped from one node, silent (kafkajs logs every retry). */
async function withAdmin<T>(c: ProcessCluster, id: number, use: (admin: Admin) => Promise<T>): Promise<T> {
  const kafka = new Kafka({ clientId: 'runnel-admin-test', brokers: [`127.0.0.1:${c.kafkaPorts.get(id)}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

const run = promisify(execFile);

interface HttpTopics {
  data: { topic_name: string; partitions_count: number; replication_factor: number }[];
}

describe('Kafka admin APIs on a 3-node cluster, driven by kafkajs', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster));

  it('kafkajs creates topics (waiting for leaders), lists, describes and deletes them; HTTP sees each step', async () => {
    await withAdmin(c, 2, async (admin) => {
      const created = await admin.createTopics({
        topics: [
          { topic: 'kjs-a', numPartitions: 3, replicationFactor: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
          { topic: 'kjs-b' }, // -1 / -1: the cluster defaults
        ],
        waitForLeaders: true,
        timeout: 15_000,
      });
      expect(created).toBe(true);
      // Answered only once leaders are known: metadata names a leader for every partition at once.
      const md = await admin.fetchTopicMetadata({ topics: ['kjs-a', 'kjs-b'] });
      const a = md.topics.find((t) => t.name === 'kjs-a');
      expect(a?.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
      for (const p of a?.partitions ?? []) {
        expect([1, 2, 3]).toContain(p.leader);
        expect([...p.replicas].sort()).toEqual([1, 2, 3]);
      }
      const b = md.topics.find((t) => t.name === 'kjs-b');
      expect(b?.partitions.length).toBeGreaterThanOrEqual(1);
      expect(await admin.listTopics()).toEqual(expect.arrayContaining(['kjs-a', 'kjs-b']));

      // Every broker's own image has them already (the HTTP list reads it without a barrier): no polling.
      for (const id of c.ids) {
        const http = (await c.get(id, c.v3('/topics'))) as HttpTopics;
        expect(http.data.find((t) => t.topic_name === 'kjs-a')).toMatchObject({ partitions_count: 3, replication_factor: 3 });
        expect(http.data.map((t) => t.topic_name)).toContain('kjs-b');
      }
      const cfg = (await c.get(3, c.v3('/topics/kjs-a/configs/retention.ms'))) as { value: string };
      expect(cfg.value).toBe('3600000');

      // validateOnly checks and creates nothing.
      expect(await admin.createTopics({ topics: [{ topic: 'kjs-dry', numPartitions: 2 }], validateOnly: true, waitForLeaders: false })).toBe(true);
      expect(await admin.listTopics()).not.toContain('kjs-dry');

      await admin.deleteTopics({ topics: ['kjs-a', 'kjs-b'], timeout: 15_000 });
      expect(await admin.listTopics()).not.toContain('kjs-a');
      for (const id of c.ids) {
        await pollUntil(`node ${id}'s HTTP topic list without kjs-a and kjs-b`, async () => {
          const names = ((await c.get(id, c.v3('/topics'))) as HttpTopics).data.map((t) => t.topic_name);
          return !names.includes('kjs-a') && !names.includes('kjs-b');
        }, 10_000, 100);
      }
    });
  }, 90_000);

  it('an illegal name gets INVALID_TOPIC_EXCEPTION, a duplicate TOPIC_ALREADY_EXISTS, bad counts INVALID_PARTITIONS / INVALID_REPLICATION_FACTOR', async () => {
    await withAdmin(c, 1, async (admin) => {
      const illegal = await admin.createTopics({ topics: [{ topic: 'no spaces!' }] }).then(() => undefined, (e: unknown) => e);
      expect((illegal as { errors?: { type: string }[] }).errors?.map((e) => e.type)).toEqual(['INVALID_TOPIC_EXCEPTION']);

      expect(await admin.createTopics({ topics: [{ topic: 'kjs-dup', numPartitions: 1 }] })).toBe(true);
      // kafkajs answers false when every topic already exists (TOPIC_ALREADY_EXISTS).
      expect(await admin.createTopics({ topics: [{ topic: 'kjs-dup', numPartitions: 1 }] })).toBe(false);
    });
    // The raw codes, including the ones kafkajs folds into errors, from another node.
    const port = c.kafkaPorts.get(3) ?? 0;
    const topic = (name: string, numPartitions: number, replicationFactor: number): MessageValue => ({ name, numPartitions, replicationFactor, assignments: [], configs: [] });
    const r = await kafkaCall(port, 'CreateTopics', 2, {
      topics: [topic('kjs-dup', 1, 1), topic('bad/name', 1, 1), topic('kjs-p0', 0, 1), topic('kjs-rf9', 1, 9)],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect((r['topics'] as MessageValue[]).map((t) => [t['name'], t['errorCode']])).toEqual([
      ['kjs-dup', 36],
      ['bad/name', 17],
      ['kjs-p0', 37],
      ['kjs-rf9', 38],
    ]);
    const bad = await kafkaCall(port, 'CreateTopics', 7, {
      topics: [{ name: 'kjs-cfg', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'min.insync.replicas', value: '5' }] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect((bad['topics'] as MessageValue[])[0]).toMatchObject({ name: 'kjs-cfg', errorCode: 40 });
    const gone = await kafkaCall(port, 'DeleteTopics', 1, { topicNames: ['kjs-never'], timeoutMs: 10_000 });
    expect((gone['responses'] as MessageValue[])[0]).toMatchObject({ name: 'kjs-never', errorCode: 3 });
  }, 60_000);

  it('kafkajs describeCluster and DescribeCluster name the three brokers at their Kafka ports, a live controller and the cluster id', async () => {
    const described = await withAdmin(c, 3, (admin) => admin.describeCluster());
    expect(described.clusterId).toBe(c.clusterId);
    expect(described.brokers.map((b) => [b.nodeId, b.host, b.port]).sort()).toEqual(c.ids.map((id) => [id, '127.0.0.1', c.kafkaPorts.get(id)]));
    expect([1, 2, 3]).toContain(described.controller);
    // kafkajs builds describeCluster from Metadata: ask DescribeCluster (60) itself too.
    for (const version of [0, 1]) {
      const body = await kafkaCall(c.kafkaPorts.get(1) ?? 0, 'DescribeCluster', version, { includeClusterAuthorizedOperations: false, endpointType: 1 });
      expect(body).toMatchObject({ errorCode: 0, clusterId: c.clusterId });
      expect([1, 2, 3]).toContain(body['controllerId']);
      const brokers = (body['brokers'] as MessageValue[]).map((b) => [b['brokerId'], b['host'], b['port']]).sort();
      expect(brokers).toEqual(c.ids.map((id) => [id, '127.0.0.1', c.kafkaPorts.get(id)]));
    }
  }, 60_000);

  it('kafkajs createPartitions grows a topic, answered once every broker knows the new leaders; CreatePartitions errors as Kafka names them', async () => {
    await withAdmin(c, 1, async (admin) => {
      expect(await admin.createTopics({ topics: [{ topic: 'kjs-grow', numPartitions: 2, replicationFactor: 2 }], waitForLeaders: true })).toBe(true);
      await admin.createPartitions({ topicPartitions: [{ topic: 'kjs-grow', count: 4 }], timeout: 15_000 });
      const md = await admin.fetchTopicMetadata({ topics: ['kjs-grow'] });
      const parts = md.topics[0]?.partitions ?? [];
      expect(parts.map((p) => p.partitionId).sort()).toEqual([0, 1, 2, 3]);
      for (const p of parts) expect(p.replicas).toHaveLength(2);
    });
    // Every broker's own image has the new partitions at once (no polling): the answer waited for them.
    for (const id of c.ids) {
      expect(((await c.get(id, c.v3('/topics'))) as HttpTopics).data.find((t) => t.topic_name === 'kjs-grow')).toMatchObject({ partitions_count: 4, replication_factor: 2 });
    }
    const port = c.kafkaPorts.get(3) ?? 0;
    const grow = (name: string, count: number, assignments: MessageValue[] | null = null): MessageValue => ({ name, count, assignments });
    const r = await kafkaCall(port, 'CreatePartitions', 3, {
      topics: [grow('kjs-grow', 4), grow('kjs-nope', 5), grow('kjs-grow-2', 1), grow('kjs-dup2', 3), grow('kjs-dup2', 4)],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect((r['results'] as MessageValue[]).map((t) => [t['name'], t['errorCode']])).toEqual([
      ['kjs-grow', 37],
      ['kjs-nope', 3],
      ['kjs-grow-2', 3],
      ['kjs-dup2', 42],
      ['kjs-dup2', 42],
    ]);
    const wrong = await kafkaCall(port, 'CreatePartitions', 0, { topics: [grow('kjs-grow', 6, [{ brokerIds: [1, 2] }])], timeoutMs: 10_000, validateOnly: false });
    expect((wrong['results'] as MessageValue[])[0]).toMatchObject({ errorCode: 39 });
    const dry = await kafkaCall(port, 'CreatePartitions', 1, { topics: [grow('kjs-grow', 8)], timeoutMs: 10_000, validateOnly: true });
    expect((dry['results'] as MessageValue[])[0]).toMatchObject({ errorCode: 0 });
    const placed = await kafkaCall(port, 'CreatePartitions', 2, { topics: [grow('kjs-grow', 5, [{ brokerIds: [3, 1] }])], timeoutMs: 10_000, validateOnly: false });
    expect((placed['results'] as MessageValue[])[0]).toMatchObject({ errorCode: 0 });
    const parts = (await c.get(1, c.v3('/topics/kjs-grow/partitions'))) as { data: { partition_id: number; leader_id: number | null }[] };
    expect(parts.data.map((p) => [p.partition_id, p.partition_id === 4 ? p.leader_id : null])).toEqual([[0, null], [1, null], [2, null], [3, null], [4, 3]]);
    // A new partition takes records: kcat writes to partition 4 through node 1 and reads them back through node 2.
    const produce = execFile('kcat', ['-P', '-b', `127.0.0.1:${c.kafkaPorts.get(1)}`, '-t', 'kjs-grow', '-p', '4', '-X', 'acks=all', '-m', '10']);
    produce.stdin?.end('new-1\nnew-2\n');
    expect(await new Promise<number | null>((resolve) => produce.on('exit', resolve))).toBe(0);
    const { stdout } = await run('kcat', ['-C', '-b', `127.0.0.1:${c.kafkaPorts.get(2)}`, '-t', 'kjs-grow', '-p', '4', '-o', '0', '-c', '2', '-e', '-m', '10'], { timeout: 30_000 });
    expect(stdout.trim().split('\n')).toEqual(['new-1', 'new-2']);
  }, 90_000);

  it('DescribeConfigs shows topic configs by source and the broker configs; kafkajs alterConfigs and IncrementalAlterConfigs change topic configs as HTTP does', async () => {
    await withAdmin(c, 2, async (admin) => {
      await admin.createTopics({ topics: [{ topic: 'kjs-conf', numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'retention.ms', value: '60000' }] }] });
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-conf', configEntries: [{ name: 'max.message.bytes', value: '2048' }] }] });
      const d = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-conf' }], includeSynonyms: true });
      const entries = d.resources[0]?.configEntries ?? [];
      // AlterConfigs replaces the whole set: retention.ms is back to the default.
      expect(entries.find((e) => e.configName === 'max.message.bytes')).toMatchObject({ configValue: '2048', isDefault: false, configSource: 1 });
      expect(entries.find((e) => e.configName === 'retention.ms')).toMatchObject({ configValue: '604800000', isDefault: true, configSource: 5 });
      expect(entries.map((e) => e.configName).sort()).toEqual(['cleanup.policy', 'max.message.bytes', 'min.insync.replicas', 'retention.bytes', 'retention.ms', 'segment.bytes', 'unclean.leader.election.enable']);
      const broker = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['auto.create.topics.enable', 'num.partitions', 'log.retention.ms'] }], includeSynonyms: false });
      expect(broker.resources[0]?.configEntries.map((e) => [e.configName, e.configValue, e.readOnly])).toEqual([
        ['auto.create.topics.enable', 'true', true],
        ['num.partitions', '3', true],
        ['log.retention.ms', '604800000', true],
      ]);
    });
    for (const id of c.ids) expect(((await c.get(id, c.v3('/topics/kjs-conf/configs/max.message.bytes'))) as { value: string }).value).toBe('2048');

    const port = c.kafkaPorts.get(1) ?? 0;
    const op = (name: string, configOperation: number, value: string | null): MessageValue => ({ name, configOperation, value });
    const alter = async (version: number, resources: MessageValue[], validateOnly = false): Promise<[unknown, unknown][]> => {
      const r = await kafkaCall(port, 'IncrementalAlterConfigs', version, { resources, validateOnly });
      return (r['responses'] as MessageValue[]).map((x) => [x['resourceName'], x['errorCode']]);
    };
    const topic = (configs: MessageValue[], resourceName = 'kjs-conf'): MessageValue => ({ resourceType: 2, resourceName, configs });
    expect(await alter(1, [topic([op('min.insync.replicas', 0, '3'), op('max.message.bytes', 1, null)])], true)).toEqual([['kjs-conf', 0]]);
    expect(((await c.get(1, c.v3('/topics/kjs-conf/configs/max.message.bytes'))) as { value: string }).value).toBe('2048');
    expect(await alter(0, [topic([op('min.insync.replicas', 0, '3'), op('max.message.bytes', 1, null)])])).toEqual([['kjs-conf', 0]]);
    expect(await alter(1, [topic([op('cleanup.policy', 2, 'delete')])])).toEqual([['kjs-conf', 0]]);
    expect(await alter(1, [
      topic([op('retention.ms', 2, '5')], 'kjs-conf'),
      { resourceType: 4, resourceName: '1', configs: [op('num.partitions', 0, '5')] },
      topic([op('retention.ms', 0, '5')], 'kjs-none'),
      { resourceType: 9, resourceName: 'x', configs: [] },
      topic([op('retention.ms', 0, '5')], 'bad/name'),
    ])).toEqual([['kjs-conf', 40], ['1', 42], ['kjs-none', 3], ['x', 42], ['bad/name', 17]]);
    expect(await alter(1, [topic([op('retention.mss', 0, '5')])])).toEqual([['kjs-conf', 40]]);
    expect(await alter(1, [topic([op('min.insync.replicas', 0, '4')])])).toEqual([['kjs-conf', 40]]);

    const described = await kafkaCall(c.kafkaPorts.get(2) ?? 0, 'DescribeConfigs', 4, {
      resources: [
        { resourceType: 2, resourceName: 'kjs-conf', configurationKeys: ['min.insync.replicas', 'max.message.bytes', 'cleanup.policy'] },
        { resourceType: 2, resourceName: 'kjs-none', configurationKeys: null },
        { resourceType: 4, resourceName: '1', configurationKeys: null },
        { resourceType: 7, resourceName: 'x', configurationKeys: null },
        { resourceType: 2, resourceName: '', configurationKeys: null },
      ],
      includeSynonyms: true,
      includeDocumentation: true,
    });
    const results = described['results'] as MessageValue[];
    expect(results.map((x) => x['errorCode'])).toEqual([0, 3, 42, 42, 17]);
    const confs = (results[0]?.['configs'] as MessageValue[]).map((e) => [e['name'], e['value'], e['configSource'], e['configType'], (e['synonyms'] as MessageValue[]).map((s) => s['name'])]);
    expect(confs).toEqual([
      ['min.insync.replicas', '3', 1, 3, ['min.insync.replicas', 'min.insync.replicas']],
      ['cleanup.policy', 'delete', 1, 7, ['cleanup.policy', 'log.cleanup.policy']],
      ['max.message.bytes', '1048588', 5, 3, ['message.max.bytes']],
    ]);
    expect(typeof (results[0]?.['configs'] as MessageValue[])[0]?.['documentation']).toBe('string');
  }, 90_000);

  it('auto-creates a topic a producer names (kcat, kafkajs) or a Metadata request allows, once, however many ask at once; an illegal name is refused', async () => {
    const kcatPort = c.kafkaPorts.get(2) ?? 0;
    const lines = Array.from({ length: 12 }, (_, i) => `k${i}:v${i}`);
    const produce = execFile('kcat', ['-P', '-b', `127.0.0.1:${kcatPort}`, '-t', 'auto-kcat', '-K', ':', '-X', 'acks=all', '-m', '10']);
    produce.stdin?.end(lines.join('\n') + '\n');
    expect(await new Promise<number | null>((resolve) => produce.on('exit', resolve))).toBe(0);
    const { stdout } = await run('kcat', ['-C', '-b', `127.0.0.1:${c.kafkaPorts.get(3)}`, '-t', 'auto-kcat', '-o', 'beginning', '-e', '-f', '%k:%s\n', '-m', '10'], { timeout: 30_000 });
    expect(stdout.trim().split('\n').sort()).toEqual([...lines].sort());
    expect(((await c.get(1, c.v3('/topics/auto-kcat'))) as { partitions_count: number; replication_factor: number })).toMatchObject({ partitions_count: 3, replication_factor: 3 });

    const kafka = new Kafka({ clientId: 'runnel-auto-create', brokers: [`127.0.0.1:${c.kafkaPorts.get(1)}`], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    try {
      const sent = await producer.send({ topic: 'auto-kjs', acks: -1, messages: [{ key: 'a', value: 'one' }, { key: 'b', value: 'two' }] });
      expect(sent.every((s) => s.errorCode === 0)).toBe(true);
    } finally {
      await producer.disconnect();
    }
    expect(((await c.get(3, c.v3('/topics'))) as HttpTopics).data.map((t) => t.topic_name)).toContain('auto-kjs');

    // Many clients on every node ask for the same missing topic at once: each gets it (or "not yet"), never an error.
    const ask = (id: number, name: string, allow = true): Promise<MessageValue> =>
      kafkaCall(c.kafkaPorts.get(id) ?? 0, 'Metadata', 12, { topics: [{ name, topicId: '00000000-0000-0000-0000-000000000000' }], allowAutoTopicCreation: allow, includeTopicAuthorizedOperations: false });
    const answers = await Promise.all(c.ids.flatMap((id) => Array.from({ length: 4 }, () => ask(id, 'auto-race'))));
    const codes = answers.map((a) => (a['topics'] as MessageValue[])[0]?.['errorCode']);
    expect(codes.every((code) => code === 0 || code === 5)).toBe(true);
    expect(codes).toContain(0);
    expect(((await c.get(2, c.v3('/topics'))) as HttpTopics).data.filter((t) => t.topic_name === 'auto-race')).toHaveLength(1);

    const illegal = await ask(1, 'bad name!');
    expect((illegal['topics'] as MessageValue[])[0]).toMatchObject({ errorCode: 17, partitions: [] });
    const notAllowed = await ask(2, 'auto-not-allowed', false);
    expect((notAllowed['topics'] as MessageValue[])[0]).toMatchObject({ errorCode: 3 });
    const names = ((await c.get(1, c.v3('/topics'))) as HttpTopics).data.map((t) => t.topic_name);
    expect(names).not.toContain('auto-not-allowed');
    expect(names).not.toContain('bad name!');
  }, 90_000);
});
