import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assign, tpKey } from '../../src/groups/assignor.ts';
import type { AssignmentStrategy, TopicPartition } from '../../src/groups/assignor.ts';

/** `t0p2` -> { topic: 't0', partition: 2 }; topics here are `t<digits>`. */
const tp = (s: string): TopicPartition => {
  const m = /^(t\d+)p(\d+)$/.exec(s);
  if (m === null) throw new Error(`bad tp ${s}`);
  return { topic: m[1] ?? '', partition: Number(m[2]) };
};
const tps = (...s: string[]): TopicPartition[] => s.map(tp);
const show = (a: ReadonlyMap<string, readonly TopicPartition[]>): Record<string, string[]> =>
  Object.fromEntries([...a].map(([id, list]) => [id, list.map((x) => `${x.topic}p${x.partition}`)]));
const counts = (o: Record<string, number>): Map<string, number> => new Map(Object.entries(o));

/** Partitions taken from a member still present (a departed member's partitions do not count). */
function moved(before: ReadonlyMap<string, readonly TopicPartition[]>, after: ReadonlyMap<string, readonly TopicPartition[]>): number {
  const ownerBefore = new Map<string, string>();
  for (const [id, list] of before) for (const x of list) ownerBefore.set(tpKey(x), id);
  let n = 0;
  for (const [id, list] of after) for (const x of list) {
    const was = ownerBefore.get(tpKey(x));
    if (was !== undefined && was !== id && after.has(was)) n++;
  }
  return n;
}

const two = [
  { memberId: 'C0', topics: ['t0', 't1'] },
  { memberId: 'C1', topics: ['t0', 't1'] },
];

describe('assign range (Kafka RangeAssignor)', () => {
  it('splits each topic into contiguous ranges, the first members getting the extra (Kafka javadoc example)', () => {
    expect(show(assign('range', two, counts({ t0: 3, t1: 3 })))).toEqual({
      C0: ['t0p0', 't0p1', 't1p0', 't1p1'],
      C1: ['t0p2', 't1p2'],
    });
  });

  it.each([
    [7, 3, [3, 2, 2]],
    [2, 3, [1, 1, 0]],
    [6, 3, [2, 2, 2]],
  ])('gives %i partitions over %i members as %j', (n, members, sizes) => {
    const ms = Array.from({ length: members }, (_, i) => ({ memberId: `m${i}`, topics: ['t0'] }));
    const out = assign('range', ms, counts({ t0: n }));
    expect(ms.map((m) => out.get(m.memberId)?.length)).toEqual(sizes);
  });

  it('orders members by memberId, not by the order they are given in', () => {
    const out = assign('range', [...two].reverse(), counts({ t0: 3, t1: 3 }));
    expect(show(out)['C0']).toEqual(['t0p0', 't0p1', 't1p0', 't1p1']);
  });

  it('splits each topic only among its own subscribers (mixed subscriptions)', () => {
    const ms = [
      { memberId: 'A', topics: ['t0'] },
      { memberId: 'B', topics: ['t0', 't1'] },
      { memberId: 'C', topics: ['t1'] },
    ];
    expect(show(assign('range', ms, counts({ t0: 3, t1: 2 })))).toEqual({
      A: ['t0p0', 't0p1'],
      B: ['t0p2', 't1p0'],
      C: ['t1p1'],
    });
  });
});

describe('assign roundrobin (Kafka RoundRobinAssignor)', () => {
  it('deals sorted partitions over sorted members (Kafka javadoc example)', () => {
    expect(show(assign('roundrobin', two, counts({ t0: 3, t1: 3 })))).toEqual({
      C0: ['t0p0', 't0p2', 't1p1'],
      C1: ['t0p1', 't1p0', 't1p2'],
    });
  });

  it('skips members not subscribed to a topic and carries on from where it stopped', () => {
    // Kafka RoundRobinAssignorTest.testMultipleConsumersMixedTopics.
    const ms = [
      { memberId: 'consumer1', topics: ['t0'] },
      { memberId: 'consumer2', topics: ['t0', 't1'] },
      { memberId: 'consumer3', topics: ['t0'] },
    ];
    expect(show(assign('roundrobin', ms, counts({ t0: 3, t1: 2 })))).toEqual({
      consumer1: ['t0p0'],
      consumer2: ['t0p1', 't1p0', 't1p1'],
      consumer3: ['t0p2'],
    });
  });
});

describe.each<AssignmentStrategy>(['range', 'roundrobin'])('assign %s, common rules', (strategy) => {
  it('leaves members beyond the partition count with nothing', () => {
    const ms = ['a', 'b', 'c', 'd'].map((memberId) => ({ memberId, topics: ['t0'] }));
    const out = assign(strategy, ms, counts({ t0: 3 }));
    expect([...out.values()].map((l) => l.length)).toEqual([1, 1, 1, 0]);
  });

  it('gives nothing for topics that do not exist and to members with no subscription', () => {
    const out = assign(strategy, [{ memberId: 'a', topics: ['t9'] }, { memberId: 'b', topics: [] }], counts({ t0: 3 }));
    expect(show(out)).toEqual({ a: [], b: [] });
  });

  it('refuses duplicate member ids', () => {
    expect(() => assign(strategy, [{ memberId: 'a', topics: ['t0'] }, { memberId: 'a', topics: ['t0'] }], counts({ t0: 1 }))).toThrow(/duplicate member id a/);
  });

  it('equals the plain strategy when the previous assignment is empty and all subscribe alike', () => {
    // roundrobin over one subscription is already balanced; range only over one topic.
    const ms = ['a', 'b', 'c'].map((memberId) => ({ memberId, topics: strategy === 'range' ? ['t0'] : ['t0', 't1'] }));
    const c = counts({ t0: 7, t1: 5 });
    expect(show(assign(strategy, ms, c, new Map()))).toEqual(show(assign(strategy, ms, c)));
  });
});

