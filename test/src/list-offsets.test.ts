import { afterEach, describe, expect, it } from 'vitest';
import { buildBatch } from '../../storage/record-batch.ts';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP } from '../../src/broker/replica-manager.ts';
import { RunnelError } from '../../src/errors.ts';
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

const batchAt = (timestamps: readonly number[]): Buffer =>
  buildBatch(timestamps.map((timestamp, i) => ({ key: null, value: Buffer.from(`v${i}`), headers: [], timestamp })));

function bootRecords(): MetadataRecord[] {
  const records: MetadataRecord[] = [];
  for (const id of [1, 2]) {
    records.push({ type: RecordType.RegisterBroker, v: 1, brokerId: id, incarnationId: `inc-${id}`, host: '127.0.0.1', httpPort: 8080 + id, rpcPort: 9090 + id });
    records.push({ type: RecordType.UnfenceBroker, v: 1, brokerId: id });
  }
  records.push({ type: RecordType.CreateTopic, v: 1, name: 'orders', topicId: TOPIC_ID, configs: {} });
  records.push({ type: RecordType.Partition, v: 1, topicId: TOPIC_ID, partition: 0, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 0 });
  return records;
}

describe('ReplicaManager.offsetForTimestamp (ListOffsets on the leader)', () => {
  it('answers earliest, latest, max timestamp and by timestamp, never an offset at or above the high watermark', async () => {
    // A lag bound far beyond the test: the paused follower stays in the ISR, holding the HW back.
    const b = await ReplicaBrokers.start([1, 2], { replicaLagTimeMaxMs: 60_000 });
    brokers = b;
    b.commit(...bootRecords());
    await b.settled();
    const leader = b.manager(1);
    const at = (ts: number) => leader.offsetForTimestamp(TOPIC_ID, 0, ts);

    await leader.produce(TOPIC_ID, 0, batchAt([100, 200]), 1, 3000);
    await pollUntil('the high watermark to cover the first batch', () => leader.offsets(TOPIC_ID, 0).highWatermark === 2, 5000);
    // The follower stops fetching: offsets 2 and 3 are on the leader only, above the HW.
    b.pauseFetches(2);
    await leader.produce(TOPIC_ID, 0, batchAt([300, 50]), 1, 3000);
    expect(leader.offsets(TOPIC_ID, 0)).toEqual({ logStartOffset: 0, highWatermark: 2, logEndOffset: 4 });

    expect(await at(EARLIEST_TIMESTAMP)).toEqual({ offset: 0, timestamp: -1, leaderEpoch: 0 });
    expect(await at(LATEST_TIMESTAMP)).toEqual({ offset: 2, timestamp: -1, leaderEpoch: 0 });
    expect(await at(40)).toEqual({ offset: 0, timestamp: 100, leaderEpoch: 0 });
    expect(await at(150)).toEqual({ offset: 1, timestamp: 200, leaderEpoch: 0 });
    // The log holds an answer (offset 2, timestamp 300), but consumers cannot read it yet.
    expect(await leader.replica(TOPIC_ID, 0)?.log.offsetForTimestamp(250)).toEqual({ offset: 2, timestamp: 300 });
    expect(await at(250)).toBeUndefined();
    expect(await at(MAX_TIMESTAMP)).toBeUndefined();

    b.resumeFetches(2);
    await pollUntil('the high watermark to cover the second batch', () => leader.offsets(TOPIC_ID, 0).highWatermark === 4, 5000);
    expect(await at(250)).toEqual({ offset: 2, timestamp: 300, leaderEpoch: 0 });
    expect(await at(MAX_TIMESTAMP)).toEqual({ offset: 2, timestamp: 300, leaderEpoch: 0 });
    expect(await at(LATEST_TIMESTAMP)).toEqual({ offset: 4, timestamp: -1, leaderEpoch: 0 });
    expect(await at(301)).toBeUndefined();
  });

  it('refuses on a follower and refuses other negative timestamps', async () => {
    const b = await ReplicaBrokers.start([1, 2], { replicaLagTimeMaxMs: 60_000 });
    brokers = b;
    b.commit(...bootRecords());
    await b.settled();
    await expect(b.manager(2).offsetForTimestamp(TOPIC_ID, 0, 0)).rejects.toMatchObject({ errorName: 'NOT_LEADER_OR_FOLLOWER' });
    const refused = b.manager(1).offsetForTimestamp(TOPIC_ID, 0, -4);
    await expect(refused).rejects.toBeInstanceOf(RunnelError);
    await expect(refused).rejects.toMatchObject({ errorName: 'INVALID_REQUEST' });
  });
});

