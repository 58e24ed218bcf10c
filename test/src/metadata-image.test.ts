import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { MetadataImage, NO_LEADER } from '../../src/metadata/image.ts';
import type { MetadataRecord } from '../../src/metadata/records.ts';
import { decodeRecords, encodeRecords, RecordType } from '../../src/metadata/records.ts';

const register = (brokerId: number): MetadataRecord => ({
  type: RecordType.RegisterBroker,
  v: 1,
  brokerId,
  incarnationId: `inc-${brokerId}`,
  host: '127.0.0.1',
  httpPort: 8080 + brokerId,
  rpcPort: 19090 + brokerId,
});

const history: MetadataRecord[] = [
  register(1),
  register(2),
  // A registration with the Kafka listener's port; 1 and 2 are as written before the field existed.
  { ...register(3), kafkaPort: 9093 } as MetadataRecord,
  { type: RecordType.UnfenceBroker, v: 1, brokerId: 1 },
  { type: RecordType.UnfenceBroker, v: 1, brokerId: 2 },
  { type: RecordType.CreateTopic, v: 1, name: 'orders', topicId: 't-1', configs: { 'min.insync.replicas': '2' } },
  { type: RecordType.Partition, v: 1, topicId: 't-1', partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 0 },
  { type: RecordType.Partition, v: 1, topicId: 't-1', partition: 1, replicas: [2, 3, 1], isr: [2, 3, 1], leader: 2, leaderEpoch: 0, partitionEpoch: 0 },
  { type: RecordType.PartitionChange, v: 1, topicId: 't-1', partition: 0, isr: [2, 3] , leader: 2 },
  { type: RecordType.PartitionChange, v: 1, topicId: 't-1', partition: 1, isr: [2] },
  { type: RecordType.ConfigChange, v: 1, topicId: 't-1', name: 'retention.ms', value: '1000' },
  { type: RecordType.ConfigChange, v: 1, topicId: 't-1', name: 'min.insync.replicas', value: null },
  { type: RecordType.FenceBroker, v: 1, brokerId: 2 },
  { type: RecordType.CreateTopic, v: 1, name: 'gone', topicId: 't-2', configs: {} },
  { type: RecordType.DeleteTopic, v: 1, topicId: 't-2' },
  { type: RecordType.ProducerIds, v: 1, brokerId: 1, incarnationId: 'inc-1', nextProducerId: 1000 },
  { type: RecordType.ProducerIds, v: 1, brokerId: 3, incarnationId: 'inc-3', nextProducerId: 2000 },
];

const replayAll = (records: readonly MetadataRecord[]): MetadataImage => {
  const img = new MetadataImage();
  for (const r of records) img.replay(r);
  return img;
};

describe('metadata image', () => {
  it('is the state the records describe', () => {
    const img = replayAll(history);
    expect(img.allBrokers().map((b) => [b.id, b.fenced])).toEqual([[1, false], [2, true], [3, true]]);
    expect(img.allBrokers().map((b) => b.kafkaPort)).toEqual([undefined, undefined, 9093]);
    const t = img.topic('orders');
    expect(t?.configs).toEqual({ 'retention.ms': '1000' });
    expect(t?.partitions[0]).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 1, partitionEpoch: 1 });
    // An ISR-only change bumps the partition epoch but not the leader epoch.
    expect(t?.partitions[1]).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 0, partitionEpoch: 1 });
    expect(img.topic('gone')).toBeUndefined();
    expect(img.allTopics().map((x) => x.name)).toEqual(['orders']);
    expect(NO_LEADER).toBe(-1);
    expect(img.nextProducerId()).toBe(2000);
  });

  it('refuses a ProducerIds record that would hand out an id again, and reads a checkpoint from before producer ids as none handed out', () => {
    const img = replayAll(history);
    expect(() => img.replay({ type: RecordType.ProducerIds, v: 1, brokerId: 2, incarnationId: 'inc-2', nextProducerId: 2000 })).toThrow(/producer ids go back from 2000 to 2000/);
    const old = new Packr({ useRecords: false, mapsAsObjects: true }).pack({ brokers: img.allBrokers(), topics: img.allTopics() });
    const restored = MetadataImage.decode(old);
    expect(restored.nextProducerId()).toBe(0);
    expect(restored.allTopics()).toEqual(img.allTopics());
  });

  it('survives encode/decode unchanged, and replaying the tail after a checkpoint gives the same image', () => {
    for (let cut = 0; cut <= history.length; cut++) {
      const restored = MetadataImage.decode(replayAll(history.slice(0, cut)).encode());
      for (const r of history.slice(cut)) restored.replay(r);
      expect(restored.encode()).toEqual(replayAll(history).encode());
    }
  });

  it('round-trips record batches through the entry encoding', () => {
    expect(decodeRecords(encodeRecords(history))).toEqual(history);
  });

  it('rejects an entry with an unknown record type', () => {
    expect(() => decodeRecords(encodeRecords([{ type: 99 } as unknown as MetadataRecord]))).toThrow(/unknown metadata record type 99/);
  });
});
