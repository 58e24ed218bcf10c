import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tpKey } from '../../src/groups/assignor.ts';
import type { AssignmentStrategy, TopicPartition } from '../../src/groups/assignor.ts';
import { GroupMaxSizeReachedError, GroupState, MAX_MEMBERS } from '../../src/groups/group-state.ts';
import type { HeartbeatAnswer } from '../../src/groups/group-state.ts';

const SESSION_MS = 100;
const p = (partition: number, topic = 'orders'): TopicPartition => ({ topic, partition });
const orders3 = new Map([['orders', 3]]);

/**
 * A well-behaved consumer instance: it reads exactly what the last answer it RECEIVED allowed
 * (drops the rest at once) and reports that as `owned` in its next heartbeat.
 */
class Client {
  reading: TopicPartition[] = [];
  last: HeartbeatAnswer | undefined;

  constructor(
    readonly id: string,
    public topics: string[] = ['orders'],
    public strategy: AssignmentStrategy = 'range',
  ) {}

  poll(g: GroupState, nowMs: number, counts: ReadonlyMap<string, number> = orders3, lost = false): HeartbeatAnswer {
    const answer = g.heartbeat({ memberId: this.id, nodeId: 1, topics: this.topics, strategy: this.strategy, owned: this.reading, sessionTimeoutMs: SESSION_MS }, nowMs, counts);
    if (!lost) {
      this.reading = answer.allowed;
      this.last = answer;
    }
    return answer;
  }
}

const keys = (tps: readonly TopicPartition[] | undefined): string[] => (tps ?? []).map((x) => `${x.topic}-${x.partition}`).sort();

