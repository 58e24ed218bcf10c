import { describe, expect, it } from 'vitest';
import { checkConsumerHistory, checkHistory, committedLowerBound } from './checker.ts';
import type { ReplicaView } from './checker.ts';
import type { CommitAttempt, Delivery } from './consumer-workload.ts';
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

// The consumer-group checker on hand-made histories over one partition holding a..e at 0..4.
const log: Rec[] = [[0, 'a', 0], [1, 'b', 0], [2, 'c', 0], [3, 'd', 0], [4, 'e', 0]];
const values = ['a', 'b', 'c', 'd', 'e'];
/** Offsets `from..to` delivered to `member` by one poll sent at `at` (answered 10 ms later). */
const polled = (member: string, at: number, from: number, to: number): Delivery[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ partition: 0, offset: from + i, value: values[from + i] ?? null, member, pollStartMs: at, pollEndMs: at + 10 }));
/** A Kafka member's batch of `from..to`: its pollStartMs is when its assignment began (its position was read after), pollEndMs when the batch was handed over. */
const batch = (member: string, assignedAt: number, handedAt: number, from: number, to: number): Delivery[] =>
  polled(member, assignedAt, from, to).map((d) => ({ ...d, pollEndMs: handedAt }));
const commit = (member: string, offset: number, startMs: number, outcome: CommitAttempt['outcome'] = 'ok', endMs = startMs + 5): CommitAttempt =>
  ({ member, partition: 0, offset, startMs, endMs, outcome, detail: outcome });
const consumed = (deliveries: Delivery[], commits: CommitAttempt[], committed: number | null) =>
  checkConsumerHistory({ deliveries, commits, polls: 3, recreations: 1 }, new Map([[0, committed]]), same(log), 1);

