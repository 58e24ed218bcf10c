import { afterEach, describe, expect, it } from 'vitest';
import { buildBatch } from '../../storage/record-batch.ts';
import { partitionChangeWithout } from '../../src/metadata/controller.ts';
import type { MetadataRecord } from '../../src/metadata/records.ts';
import { RecordType } from '../../src/metadata/records.ts';
import { pollUntil } from '../support/poll.ts';
import { ReplicaBrokers } from '../support/replica-brokers.ts';

const TOPIC_ID = 'topic-1';
let brokers: ReplicaBrokers | undefined;

afterEach(async () => {
  await brokers?.close();
  brokers = undefined;
});

const batch = (n: number, tag: string): Buffer =>
  buildBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`${tag}-${i}`), headers: [], timestamp: 1 })));

function bootRecords(replicas: number[], isr: number[]): MetadataRecord[] {
  const records: MetadataRecord[] = [];
  for (const id of [1, 2, 3]) {
    records.push({ type: RecordType.RegisterBroker, v: 1, brokerId: id, incarnationId: `inc-${id}`, host: '127.0.0.1', httpPort: 8080 + id, rpcPort: 9090 + id });
    records.push({ type: RecordType.UnfenceBroker, v: 1, brokerId: id });
  }
  records.push({ type: RecordType.CreateTopic, v: 1, name: 'orders', topicId: TOPIC_ID, configs: { 'min.insync.replicas': '2' } });
  records.push({ type: RecordType.Partition, v: 1, topicId: TOPIC_ID, partition: 0, replicas, isr, leader: replicas[0] ?? 1, leaderEpoch: 0, partitionEpoch: 0 });
  return records;
}

describe('ISR expansion (KIP-497 maximal ISR)', () => {
  it('never acknowledges past a replica whose ISR expansion is in flight, so electing it loses no acknowledged record', async () => {
    // Replica order [1, 3, 2]: when leader 1 dies the controller picks 3 before 2 if both are in the ISR.
    const b = await ReplicaBrokers.start([1, 2, 3], { replicaLagTimeMaxMs: 400 });
    brokers = b;
    b.commit(...bootRecords([1, 3, 2], [1, 2]));
    await b.settled();
    const leader = b.manager(1);
    const acked: { base: number; count: number }[] = [];
    const produce = (count: number, tag: string): Promise<void> =>
      leader.produce(TOPIC_ID, 0, batch(count, tag), -1, 3000).then(
        (base) => void acked.push({ base, count }),
        () => undefined,
      );

    await produce(5, 'before');
    expect(acked).toEqual([{ base: 0, count: 5 }]);

    // Broker 3 catches up to the high watermark: the leader asks to add it to the ISR. The
    // controller holds the request (in flight), and broker 3 stops fetching.
    const call = await pollUntil('the leader to ask for broker 3 in the ISR', () => b.alterIsrCalls.find((c) => c.req.isr.includes(3)), 5000);
    b.pauseFetches(3);
    const replica = leader.replica(TOPIC_ID, 0);
    const joinerEnd = await pollUntil('the leader to know broker 3\'s log end', () => replica?.followerLogEndOffset(3), 5000);
    expect(joinerEnd).toBe(5);

    // More acks=all records; broker 2 fetches them.
    const second = produce(3, 'during');
    await pollUntil('broker 2 to fetch the new records', () => replica?.followerLogEndOffset(2) === 8, 5000);
    // KIP-497: the pending member counts for the high watermark, so it cannot pass broker 3.
    expect(leader.offsets(TOPIC_ID, 0).highWatermark).toBeLessThanOrEqual(joinerEnd);

    // The controller commits the expansion; then the leader dies and the controller elects
    // the first live ISR member in replica order: broker 3.
    const expanded = b.commit({ type: RecordType.PartitionChange, v: 1, topicId: TOPIC_ID, partition: 0, isr: [1, 2, 3] });
    const p = expanded.topicById(TOPIC_ID)?.partitions[0];
    if (p === undefined) throw new Error('partition 0 missing');
    call.answer(p);
    await b.settled();
    await b.kill(1);
    await second;
    const topic = expanded.topicById(TOPIC_ID);
    if (topic === undefined) throw new Error('topic missing');
    const change = partitionChangeWithout(expanded, topic, p, new Set([1]));
    expect(change?.leader).toBe(3);
    if (change !== undefined) b.commit({ type: RecordType.FenceBroker, v: 1, brokerId: 1 }, change);
    b.resumeFetches(3);
    await b.settled();

    // Every acknowledged record is in the new leader's log.
    const newLeader = b.manager(3);
    await pollUntil('broker 3 to lead', () => newLeader.replica(TOPIC_ID, 0)?.role === 'leader', 5000);
    const logEnd = newLeader.offsets(TOPIC_ID, 0).logEndOffset;
    const lost = acked.filter((a) => a.base + a.count > logEnd).map((a) => `${a.base}-${a.base + a.count - 1}`);
    expect(lost, `acknowledged offsets missing from the new leader's log (log end ${logEnd})`).toEqual([]);
  });
});