describe('GroupState', () => {
  it('splits three partitions between two members without overlap', () => {
    const g = new GroupState('g');
    const a = new Client('a');
    const b = new Client('b');
    // b joins after a took all three: orders-2 moves in four heartbeats (a learns to drop it,
    // a reports the drop, b is allowed it, b reports reading it).
    for (let round = 0; round < 4; round++) {
      a.poll(g, round);
      b.poll(g, round);
      expect(a.reading.filter((x) => b.reading.some((y) => tpKey(x) === tpKey(y)))).toEqual([]);
    }
    expect(keys(a.reading)).toEqual(['orders-0', 'orders-1']);
    expect(keys(b.reading)).toEqual(['orders-2']);
    expect(g.describe().state).toBe('Stable');
  });

  it('leaves a fourth member idle over three partitions', () => {
    const g = new GroupState('g');
    const cs = ['a', 'b', 'c', 'd'].map((id) => new Client(id));
    for (let round = 0; round < 4; round++) for (const c of cs) c.poll(g, round);
    expect(cs.map((c) => c.reading.length)).toEqual([1, 1, 1, 0]);
    expect(g.describe().state).toBe('Stable');
  });

  it('hands a partition over only after its old reader reported dropping it', () => {
    const g = new GroupState('g');
    const a = new Client('a');
    a.poll(g, 0);
    a.poll(g, 1);
    expect(keys(a.reading)).toEqual(['orders-0', 'orders-1', 'orders-2']);

    const b = new Client('b');
    const joined = b.poll(g, 2);
    expect(joined.generation).toBe(2);
    expect(keys(joined.target)).toEqual(['orders-2']);
    expect(joined.allowed).toEqual([]); // a still reads orders-2
    expect(joined.settled).toBe(false);
    expect(g.canCommit('a', p(2))).toBe(true); // a may still commit what it read
    expect(g.canCommit('b', p(2))).toBe(false);

    a.poll(g, 3); // a learns: drop orders-2 (it still reported reading it)
    expect(keys(a.reading)).toEqual(['orders-0', 'orders-1']);
    expect(g.canCommit('a', p(2))).toBe(false);
    expect(b.poll(g, 4).allowed).toEqual([]); // a has not yet REPORTED the drop

    a.poll(g, 5); // reports it
    expect(keys(b.poll(g, 6).allowed)).toEqual(['orders-2']);
    expect(g.canCommit('b', p(2))).toBe(true);
    expect(g.describe().state).toBe('PreparingRebalance'); // b has not reported reading it yet
    expect(b.poll(g, 7).settled).toBe(true);
    expect(g.describe().state).toBe('Stable');
  });

  it('counts a grant the member has not reported reading yet as its claim', () => {
    const g = new GroupState('g');
    const [x, y] = [new Client('x'), new Client('y')];
    x.poll(g, 0); // x is allowed all three and starts reading; it has reported none of them
    expect(x.reading).toHaveLength(3);
    expect(keys(y.poll(g, 1).target)).toEqual(['orders-2']); // orders-2 now targets y
    expect(y.poll(g, 2).allowed).toEqual([]); // x may be reading it: not yet
    x.poll(g, 3);
    x.poll(g, 4);
    expect(keys(y.poll(g, 5).allowed)).toEqual(['orders-2']);
  });

  it('does not count an answer lost on the way as a drop', () => {
    const g = new GroupState('g');
    const a = new Client('a');
    a.poll(g, 0);
    a.poll(g, 1);
    const b = new Client('b');
    b.poll(g, 2);
    a.poll(g, 3, orders3, true); // the answer telling a to drop orders-2 is lost: a still reads it
    expect(a.reading).toHaveLength(3);
    expect(b.poll(g, 4).allowed).toEqual([]);
    a.poll(g, 5); // a reports orders-2 again, learns to drop it
    expect(b.poll(g, 6).allowed).toEqual([]);
    a.poll(g, 7);
    expect(keys(b.poll(g, 8).allowed)).toEqual(['orders-2']);
  });

  it('moves the partitions of a member that leaves', () => {
    const g = new GroupState('g');
    const [a, b] = [new Client('a'), new Client('b')];
    for (let i = 0; i < 3; i++) {
      a.poll(g, i);
      b.poll(g, i);
    }
    const gen = g.generation;
    expect(g.leave('b', 3)).toBe(true);
    expect(g.generation).toBe(gen + 1);
    expect(g.leave('b', 3)).toBe(false);
    expect(keys(a.poll(g, 4).allowed)).toEqual(['orders-0', 'orders-1', 'orders-2']);
    expect(g.members()).toEqual(['a']);
  });

  it('expires a member silent past its session timeout and moves its partitions', () => {
    const g = new GroupState('g');
    const [a, b] = [new Client('a'), new Client('b')];
    for (let i = 0; i < 3; i++) {
      a.poll(g, i);
      b.poll(g, i);
    }
    a.poll(g, 90);
    expect(g.expire(2 + SESSION_MS)).toEqual([]); // lastSeen + timeout == now: still alive
    expect(g.expire(3 + SESSION_MS)).toEqual(['b']);
    expect(g.memberNode('b')).toBeUndefined();
    expect(g.memberNode('a')).toBe(1);
    expect(keys(a.poll(g, 104).allowed)).toEqual(['orders-0', 'orders-1', 'orders-2']);
  });

  it('increments the generation on every rebalance and only then', () => {
    const g = new GroupState('g');
    const a = new Client('a');
    expect(g.generation).toBe(0);
    expect(a.poll(g, 0).generation).toBe(1);
    expect(a.poll(g, 1).generation).toBe(1);
    a.topics = ['orders', 'payments'];
    expect(a.poll(g, 2, new Map([['orders', 3], ['payments', 1]])).generation).toBe(2);
    expect(a.poll(g, 3, new Map([['orders', 3], ['payments', 2]])).generation).toBe(3); // partitions added
    expect(a.poll(g, 4, new Map([['orders', 3], ['payments', 2], ['other', 9]])).generation).toBe(3); // unsubscribed topic
    a.strategy = 'roundrobin';
    expect(a.poll(g, 5, new Map([['orders', 3], ['payments', 2]])).generation).toBe(4);
  });

  it('describes Empty, PreparingRebalance and Stable', () => {
    const g = new GroupState('g');
    expect(g.describe()).toEqual({ state: 'Empty', generation: 0, protocol: null, members: [] });
    expect(g.isEmpty).toBe(true);
    const a = new Client('a');
    a.poll(g, 0);
    expect(g.describe().state).toBe('PreparingRebalance');
    a.poll(g, 1);
    expect(g.describe()).toEqual({
      state: 'Stable',
      generation: 1,
      protocol: 'range',
      members: [{ memberId: 'a', nodeId: 1, topics: ['orders'], target: [p(0), p(1), p(2)], owned: [p(0), p(1), p(2)] }],
    });
    g.leave('a', 2);
    expect(g.describe().state).toBe('Empty');
    expect(g.isEmpty).toBe(true);
  });

  it('uses the strategy most members ask for, range on a tie', () => {
    const g = new GroupState('g');
    new Client('a', ['orders'], 'roundrobin').poll(g, 0);
    expect(g.describe().protocol).toBe('roundrobin');
    new Client('b', ['orders'], 'range').poll(g, 0);
    expect(g.describe().protocol).toBe('range');
    new Client('c', ['orders'], 'roundrobin').poll(g, 0);
    expect(g.describe().protocol).toBe('roundrobin');
  });

  it('refuses commits from unknown members and for partitions not allowed to the member', () => {
    const g = new GroupState('g');
    const a = new Client('a');
    a.poll(g, 0);
    expect(g.canCommit('a', p(0))).toBe(true);
    expect(g.canCommit('a', p(7))).toBe(false);
    expect(g.canCommit('nobody', p(0))).toBe(false);
  });

  it('refuses a new member beyond MAX_MEMBERS but still hears from existing ones', () => {
    const g = new GroupState('g');
    for (let i = 0; i < MAX_MEMBERS; i++) new Client(`m${i}`).poll(g, 0);
    expect(() => new Client('one-too-many').poll(g, 0)).toThrow(GroupMaxSizeReachedError);
    expect(() => new Client('one-too-many').poll(g, 0)).toThrow(/maximum of 1000 members/);
    expect(() => new Client('m0').poll(g, 1)).not.toThrow();
  });

  it('after a coordinator failover keeps what members read and grants nothing new until the hold ends', () => {
    const old = new GroupState('g');
    const [a, b] = [new Client('a'), new Client('b')];
    for (let i = 0; i < 3; i++) {
      a.poll(old, i);
      b.poll(old, i);
    }
    expect(keys(a.reading)).toEqual(['orders-0', 'orders-1']);
    // The new coordinator starts empty and hears from b first: it cannot know a reads 0 and 1.
    const g = new GroupState('g', { holdGrantsUntilMs: 10 + SESSION_MS });
    expect(keys(b.poll(g, 10).target)).toEqual(['orders-0', 'orders-1', 'orders-2']);
    expect(keys(b.poll(g, 11).allowed)).toEqual(['orders-2']); // only what b already reads
    a.poll(g, 12); // a joins with what it reads: the rebuilt assignment keeps it
    expect(keys(a.reading)).toEqual(['orders-0', 'orders-1']);
    b.poll(g, 13);
    expect(g.describe().state).toBe('Stable');
    a.reading = [];
    g.leave('a', 14);
    expect(keys(b.poll(g, 15).allowed)).toEqual(['orders-2']); // still holding grants
    expect(keys(b.poll(g, 10 + SESSION_MS).allowed)).toEqual(['orders-0', 'orders-1', 'orders-2']);
  });

  it('without a hold grants at once to the first member heard from (a fresh group)', () => {
    const g = new GroupState('g');
    expect(keys(new Client('b').poll(g, 0).allowed)).toEqual(['orders-0', 'orders-1', 'orders-2']);
  });
});

