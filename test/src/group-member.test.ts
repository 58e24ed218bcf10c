import { createHook } from 'node:async_hooks';
import { AssignerProtocol, PartitionAssigners } from 'kafkajs';
import type { Cluster } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnelError } from '../../src/errors.ts';
import type { GroupHeartbeatCall, GroupProtocolError, JoinGroupCall } from '../../src/groups/classic-calls.ts';
import { decodeAssignment, encodeSubscription } from '../../src/groups/consumer-protocol.ts';
import { GroupMemberError } from '../../src/groups/group-member.ts';
import type { GroupTransport } from '../../src/groups/group-member.ts';
import { coordinator, fmt, probe, runCleanups, stable, TIMING } from '../support/group-member-harness.ts';
import { pollUntil } from '../support/poll.ts';

afterEach(runCleanups);

/** The coordinator seen through a gate the test turns: calls recorded, some answered otherwise. */
function gated(coord: GroupTransport): GroupTransport & {
  joins: JoinGroupCall[];
  leaves: number;
  heartbeatAnswer: GroupProtocolError | 'hang' | undefined;
  joinThrows: number;
  joinTimes: number[];
} {
  const t = {
    joins: [] as JoinGroupCall[],
    leaves: 0,
    heartbeatAnswer: undefined as GroupProtocolError | 'hang' | undefined,
    joinThrows: 0,
    joinTimes: [] as number[],
    join: (c: JoinGroupCall) => {
      t.joins.push(c);
      t.joinTimes.push(performance.now());
      if (t.joinThrows > 0) {
        t.joinThrows--;
        return Promise.reject(new RunnelError('NOT_COORDINATOR', 'the group moved'));
      }
      return coord.join(c);
    },
    sync: (c: Parameters<GroupTransport['sync']>[0]) => coord.sync(c),
    heartbeat: (c: GroupHeartbeatCall) => {
      const a = t.heartbeatAnswer;
      if (a === 'hang') return new Promise<never>(() => undefined);
      if (a !== undefined) {
        t.heartbeatAnswer = undefined;
        return Promise.resolve(a);
      }
      return coord.heartbeat(c);
    },
    leave: (c: Parameters<GroupTransport['leave']>[0]) => {
      t.leaves++;
      return coord.leave(c);
    },
  };
  return t;
}

