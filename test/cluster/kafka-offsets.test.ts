import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { MessageValue } from '../../src/kafka/protocol/message-codec.ts';
import { ZERO_UUID } from '../../src/kafka/protocol/message-codec.ts';
import { kafkaCall } from '../support/kafka-call.ts';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';

const run = promisify(execFile);

/** kcat -P of `values` to partition 0 of `topic` through node `port`, acks=all. */
async function kcatProduce(port: number, topic: string, values: readonly string[]): Promise<void> {
  const produce = execFile('kcat', ['-P', '-b', `127.0.0.1:${port}`, '-t', topic, '-p', '0', '-X', 'acks=all', '-m', '10']);
  produce.stdin?.end(values.join('\n') + '\n');
  const code = await new Promise<number | null>((resolve) => produce.on('exit', resolve));
  expect(code).toBe(0);
}

/** kcat -C from `offset` (beginning, end, -N, ...) until the end of partition 0: the lines `value:offset`. */
async function kcatConsume(port: number, topic: string, offset: string): Promise<string[]> {
  const args = ['-C', '-b', `127.0.0.1:${port}`, '-t', topic, '-p', '0', '-o', offset, '-e', '-f', '%s:%o\n', '-m', '10'];
  const { stdout } = await run('kcat', args, { timeout: 30_000 });
  return stdout.split('\n').filter((l) => l !== '');
}