// --- Property: safety after every operation, liveness once the group is quiet. ---

type Op =
  | { kind: 'poll'; member: number; lost: boolean }
  | { kind: 'subscribe'; member: number; topics: string[]; strategy: AssignmentStrategy }
  | { kind: 'leave'; member: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'grow'; topic: string };

const MEMBER_IDS = ['m0', 'm1', 'm2', 'm3', 'm4'];
const TOPICS = ['t0', 't1'];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('poll' as const), member: fc.nat(MEMBER_IDS.length - 1), lost: fc.nat(9).map((n) => n < 2) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('subscribe' as const), member: fc.nat(MEMBER_IDS.length - 1), topics: fc.subarray(TOPICS), strategy: fc.constantFrom<AssignmentStrategy>('range', 'roundrobin') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), member: fc.nat(MEMBER_IDS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 150 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('grow' as const), topic: fc.constantFrom(...TOPICS) }) },
);

function assertSafe(g: GroupState, clients: readonly Client[]): void {
  const live = new Set(g.members());
  const seen = { reading: new Map<string, string>(), allowed: new Map<string, string>(), owned: new Map<string, string>() };
  const claim = (what: Map<string, string>, tps: readonly TopicPartition[], id: string): void => {
    for (const x of tps) {
      const other = what.get(tpKey(x));
      expect(other, `${x.topic}-${x.partition} held by ${other} and ${id}`).toBeUndefined();
      what.set(tpKey(x), id);
    }
  };
  for (const c of clients) {
    if (!live.has(c.id)) continue;
    claim(seen.reading, c.reading, c.id);
    claim(seen.allowed, c.last?.allowed ?? [], c.id);
  }
  for (const m of g.describe().members) claim(seen.owned, m.owned, m.memberId);
}