describe('assign with a previous assignment (sticky)', () => {
  const members = (...ids: string[]): { memberId: string; topics: string[] }[] => ids.map((memberId) => ({ memberId, topics: ['t0', 't1'] }));
  const c = counts({ t0: 3, t1: 3 });

  it.each<AssignmentStrategy>(['range', 'roundrobin'])('%s: a joining member takes only its share; nobody else moves', (strategy) => {
    const before = assign(strategy, members('a', 'b'), c);
    const after = assign(strategy, members('a', 'b', 'c'), c, before);
    expect(after.get('c')).toHaveLength(2);
    expect(moved(before, after)).toBe(2);
    expect([...after.values()].map((l) => l.length)).toEqual([2, 2, 2]);
  });

  it.each<AssignmentStrategy>(['range', 'roundrobin'])('%s: when a member leaves only its partitions move', (strategy) => {
    const before = assign(strategy, members('a', 'b', 'c'), c);
    const prev = new Map(before);
    const after = assign(strategy, members('a', 'c'), c, prev);
    expect(moved(before, after)).toBe(0);
    for (const x of before.get('a') ?? []) expect(after.get('a')).toContainEqual(x);
    for (const x of before.get('c') ?? []) expect(after.get('c')).toContainEqual(x);
    expect([...after.values()].map((l) => l.length)).toEqual([3, 3]);
  });

  it('keeps one partition where the plain range assignor would move two', () => {
    const one = counts({ t0: 3 });
    const ms = (...ids: string[]): { memberId: string; topics: string[] }[] => ids.map((memberId) => ({ memberId, topics: ['t0'] }));
    const before = new Map([['a', tps('t0p0', 't0p1')], ['b', tps('t0p2')]]);
    // Plain range over a, b, c: a [p0], b [p1], c [p2] -> b moves p2 and gets p1.
    expect(moved(before, assign('range', ms('a', 'b', 'c'), one))).toBe(2);
    const sticky = assign('range', ms('a', 'b', 'c'), one, before);
    expect(show(sticky)).toEqual({ a: ['t0p0'], b: ['t0p2'], c: ['t0p1'] });
  });

  it('rebalances an overloaded previous assignment down to within one', () => {
    const before = new Map([['a', tps('t0p0', 't0p1', 't0p2', 't1p0', 't1p1', 't1p2')]]);
    const after = assign('roundrobin', members('a', 'b', 'c'), c, before);
    expect([...after.values()].map((l) => l.length)).toEqual([2, 2, 2]);
    expect(after.get('a')).toEqual(tps('t0p0', 't0p1'));
  });

  it('drops previous partitions that no longer exist or are no longer subscribed', () => {
    const before = new Map([['a', tps('t0p0', 't0p5', 't2p0')], ['gone', tps('t0p1')]]);
    const after = assign('range', [{ memberId: 'a', topics: ['t0'] }], counts({ t0: 2, t2: 1 }), before);
    expect(show(after)).toEqual({ a: ['t0p0', 't0p1'] });
  });
});

describe('assign invariants (property)', () => {
  const arb = fc.record({
    strategy: fc.constantFrom<AssignmentStrategy>('range', 'roundrobin'),
    counts: fc.tuple(fc.nat(6), fc.nat(6), fc.nat(6)),
    members: fc.uniqueArray(fc.record({ memberId: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), topics: fc.subarray(['t0', 't1', 't2']) }), { selector: (m) => m.memberId, maxLength: 6 }),
    previous: fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'g'), fc.constantFrom('t0', 't1', 't2'), fc.nat(7)), { maxLength: 20 }),
    usePrevious: fc.boolean(),
  });

  it('assigns every subscribed partition to exactly one subscriber, deterministically, balanced among like subscribers', () => {
    fc.assert(
      fc.property(arb, ({ strategy, counts: [n0, n1, n2], members, previous, usePrevious }) => {
        const c = counts({ t0: n0, t1: n1, t2: n2 });
        const prev = new Map<string, TopicPartition[]>();
        for (const [id, topic, partition] of previous) prev.set(id, [...(prev.get(id) ?? []), { topic, partition }]);
        const out = assign(strategy, members, c, usePrevious ? prev : undefined);
        expect(assign(strategy, [...members].reverse(), c, usePrevious ? prev : undefined)).toEqual(out);

        const owner = new Map<string, string>();
        for (const [id, list] of out) {
          const m = members.find((x) => x.memberId === id);
          for (const x of list) {
            expect(m?.topics).toContain(x.topic);
            expect(owner.has(tpKey(x))).toBe(false);
            owner.set(tpKey(x), id);
          }
        }
        const subscribed = new Set(members.flatMap((m) => m.topics));
        let expected = 0;
        for (const [t, n] of c) if (subscribed.has(t)) expected += n;
        expect(owner.size).toBe(expected);

        if (usePrevious) {
          const byClass = new Map<string, number[]>();
          for (const m of members) {
            const key = [...m.topics].sort().join(',');
            byClass.set(key, [...(byClass.get(key) ?? []), out.get(m.memberId)?.length ?? 0]);
          }
          for (const sizes of byClass.values()) expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 500 },
    );
  });
});
