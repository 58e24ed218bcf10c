import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import type { Admin, Consumer, EachMessagePayload } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { MessageValue } from '../../src/kafka/protocol/message-codec.ts';
import { kafkaCall } from '../support/kafka-call.ts';
import { FAST_KAFKAJS, KcatMember } from '../support/group-members.ts';
import type { ReadRecord } from '../support/group-members.ts';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';

const byPartition = (rs: readonly ReadRecord[]): Map<number, number[]> => {
  const out = new Map<number, number[]>();
  for (const r of rs) out.set(r.partition, [...(out.get(r.partition) ?? []), r.offset]);
  return out;
};

/** Whether two kcat members' latest assignments split 3 partitions (each has some: neither shows an assignment of an older generation). */
const splitBetween = (a: KcatMember, b: KcatMember): boolean => a.assigned().length > 0 && b.assigned().length > 0 && new Set([...a.assigned(), ...b.assigned()]).size === 3 && a.assigned().length + b.assigned().length === 3;

describe('Kafka consumer group members (kcat -G, kafkajs consumer.run) on a 3-node cluster', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster));

  const bootstrap = (): string[] => c.ids.map((id) => `127.0.0.1:${c.kafkaPorts.get(id)}`);
  const kafka = (): Kafka => new Kafka({ clientId: 'runnel-group-test', brokers: bootstrap(), logLevel: logLevel.NOTHING });
  const ok = async (node: number, method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await c.http(node, method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path} on node ${node}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const createTopic = async (name: string, partitions = 3): Promise<void> => {
    await ok(1, 'POST', c.v3('/topics'), { topic_name: name, partitions_count: partitions, replication_factor: 3 });
  };
  /** `count` records into each partition, valued "topic-partition-i" from `from`. */
  const produce = async (name: string, count: number, from = 0, partitions = 3): Promise<void> => {
    for (let p = 0; p < partitions; p++) {
      await ok(2, 'POST', `/topics/${name}/partitions/${p}`, { records: Array.from({ length: count }, (_, i) => ({ value: `${name}-${p}-${from + i}` })) });
    }
  };
  const withAdmin = async <T>(f: (a: Admin) => Promise<T>): Promise<T> => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      return await f(admin);
    } finally {
      await admin.disconnect();
    }
  };
  const committed = (group: string, topic: string): Promise<Map<number, number>> =>
    withAdmin(async (a) => new Map((await a.fetchOffsets({ groupId: group, topics: [topic] }))[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []));
  /** The node coordinating a group, as FindCoordinator names it once it has one. */
  const coordinatorOf = (group: string): Promise<number> =>
    pollUntil(`the coordinator of ${group}`, async () => {
      const r = await kafkaCall(c.kafkaPorts.get(1) ?? 0, 'FindCoordinator', 4, { keyType: 0, coordinatorKeys: [group] });
      const found = (r['coordinators'] as MessageValue[])[0];
      return found?.['errorCode'] === 0 ? (found['nodeId'] as number) : undefined;
    }, 20_000, 100);
  /** The group as DescribeGroups shows it once it is Stable with `members` members, each member's partitions decoded. */
  const stableWith = (group: string, members: number, timeoutMs = 30_000): Promise<{ memberId: string; clientId: string; clientHost: string; partitions: number[] }[]> =>
    pollUntil(`${group} Stable with ${members} members`, () => withAdmin(async (a) => {
      const g = (await a.describeGroups([group])).groups[0];
      if (g?.state !== 'Stable' || g.members.length !== members) return undefined;
      return g.members.map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        partitions: Object.values(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}).flat().sort((x, y) => x - y),
      }));
    }), timeoutMs, 200);

  it('speaks the group APIs at their versions: MEMBER_ID_REQUIRED (v4+), v0 without rebalance timeout, v7 protocol type, sync, heartbeat, member commits, batched leave, DeleteGroups, OffsetDelete', async () => {
    const topic = 'raw-group';
    const group = 'g-raw';
    await createTopic(topic, 2);
    await produce(topic, 3, 0, 2);
    const coordinator = await coordinatorOf(group);
    const port = c.kafkaPorts.get(coordinator) ?? 0;
    const other = c.kafkaPorts.get(c.ids.find((id) => id !== coordinator) ?? 1) ?? 0;
    const subscription = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: [topic], userData: Buffer.alloc(0) });
    const assignment = AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { [topic]: [0, 1] }, userData: Buffer.alloc(0) });
    const join = { groupId: group, sessionTimeoutMs: 6000, rebalanceTimeoutMs: 10_000, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: subscription }] };

    expect(await kafkaCall(other, 'JoinGroup', 7, { ...join, memberId: '' })).toMatchObject({ errorCode: 16 }); // NOT_COORDINATOR
    // The coordinator answers COORDINATOR_LOAD_IN_PROGRESS until it has read its offsets partition.
    const loaded = await pollUntil('the coordinator loaded', async () => {
      const r = await kafkaCall(port, 'JoinGroup', 7, { ...join, memberId: '', sessionTimeoutMs: 500 });
      return r['errorCode'] === 14 ? undefined : r;
    }, 20_000, 100);
    expect(loaded).toMatchObject({ errorCode: 26 }); // INVALID_SESSION_TIMEOUT
    // v4+: a new member is first given its id (KIP-394), prefixed with the client id as Kafka does.
    const required = await kafkaCall(port, 'JoinGroup', 7, { ...join, memberId: '' });
    expect(required).toMatchObject({ errorCode: 79, generationId: -1 });
    const memberId = required['memberId'] as string;
    expect(memberId).toMatch(/^runnel-test-/);
    const joined = await kafkaCall(port, 'JoinGroup', 7, { ...join, memberId });
    expect(joined).toMatchObject({ errorCode: 0, generationId: 1, protocolType: 'consumer', protocolName: 'range', leader: memberId, memberId });
    expect(joined['members']).toEqual([{ memberId, groupInstanceId: null, metadata: subscription }]);

    const sync = { groupId: group, generationId: 1, memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId, assignment }] };
    expect(await kafkaCall(port, 'SyncGroup', 5, { ...sync, protocolName: 'roundrobin' })).toMatchObject({ errorCode: 23 }); // INCONSISTENT_GROUP_PROTOCOL
    expect(await kafkaCall(port, 'SyncGroup', 5, sync)).toEqual({ throttleTimeMs: 0, errorCode: 0, protocolType: 'consumer', protocolName: 'range', assignment });
    expect(await kafkaCall(port, 'SyncGroup', 1, { ...sync, assignments: [] })).toMatchObject({ errorCode: 0, assignment });
    const beat = { groupId: group, generationId: 1, memberId, groupInstanceId: null };
    expect(await kafkaCall(port, 'Heartbeat', 4, beat)).toEqual({ throttleTimeMs: 0, errorCode: 0 });
    expect(await kafkaCall(port, 'Heartbeat', 0, { ...beat, generationId: 2 })).toMatchObject({ errorCode: 22 }); // ILLEGAL_GENERATION
    expect(await kafkaCall(port, 'Heartbeat', 3, { ...beat, memberId: 'nobody' })).toMatchObject({ errorCode: 25 }); // UNKNOWN_MEMBER_ID

    // DescribeGroups: the member with the request header's client id and the connection's host.
    const described = await kafkaCall(port, 'DescribeGroups', 5, { groups: [group], includeAuthorizedOperations: false });
    expect(described['groups']).toEqual([expect.objectContaining({
      errorCode: 0, groupId: group, groupState: 'Stable', protocolType: 'consumer', protocolData: 'range',
      members: [{ memberId, groupInstanceId: null, clientId: 'runnel-test', clientHost: '/127.0.0.1', memberMetadata: subscription, memberAssignment: assignment }],
    })]);

    // Member commits: the generation is checked (v1 and v8); a commit without member is refused while it has one.
    const commit = async (version: number, generationIdOrMemberEpoch: number, member: string, offset: bigint): Promise<number> => {
      const r = await kafkaCall(port, 'OffsetCommit', version, {
        groupId: group, generationIdOrMemberEpoch, memberId: member, groupInstanceId: null, retentionTimeMs: -1n,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: '' }] }],
      });
      return ((r['topics'] as MessageValue[])[0]?.['partitions'] as MessageValue[])[0]?.['errorCode'] as number;
    };
    expect(await commit(8, 1, memberId, 2n)).toBe(0);
    expect(await commit(1, 1, memberId, 3n)).toBe(0);
    expect(await commit(8, 2, memberId, 1n)).toBe(22);
    expect(await commit(8, 1, 'nobody', 1n)).toBe(25);
    expect(await commit(8, -1, '', 1n)).toBe(25);
    expect(Object.fromEntries(await committed(group, topic))).toEqual({ 0: 3, 1: -1 });

    expect((await kafkaCall(port, 'DeleteGroups', 2, { groupsNames: [group] }))['results']).toEqual([{ groupId: group, errorCode: 68 }]); // NON_EMPTY_GROUP
    expect(await kafkaCall(port, 'OffsetDelete', 0, { groupId: group, topics: [{ name: topic, partitions: [{ partitionIndex: 0 }, { partitionIndex: 7 }] }] })).toEqual({
      errorCode: 0, throttleTimeMs: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, errorCode: 86 }, { partitionIndex: 7, errorCode: 3 }] }], // GROUP_SUBSCRIBED_TO_TOPIC, UNKNOWN_TOPIC_OR_PARTITION
    });

    // LeaveGroup v4: a batch, an error per member.
    const left = await kafkaCall(port, 'LeaveGroup', 4, { groupId: group, members: [{ memberId, groupInstanceId: null }, { memberId: 'nobody', groupInstanceId: null }] });
    expect(left).toEqual({ throttleTimeMs: 0, errorCode: 0, members: [{ memberId, groupInstanceId: null, errorCode: 0 }, { memberId: 'nobody', groupInstanceId: null, errorCode: 25 }] });

    // v0: no rebalance timeout (the session timeout is both) and no MEMBER_ID_REQUIRED; LeaveGroup v0 names the member alone.
    const v0 = await kafkaCall(port, 'JoinGroup', 0, { ...join, memberId: '' });
    expect(v0).toMatchObject({ errorCode: 0, protocolName: 'range' });
    expect(v0['generationId']).toBeGreaterThan(1);
    expect(await kafkaCall(port, 'LeaveGroup', 0, { groupId: group, memberId: v0['memberId'] })).toMatchObject({ errorCode: 0 });
    expect(await kafkaCall(port, 'LeaveGroup', 1, { groupId: group, memberId: v0['memberId'] })).toMatchObject({ errorCode: 25 });

    // Empty now: the offsets can go, then the group.
    expect(await kafkaCall(port, 'OffsetDelete', 0, { groupId: group, topics: [{ name: topic, partitions: [{ partitionIndex: 0 }] }] })).toMatchObject({
      errorCode: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, errorCode: 0 }] }],
    });
    expect(Object.fromEntries(await committed(group, topic))).toEqual({ 0: -1, 1: -1 });
    expect((await kafkaCall(port, 'DeleteGroups', 0, { groupsNames: [group] }))['results']).toEqual([{ groupId: group, errorCode: 0 }]);
    const never = c.kafkaPorts.get(await coordinatorOf('g-never')) ?? 0;
    expect((await kafkaCall(never, 'DeleteGroups', 1, { groupsNames: ['g-never'] }))['results']).toEqual([{ groupId: 'g-never', errorCode: 69 }]); // GROUP_ID_NOT_FOUND
    expect((await kafkaCall(port, 'DescribeGroups', 0, { groups: [group] }))['groups']).toEqual([expect.objectContaining({ errorCode: 0, groupState: 'Dead', members: [] })]);
  }, 90_000);

  it('two kcat -G members split 3 partitions without overlap and read every record; a killed one\'s partitions go to the other from its last commit', async () => {
    const topic = 'kcat-split';
    const group = 'g-kcat-split';
    await createTopic(topic);
    const session = ['-X', 'session.timeout.ms=3000', '-X', 'heartbeat.interval.ms=300'];
    const a = new KcatMember(bootstrap().join(','), group, topic, session);
    const b = new KcatMember(bootstrap().join(','), group, topic, session);
    try {
      const members = await stableWith(group, 2);
      await pollUntil('both kcat members assigned', () => splitBetween(a, b), 20_000, 50);
      // The coordinator's view is the members' own: a split of {0, 1, 2}, with kcat's client id and host.
      expect(members.flatMap((m) => m.partitions).sort()).toEqual([0, 1, 2]);
      expect(members.map((m) => m.partitions).sort()).toEqual([a.assigned(), b.assigned()].sort());
      for (const m of members) expect(m).toMatchObject({ clientId: 'rdkafka', clientHost: '/127.0.0.1' });
      expect(a.assigned().filter((p) => b.assigned().includes(p))).toEqual([]);

      await produce(topic, 20);
      await pollUntil('every record read once', () => a.records.length + b.records.length >= 60, 30_000, 50);
      // HTTP wrote the values as JSON strings.
      const union = [...a.records, ...b.records].map((r) => JSON.parse(r.value) as string).sort();
      expect(union).toEqual([0, 1, 2].flatMap((p) => Array.from({ length: 20 }, (_, i) => `${topic}-${p}-${i}`)).sort());
      for (const [m, rs] of [[a, a.records], [b, b.records]] as const) expect([...byPartition(rs).keys()].sort()).toEqual(m.assigned());

      // Both have committed what they read (auto commit every 100 ms); kill one without a goodbye.
      await pollUntil('the reads committed', async () => [...(await committed(group, topic)).values()].every((o) => o === 20), 20_000, 100);
      const victim = a.assigned().length > 0 ? a : b;
      const survivor = victim === a ? b : a;
      const victimPartitions = victim.assigned();
      await victim.stop('SIGKILL');
      const atDeath = await committed(group, topic);
      await produce(topic, 10, 20);
      await pollUntil('the survivor to read every partition to the end', () => {
        const seen = byPartition(survivor.records);
        return [0, 1, 2].every((p) => (seen.get(p) ?? []).includes(29));
      }, 30_000, 50);
      expect(survivor.assigned()).toEqual([0, 1, 2]);
      // Taken over from the dead member's last commit: its partitions from exactly there, each record once.
      for (const p of victimPartitions) {
        const offsets = byPartition(survivor.records).get(p) ?? [];
        expect(offsets[0]).toBe(atDeath.get(p));
        expect(offsets).toEqual(Array.from({ length: 30 - (atDeath.get(p) ?? 0) }, (_, i) => (atDeath.get(p) ?? 0) + i));
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 120_000);

  interface Delivery {
    readonly consumer: string;
    readonly partition: number;
    readonly offset: number;
    /** The first record a member read of a partition since it (re)joined, or after a gap: where it started reading. */
    readonly start: boolean;
    /** The largest offset any member had committed for the partition when this one was delivered. */
    readonly committedBefore: number;
    /** The commit of offset + 1 after processing it succeeded. */
    committed: boolean;
  }

  /**
   * Kafka's promise to a group: a member given a partition reads it from the committed
   * offset, so a record is read again only if its commit had not succeeded. (A member that lost
   * its coordinator may go on reading what it had, as a zombie, until it learns it was removed;
   * its commits fail. Those reads continue where it was: they are not starts.)
   */
  const expectStartsAtCommits = (deliveries: readonly Delivery[]): void => {
    for (const d of deliveries) {
      if (d.start) expect(d.offset, `${d.consumer} started partition ${d.partition} at ${d.offset} below the commit ${d.committedBefore}`).toBeGreaterThanOrEqual(d.committedBefore);
    }
  };

  /** A kafkajs consumer.run member that commits each record (offset + 1) after processing it, recording every delivery. */
  const runMember = async (name: string, group: string, topic: string, deliveries: Delivery[], commitsMax: Map<number, number>): Promise<Consumer> => {
    const consumer = kafka().consumer({ groupId: group, ...FAST_KAFKAJS });
    const last = new Map<number, number>();
    consumer.on(consumer.events.GROUP_JOIN, () => last.clear());
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }: EachMessagePayload) => {
        const offset = Number(message.offset);
        const d: Delivery = { consumer: name, partition, offset, start: last.get(partition) !== offset - 1, committedBefore: commitsMax.get(partition) ?? 0, committed: false };
        last.set(partition, offset);
        deliveries.push(d);
        try {
          await consumer.commitOffsets([{ topic, partition, offset: String(offset + 1) }]);
          d.committed = true;
          commitsMax.set(partition, Math.max(commitsMax.get(partition) ?? 0, offset + 1));
        } catch {
          // a rebalance took the partition, or the coordinator moved: the next owner reads it again
        }
      },
    });
    return consumer;
  };

  it('kafkajs consumer.run: a restart resumes exactly after the committed offsets; a third member\'s rebalance loses nothing and re-delivers only uncommitted records', async () => {
    const topic = 'kafkajs-run';
    const group = 'g-kafkajs-run';
    await createTopic(topic);
    await produce(topic, 10);
    // First run: process and commit offsets 0-4 of each partition, read 5-9 without committing.
    const first: number[][] = [[], [], []];
    const consumer = kafka().consumer({ groupId: group, ...FAST_KAFKAJS });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const offset = Number(message.offset);
          first[partition]?.push(offset);
          if (offset < 5) await consumer.commitOffsets([{ topic, partition, offset: String(offset + 1) }]);
        },
      });
      await pollUntil('the first run to read everything', () => first.every((os) => os.length === 10), 30_000, 50);
    } finally {
      await consumer.disconnect();
    }
    expect(Object.fromEntries(await committed(group, topic))).toEqual({ 0: 5, 1: 5, 2: 5 });

    // The restart starts at the commits: 5-9 again, nothing below.
    const deliveries: Delivery[] = [];
    const commitsMax = new Map<number, number>();
    const members = [await runMember('m1', group, topic, deliveries, commitsMax)];
    let produced = 10;
    try {
      await pollUntil('the restart to reread 5-9', () => deliveries.length >= 15, 30_000, 50);
      for (let p = 0; p < 3; p++) expect(deliveries.filter((d) => d.partition === p).map((d) => d.offset)).toEqual([5, 6, 7, 8, 9]);

      // Two members under a steady stream; a third joins mid-stream.
      members.push(await runMember('m2', group, topic, deliveries, commitsMax));
      await stableWith(group, 2);
      let producing = true;
      const stream = (async () => {
        while (producing) {
          await produce(topic, 5, produced);
          produced += 5;
        }
      })();
      try {
        await pollUntil('records read by two members', () => new Set(deliveries.filter((d) => d.offset >= 10).map((d) => d.consumer)).size === 2, 30_000, 50);
        members.push(await runMember('m3', group, topic, deliveries, commitsMax));
        const split = await stableWith(group, 3);
        expect(split.map((m) => m.partitions.length)).toEqual([1, 1, 1]);
        await pollUntil('m3 to read', () => deliveries.some((d) => d.consumer === 'm3'), 30_000, 50);
      } finally {
        producing = false;
        await stream;
      }
      await pollUntil('every record read', () => [0, 1, 2].every((p) => deliveries.some((d) => d.partition === p && d.offset === produced - 1)), 30_000, 50);
      // Nothing lost: every offset of every partition was delivered.
      for (let p = 0; p < 3; p++) {
        const seen = new Set(deliveries.filter((d) => d.partition === p).map((d) => d.offset));
        expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: produced - 5 }, (_, i) => i + 5));
      }
      // Re-delivered only what was not committed: each member took its partitions up at the commits.
      expectStartsAtCommits(deliveries);
    } finally {
      await Promise.all(members.map((m) => m.disconnect()));
    }
    // Every processed record was committed in the end: the group's offsets are the log ends.
    expect(Object.fromEntries(await committed(group, topic))).toEqual({ 0: produced, 1: produced, 2: produced });
    expect(Object.fromEntries(commitsMax)).toEqual({ 0: produced, 1: produced, 2: produced });
  }, 180_000);

  it('static membership: a kcat member restarted with its group.instance.id within the session timeout gets its partitions back, the other sees no rebalance', async () => {
    const topic = 'kcat-static';
    const group = 'g-kcat-static';
    await createTopic(topic);
    const conf = (id: string): string[] => ['-X', `group.instance.id=${id}`, '-X', 'session.timeout.ms=10000', '-X', 'heartbeat.interval.ms=300'];
    const a = new KcatMember(bootstrap().join(','), group, topic, conf('static-a'));
    const b = new KcatMember(bootstrap().join(','), group, topic, conf('static-b'));
    let restarted: KcatMember | undefined;
    try {
      await stableWith(group, 2);
      await pollUntil('both assigned', () => splitBetween(a, b), 20_000, 50);
      // The leader's rejoin rebalances before JoinGroup v9 (Kafka's skipAssignment): restart the follower.
      const follower = a.joins.at(-1)?.leader === false ? a : b;
      const other = follower === a ? b : a;
      const id = follower === a ? 'static-a' : 'static-b';
      const partitions = follower.assigned();
      const otherJoins = other.joins.length;
      const otherRebalances = other.rebalances.length;
      const generation = other.joins.at(-1)?.generation;
      await follower.stop('SIGKILL');
      restarted = new KcatMember(bootstrap().join(','), group, topic, conf(id));
      await pollUntil('the restarted member to be assigned', () => restarted?.assigned().length !== 0, 20_000, 50);
      expect(restarted.assigned()).toEqual(partitions);
      expect(restarted.joins.map((j) => j.generation)).toEqual([generation]);
      // The other member was not rebalanced: no JoinGroup, no revocation; reads go on.
      await produce(topic, 5);
      await pollUntil('both to read', () => (restarted?.records.length ?? 0) + other.records.length >= 15, 20_000, 50);
      expect(other.joins.length).toBe(otherJoins);
      expect(other.rebalances.length).toBe(otherRebalances);
      expect((await stableWith(group, 2)).map((m) => m.partitions).sort()).toEqual([partitions, other.assigned()].sort());
    } finally {
      await Promise.all([a.stop(), b.stop(), restarted?.stop()]);
    }
  }, 120_000);

  it('coordinator failover: with the coordinating node SIGKILLed mid-stream, kafkajs members find the new coordinator and go on; no committed offset is lost', async () => {
    const topic = 'failover-run';
    const group = 'g-failover';
    await createTopic(topic);
    const deliveries: Delivery[] = [];
    const commitsMax = new Map<number, number>();
    const members = [await runMember('f1', group, topic, deliveries, commitsMax), await runMember('f2', group, topic, deliveries, commitsMax)];
    const produced = [0, 0, 0];
    try {
      await stableWith(group, 2);
      const coordinator = await coordinatorOf(group);
      const via = c.ids.find((id) => id !== coordinator) ?? 1;
      /** `count` more records into each partition (a partition whose leader moves is retried by the caller). */
      const produceVia = async (count: number): Promise<void> => {
        for (let p = 0; p < 3; p++) {
          const from = produced[p] ?? 0;
          await ok(via, 'POST', `/topics/${topic}/partitions/${p}`, { records: Array.from({ length: count }, (_, i) => ({ value: `${topic}-${p}-${from + i}` })) });
          produced[p] = from + count;
        }
      };
      await produceVia(20);
      await pollUntil('the first records committed', () => [0, 1, 2].every((p) => (commitsMax.get(p) ?? 0) >= 10), 30_000, 50);
      const beforeKill = new Map(commitsMax);
      await c.kill(coordinator);
      // Records keep coming (partition leaders move too) and are read and committed through the new coordinator.
      for (let round = 0; round < 4; round++) {
        await pollUntil('records produced after the kill', async () => {
          await produceVia(5);
          return true;
        }, 30_000, 200);
      }
      await pollUntil('every record read and committed', () => [0, 1, 2].every((p) => commitsMax.get(p) === produced[p]), 60_000, 100);
      const after = await committed(group, topic);
      for (const [p, o] of beforeKill) expect(after.get(p)).toBeGreaterThanOrEqual(o);
      expect(Object.fromEntries(after)).toEqual({ 0: produced[0], 1: produced[1], 2: produced[2] });
      // Every member took its partitions up at the commits: the new coordinator had every one.
      expectStartsAtCommits(deliveries);
    } finally {
      await Promise.all(members.map((m) => m.disconnect()));
    }
  }, 180_000);
});
