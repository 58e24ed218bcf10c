import { describe, expect, it } from 'vitest';
import { MetadataImage } from '../../src/metadata/image.ts';
import type { MetadataRecord } from '../../src/metadata/records.ts';
import { RecordType } from '../../src/metadata/records.ts';
import { IsrChangeCounter } from '../../src/metrics/isr-change-counter.ts';
import type { IsrChangeKind } from '../../src/metrics/node-metrics.ts';
import { NodeMetrics } from '../../src/metrics/node-metrics.ts';

const topic: MetadataRecord[] = [
  { type: RecordType.CreateTopic, v: 1, name: 'orders', topicId: 't-1', configs: {} },
  { type: RecordType.Partition, v: 1, topicId: 't-1', partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 0 },
  { type: RecordType.Partition, v: 1, topicId: 't-1', partition: 1, replicas: [2, 3, 1], isr: [2, 3, 1], leader: 2, leaderEpoch: 0, partitionEpoch: 0 },
];

/** Every node applies the same entries; returns what each of nodes 1-3 counted. */
function countOnEveryNode(entries: readonly (readonly MetadataRecord[])[]): Map<number, IsrChangeKind[]> {
  const out = new Map<number, IsrChangeKind[]>();
  for (const id of [1, 2, 3]) {
    const image = new MetadataImage();
    const counted: IsrChangeKind[] = [];
    const counter = new IsrChangeCounter(id, image, (k) => counted.push(k));
    for (const entry of entries) {
      for (const r of entry) image.replay(r);
      counter.onMetadata(image, entry);
    }
    out.set(id, counted);
  }
  return out;
}

describe('ISR change counter', () => {
  it('counts each ISR change once in the cluster, on the node that leads the partition after it', () => {
    const counted = countOnEveryNode([
      topic,
      [{ type: RecordType.PartitionChange, v: 1, topicId: 't-1', partition: 0, isr: [1, 2] }],
      // The controller fences broker 2: partition 1 gets a new leader and a smaller ISR at once.
      [{ type: RecordType.PartitionChange, v: 1, topicId: 't-1', partition: 1, isr: [3, 1], leader: 3 }],
      [{ type: RecordType.PartitionChange, v: 1, topicId: 't-1', partition: 0, isr: [1, 2, 3] }],
      // A leader change alone is no ISR change.
      [{ type: RecordType.PartitionChange, v: 1, topicId: 't-1', partition: 0, leader: 2 }],
    ]);
    expect(counted.get(1)).toEqual(['shrink', 'expand']);
    expect(counted.get(2)).toEqual([]);
    expect(counted.get(3)).toEqual(['shrink']);
  });

  it('counts nothing for the ISRs a new topic starts with, nor after the topic is deleted', () => {
    const counted = countOnEveryNode([
      topic,
      [{ type: RecordType.DeleteTopic, v: 1, topicId: 't-1' }],
      [{ type: RecordType.CreateTopic, v: 1, name: 'orders', topicId: 't-2', configs: {} }, { type: RecordType.Partition, v: 1, topicId: 't-2', partition: 0, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }],
    ]);
    expect([...counted.values()].flat()).toEqual([]);
  });

  it('counts a swap of replicas in one change as a shrink and an expansion', () => {
    const counted = countOnEveryNode([topic, [{ type: RecordType.PartitionChange, v: 1, topicId: 't-1', partition: 0, isr: [1, 2] }], [{ type: RecordType.PartitionChange, v: 1, topicId: 't-1', partition: 0, isr: [1, 3] }]]);
    expect(counted.get(1)).toEqual(['shrink', 'shrink', 'expand']);
  });
});

describe('raft leader changes', () => {
  const changes = async (m: NodeMetrics): Promise<number> => {
    const line = (await m.scrape()).split('\n').find((l) => l.startsWith('runnel_raft_leader_changes_total'));
    return Number(line?.split(' ')[1]);
  };

  it('counts a new known leader, also the same one re-elected after a gap, as etcd does', async () => {
    const m = new NodeMetrics(1);
    expect(await changes(m)).toBe(0);
    for (const leader of [0, 2, 2, 0, 2, 3, 0, 0, 1]) m.noteRaftLeader(leader);
    expect(await changes(m)).toBe(4);
  });
});