describe('GroupMember (an HTTP instance as a classic group member)', () => {
  it('joins with its instance name after MEMBER_ID_REQUIRED, leads, reads every partition, and revokes then leaves on stop', async () => {
    const coord = coordinator();
    const t = gated(coord);
    const p = await stable(t, 'c1', ['t'], new Map([['t', 3]]));
    expect(t.joins.map((j) => [j.memberId, j.proposedMemberId, j.requireKnownMemberId])).toEqual([
      ['', 'c1', true],
      ['c1', 'c1', true],
    ]);
    expect(t.joins[0]?.protocols.map((x) => x.name)).toEqual(['range', 'roundrobin', 'RoundRobinAssigner', 'cooperative-sticky']);
    expect({ memberId: p.member.memberId, generation: p.member.generation, leader: coord.group.describe().leader, protocol: coord.group.describe().protocol }).toEqual({ memberId: 'c1', generation: 1, leader: 'c1', protocol: 'range' });
    expect(fmt(p.member.assignment)).toBe('t-0,t-1,t-2');
    await p.member.stop();
    await p.member.stop();
    expect(p.events).toEqual(['assign t-0,t-1,t-2', 'revoke t-0,t-1,t-2']);
    expect(t.leaves).toBe(1);
    expect(coord.group.memberIds()).toEqual([]);
    expect(p.member.state).toBe('stopped');
  });

  it('revokes everything when a second member joins (eager), then both split the partitions with no overlap', async () => {
    const coord = coordinator();
    const counts = new Map([['t', 3]]);
    const p1 = await stable(coord, 'c1', ['t'], counts);
    const p2 = await stable(coord, 'c2', ['t'], counts);
    await pollUntil('c1 in generation 2', () => p1.member.state === 'stable' && p1.member.generation === 2);
    expect(p1.events).toEqual(['assign t-0,t-1,t-2', 'revoke t-0,t-1,t-2', 'assign t-0,t-1']);
    expect(p2.events).toEqual(['assign t-2']);
  });

  it('hands its partitions over on stop: the other member takes them, and no timer is left running', async () => {
    // Every timer created from here on (the members', the coordinator's ticker, the test's polls) must be gone at the end.
    const live = new Set<number>();
    const hook = createHook({
      init: (id, type) => void (type === 'Timeout' && live.add(id)),
      destroy: (id) => void live.delete(id),
    }).enable();
    const coord = coordinator();
    const counts = new Map([['t', 2]]);
    const p1 = probe(coord, 'c1', ['t'], counts);
    const p2 = probe(coord, 'c2', ['t'], counts);
    p1.member.start();
    p2.member.start();
    await pollUntil('both stable in one generation', () => p1.member.state === 'stable' && p2.member.state === 'stable' && p1.member.generation === p2.member.generation);
    expect([fmt(p1.member.assignment), fmt(p2.member.assignment)]).toEqual(['t-0', 't-1']);
    await Promise.all([p2.member.stop(), p2.member.stop()]);
    expect(p2.events.at(-1)).toBe('revoke t-1');
    await pollUntil('c1 owns both partitions', () => fmt(p1.member.assignment) === 't-0,t-1');
    await p1.member.stop();
    coord.close();
    await new Promise((r) => setImmediate(r)); // destroy hooks are emitted after the current turn
    hook.disable();
    expect(live.size).toBe(0);
  });

  it('rejoins when its subscription changes, and when a subscribed topic gains partitions (as leader)', async () => {
    const coord = coordinator();
    const counts = new Map([
      ['t', 1],
      ['u', 2],
    ]);
    const p = await stable(coord, 'c1', ['t'], counts);
    p.sub.topics = ['t', 'u'];
    p.member.requestRejoin('subscribed to u'); // what a subscribe does: the next wait is for the new generation
    expect(await p.member.waitStable(5000)).toBe(true);
    expect(fmt(p.member.assignment)).toBe('t-0,u-0,u-1');
    p.sub.topics = ['t']; // noticed at the next heartbeat, without requestRejoin
    await pollUntil('u revoked', () => fmt(p.member.assignment) === 't-0');
    p.sub.topics = ['t', 'u'];
    await pollUntil('u assigned again', () => fmt(p.member.assignment) === 't-0,u-0,u-1');
    counts.set('t', 3);
    await pollUntil('new partitions of t assigned', () => fmt(p.member.assignment) === 't-0,t-1,t-2,u-0,u-1');
    expect(p.events).toEqual(['assign t-0', 'revoke t-0', 'assign t-0,u-0,u-1', 'revoke t-0,u-0,u-1', 'assign t-0', 'revoke t-0', 'assign t-0,u-0,u-1', 'revoke t-0,u-0,u-1', 'assign t-0,t-1,t-2,u-0,u-1']);
  });

  it('loses its partitions without commit when nothing is answered for the session, then rejoins', async () => {
    const coord = coordinator();
    const t = gated(coord);
    const p = await stable(t, 'c1', ['t'], new Map([['t', 2]]));
    expect(p.member.holdsLease()).toBe(true);
    const hungAt = performance.now();
    t.heartbeatAnswer = 'hang';
    t.joinThrows = 1_000_000; // and the coordinator stays out of reach for the rejoin
    await pollUntil('partitions lost', () => p.events.includes('lost t-0,t-1'), 5000);
    expect(p.member.holdsLease()).toBe(false);
    const elapsed = performance.now() - hungAt;
    // Counted from the last answered heartbeat's send time: at most one interval before the hang.
    expect(elapsed).toBeGreaterThanOrEqual(TIMING.sessionTimeoutMs - TIMING.heartbeatIntervalMs - 5);
    expect(elapsed).toBeLessThan(TIMING.sessionTimeoutMs + 1000); // not the 30 s request timeout
    t.heartbeatAnswer = undefined;
    t.joinThrows = 0;
    await pollUntil('stable again', () => p.member.state === 'stable' && p.member.assignment.length === 2, 5000);
    expect(p.events).toEqual(['assign t-0,t-1', 'lost t-0,t-1', 'assign t-0,t-1']);
  });

  it('backs off exponentially while the coordinator throws NOT_COORDINATOR, then joins', async () => {
    const coord = coordinator();
    const t = gated(coord);
    t.joinThrows = 4;
    const p = await stable(t, 'c1', ['t'], new Map([['t', 1]]));
    const gaps = t.joinTimes.slice(1, 5).map((at, i) => at - (t.joinTimes[i] ?? 0));
    // retryBackoffMs 10 doubling, capped at 50: 10, 20, 40, 50 (timers may fire a little late, never early).
    expect(gaps.map((g, i) => g >= [10, 20, 40, 50][i]! - 1)).toEqual([true, true, true, true]);
    expect(p.member.memberId).toBe('c1');
  });

  it('rejoins when the coordinator cannot store the group record (SyncGroup answers NOT_COORDINATOR)', async () => {
    let failures = 2;
    const coord = coordinator(() => (failures-- > 0 ? Promise.reject(new Error('offsets partition unavailable')) : Promise.resolve()));
    const p = await stable(coord, 'c1', ['t'], new Map([['t', 2]]));
    expect(failures).toBeLessThan(0);
    expect(p.member.generation).toBe(1); // rejoining in CompletingRebalance with the same protocols gets the same generation back (Kafka does so)
    expect(p.events).toEqual(['assign t-0,t-1']);
  });

  it('answers ILLEGAL_GENERATION by dropping its partitions uncommitted and rejoining with the same member id', async () => {
    const coord = coordinator();
    const t = gated(coord);
    const p = await stable(t, 'c1', ['t'], new Map([['t', 1]]));
    t.heartbeatAnswer = 'ILLEGAL_GENERATION';
    await pollUntil('generation 2', () => p.member.state === 'stable' && p.member.generation === 2);
    expect(p.events).toEqual(['assign t-0', 'lost t-0', 'assign t-0']);
    expect(t.joins.map((j) => j.memberId)).toEqual(['', 'c1', 'c1']);
  });

  it('answers UNKNOWN_MEMBER_ID (expired by the coordinator) by joining afresh as a new member', async () => {
    const coord = coordinator();
    const t = gated(coord);
    const p = await stable(t, 'c1', ['t'], new Map([['t', 1]]));
    await coord.leave({ group: 'g', members: [{ memberId: 'c1', groupInstanceId: null }] }); // as a session expiry does
    await pollUntil('stable in a new generation', () => p.member.state === 'stable' && p.events.length === 3);
    expect(p.events).toEqual(['assign t-0', 'lost t-0', 'assign t-0']);
    expect(t.joins.map((j) => j.memberId)).toEqual(['', 'c1', '', 'c1']);
  });

  it('fails on FENCED_INSTANCE_ID: partitions lost, waitStable rejects, and stop sends no LeaveGroup', async () => {
    const coord = coordinator();
    const t = gated(coord);
    const p = await stable(t, 'c1', ['t'], new Map([['t', 1]]));
    t.heartbeatAnswer = 'FENCED_INSTANCE_ID';
    await pollUntil('failed', () => p.member.state === 'failed');
    expect(p.events).toEqual(['assign t-0', 'lost t-0']);
    await expect(p.member.waitStable(10)).rejects.toBeInstanceOf(GroupMemberError);
    expect(p.member.failure?.error).toBe('FENCED_INSTANCE_ID');
    await p.member.stop();
    expect(t.leaves).toBe(0);
  });

  it('fails with INCONSISTENT_GROUP_PROTOCOL in a group whose members speak none of its protocols, without ever joining it', async () => {
    const coord = coordinator();
    const other = await coord.join({ group: 'g', memberId: '', groupInstanceId: null, clientId: 'java', clientHost: 'h', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'sticky', metadata: encodeSubscription({ topics: ['t'] }) }], requireKnownMemberId: false });
    const p = probe(coord, 'c1', ['t'], new Map([['t', 1]]));
    p.member.start();
    await expect(p.member.waitStable(5000)).rejects.toMatchObject({ error: 'INCONSISTENT_GROUP_PROTOCOL' });
    expect(p.member.state).toBe('failed');
    expect(coord.group.memberIds()).toEqual([other.memberId]);
    expect(p.events).toEqual([]);
  });

  it('stop() during a join the coordinator parks returns at once and leaves the group', async () => {
    const coord = coordinator();
    // A member that joined and then never rejoins: the next rebalance waits for it (10 s).
    const first = await coord.join({ group: 'g', memberId: '', groupInstanceId: null, clientId: 'x', clientHost: 'h', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['t'], userData: Buffer.alloc(0) }) }], requireKnownMemberId: false });
    await coord.sync({ group: 'g', memberId: first.memberId, groupInstanceId: null, generation: first.generation, protocolType: 'consumer', protocolName: 'range', assignments: [] });
    const p = probe(coord, 'c1', ['t'], new Map([['t', 1]]));
    p.member.start();
    expect(await p.member.waitStable(200)).toBe(false); // parked
    const stopAt = performance.now();
    await p.member.stop();
    expect(performance.now() - stopAt).toBeLessThan(200);
    expect(coord.group.memberIds()).toEqual([first.memberId]);
    expect(p.member.state).toBe('stopped');
  });

  it('leads a group with a kafkajs member: both agree on RoundRobinAssigner and the kafkajs member reads its share', async () => {
    const coord = coordinator();
    const p = await stable(coord, 'c1', ['t'], new Map([['t', 3]]));
    const kjs = { name: 'RoundRobinAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['t'], userData: Buffer.alloc(0) }) };
    const joined = await coord.join({ group: 'g', memberId: '', groupInstanceId: null, clientId: 'kafkajs', clientHost: 'h', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [kjs], requireKnownMemberId: false });
    expect({ protocol: joined.protocolName, leader: joined.leader }).toEqual({ protocol: 'RoundRobinAssigner', leader: 'c1' });
    const synced = await coord.sync({ group: 'g', memberId: joined.memberId, groupInstanceId: null, generation: joined.generation, protocolType: 'consumer', protocolName: 'RoundRobinAssigner', assignments: [] });
    expect(AssignerProtocol.MemberAssignment.decode(Buffer.from(synced.assignment))?.assignment).toEqual({ t: [1] });
    await pollUntil('c1 stable in the new generation', () => p.member.state === 'stable' && p.member.generation === joined.generation);
    expect(fmt(p.member.assignment)).toBe('t-0,t-2');
  });

  it('leads a group with a librdkafka member (range, roundrobin): both agree on range', async () => {
    const coord = coordinator();
    const p = await stable(coord, 'c1', ['t'], new Map([['t', 3]]));
    // librdkafka's v3 subscription with its default partition.assignment.strategy "range,roundrobin".
    const metadata = encodeSubscription({ topics: ['t'], generationId: -1, rackId: null, ownedPartitions: [{ topic: 't', partition: 9 }] });
    const protocols = [
      { name: 'range', metadata },
      { name: 'roundrobin', metadata },
    ];
    const joined = await coord.join({ group: 'g', memberId: '', groupInstanceId: null, clientId: 'rdkafka', clientHost: 'h', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols, requireKnownMemberId: false });
    expect({ protocol: joined.protocolName, leader: joined.leader }).toEqual({ protocol: 'range', leader: 'c1' });
    const synced = await coord.sync({ group: 'g', memberId: joined.memberId, groupInstanceId: null, generation: joined.generation, protocolType: 'consumer', protocolName: 'range', assignments: [] });
    expect(fmt(decodeAssignment(synced.assignment).partitions)).toBe('t-2');
    await pollUntil('c1 stable in the new generation', () => p.member.state === 'stable' && p.member.generation === joined.generation);
    expect(fmt(p.member.assignment)).toBe('t-0,t-1');
  });

  it("follows a kafkajs leader's RoundRobinAssigner, reading only the topics it subscribed to", async () => {
    const coord = coordinator();
    const counts = new Map([
      ['a', 2],
      ['b', 2],
    ]);
    const kjsJoin = (memberId: string): JoinGroupCall => ({
      group: 'g',
      memberId,
      groupInstanceId: null,
      clientId: 'kafkajs',
      clientHost: 'h',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      protocolType: 'consumer',
      protocols: [{ name: 'RoundRobinAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['a', 'b'], userData: Buffer.alloc(0) }) }],
      requireKnownMemberId: false,
    });
    const first = await coord.join(kjsJoin(''));
    await coord.sync({ group: 'g', memberId: first.memberId, groupInstanceId: null, generation: first.generation, protocolType: 'consumer', protocolName: 'RoundRobinAssigner', assignments: [] });
    const p = probe(coord, 'c1', ['a'], counts);
    p.member.start();
    await pollUntil('c1 parked in the rebalance', () => coord.group.state === 'PreparingRebalance' && coord.group.hasMember('c1'));
    const again = await coord.join(kjsJoin(first.memberId)); // kafkajs rejoins as its heartbeat tells it to
    expect(again.leader).toBe(first.memberId);
    // kafkajs's own assigner deals the union of the subscriptions (a and b) to every member.
    const cluster = { findTopicPartitionMetadata: (topic: string) => Array.from({ length: counts.get(topic) ?? 0 }, (_, partitionId) => ({ partitionId })) } as unknown as Cluster;
    const dealt = await PartitionAssigners.roundRobin({ cluster, groupId: 'g', logger: {} as never }).assign({
      members: again.members.map((m) => ({ memberId: m.memberId, memberMetadata: Buffer.from(m.metadata) })),
      topics: ['a', 'b'],
    });
    await coord.sync({ group: 'g', memberId: again.memberId, groupInstanceId: null, generation: again.generation, protocolType: 'consumer', protocolName: 'RoundRobinAssigner', assignments: dealt.map((d) => ({ memberId: d.memberId, assignment: d.memberAssignment })) });
    expect(await p.member.waitStable(5000)).toBe(true);
    expect(fmt(p.member.assignment)).toBe('a-0'); // b-0 was dealt to it too: ignored
  });
});