describe('Kafka ListOffsets and OffsetForLeaderEpoch on a 3-node cluster', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster));

  it('kcat consumes from beginning, end and the last two, and finds the first record at a timestamp (-Q), through any node', async () => {
    const topic = 'kcat-offsets';
    const created = await c.http(1, 'POST', c.v3('/topics'), { topic_name: topic, partitions_count: 1, replication_factor: 3 });
    expect(created.status).toBe(201);
    const first = Array.from({ length: 5 }, (_, i) => `early-${i}`);
    const second = Array.from({ length: 3 }, (_, i) => `late-${i}`);
    await kcatProduce(c.kafkaPorts.get(1) ?? 0, topic, first);
    // Every record of the first run has a timestamp below `at`; the second run's are at or after it.
    const at = Date.now() + 1;
    await pollUntil('the clock to pass the split timestamp', () => Date.now() > at, 1000, 1);
    await kcatProduce(c.kafkaPorts.get(1) ?? 0, topic, second);
    const all = [...first, ...second].map((v, i) => `${v}:${i}`);

    for (const id of c.ids) {
      const port = c.kafkaPorts.get(id) ?? 0;
      expect(await kcatConsume(port, topic, 'beginning')).toEqual(all);
      expect(await kcatConsume(port, topic, 'end')).toEqual([]);
      expect(await kcatConsume(port, topic, '-2')).toEqual(all.slice(-2));
      const { stdout } = await run('kcat', ['-Q', '-b', `127.0.0.1:${port}`, '-t', `${topic}:0:${at}`, '-m', '10'], { timeout: 30_000 });
      expect(stdout).toMatch(new RegExp(`\\[0\\]\\s+offset 5\\b`));
    }
    // A timestamp after every record: none (-1), as Kafka answers.
    const { stdout } = await run('kcat', ['-Q', '-b', `127.0.0.1:${c.kafkaPorts.get(2)}`, '-t', `${topic}:0:${Date.now() + 3_600_000}`, '-m', '10'], { timeout: 30_000 });
    expect(stdout).toMatch(/\[0\]\s+offset -1\b/);
  }, 120_000);

  it('answers v0 in the old shape, v1 and v7 with offset and timestamp, and an unknown partition or topic per partition', async () => {
    const topic = 'list-offsets-raw';
    const created = await c.http(1, 'POST', c.v3('/topics'), { topic_name: topic, partitions_count: 1, replication_factor: 3 });
    expect(created.status).toBe(201);
    await kcatProduce(c.kafkaPorts.get(2) ?? 0, topic, ['a', 'b', 'c']);
    const port = c.kafkaPorts.get(3) ?? 0;
    const ask = async (version: number, topics: { name: string; partitions: { partitionIndex: number; timestamp: bigint }[] }[]): Promise<MessageValue> =>
      (await kafkaCall(port, 'ListOffsets', version, { replicaId: -1, isolationLevel: 1, topics }));
    type Answer = { topics: { name: string; partitions: MessageValue[] }[] };
    // The codec fills fields a version lacks with their defaults: compare only the version's own.
    const only = (fields: string[], ps: MessageValue[] | undefined): MessageValue[] | undefined =>
      ps?.map((p) => Object.fromEntries(fields.map((f) => [f, p[f]])));

    const v0 = (await ask(0, [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n }, { partitionIndex: 1, timestamp: -2n }] }])) as Answer;
    expect(only(['partitionIndex', 'errorCode', 'oldStyleOffsets'], v0.topics[0]?.partitions)).toEqual([
      { partitionIndex: 0, errorCode: 0, oldStyleOffsets: [3n] },
      { partitionIndex: 1, errorCode: 3, oldStyleOffsets: [] },
    ]);
    const v0early = (await ask(0, [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -2n }] }])) as Answer;
    expect(v0early.topics[0]?.partitions[0]?.['oldStyleOffsets']).toEqual([0n]);

    const v1 = (await ask(1, [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -2n }] }, { name: 'no-such-topic', partitions: [{ partitionIndex: 0, timestamp: -1n }] }])) as Answer;
    expect(v1.topics.map((t) => [t.name, only(['partitionIndex', 'errorCode', 'timestamp', 'offset'], t.partitions)])).toEqual([
      [topic, [{ partitionIndex: 0, errorCode: 0, timestamp: -1n, offset: 0n }]],
      ['no-such-topic', [{ partitionIndex: 0, errorCode: 3, timestamp: -1n, offset: -1n }]],
    ]);

    // v7 (flexible): the largest timestamp (-3) is the last record's, and read_committed reads as read_uncommitted.
    const v7 = (await ask(7, [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -3n }, { partitionIndex: 0, timestamp: -1n }] }])) as Answer;
    const [max, latest] = v7.topics[0]?.partitions ?? [];
    expect(max?.['errorCode']).toBe(0);
    expect([0n, 1n, 2n]).toContain(max?.['offset']);
    expect(max?.['timestamp'] as bigint).toBeGreaterThan(0n);
    // v4+ names the leader epoch: for latest, the current one (a consumer validates its position with it).
    expect(latest).toMatchObject({ errorCode: 0, offset: 3n, timestamp: -1n });
    expect(latest?.['leaderEpoch']).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it('OffsetForLeaderEpoch answers the current epoch with the log end, a later epoch with -1, an unknown topic per partition, from any node', async () => {
    const topic = 'leader-epochs';
    const created = await c.http(1, 'POST', c.v3('/topics'), { topic_name: topic, partitions_count: 1, replication_factor: 3 });
    expect(created.status).toBe(201);
    await kcatProduce(c.kafkaPorts.get(1) ?? 0, topic, ['a', 'b', 'c', 'd']);
    type Md = { topics: { partitions: { leaderEpoch: number }[] }[] };
    for (const id of c.ids) {
      const port = c.kafkaPorts.get(id) ?? 0;
      const md = (await kafkaCall(port, 'Metadata', 12, { topics: [{ name: topic, topicId: ZERO_UUID }], allowAutoTopicCreation: false })) as Md;
      const epoch = md.topics[0]?.partitions[0]?.leaderEpoch ?? -1;
      expect(epoch).toBeGreaterThanOrEqual(0);
      for (const version of [2, 4]) {
        const req = { replicaId: -1, topics: [
          { topic, partitions: [{ partition: 0, currentLeaderEpoch: epoch, leaderEpoch: epoch }, { partition: 0, currentLeaderEpoch: epoch, leaderEpoch: epoch + 5 }, { partition: 3, currentLeaderEpoch: -1, leaderEpoch: epoch }] },
          { topic: 'no-such-topic', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] },
        ] };
        const answer = (await kafkaCall(port, 'OffsetForLeaderEpoch', version, req)) as { topics: { topic: string; partitions: MessageValue[] }[] };
        expect(answer.topics.map((t) => [t.topic, t.partitions]), `node ${id} v${version}`).toEqual([
          [topic, [
            { errorCode: 0, partition: 0, leaderEpoch: epoch, endOffset: 4n },
            { errorCode: 0, partition: 0, leaderEpoch: -1, endOffset: -1n },
            { errorCode: 3, partition: 3, leaderEpoch: -1, endOffset: -1n },
          ]],
          ['no-such-topic', [{ errorCode: 3, partition: 0, leaderEpoch: -1, endOffset: -1n }]],
        ]);
      }
    }
    // kcat still consumes everything with position validation available to it.
    expect(await kcatConsume(c.kafkaPorts.get(2) ?? 0, topic, 'beginning')).toEqual(['a:0', 'b:1', 'c:2', 'd:3']);
  }, 60_000);

  it('answers a newer CurrentLeaderEpoch with UNKNOWN_LEADER_EPOCH (75), an older one with FENCED_LEADER_EPOCH (74), on Fetch, ListOffsets and OffsetForLeaderEpoch through any node', async () => {
    const topic = 'epoch-fencing';
    const created = await c.http(1, 'POST', c.v3('/topics'), { topic_name: topic, partitions_count: 1, replication_factor: 3 });
    expect(created.status).toBe(201);
    await kcatProduce(c.kafkaPorts.get(1) ?? 0, topic, ['a', 'b']);
    type Md = { topics: { partitions: { leaderEpoch: number }[] }[] };
    type Answer = { responses?: { partitions: MessageValue[] }[]; topics?: { partitions: MessageValue[] }[] };
    const codes = (a: Answer): unknown[] => (a.responses ?? a.topics ?? []).flatMap((t) => t.partitions.map((p) => p['errorCode']));
    for (const id of c.ids) {
      const port = c.kafkaPorts.get(id) ?? 0;
      const md = (await kafkaCall(port, 'Metadata', 12, { topics: [{ name: topic, topicId: ZERO_UUID }], allowAutoTopicCreation: false })) as Md;
      const epoch = md.topics[0]?.partitions[0]?.leaderEpoch ?? -1;
      expect(epoch).toBeGreaterThanOrEqual(0);
      // A new topic's leaders are at epoch 0, where no older epoch exists to fence (the unit test fences one).
      const cases: [number, number][] = [[-1, 0], [epoch, 0], [epoch + 1, 75], [epoch + 7, 75]];
      if (epoch > 0) cases.push([epoch - 1, 74]);
      for (const [current, code] of cases) {
        const fetchReq = { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, forgottenTopicsData: [], rackId: '',
          topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: current, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }] };
        const fetched = (await kafkaCall(port, 'Fetch', 12, fetchReq)) as Answer;
        const listed = (await kafkaCall(port, 'ListOffsets', 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: current, timestamp: -2n }] }] })) as Answer;
        const ended = (await kafkaCall(port, 'OffsetForLeaderEpoch', 4, { replicaId: -1, topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: current, leaderEpoch: epoch }] }] })) as Answer;
        expect([codes(fetched), codes(listed), codes(ended)], `node ${id}, current epoch ${current} (leader's ${epoch})`).toEqual([[code], [code], [code]]);
        if (code === 0) {
          expect((fetched.responses?.[0]?.partitions[0]?.['records'] as Buffer | null)?.length ?? 0).toBeGreaterThan(0);
          expect(listed.topics?.[0]?.partitions[0]).toMatchObject({ offset: 0n, leaderEpoch: epoch });
        }
      }
    }
  }, 60_000);

  it('Fetch v13 names topics by the topic id Metadata answers (KIP-516): the same records as by name at v12; an unknown id is UNKNOWN_TOPIC_ID (100)', async () => {
    const topic = 'fetch-by-id';
    expect((await c.http(1, 'POST', c.v3('/topics'), { topic_name: topic, partitions_count: 2, replication_factor: 3 })).status).toBe(201);
    await kcatProduce(c.kafkaPorts.get(1) ?? 0, topic, ['x', 'y']);
    const port = c.kafkaPorts.get(3) ?? 0;
    const md = (await kafkaCall(port, 'Metadata', 12, { topics: [{ name: topic, topicId: ZERO_UUID }], allowAutoTopicCreation: false })) as { topics: { topicId: string }[] };
    const topicId = md.topics[0]?.topicId ?? ZERO_UUID;
    expect(topicId).not.toBe(ZERO_UUID);
    const base = { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, forgottenTopicsData: [], rackId: '' };
    const partitions = [0, 1].map((partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }));
    type Answer = { responses: { topic?: string; topicId?: string; partitions: MessageValue[] }[] };
    const records = (a: Answer): string[] => a.responses.flatMap((t) => t.partitions.map((p) => `${String(p['errorCode'])}:${(p['records'] as Buffer | null)?.toString('hex') ?? ''}`));
    const byName = (await kafkaCall(port, 'Fetch', 12, { ...base, topics: [{ topic, partitions }] })) as Answer;
    const byId = (await kafkaCall(port, 'Fetch', 13, { ...base, topics: [{ topicId, partitions }] })) as Answer;
    expect(byId.responses[0]?.topicId).toBe(topicId);
    expect(records(byId)).toEqual(records(byName));
    expect(records(byId).join('')).toMatch(/^0:/);
    const unknown = (await kafkaCall(port, 'Fetch', 13, { ...base, topics: [{ topicId: '0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f', partitions: partitions.slice(0, 1) }] })) as Answer;
    expect(unknown.responses[0]?.partitions.map((p) => p['errorCode'])).toEqual([100]);
  }, 60_000);
});
