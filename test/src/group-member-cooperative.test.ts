import { afterEach, describe, expect, it } from 'vitest';
import { tpKey } from '../../src/groups/assignor.ts';
import type { TopicPartition } from '../../src/groups/assignor.ts';
import type { GroupHeartbeatCall, JoinGroupCall } from '../../src/groups/classic-calls.ts';
import { RunnelError } from '../../src/errors.ts';
import { decodeSubscription } from '../../src/groups/consumer-protocol.ts';
import { coordinator, fmt, probe, runCleanups, TIMING } from '../support/group-member-harness.ts';
import type { InProcess, Probe } from '../support/group-member-harness.ts';
import { pollUntil } from '../support/poll.ts';

afterEach(runCleanups);

/**
 * Who owns each partition, from the members' callbacks as they start: a partition assigned while
 * another member still owns it (before that one's onRevoke / onLost) is a violation.
 */
function ownership(): { observe: (name: string, hook: 'revoke' | 'assign' | 'lost', ps: readonly TopicPartition[]) => void; owners: Map<string, string>; violations: string[] } {
  const owners = new Map<string, string>();
  const violations: string[] = [];
  const observe = (name: string, hook: 'revoke' | 'assign' | 'lost', ps: readonly TopicPartition[]): void => {
    for (const tp of ps) {
      const owner = owners.get(tpKey(tp));
      if (hook === 'assign') {
        if (owner !== undefined) violations.push(`${name} assigned ${fmt([tp])} while ${owner} owns it`);
        owners.set(tpKey(tp), name);
      } else {
        if (owner !== name) violations.push(`${name} gave up ${fmt([tp])}, owned by ${String(owner)}`);
        owners.delete(tpKey(tp));
      }
    }
  };
  return { observe, owners, violations };
}

/** The coordinator, with every JoinGroup recorded. */
function recording(coord: InProcess): InProcess & { joins: JoinGroupCall[] } {
  const joins: JoinGroupCall[] = [];
  return { ...coord, joins, join: (c) => (joins.push(c), coord.join(c)) };
}

const T6 = new Map([['t', 6]]);
/** Every member stable in one generation, each partition of t (6) owned by exactly one, balanced. */
const settled = (ps: readonly Probe[]): boolean => {
  const gens = new Set(ps.map((p) => p.member.generation));
  const owned = ps.flatMap((p) => p.member.assignment.map(tpKey));
  const sizes = ps.map((p) => p.member.assignment.length);
  return ps.every((p) => p.member.state === 'stable') && gens.size === 1 && owned.length === 6 && new Set(owned).size === 6 && Math.max(...sizes) - Math.min(...sizes) <= 1;
};
/** The partitions a member was told to give up (onRevoke / onLost) after event index `from`. */
const givenUp = (p: Probe, from: number): string[] => p.events.slice(from).filter((e) => !e.startsWith('assign')).flatMap((e) => e.split(' ')[1]?.split(',') ?? []).filter((x) => x !== '');

