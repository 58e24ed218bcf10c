import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { MessageValue } from '../../src/kafka/protocol/message-codec.ts';
import { kafkaCall } from '../support/kafka-call.ts';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';

const BLOCK = 1000n;
/** Where a v2 RecordBatch keeps its producer id and epoch (Kafka's DefaultRecordBatch layout). */
const PRODUCER_ID_OFFSET = 43;
const PRODUCER_EPOCH_OFFSET = 51;

/** InitProducerId v4 for an idempotent producer on `id`, retried while the node answers COORDINATOR_LOAD_IN_PROGRESS (as clients do). */
async function initProducerId(c: ProcessCluster, id: number): Promise<bigint> {
  return pollUntil(
    `node ${id} to hand out a producer id`,
    async () => {
      const r = await kafkaCall(c.kafkaPorts.get(id) ?? 0, 'InitProducerId', 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
      if (r['errorCode'] === 14) return undefined;
      expect(r).toMatchObject({ errorCode: 0, producerEpoch: 0 });
      return r['producerId'] as bigint;
    },
    20_000,
    100,
  );
}

/** A few ids from every running node, recorded with the node and a label of the phase. */
async function allocateEverywhere(c: ProcessCluster, ids: readonly number[], phase: string, got: { node: number; phase: string; id: bigint }[]): Promise<void> {
  for (const node of ids) for (let i = 0; i < 3; i++) got.push({ node, phase, id: await initProducerId(c, node) });
}

describe('Kafka producer ids on a 3-node cluster', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster));

  it('hands out distinct ids on every node, across a controller kill and a node restart, no block to two owners', async () => {
    const got: { node: number; phase: string; id: bigint }[] = [];
    await allocateEverywhere(c, c.ids, 'first', got);

    // Kill the active controller: the survivors allocate from the new one; the killed node restarts with a new incarnation.
    const controller = await c.agreedLeader();
    await c.kill(controller);
    const rest = c.ids.filter((id) => id !== controller);
    await c.agreedLeader(rest);
    await allocateEverywhere(c, rest, 'after-controller-kill', got);
    // One survivor uses up its block, so its next blocks come from the new controller.
    const survivor = rest[0] ?? 0;
    for (let i = 0; i < 20; i++) {
      const ids = await Promise.all(Array.from({ length: 50 }, () => initProducerId(c, survivor)));
      for (const id of ids) got.push({ node: survivor, phase: 'after-controller-kill', id });
    }
    expect(new Set(got.filter((g) => g.node === survivor).map((g) => g.id / BLOCK)).size).toBeGreaterThan(1);
    c.start(controller);
    await c.waitHealthy();
    await allocateEverywhere(c, c.ids, 'after-restart', got);

    const ids = got.map((g) => g.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Each block has one owner incarnation: one node, and one phase of the restarted node's life.
    const owner = new Map<bigint, string>();
    for (const g of got) {
      const block = g.id / BLOCK;
      const who = `${g.node}${g.node === controller && g.phase === 'after-restart' ? ' (restarted)' : ''}`;
      expect(owner.get(block) ?? who, `block ${block}`).toBe(who);
      owner.set(block, who);
    }
    // Within a block, ids come in order; the restarted node did not reuse its old block.
    const restarted = got.filter((g) => g.node === controller);
    expect(restarted.slice(3).every((g) => g.id / BLOCK !== (restarted[0]?.id ?? 0n) / BLOCK)).toBe(true);
  });

  it('kafkajs idempotent producer gets an id from a block and writes its batches with it', async () => {
    const topic = 'idempotent-smoke';
    const created = await c.http(1, 'POST', c.v3('/topics'), { topic_name: topic, partitions_count: 1, replication_factor: 3 });
    expect(created.status).toBe(201);
    const kafka = new Kafka({ clientId: 'runnel-pid-test', brokers: [`127.0.0.1:${c.kafkaPorts.get(2)}`], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: [{ value: 'a' }, { value: 'b' }] });
    } finally {
      await producer.disconnect();
    }
    const fetched = await kafkaCall(c.kafkaPorts.get(1) ?? 0, 'Fetch', 4, {
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
    });
    const partition = ((fetched['responses'] as MessageValue[])[0]?.['partitions'] as MessageValue[])[0];
    expect(partition?.['errorCode']).toBe(0);
    const records = partition?.['records'] as Buffer;
    // The first test allocated a few blocks from 0: kafkajs's id comes from one of the blocks handed out, never a random one.
    const producerId = records.readBigInt64BE(PRODUCER_ID_OFFSET);
    expect(producerId >= 0n && producerId < 10n * BLOCK).toBe(true);
    expect(records.readInt16BE(PRODUCER_EPOCH_OFFSET)).toBe(0);
  });
});
