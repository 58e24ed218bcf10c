import { describe, expect, it } from 'vitest';
import { buildBatch } from '../../storage/record-batch.ts';
import type { GroupRecord } from '../../src/groups/classic-group.ts';
import { decodeOffsetsTopic, encodeGroupDeletion, encodeGroupRecord, encodeOffsetCommit, encodeOffsetDeletion, offsetsPartitionFor } from '../../src/groups/offsets-topic.ts';

const record: GroupRecord = {
  protocolType: 'consumer',
  generation: 7,
  protocol: 'range',
  leader: 'm-1',
  members: [
    {
      memberId: 'm-1',
      groupInstanceId: 'i-1',
      clientId: 'kcat',
      clientHost: '/127.0.0.1',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 300_000,
      subscription: Buffer.from([0, 0, 0, 0, 0, 1]),
      assignment: Buffer.from([0, 1, 2, 255]),
      protocols: [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 1]) }, { name: 'roundrobin', metadata: Buffer.from([9]) }],
    },
    { memberId: 'm-2', groupInstanceId: null, clientId: 'runnel-rest-node-2', clientHost: '127.0.0.1', sessionTimeoutMs: 6000, rebalanceTimeoutMs: 6000, subscription: Buffer.alloc(0), assignment: Buffer.alloc(0) },
  ],
};

describe('the offsets topic: commits, group records and tombstones', () => {
  it('reads back in log order what the coordinator writes, bytes included', () => {
    const now = 1_700_000_000_000;
    const entries = [
      encodeOffsetCommit({ v: 1, group: 'g', topic: 'orders', partition: 2, offset: 41, metadata: 'm' }),
      encodeGroupRecord('g', record),
      encodeOffsetDeletion('g', 'orders', 2),
      encodeGroupDeletion('g'),
    ];
    const decoded = decodeOffsetsTopic(buildBatch(entries.map((e) => ({ ...e, headers: [], timestamp: now }))));
    expect(decoded.map((e) => e.kind)).toEqual(['commit', 'group', 'deleteOffset', 'deleteGroup']);
    expect(decoded[0]).toEqual({ kind: 'commit', commit: { v: 1, group: 'g', topic: 'orders', partition: 2, offset: 41, metadata: 'm' } });
    const g = decoded[1];
    if (g?.kind !== 'group') throw new Error('expected the group record second');
    expect(g.record.members.map((m) => [m.memberId, [...m.subscription], [...m.assignment], m.protocols?.map((p) => [p.name, [...p.metadata]])])).toEqual([
      ['m-1', [0, 0, 0, 0, 0, 1], [0, 1, 2, 255], [['range', [0, 0, 0, 0, 0, 1]], ['roundrobin', [9]]]],
      ['m-2', [], [], undefined],
    ]);
    expect({ ...g.record, members: [] }).toEqual({ ...record, members: [] });
    expect(decoded[2]).toEqual({ kind: 'deleteOffset', group: 'g', topic: 'orders', partition: 2 });
  });

  it('skips values it does not know (a newer version, another kind, not a group) instead of failing the load', () => {
    const junk = [{ v: 3, kind: 'group', group: 'g' }, { v: 2, kind: 'rename', group: 'g' }, { v: 1, topic: 't' }, { v: 2, kind: 'deleteOffset', group: 'g', topic: 5 }].map((v) => ({ key: Buffer.from('k'), value: Buffer.from(JSON.stringify(v)), headers: [], timestamp: 1 }));
    expect(decodeOffsetsTopic(buildBatch(junk))).toEqual([]);
  });

  it('puts a group on the partition Kafka would (abs(hashCode) % partitions)', () => {
    // Java's String.hashCode, computed independently: "my-group" -> -1906497762, "billing" -> -109829509
    // (negative: abs first), "console-consumer-1" -> 35782224.
    expect(offsetsPartitionFor('my-group', 50)).toBe(1906497762 % 50);
    expect(offsetsPartitionFor('billing', 50)).toBe(109829509 % 50);
    expect(offsetsPartitionFor('console-consumer-1', 50)).toBe(35782224 % 50);
  });
});