describe('GroupMember under cooperative-sticky (KIP-429)', () => {
  it('a third member joins: the others keep reading what they keep, a moved partition is revoked before its new owner gets it, and the group settles balanced', async () => {
    const coord = recording(coordinator());
    const own = ownership();
    // k advertises only cooperative-sticky (as kcat -X partition.assignment.strategy=cooperative-sticky): the group can choose nothing else.
    const k = probe(coord, 'k', ['t'], T6, { protocols: ['cooperative-sticky'] }, own.observe);
    const h1 = probe(coord, 'h1', ['t'], T6, {}, own.observe);
    const h2 = probe(coord, 'h2', ['t'], T6, {}, own.observe);
    h1.member.start();
    expect(await h1.member.waitStable(5000)).toBe(true); // h1 leads
    k.member.start();
    h2.member.start();
    await pollUntil('three members settled', () => settled([k, h1, h2]), 10_000);
    expect(coord.group.describe()).toMatchObject({ protocol: 'cooperative-sticky', leader: 'h1' });
    expect([k, h1, h2].map((p) => p.member.cooperative)).toEqual([true, true, true]);
    const before = new Map([k, h1, h2].map((p) => [p, p.member.assignment.map(tpKey)]));
    const marks = new Map([k, h1, h2].map((p) => [p, p.events.length]));
    const generation = h1.member.generation;

    const h3 = probe(coord, 'h3', ['t'], T6, {}, own.observe);
    h3.member.start();
    await pollUntil('four members settled', () => settled([k, h1, h2, h3]), 10_000);
    // Two rounds: one where the owners of the moved partitions give them up, one that hands them to h3.
    expect(h1.member.generation).toBe(generation + 2);
    expect(h3.member.assignment.length).toBeGreaterThan(0);
    expect(own.violations).toEqual([]);
    let moved = 0;
    for (const p of [k, h1, h2]) {
      const kept = (before.get(p) ?? []).filter((x) => p.member.assignment.some((tp) => tpKey(tp) === x));
      const lost = (before.get(p) ?? []).filter((x) => !kept.includes(x));
      moved += lost.length;
      // Only what moved was given up (a kept partition is never revoked, never assigned again), and nothing was gained.
      expect(givenUp(p, marks.get(p) ?? 0).sort()).toEqual(lost.map((x) => x.replace('\u0000', '-')).sort());
      expect(p.events.slice(marks.get(p) ?? 0).filter((e) => e.startsWith('assign') && e !== 'assign ')).toEqual([]);
      expect(p.member.assignment.length).toBe(kept.length);
    }
    expect(moved).toBe(h3.member.assignment.length);
    // h3 got nothing in the first round (every partition was still owned), its share in the second.
    expect(h3.events).toEqual(['assign ', `assign ${fmt(h3.member.assignment)}`]);
    // The rejoins said what each member owned, and of which generation (subscription v2).
    const rejoin = coord.joins.filter((j) => j.memberId === 'h2').at(-1); // the follow-up round's
    const sub = decodeSubscription(rejoin?.protocols.find((x) => x.name === 'cooperative-sticky')?.metadata ?? new Uint8Array(0));
    expect({ owned: sub.ownedPartitions.length > 0, generation: sub.generationId }).toEqual({ owned: true, generation: generation + 1 });
  });

  it('when the cooperative-only member leaves, the group goes back to range: the others drop what they kept before anyone is assigned it', async () => {
    const coord = coordinator();
    const own = ownership();
    const k = probe(coord, 'k', ['t'], T6, { protocols: ['cooperative-sticky'] }, own.observe);
    const h1 = probe(coord, 'h1', ['t'], T6, {}, own.observe);
    const h2 = probe(coord, 'h2', ['t'], T6, {}, own.observe);
    k.member.start();
    expect(await k.member.waitStable(5000)).toBe(true);
    h1.member.start();
    h2.member.start();
    await pollUntil('three members settled', () => settled([k, h1, h2]), 10_000);
    const marks = [h1.events.length, h2.events.length];
    await k.member.stop();
    await pollUntil('two members settled under range', () => settled([h1, h2]) && coord.group.describe().protocol === 'range', 10_000);
    expect(own.violations).toEqual([]);
    expect([h1.member.cooperative, h2.member.cooperative]).toEqual([false, false]);
    // Range over h1, h2: 0-2 and 3-5; what each kept through the rejoin was dropped uncommitted (lost) first.
    expect([fmt(h1.member.assignment), fmt(h2.member.assignment)]).toEqual(['t-0,t-1,t-2', 't-3,t-4,t-5']);
    for (const [i, p] of [h1, h2].entries()) expect(p.events.slice(marks[i]).map((e) => e.split(' ')[0])).toEqual(['lost', 'assign']);
  });

  it('revokes only the partitions of a topic it unsubscribed from, and keeps the rest through the rejoin', async () => {
    const coord = coordinator();
    const own = ownership();
    const counts = new Map([
      ['t', 2],
      ['u', 2],
    ]);
    const k = probe(coord, 'k', ['t', 'u'], counts, { protocols: ['cooperative-sticky'] }, own.observe);
    const h1 = probe(coord, 'h1', ['t', 'u'], counts, {}, own.observe);
    k.member.start();
    h1.member.start();
    await pollUntil('both settled', () => [k, h1].every((p) => p.member.state === 'stable' && p.member.assignment.length === 2) && k.member.generation === h1.member.generation, 10_000);
    const before = fmt(h1.member.assignment);
    const mark = h1.events.length;
    h1.sub.topics = ['t'];
    h1.member.requestRejoin('unsubscribed from u');
    await pollUntil('u all with k', () => fmt(k.member.assignment).split(',').filter((x) => x.startsWith('u-')).length === 2 && h1.member.state === 'stable', 10_000);
    const ts = before.split(',').filter((x) => x.startsWith('t-'));
    const us = before.split(',').filter((x) => x.startsWith('u-'));
    // Before the join it revoked u's partitions only; its t partitions were never touched.
    expect(h1.events[mark]).toBe(`revoke ${us.join(',')}`);
    expect(givenUp(h1, mark).filter((x) => x.startsWith('t-'))).toEqual([]);
    expect(ts.every((x) => fmt(h1.member.assignment).includes(x))).toBe(true);
    expect(own.violations).toEqual([]);
  });

  it('loses the partitions it kept through a rejoin when no join is answered within the session', async () => {
    const coord = coordinator();
    let down = false;
    // After `down`: one heartbeat answers REBALANCE_IN_PROGRESS (the member rejoins, keeping its partitions), and every join throws.
    const flaky = {
      ...coord,
      heartbeat: (c: GroupHeartbeatCall) => (down ? Promise.resolve('REBALANCE_IN_PROGRESS' as const) : coord.heartbeat(c)),
      join: (c: JoinGroupCall) => (down ? Promise.reject(new RunnelError('NOT_COORDINATOR', 'the group moved')) : coord.join(c)),
    };
    const k = probe(coord, 'k', ['t'], T6, { protocols: ['cooperative-sticky'] });
    const h1 = probe(flaky, 'h1', ['t'], T6);
    k.member.start();
    h1.member.start();
    await pollUntil('both settled', () => settled([k, h1]), 10_000);
    const held = fmt(h1.member.assignment);
    const mark = h1.events.length;
    const downAt = performance.now();
    down = true;
    await pollUntil('h1 rejoining with its partitions', () => h1.member.state === 'joining');
    expect({ kept: fmt(h1.member.assignment), holds: h1.member.holdsLease() }).toEqual({ kept: held, holds: true });
    await pollUntil('kept partitions lost', () => h1.events.includes(`lost ${held}`), 5000);
    expect(performance.now() - downAt).toBeGreaterThanOrEqual(TIMING.sessionTimeoutMs - TIMING.heartbeatIntervalMs - 5);
    expect(h1.member.holdsLease()).toBe(false);
    expect(h1.events.slice(mark)).toEqual([`lost ${held}`]); // never revoked: no commit could be made
  });
});
