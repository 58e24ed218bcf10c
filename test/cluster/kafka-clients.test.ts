import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Consumer, Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';

const run = promisify(execFile);

interface PartitionBody {
  partition_id: number;
  leader_id: number | null;
}

describe('real Kafka clients against a 3-node cluster', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster));

  const createTopic = async (name: string, partitions: number): Promise<void> => {
    expect((await c.http(1, 'POST', c.v3('/topics'), { topic_name: name, partitions_count: partitions, replication_factor: 3 })).status).toBe(201);
  };
  const bootstrap = (): string[] => c.ids.map((id) => `127.0.0.1:${c.kafkaPorts.get(id)}`);

  it('@platformatic/kafka 1.x (flexible versions): its producer writes with acks=all and its consumer fetches the records back by topic id', async () => {
    const topic = 'platformatic-round-trip';
    await createTopic(topic, 1);
    const producer = new Producer({ clientId: 'runnel-test', bootstrapBrokers: bootstrap(), serializers: stringSerializers, idempotent: false, acks: ProduceAcks.ALL });
    const consumer = new Consumer({ clientId: 'runnel-test', groupId: 'unused-no-join', bootstrapBrokers: bootstrap() });
    try {
      const messages = Array.from({ length: 10 }, (_, i) => ({ topic, partition: 0, key: `k${i}`, value: `value-${i}` }));
      const sent = await producer.send({ messages });
      // One batch: Produce answers its base offset.
      expect(sent.offsets?.map((o) => [o.topic, o.partition, Number(o.offset)])).toEqual([[topic, 0, 0]]);
      const leader = await pollUntil('partition 0 to have a leader', async () => {
        const ps = ((await c.get(1, c.v3(`/topics/${topic}/partitions`))) as { data: PartitionBody[] }).data;
        return ps[0]?.leader_id ?? undefined;
      });
      // A plain fetch (no group): Fetch v13 (by topic id, KIP-516) on the partition's leader, from offset 0.
      const topicId = ((await c.get(1, c.v3(`/topics/${topic}`))) as { topic_id: string }).topic_id;
      const answer = await consumer.fetch({
        node: leader,
        maxWaitTime: 1000,
        topics: [{ topicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }] }],
      });
      const p = answer.responses[0]?.partitions[0];
      expect(p).toMatchObject({ errorCode: 0, highWatermark: 10n, lastStableOffset: 10n, logStartOffset: 0n });
      const records = (p?.records ?? []).flatMap((b) => b.records.map((r) => [String(b.firstOffset + BigInt(r.offsetDelta)), r.key?.toString(), r.value?.toString()]));
      expect(records).toEqual(messages.map((m, i) => [String(i), m.key, m.value]));
    } finally {
      await Promise.all([producer.close(), consumer.close()]);
    }
  }, 60_000);

  it('kcat produces with gzip, snappy, lz4 and zstd; kcat reads every record back byte for byte, and so does HTTP', async () => {
    const port = (id: number): number => c.kafkaPorts.get(id) ?? 0;
    for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
      const topic = `compressed-${codec}`;
      await createTopic(topic, 1);
      // Repetitive values so that every codec really compresses; one with bytes outside ASCII.
      const values = [...Array.from({ length: 30 }, (_, i) => `${codec}-record-${i}-${'x'.repeat(100)}`), `${codec}-ünïcødé-€`];
      const produce = execFile('kcat', ['-P', '-b', `127.0.0.1:${port(1)}`, '-t', topic, '-p', '0', '-z', codec, '-X', 'acks=all', '-X', 'linger.ms=50', '-m', '10']);
      produce.stdin?.end(values.join('\n') + '\n');
      expect(await new Promise<number | null>((resolve) => produce.on('exit', resolve)), codec).toBe(0);
      const { stdout } = await run('kcat', ['-C', '-b', `127.0.0.1:${port(2)}`, '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-f', '%s\n', '-m', '10'], { timeout: 30_000, encoding: 'buffer' });
      expect(Buffer.compare(stdout, Buffer.from(values.join('\n') + '\n')), codec).toBe(0);
      const http = (await c.get(3, `/topics/${topic}/partitions/0/records?offset=0&timeout_ms=2000&max_bytes=1048576`)) as { value: unknown; offset: number }[];
      const overHttp = http.map((r) => (typeof r.value === 'string' ? r.value : JSON.stringify(r.value)));
      expect(overHttp, codec).toEqual(values);
    }
  }, 120_000);
});
