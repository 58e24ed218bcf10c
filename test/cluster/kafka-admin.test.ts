import { Kafka, logLevel } from 'kafkajs';
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
});
