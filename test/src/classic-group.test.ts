import { describe, expect, it } from 'vitest';
import type { JoinGroupAnswer, JoinGroupCall, SyncGroupAnswer } from '../../src/groups/classic-calls.ts';
import { ClassicGroup } from '../../src/groups/classic-group.ts';
import type { ClassicGroupConfig, GroupRecord } from '../../src/groups/classic-group.ts';

const CFG: ClassicGroupConfig = { minSessionTimeoutMs: 6000, maxSessionTimeoutMs: 1_800_000, initialRebalanceDelayMs: 3000, maxSize: 10 };
const bytes = (s: string): Uint8Array => Buffer.from(s);

function call(over: Partial<JoinGroupCall> = {}): JoinGroupCall {
  return {
    group: 'g',
    memberId: '',
    groupInstanceId: null,
    clientId: 'c',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: bytes('sub') }],
    requireKnownMemberId: false,
    ...over,
  };
}

/** A group whose record writes are kept (and may be made to fail), with a settled-promise probe. */
function setup(cfg: ClassicGroupConfig = CFG): { g: ClassicGroup; records: GroupRecord[]; failWrites: (on: boolean) => void } {
  const records: GroupRecord[] = [];
  let fail = false;
  const g = new ClassicGroup('g', cfg, (r) => {
    if (fail) return Promise.reject(new Error('not the leader'));
    records.push(r);
    return Promise.resolve();
  });
  return { g, records, failWrites: (on) => (fail = on) };
}

/** Whether a promise has settled after the microtasks queued so far ran. */
async function settled<T>(p: Promise<T>): Promise<T | undefined> {
  let v: T | undefined;
  void p.then((x) => (v = x));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return v;
}

/** Joins one member (two steps: MEMBER_ID_REQUIRED, then with the id) and returns the parked answer. */
async function joinNew(g: ClassicGroup, now: number, over: Partial<JoinGroupCall> = {}): Promise<{ id: string; answer: Promise<JoinGroupAnswer> }> {
  const first = await g.join(call({ requireKnownMemberId: true, ...over }), now);
  expect(first.error).toBe('MEMBER_ID_REQUIRED');
  return { id: first.memberId, answer: g.join(call({ ...over, memberId: first.memberId, requireKnownMemberId: true }), now) };
}

/** Two members through a whole first rebalance: join (initial delay), sync, Stable. */
async function stableTwo(g: ClassicGroup): Promise<{ a: JoinGroupAnswer; b: JoinGroupAnswer; sa: SyncGroupAnswer; sb: SyncGroupAnswer }> {
  const x = await joinNew(g, 0, { clientId: 'a' });
  const y = await joinNew(g, 10, { clientId: 'b' });
  g.tick(3000);
  g.tick(6000);
  const a = await x.answer;
  const b = await y.answer;
  const leader = a.leader === a.memberId ? a : b;
  const follower = leader === a ? b : a;
  const sf = g.sync({ group: 'g', memberId: follower.memberId, groupInstanceId: null, generation: follower.generation, protocolType: 'consumer', protocolName: 'range', assignments: [] }, 6010);
  const sl = g.sync(
    {
      group: 'g',
      memberId: leader.memberId,
      groupInstanceId: null,
      generation: leader.generation,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [
        { memberId: a.memberId, assignment: bytes('for-a') },
        { memberId: b.memberId, assignment: bytes('for-b') },
      ],
    },
    6020,
  );
  const [s1, s2] = await Promise.all([sf, sl]);
  return { a, b, sa: leader === a ? s2 : s1, sb: leader === a ? s1 : s2 };
}