describe('ReplicaManager.endOffsetForEpoch (OffsetForLeaderEpoch on the leader)', () => {
  it('answers where an older epoch ended, the log end for the current one, -1/-1 above every epoch, and only on the leader', async () => {
    const b = await ReplicaBrokers.start([1, 2], { replicaLagTimeMaxMs: 60_000 });
    brokers = b;
    b.commit(...bootRecords());
    await b.settled();
    await b.manager(1).produce(TOPIC_ID, 0, batchAt([100, 200]), -1, 3000);
    // Leadership moves to broker 2 (leader epoch 1), which appends three more records.
    b.commit({ type: RecordType.PartitionChange, v: 1, topicId: TOPIC_ID, partition: 0, leader: 2 });
    await b.settled();
    const leader = b.manager(2);
    await pollUntil('broker 2 to lead', () => leader.replica(TOPIC_ID, 0)?.role === 'leader', 5000);
    await leader.produce(TOPIC_ID, 0, batchAt([300, 400, 500]), 1, 3000);

    expect(leader.endOffsetForEpoch(TOPIC_ID, 0, 0)).toEqual({ epoch: 0, endOffset: 2 });
    expect(leader.endOffsetForEpoch(TOPIC_ID, 0, 1)).toEqual({ epoch: 1, endOffset: 5 });
    expect(leader.endOffsetForEpoch(TOPIC_ID, 0, 7)).toEqual({ epoch: -1, endOffset: -1 });
    expect(() => b.manager(1).endOffsetForEpoch(TOPIC_ID, 0, 0)).toThrow(expect.objectContaining({ errorName: 'NOT_LEADER_OR_FOLLOWER' }) as Error);
    // ListOffsets names the epoch that wrote the record found; latest names the current one.
    await pollUntil('the high watermark to cover epoch 1', () => leader.offsets(TOPIC_ID, 0).highWatermark === 5, 5000);
    expect(await leader.offsetForTimestamp(TOPIC_ID, 0, EARLIEST_TIMESTAMP)).toEqual({ offset: 0, timestamp: -1, leaderEpoch: 0 });
    expect(await leader.offsetForTimestamp(TOPIC_ID, 0, 150)).toEqual({ offset: 1, timestamp: 200, leaderEpoch: 0 });
    expect(await leader.offsetForTimestamp(TOPIC_ID, 0, 250)).toEqual({ offset: 2, timestamp: 300, leaderEpoch: 1 });
    expect(await leader.offsetForTimestamp(TOPIC_ID, 0, LATEST_TIMESTAMP)).toEqual({ offset: 5, timestamp: -1, leaderEpoch: 1 });
  });
});

describe('CurrentLeaderEpoch on the leader (KIP-320, Kafka Partition.localLogWithEpochOrThrow)', () => {
  it('serves the current epoch or -1, fences an older one, and calls a newer one unknown, for reads, ListOffsets and OffsetForLeaderEpoch', async () => {
    const b = await ReplicaBrokers.start([1, 2], { replicaLagTimeMaxMs: 60_000 });
    brokers = b;
    b.commit(...bootRecords());
    await b.settled();
    b.commit({ type: RecordType.PartitionChange, v: 1, topicId: TOPIC_ID, partition: 0, leader: 2 });
    await b.settled();
    const leader = b.manager(2);
    await pollUntil('broker 2 to lead at epoch 1', () => leader.replica(TOPIC_ID, 0)?.role === 'leader', 5000);
    await leader.produce(TOPIC_ID, 0, batchAt([100]), 1, 3000);
    await pollUntil('the high watermark to cover the batch', () => leader.offsets(TOPIC_ID, 0).highWatermark === 1, 5000);

    for (const current of [-1, 1]) {
      expect((await leader.consume(TOPIC_ID, 0, 0, 1024, 0, current)).records.length).toBeGreaterThan(0);
      expect(await leader.offsetForTimestamp(TOPIC_ID, 0, LATEST_TIMESTAMP, current)).toEqual({ offset: 1, timestamp: -1, leaderEpoch: 1 });
      expect(leader.endOffsetForEpoch(TOPIC_ID, 0, 1, current)).toEqual({ epoch: 1, endOffset: 1 });
    }
    for (const [current, errorName] of [[0, 'FENCED_LEADER_EPOCH'], [2, 'UNKNOWN_LEADER_EPOCH']] as const) {
      await expect(leader.consume(TOPIC_ID, 0, 0, 1024, 0, current)).rejects.toMatchObject({ errorName });
      await expect(leader.offsetForTimestamp(TOPIC_ID, 0, LATEST_TIMESTAMP, current)).rejects.toMatchObject({ errorName });
      expect(() => leader.endOffsetForEpoch(TOPIC_ID, 0, 1, current)).toThrow(expect.objectContaining({ errorName }) as Error);
    }
  });
});