describe('GroupState invariants (property)', () => {
  it('never lets two live members read one partition, and settles with every partition read once', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.array(fc.nat(MEMBER_IDS.length - 1), { minLength: 20, maxLength: 20 }), (ops, quietOrder) => {
        const g = new GroupState('g');
        const clients = MEMBER_IDS.map((id) => new Client(id, ['t0']));
        const counts = new Map([['t0', 2], ['t1', 3]]);
        let now = 0;
        for (const op of ops) {
          switch (op.kind) {
            case 'poll': {
              const c = clients[op.member];
              if (c === undefined) throw new Error('bad member');
              if (!g.members().includes(c.id)) c.reading = []; // a (re)joining instance reads nothing yet
              c.poll(g, now, counts, op.lost);
              break;
            }
            case 'subscribe': {
              const c = clients[op.member];
              if (c === undefined) throw new Error('bad member');
              c.topics = op.topics;
              c.strategy = op.strategy;
              break;
            }
            case 'leave': {
              const c = clients[op.member];
              if (c === undefined) throw new Error('bad member');
              c.reading = []; // an instance stops reading before it leaves
              c.last = undefined;
              g.leave(c.id, now);
              break;
            }
            case 'tick':
              now += op.ms;
              // A member silent for its session timeout has stopped reading (it fences itself
              // first: it counts from when it sent its last heartbeat, before the coordinator saw it).
              for (const id of g.expire(now)) {
                const c = clients.find((x) => x.id === id);
                if (c !== undefined) {
                  c.reading = [];
                  c.last = undefined;
                }
              }
              break;
            case 'grow':
              counts.set(op.topic, (counts.get(op.topic) ?? 0) + 1);
              break;
            default: {
              const never: never = op;
              throw new Error(`unknown op ${JSON.stringify(never)}`);
            }
          }
          assertSafe(g, clients);
        }

        // Quiet: no changes, no lost answers; every live member heartbeats once per round, in any
        // order. A move needs 4 heartbeats in sequence: the old reader learns to drop it, reports
        // the drop, the new reader is allowed it, reports reading it. So 4 quiet rounds suffice.
        // Round 0 delivers the subscription changes members have not yet sent (each a change).
        const live = clients.filter((c) => g.members().includes(c.id));
        let generation = g.generation;
        for (let round = 0; round < 5; round++) {
          if (round === 1) generation = g.generation;
          const start = quietOrder[round] ?? 0;
          for (let i = 0; i < live.length; i++) {
            live[(start + i) % live.length]?.poll(g, now, counts);
            assertSafe(g, clients);
          }
        }
        expect(g.generation).toBe(generation); // rounds 1-4 were quiet
        const d = g.describe();
        if (live.length > 0) expect(d.state).toBe('Stable');
        const readers = new Map<string, number>();
        for (const c of live) for (const x of c.reading) readers.set(tpKey(x), (readers.get(tpKey(x)) ?? 0) + 1);
        const subscribed = new Set(live.flatMap((c) => c.topics));
        const expected: string[] = [];
        for (const [t, n] of counts) if (subscribed.has(t)) for (let i = 0; i < n; i++) expected.push(tpKey({ topic: t, partition: i }));
        expect([...readers.keys()].sort()).toEqual(expected.sort());
        expect([...readers.values()].every((n) => n === 1)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});