describe('ClassicGroup (Kafka classic group protocol, coordinator side)', () => {
  it('KIP-394: a new member first gets MEMBER_ID_REQUIRED with its id; the pending id lapses after its session timeout', async () => {
    const { g } = setup();
    const first = await g.join(call({ requireKnownMemberId: true, clientId: 'kcat' }), 0);
    expect(first.error).toBe('MEMBER_ID_REQUIRED');
    expect(first.memberId).toMatch(/^kcat-/);
    expect(g.isEmpty).toBe(false);
    g.tick(10_001);
    expect(g.isEmpty).toBe(true);
    const again = await g.join(call({ memberId: first.memberId, requireKnownMemberId: true }), 10_002);
    expect(again.error).toBe('UNKNOWN_MEMBER_ID');
  });

  it('parks joins through the initial rebalance delay, answers them together, gives only the leader the member list, and distributes the leader\'s assignment', async () => {
    const { g, records } = setup();
    const x = await joinNew(g, 0, { clientId: 'a' });
    expect(await settled(x.answer)).toBeUndefined();
    expect(g.state).toBe('PreparingRebalance');
    const y = await joinNew(g, 10, { clientId: 'b' });
    g.tick(2999);
    expect(await settled(x.answer)).toBeUndefined();
    // A member arrived during the delay: Kafka waits one more delay (within the rebalance timeout).
    g.tick(3000);
    expect(await settled(x.answer)).toBeUndefined();
    g.tick(6000);
    const a = await x.answer;
    const b = await y.answer;
    expect(g.state).toBe('CompletingRebalance');
    expect(a.generation).toBe(1);
    expect(b.generation).toBe(1);
    expect(a.leader).toBe(a.memberId);
    expect(b.leader).toBe(a.memberId);
    expect(a.protocolName).toBe('range');
    expect(a.members.map((m) => m.memberId).sort()).toEqual([a.memberId, b.memberId].sort());
    expect(b.members).toEqual([]);

    const sb = g.sync({ group: 'g', memberId: b.memberId, groupInstanceId: null, generation: 1, protocolType: null, protocolName: null, assignments: [] }, 6001);
    expect(await settled(sb)).toBeUndefined();
    expect(g.heartbeat({ group: 'g', memberId: b.memberId, groupInstanceId: null, generation: 1 }, 6001)).toBeNull();
    const sa = g.sync({ group: 'g', memberId: a.memberId, groupInstanceId: null, generation: 1, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: a.memberId, assignment: bytes('A') }, { memberId: b.memberId, assignment: bytes('B') }] }, 6002);
    expect(Buffer.from((await sa).assignment).toString()).toBe('A');
    expect(Buffer.from((await sb).assignment).toString()).toBe('B');
    expect(g.state).toBe('Stable');
    // The record is written before the answers, with both assignments.
    expect(records.at(-1)?.generation).toBe(1);
    expect(records.at(-1)?.members.map((m) => Buffer.from(m.assignment).toString()).sort()).toEqual(['A', 'B']);
  });

  it('a new member rebalances a Stable group: heartbeats get REBALANCE_IN_PROGRESS, a member that does not rejoin within the rebalance timeout is removed', async () => {
    const { g } = setup();
    const { a, b } = await stableTwo(g);
    const c = await joinNew(g, 10_000, { clientId: 'c' });
    expect(g.state).toBe('PreparingRebalance');
    expect(g.heartbeat({ group: 'g', memberId: a.memberId, groupInstanceId: null, generation: 1 }, 10_001)).toBe('REBALANCE_IN_PROGRESS');
    // Commits of the previous generation are still taken while the group prepares.
    expect(g.validateCommit({ memberId: b.memberId, groupInstanceId: null, generation: 1 }, 10_001)).toBeNull();
    const ra = g.join(call({ memberId: a.memberId }), 10_100);
    expect(await settled(ra)).toBeUndefined();
    // b keeps heartbeating but never rejoins: at the rebalance timeout (30 s, the largest any member sent) it is removed.
    g.tick(20_000);
    expect(g.heartbeat({ group: 'g', memberId: b.memberId, groupInstanceId: null, generation: 1 }, 20_001)).toBe('REBALANCE_IN_PROGRESS');
    g.tick(29_000);
    expect(g.heartbeat({ group: 'g', memberId: b.memberId, groupInstanceId: null, generation: 1 }, 29_001)).toBe('REBALANCE_IN_PROGRESS');
    g.tick(10_000 + 30_000);
    const [ja, jc] = await Promise.all([ra, c.answer]);
    expect(ja.generation).toBe(2);
    expect(jc.generation).toBe(2);
    expect(g.memberIds().sort()).toEqual([a.memberId, c.id].sort());
    expect(g.heartbeat({ group: 'g', memberId: b.memberId, groupInstanceId: null, generation: 1 }, 40_001)).toBe('UNKNOWN_MEMBER_ID');
    expect(g.validateCommit({ memberId: a.memberId, groupInstanceId: null, generation: 1 }, 40_001)).toBe('ILLEGAL_GENERATION');
    expect(g.validateCommit({ memberId: a.memberId, groupInstanceId: null, generation: 2 }, 40_001)).toBe('REBALANCE_IN_PROGRESS');
  });

  it('LeaveGroup (batched) and session expiry rebalance the rest; the last member out empties the group and writes it', async () => {
    const { g, records } = setup();
    const { a, b } = await stableTwo(g);
    const left = g.leave({ group: 'g', members: [{ memberId: b.memberId, groupInstanceId: null }, { memberId: 'nobody', groupInstanceId: null }] }, 10_000);
    expect(left.members.map((m) => m.error)).toEqual([null, 'UNKNOWN_MEMBER_ID']);
    expect(g.state).toBe('PreparingRebalance');
    const ra = await g.join(call({ memberId: a.memberId }), 10_001);
    expect(ra.generation).toBe(2);
    expect(ra.members.map((m) => m.memberId)).toEqual([a.memberId]);
    await g.sync({ group: 'g', memberId: a.memberId, groupInstanceId: null, generation: 2, protocolType: null, protocolName: null, assignments: [{ memberId: a.memberId, assignment: bytes('all') }] }, 10_002);
    expect(g.state).toBe('Stable');
    // a goes silent: removed after its 10 s session, and the group is Empty.
    g.tick(10_002 + 10_001);
    expect(g.state).toBe('Empty');
    expect(g.generation).toBe(3);
    await settled(Promise.resolve());
    expect(records.at(-1)).toMatchObject({ generation: 3, members: [] });
    expect(g.validateCommit({ memberId: '', groupInstanceId: null, generation: -1 }, 20_010)).toBeNull();
  });

  it('checks generation and member on heartbeat, sync and commit; a simple commit only on an Empty group', async () => {
    const { g } = setup();
    expect(g.validateCommit({ memberId: '', groupInstanceId: null, generation: -1 }, 0)).toBeNull();
    const { a } = await stableTwo(g);
    expect(g.validateCommit({ memberId: '', groupInstanceId: null, generation: -1 }, 10_000)).toBe('UNKNOWN_MEMBER_ID');
    expect(g.validateCommit({ memberId: 'stranger', groupInstanceId: null, generation: 1 }, 10_000)).toBe('UNKNOWN_MEMBER_ID');
    expect(g.validateCommit({ memberId: a.memberId, groupInstanceId: null, generation: 0 }, 10_000)).toBe('ILLEGAL_GENERATION');
    expect(g.validateCommit({ memberId: a.memberId, groupInstanceId: null, generation: 1 }, 10_000)).toBeNull();
    expect(g.heartbeat({ group: 'g', memberId: a.memberId, groupInstanceId: null, generation: 7 }, 10_000)).toBe('ILLEGAL_GENERATION');
    const s = await g.sync({ group: 'g', memberId: a.memberId, groupInstanceId: null, generation: 1, protocolType: 'other', protocolName: null, assignments: [] }, 10_000);
    expect(s.error).toBe('INCONSISTENT_GROUP_PROTOCOL');
    // Stable: SyncGroup answers the current assignment at once.
    const again = await g.sync({ group: 'g', memberId: a.memberId, groupInstanceId: null, generation: 1, protocolType: null, protocolName: null, assignments: [] }, 10_000);
    expect(Buffer.from(again.assignment).toString()).toBe('for-a');
  });

  it('refuses session timeouts outside the bounds, an empty protocol list, and a member sharing no protocol with the group', async () => {
    const { g } = setup();
    expect((await g.join(call({ sessionTimeoutMs: 5999 }), 0)).error).toBe('INVALID_SESSION_TIMEOUT');
    expect((await g.join(call({ sessionTimeoutMs: 1_800_001 }), 0)).error).toBe('INVALID_SESSION_TIMEOUT');
    expect((await g.join(call({ protocols: [] }), 0)).error).toBe('INCONSISTENT_GROUP_PROTOCOL');
    void g.join(call(), 0);
    expect((await g.join(call({ protocols: [{ name: 'roundrobin', metadata: bytes('') }] }), 1)).error).toBe('INCONSISTENT_GROUP_PROTOCOL');
    expect((await g.join(call({ protocolType: 'connect' }), 1)).error).toBe('INCONSISTENT_GROUP_PROTOCOL');
  });

  it('chooses the protocol every member supports that most of them prefer', async () => {
    const { g } = setup({ ...CFG, initialRebalanceDelayMs: 0 });
    const p = (...names: string[]): JoinGroupCall['protocols'] => names.map((name) => ({ name, metadata: bytes(name) }));
    const a = g.join(call({ protocols: p('range', 'roundrobin') }), 0);
    const b = g.join(call({ protocols: p('roundrobin', 'range', 'sticky') }), 0);
    const c = g.join(call({ protocols: p('roundrobin', 'range') }), 0);
    // a completed generation 1 alone (no initial delay); b's join rebalances the group and a rejoins.
    const first = await a;
    expect(first.generation).toBe(1);
    const again = g.join(call({ memberId: first.memberId, protocols: p('range', 'roundrobin') }), 1);
    const answers = await Promise.all([again, b, c]);
    const last = answers.find((x) => x.error === null && x.members.length > 0);
    expect(last?.protocolName).toBe('roundrobin');
    expect(last?.members.every((m) => Buffer.from(m.metadata).toString() === 'roundrobin')).toBe(true);
  });

  it('KIP-345: a static member restarted with the same instance id takes its place and assignment without a rebalance; its old id is fenced', async () => {
    const { g, records } = setup({ ...CFG, initialRebalanceDelayMs: 0 });
    const sj = await g.join(call({ groupInstanceId: 'i-1', clientId: 's' }), 0);
    expect(sj.error).toBeNull();
    const s = await g.sync({ group: 'g', memberId: sj.memberId, groupInstanceId: 'i-1', generation: sj.generation, protocolType: null, protocolName: null, assignments: [{ memberId: sj.memberId, assignment: bytes('mine') }] }, 1);
    expect(s.error).toBeNull();
    const gen = g.generation;
    const back = await g.join(call({ groupInstanceId: 'i-1', clientId: 's' }), 100);
    expect(back.error).toBeNull();
    expect(back.memberId).not.toBe(sj.memberId);
    expect(back.generation).toBe(gen);
    expect(g.state).toBe('Stable');
    expect(records.at(-1)?.members.map((m) => m.memberId)).toEqual([back.memberId]);
    const resync = await g.sync({ group: 'g', memberId: back.memberId, groupInstanceId: 'i-1', generation: gen, protocolType: null, protocolName: null, assignments: [] }, 101);
    expect(Buffer.from(resync.assignment).toString()).toBe('mine');
    expect(g.heartbeat({ group: 'g', memberId: sj.memberId, groupInstanceId: 'i-1', generation: gen }, 102)).toBe('FENCED_INSTANCE_ID');
    expect(g.validateCommit({ memberId: sj.memberId, groupInstanceId: 'i-1', generation: gen }, 102)).toBe('FENCED_INSTANCE_ID');
  });

  it('a failed group write answers the parked syncs with NOT_COORDINATOR and keeps no assignment', async () => {
    const { g, failWrites } = setup({ ...CFG, initialRebalanceDelayMs: 0 });
    const j = await g.join(call(), 0);
    failWrites(true);
    const s = await g.sync({ group: 'g', memberId: j.memberId, groupInstanceId: null, generation: j.generation, protocolType: null, protocolName: null, assignments: [{ memberId: j.memberId, assignment: bytes('x') }] }, 1);
    expect(s.error).toBe('NOT_COORDINATOR');
    expect(g.state).toBe('CompletingRebalance');
  });

  it('a coordinator that takes over rebuilds the group Stable from its record, with fresh sessions', () => {
    const { g, records } = setup({ ...CFG, initialRebalanceDelayMs: 0 });
    void g.join(call({ clientId: 'x' }), 0);
    return (async () => {
      const j = await g.join(call({ memberId: g.memberIds()[0] ?? '', clientId: 'x' }), 0);
      await g.sync({ group: 'g', memberId: j.memberId, groupInstanceId: null, generation: j.generation, protocolType: null, protocolName: null, assignments: [{ memberId: j.memberId, assignment: bytes('p0') }] }, 1);
      const rec = records.at(-1);
      if (rec === undefined) throw new Error('no record written');
      const h = ClassicGroup.fromRecord('g', rec, CFG, 50_000, () => Promise.resolve());
      expect(h.state).toBe('Stable');
      expect(h.generation).toBe(j.generation);
      expect(h.heartbeat({ group: 'g', memberId: j.memberId, groupInstanceId: null, generation: j.generation }, 55_000)).toBeNull();
      expect(h.describe().members[0]).toMatchObject({ memberId: j.memberId, clientId: 'x' });
      h.tick(55_000 + 10_001);
      expect(h.state).toBe('Empty');
    })();
  });

  it('a coordinator that takes over still accepts a member sharing any protocol the members offered, not only the chosen one', async () => {
    const { g, records } = setup({ ...CFG, initialRebalanceDelayMs: 0 });
    const both = [{ name: 'range', metadata: bytes('r') }, { name: 'RoundRobinAssigner', metadata: bytes('k') }];
    const j = await g.join(call({ clientId: 'rest', protocols: both }), 0);
    expect(j.protocolName).toBe('range');
    await g.sync({ group: 'g', memberId: j.memberId, groupInstanceId: null, generation: j.generation, protocolType: null, protocolName: null, assignments: [{ memberId: j.memberId, assignment: bytes('a') }] }, 1);
    const rec = records.at(-1);
    if (rec === undefined) throw new Error('no record written');
    const h = ClassicGroup.fromRecord('g', rec, { ...CFG, initialRebalanceDelayMs: 0 }, 10, () => Promise.resolve());
    // kafkajs offers only RoundRobinAssigner: it joins, and the group moves to it once the old member rejoins.
    const k = h.join(call({ clientId: 'kafkajs', protocols: [{ name: 'RoundRobinAssigner', metadata: bytes('k2') }] }), 20);
    const again = h.join(call({ memberId: j.memberId, clientId: 'rest', protocols: both }), 21);
    const [ka, ra] = await Promise.all([k, again]);
    expect([ka.error, ra.error]).toEqual([null, null]);
    expect(ka.protocolName).toBe('RoundRobinAssigner');
    // A record without the protocol lists (written before they were kept) loads with the chosen protocol only.
    const old = ClassicGroup.fromRecord('g', { ...rec, members: rec.members.map(({ protocols: _p, ...m }) => m) }, CFG, 10, () => Promise.resolve());
    expect((await old.join(call({ protocols: [{ name: 'RoundRobinAssigner', metadata: bytes('k') }] }), 20)).error).toBe('INCONSISTENT_GROUP_PROTOCOL');
  });
});
