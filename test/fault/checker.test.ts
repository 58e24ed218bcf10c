import { describe, expect, it } from 'vitest';
import { checkHistory } from './checker.ts';
import type { ReplicaView } from './checker.ts';
import type { Attempt } from './workload.ts';

// The checker on hand-made histories: a clean one passes, and each kind of broken log is named.

const ok = (producer: number, seq: number, partition: number, values: string[], offsets: number[]): Attempt =>
  ({ producer, seq, node: 1, partition, values, startMs: seq, endMs: seq + 1, outcome: 'ok', offsets, detail: '200' });
const lost = (producer: number, seq: number, partition: number, values: string[]): Attempt =>
  ({ producer, seq, node: 2, partition, values, startMs: seq, endMs: seq + 1, outcome: 'unknown', detail: 'client timeout' });

type Rec = [offset: number, value: string, epoch: number];
const replica = (node: number, role: string, records: Rec[], hw = records.length, logStartOffset = 0): ReplicaView => ({
  node,
  partition: 0,
  role,
  leaderEpoch: 1,
  logStartOffset,
  logEndOffset: records.length === 0 ? logStartOffset : (records.at(-1)?.[0] ?? 0) + 1,
  highWatermark: hw,
  records: records.map(([offset, value, epoch]) => ({ offset, value, epoch })),
});
const same = (records: Rec[], hw?: number): ReplicaView[] => [replica(1, 'leader', records, hw), replica(2, 'follower', records, hw), replica(3, 'follower', records, hw)];

const history = [ok(0, 0, 0, ['a', 'b'], [0, 1]), lost(0, 1, 0, ['c']), ok(0, 2, 0, ['c'], [3]), ok(1, 0, 0, ['d'], [4])];
const clean: Rec[] = [[0, 'a', 0], [1, 'b', 0], [2, 'c', 0], [3, 'c', 1], [4, 'd', 1]];

describe('the fault checker', () => {
  it('passes a clean history, counting the retried value found twice as an allowed duplicate', () => {
    const r = checkHistory(history, same(clean), 1);
    expect(r.violations).toEqual([]);
    expect(r).toMatchObject({ ackedRecords: 4, checkedRecords: 5, duplicates: 1, unackedInLog: 1, requests: { ok: 3, failed: 0, unknown: 1 } });
  });

  it('names an acknowledged record that is gone from the log as lost', () => {
    const truncated: Rec[] = clean.slice(0, 4);
    const r = checkHistory(history, same(truncated), 1);
    expect(r.violationCounts.lost).toBe(3);
    expect(r.violations[0]?.message).toContain('acked d');
  });

  it('names an acknowledged record overwritten by another value as lost', () => {
    const overwritten: Rec[] = [[0, 'a', 0], [1, 'x', 2], [2, 'c', 2], [3, 'c', 2], [4, 'd', 2]];
    const r = checkHistory([...history, lost(2, 0, 0, ['x'])], same(overwritten), 1);
    expect(r.violationCounts.lost).toBe(3);
  });

  it('names a follower that kept a diverging record below the HW', () => {
    const forked: Rec[] = [[0, 'a', 0], [1, 'b', 0], [2, 'z', 0], [3, 'c', 1], [4, 'd', 1]];
    const r = checkHistory([...history, lost(2, 0, 0, ['z'])], [replica(1, 'leader', clean), replica(2, 'follower', forked), replica(3, 'follower', clean)], 1);
    expect(r.violationCounts.divergent).toBe(1);
  });

  it('names a gap below the HW, a phantom value, and a value duplicated without any failed request', () => {
    const gap: Rec[] = [[0, 'a', 0], [1, 'b', 0], [3, 'c', 1], [4, 'd', 1]];
    expect(checkHistory(history, same(gap), 1).violationCounts.gap).toBe(3);
    const phantom: Rec[] = [...clean, [5, 'never-sent', 1]];
    expect(checkHistory(history, same(phantom), 1).violationCounts.phantom).toBe(1);
    const dup: Rec[] = [...clean, [5, 'd', 1]];
    expect(checkHistory(history, same(dup), 1).violationCounts.duplicate).toBe(1);
  });

  it('names a later ack of one producer with a lower offset on the same partition', () => {
    const reordered = [ok(0, 0, 0, ['a'], [1]), ok(0, 1, 0, ['b'], [0])];
    const r = checkHistory(reordered, same([[0, 'b', 0], [1, 'a', 0]]), 1);
    expect(r.violationCounts.order).toBe(1);
    expect(r.violationCounts.lost).toBeUndefined();
  });

  it('names replicas whose high watermarks differ, and epochs going down along a log', () => {
    const r = checkHistory(history, [replica(1, 'leader', clean), replica(2, 'follower', clean, 4), replica(3, 'follower', clean)], 1);
    expect(r.violationCounts.divergent).toBe(1);
    const down: Rec[] = [[0, 'a', 0], [1, 'b', 2], [2, 'c', 1], [3, 'c', 2], [4, 'd', 2]];
    expect(checkHistory(history, same(down), 1).violationCounts['epoch-order']).toBe(3);
  });
});