describe('the consumer-group checker', () => {
  it('passes a handoff that re-delivers only what was read after the last commit', () => {
    // m0 reads 0..3 and commits 1; its node dies; m1 resumes at 2 and reads 2..4, commits 4.
    const r = consumed([...polled('m0-0', 0, 0, 1), ...polled('m0-0', 20, 2, 3), ...polled('m1-0', 100, 2, 4)], [commit('m0-0', 1, 12), commit('m1-0', 4, 120)], 5);
    expect(r.violations).toEqual([]);
    expect(r).toMatchObject({ delivered: 7, distinct: 5, redelivered: 2, commits: { ok: 2, failed: 0, unknown: 0 }, recreations: 1 });
  });

  it('names offsets below the final committed offset that no member was given as skipped', () => {
    // m1 resumes at 3 although only 0..1 were read and committed up to 2: offset 2 is skipped.
    const r = consumed([...polled('m0-0', 0, 0, 1), ...polled('m1-0', 100, 3, 4)], [commit('m0-0', 1, 12), commit('m1-0', 4, 120)], 5);
    expect(r.violationCounts).toEqual({ skipped: 1 });
    expect(r.violations[0]?.message).toContain('offsets 2..2');
    // A committed offset beyond the log's end skips offsets that do not even exist.
    const beyond = consumed(polled('m0-0', 0, 0, 4), [commit('m0-0', 5, 12)], 6);
    expect(beyond.violationCounts).toEqual({ skipped: 1 });
    expect(beyond.violations[0]?.message).toContain('beyond the log');
  });

  it('names a record delivered again below a commit that had already succeeded', () => {
    // m0 read 0..3 and committed 3 (committed offset 4); m1, polling after that, starts at 0.
    const r = consumed([...polled('m0-0', 0, 0, 3), ...polled('m1-0', 100, 0, 4)], [commit('m0-0', 3, 12), commit('m1-0', 4, 120)], 5);
    expect(r.violationCounts).toEqual({ 'redelivered-below-commit': 4 });
    expect(r.violations[0]?.message).toContain('committed offset was already at least 4');
    expect(r.redelivered).toBe(4);
  });

  it('allows a redelivery that a commit still in flight, of unknown outcome or refused could explain', () => {
    const deliveries = [...polled('m0-0', 0, 0, 3), ...polled('m1-0', 100, 0, 4)];
    // The commit was answered only after the poll that re-read 0..3 was sent.
    expect(consumed(deliveries, [commit('m0-0', 3, 90, 'ok', 150)], 4).violations).toEqual([]);
    // An earlier commit of 0 with an unknown outcome may have landed after the commit of 3:
    // the committed offset was surely at least 1 then, so only offset 0 is surely below it.
    expect(consumed(deliveries, [commit('m0-0', 0, 5, 'unknown', 9), commit('m0-0', 3, 12)], 4).violationCounts).toEqual({ 'redelivered-below-commit': 1 });
    // A refused commit never moved the offset.
    expect(consumed(deliveries, [commit('m0-0', 3, 12, 'failed')], 0).violations).toEqual([]);
  });

  it('bounds a Kafka member\'s re-delivery by the commits that had succeeded when its assignment began', () => {
    // m0 read 0..3 and committed 3 at +12..17; k0 (a kafkajs member) was assigned the partition
    // at +100 and re-read from 0, handed over at +300: its position ignored a commit it must see.
    const r = consumed([...polled('m0-0', 0, 0, 3), ...batch('k0-0', 100, 300, 0, 4)], [commit('m0-0', 3, 12), commit('k0-0', 4, 310)], 5);
    expect(r.violationCounts).toEqual({ 'redelivered-below-commit': 4 });
    expect(r.violations[0]?.message).toContain('delivered again to k0-0 by a poll sent +100 ms');
    // m0's commit was answered only at +150, after k0's assignment began (+100): k0 may have read
    // the committed offset before it landed, though its batch came later (+300). Allowed.
    expect(consumed([...polled('m0-0', 0, 0, 3), ...batch('k0-0', 100, 300, 0, 4)], [commit('m0-0', 3, 90, 'ok', 150), commit('k0-0', 4, 310)], 5).violations).toEqual([]);
    // Its own commits count as anyone's: one lost is commit-lost, a gap it skipped is skipped.
    expect(consumed(batch('k0-0', 0, 20, 0, 4), [commit('k0-0', 4, 30)], 3).violationCounts).toEqual({ 'commit-lost': 1 });
    expect(consumed([...batch('k0-0', 0, 20, 0, 1), ...batch('k0-0', 0, 40, 3, 4)], [commit('k0-0', 4, 50)], 5).violationCounts).toEqual({ skipped: 1 });
  });

  it('takes the committed offset as low as a later overlapping commit could have set it', () => {
    const commits = [commit('m0-0', 3, 10, 'ok', 30), commit('m1-0', 1, 20, 'ok', 25)];
    expect(committedLowerBound(commits, 40)?.offset).toBe(2);
    // One sent after the other was answered supersedes it.
    expect(committedLowerBound([commit('m0-0', 1, 10, 'ok', 15), commit('m0-0', 3, 20, 'ok', 25)], 40)?.offset).toBe(4);
    expect(committedLowerBound(commits, 5)).toBeUndefined();
  });

  it('names a final committed offset below what the successful commits guarantee as commit-lost', () => {
    const r = consumed(polled('m0-0', 0, 0, 4), [commit('m0-0', 1, 12), commit('m0-0', 4, 30)], 2);
    expect(r.violationCounts).toEqual({ 'commit-lost': 1 });
    expect(r.violations[0]?.message).toContain('guarantee at least 5');
    // A later commit of 1 overlapping the commit of 4 could have set it back to 2: allowed.
    expect(consumed(polled('m0-0', 0, 0, 4), [commit('m0-0', 4, 30, 'ok', 50), commit('m1-0', 1, 40)], 2).violations).toEqual([]);
  });

  it('names a delivered value the final log does not have at that offset', () => {
    const wrong = polled('m0-0', 0, 0, 4).map((d) => (d.offset === 2 ? { ...d, value: 'z' } : d));
    const r = consumed([...wrong, { ...(wrong[0] as Delivery), offset: 7 }], [commit('m0-0', 4, 12)], 5);
    expect(r.violationCounts).toEqual({ 'consumed-mismatch': 2 });
  });
});
