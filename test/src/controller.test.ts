import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RunnelError } from '../../src/errors.ts';
import { Controller } from '../../src/metadata/controller.ts';
import { MetadataImage, NO_LEADER } from '../../src/metadata/image.ts';
import type { MetadataRecord } from '../../src/metadata/records.ts';

/** A controller whose "raft" applies each batch to one image at once, with a hand-driven clock. */
function setup(brokers = [1, 2, 3]) {
  const image = new MetadataImage();
  const unreachable = new Set<number>();
  const committed: MetadataRecord[][] = [];
  let now = 1_000;
  let ids = 0;
  const controller = new Controller({
    image: () => image,
    propose: (records) => {
      committed.push(records);
      for (const r of records) image.replay(r);
      return Promise.resolve();
    },
    now: () => now,
    newTopicId: () => `topic-${++ids}`,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    peerReachable: (id) => !unreachable.has(id),
    topicConfig: (t, name) => t.configs[name] ?? (name === 'unclean.leader.election.enable' ? 'false' : ''),
    topicDefaults: { partitions: 3, replicationFactor: 3, minInsyncReplicas: 2 },
    logger: pino({ level: 'silent' }),
  });
  controller.activate(Promise.resolve());
  const advance = (ms: number): void => {
    now += ms;
  };
  const start = async (): Promise<void> => {
    for (const id of brokers) {
      await controller.registerBroker({ brokerId: id, incarnationId: `i${id}`, host: '127.0.0.1', httpPort: 8080 + id, rpcPort: 19090 + id });
      await controller.heartbeat(id, `i${id}`);
    }
  };
  return { image, controller, committed, advance, start, unreachable };
}

const errorName = async (p: Promise<unknown>): Promise<string> => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  return e instanceof RunnelError ? `${e.errorName}: ${e.message}` : `no RunnelError: ${String(e)}`;
};

describe('controller', () => {
  it('registers brokers fenced and unfences them on their first heartbeat', async () => {
    const { image, controller } = setup();
    await controller.registerBroker({ brokerId: 1, incarnationId: 'a', host: 'h', httpPort: 1, rpcPort: 2 });
    expect(image.broker(1)?.fenced).toBe(true);
    expect(await controller.heartbeat(1, 'a')).toEqual({ registered: true, fenced: false });
    expect(image.broker(1)?.fenced).toBe(false);
    // A heartbeat from another incarnation is told to register again.
    expect(await controller.heartbeat(1, 'b')).toEqual({ registered: false, fenced: true });
  });

  it('places 6 partitions of RF 3 so that each broker leads exactly 2', async () => {
    const { controller, start } = setup();
    await start();
    const t = await controller.createTopic({ name: 'orders', partitions: 6, replicationFactor: 3, configs: {} });
    const leads = new Map<number, number>();
    for (const p of t.partitions) leads.set(p.leader, (leads.get(p.leader) ?? 0) + 1);
    expect([...leads.entries()].sort()).toEqual([[1, 2], [2, 2], [3, 2]]);
    for (const p of t.partitions) expect(p.isr).toEqual(p.replicas);
  });

  it('refuses bad topics with the field named, and commits nothing for them', async () => {
    const { controller, committed, start } = setup();
    await start();
    const before = committed.length;
    expect(await errorName(controller.createTopic({ name: 'bad name!', configs: {} }))).toMatch(/^INVALID_TOPIC_EXCEPTION: topic_name/);
    expect(await errorName(controller.createTopic({ name: 'a', partitions: 0, configs: {} }))).toMatch(/^INVALID_PARTITIONS: partitions_count/);
    expect(await errorName(controller.createTopic({ name: 'a', replicationFactor: 4, configs: {} }))).toMatch(
      /^INVALID_REPLICATION_FACTOR: replication_factor: 4 is more than the 3 live brokers/,
    );
    expect(await errorName(controller.createTopic({ name: 'a', configs: { 'retention.mss': '1' } }))).toMatch(/^INVALID_CONFIG: configs\[retention.mss\]: unknown config/);
    expect(await errorName(controller.createTopic({ name: 'a', configs: { 'retention.ms': 'soon' } }))).toMatch(/^INVALID_CONFIG: configs\[retention.ms\]/);
    expect(await errorName(controller.createTopic({ name: 'a', replicationFactor: 2, configs: { 'min.insync.replicas': '3' } }))).toMatch(
      /^INVALID_CONFIG: configs\[min.insync.replicas\]: 3 is more than the replication factor 2/,
    );
    expect(committed.length).toBe(before);
    await controller.createTopic({ name: 'a', configs: {} });
    expect(await errorName(controller.createTopic({ name: 'a', configs: {} }))).toMatch(/^TOPIC_ALREADY_EXISTS/);
  });

  it('fences a silent broker after the session timeout and moves its leadership to another ISR member', async () => {
    const { image, controller, advance, start } = setup();
    await start();
    await controller.createTopic({ name: 'orders', partitions: 6, replicationFactor: 3, configs: {} });
    advance(4_000);
    await controller.heartbeat(1, 'i1');
    await controller.heartbeat(2, 'i2');
    await controller.checkSessions();
    expect(image.broker(3)?.fenced).toBe(false); // 4 s < 6 s session
    advance(3_000);
    await controller.heartbeat(1, 'i1');
    await controller.heartbeat(2, 'i2');
    await controller.checkSessions();
    expect(image.broker(3)?.fenced).toBe(true);
    for (const p of image.topic('orders')?.partitions ?? []) {
      expect(p.isr).not.toContain(3);
      expect(p.leader).not.toBe(3);
      expect(p.leader).not.toBe(NO_LEADER);
    }
    // It returns: unfenced; the partition leaders will add it back to the ISR once caught up.
    await controller.heartbeat(3, 'i3');
    expect(image.broker(3)?.fenced).toBe(false);
  });

  it('keeps the last in-sync replica recorded with no leader, and gives it leadership back when it returns', async () => {
    const { image, controller, advance, start } = setup([1]);
    await start();
    await controller.createTopic({ name: 'solo', partitions: 1, replicationFactor: 1, configs: {} });
    advance(7_000);
    await controller.checkSessions();
    expect(image.topic('solo')?.partitions[0]).toMatchObject({ leader: NO_LEADER, isr: [1], leaderEpoch: 1 });
    await controller.heartbeat(1, 'i1');
    expect(image.topic('solo')?.partitions[0]).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 2 });
  });

  it('gives a newly active controller a full session of grace before fencing anyone', async () => {
    const { image, controller, advance, start } = setup();
    await start();
    advance(60_000);
    controller.deactivate();
    controller.activate(Promise.resolve());
    advance(5_000);
    await controller.checkSessions();
    expect(image.allBrokers().every((b) => !b.fenced)).toBe(true);
    advance(2_000);
    await controller.checkSessions();
    expect(image.allBrokers().every((b) => b.fenced)).toBe(true);
  });

  it('validates config changes against the topic, all or nothing', async () => {
    const { image, controller, start } = setup();
    await start();
    await controller.createTopic({ name: 't', replicationFactor: 2, configs: {} });
    expect(await errorName(controller.alterTopicConfigs('t', { 'retention.ms': '5', 'min.insync.replicas': '3' }))).toMatch(/min.insync.replicas/);
    expect(image.topic('t')?.configs).toEqual({});
    await controller.alterTopicConfigs('t', { 'retention.ms': '5' });
    expect(image.topic('t')?.configs).toEqual({ 'retention.ms': '5' });
    await controller.alterTopicConfigs('t', { 'retention.ms': null });
    expect(image.topic('t')?.configs).toEqual({});
    expect(await errorName(controller.alterTopicConfigs('nope', {}))).toMatch(/^UNKNOWN_TOPIC_OR_PARTITION/);
  });

  it('refuses commands while not active', async () => {
    const { controller } = setup();
    controller.deactivate();
    expect(await errorName(controller.createTopic({ name: 'x', configs: {} }))).toMatch(/^NOT_CONTROLLER/);
  });

  it('alters an ISR only for the current leader at the current epochs (AlterPartition)', async () => {
    const { image, controller, start } = setup();
    await start();
    const t = await controller.createTopic({ name: 'isr', partitions: 1, replicationFactor: 3, configs: {} });
    const p0 = t.partitions[0];
    if (p0 === undefined) throw new Error('no partition');
    const base = { topicId: t.id, partition: 0, leaderId: p0.leader, leaderEpoch: p0.leaderEpoch, partitionEpoch: p0.partitionEpoch };
    const follower = p0.replicas.find((b) => b !== p0.leader) ?? 0;
    const shrunk = await controller.alterPartition({ ...base, isr: p0.isr.filter((b) => b !== follower) });
    expect(shrunk.isr).not.toContain(follower);
    expect(shrunk.partitionEpoch).toBe(p0.partitionEpoch + 1);
    expect(shrunk.leaderEpoch).toBe(p0.leaderEpoch);
    // The same request again carries a stale partition epoch.
    expect(await errorName(controller.alterPartition({ ...base, isr: p0.isr }))).toMatch(/^INVALID_UPDATE_VERSION/);
    // Only the leader at its epoch may ask.
    expect(await errorName(controller.alterPartition({ ...base, leaderId: follower, partitionEpoch: shrunk.partitionEpoch, isr: [follower] }))).toMatch(/^FENCED_LEADER_EPOCH/);
    expect(await errorName(controller.alterPartition({ ...base, partitionEpoch: shrunk.partitionEpoch, isr: [follower] }))).toMatch(/^INVALID_REQUEST: isr: must include the leader/);
    // Expansion back to all three.
    const expanded = await controller.alterPartition({ ...base, partitionEpoch: shrunk.partitionEpoch, isr: p0.isr });
    expect([...expanded.isr].sort()).toEqual([...p0.isr].sort());
    expect(image.topic('isr')?.partitions[0]?.partitionEpoch).toBe(p0.partitionEpoch + 2);
  });

  it('fences a broker early when it is silent for two heartbeats and its connection is down', async () => {
    const { image, controller, advance, start, unreachable } = setup();
    await start();
    advance(1200);
    for (const id of [1, 2]) await controller.heartbeat(id, `i${id}`);
    await controller.checkSessions();
    expect(image.broker(3)?.fenced).toBe(false); // silent but reachable: wait for the session timeout
    unreachable.add(3);
    await controller.checkSessions();
    expect(image.broker(3)?.fenced).toBe(true);
  });

  it('moves leaderships away from a broker in controlled shutdown, and its heartbeats do not unfence it', async () => {
    const { image, controller, start } = setup();
    await start();
    await controller.createTopic({ name: 'cs', partitions: 6, replicationFactor: 3, configs: {} });
    const r = await controller.controlledShutdown(2, 'i2');
    expect(r.leaderships).toBe(0);
    const parts = image.topic('cs')?.partitions ?? [];
    expect(parts.filter((p) => p.leader === 2)).toHaveLength(0);
    for (const p of parts) expect(p.isr).not.toContain(2);
    expect(await controller.heartbeat(2, 'i2')).toEqual({ registered: true, fenced: true });
    expect(image.broker(2)?.fenced).toBe(true);
    // The restarted broker (a new incarnation) registers and is unfenced as usual.
    await controller.registerBroker({ brokerId: 2, incarnationId: 'i2b', host: '127.0.0.1', httpPort: 8082, rpcPort: 19092 });
    expect(await controller.heartbeat(2, 'i2b')).toEqual({ registered: true, fenced: false });
  });

  it('gives leadership back to the preferred replica once it is in sync again', async () => {
    const { image, controller, start } = setup();
    await start();
    const t = await controller.createTopic({ name: 'pref', partitions: 6, replicationFactor: 3, configs: {} });
    await controller.controlledShutdown(1, 'i1');
    await controller.registerBroker({ brokerId: 1, incarnationId: 'i1b', host: '127.0.0.1', httpPort: 8081, rpcPort: 19091 });
    await controller.heartbeat(1, 'i1b');
    // Broker 1 is back but not in any ISR yet: nothing to move.
    expect(await controller.rebalanceLeaders()).toBe(0);
    for (const p of image.topic('pref')?.partitions ?? []) {
      await controller.alterPartition({ topicId: t.id, partition: p.partition, leaderId: p.leader, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, isr: [...p.isr, 1] });
    }
    expect(await controller.rebalanceLeaders()).toBe(2);
    for (const b of [1, 2, 3]) expect(image.topic('pref')?.partitions.filter((p) => p.leader === b)).toHaveLength(2);
  });

  it.each([
    [{}, false],
    [{ 'unclean.leader.election.enable': 'true' }, true],
  ])('with configs %j elects an out-of-sync replica when the last in-sync one dies: %s', async (configs, unclean) => {
    const { image, controller, advance, start } = setup();
    await start();
    const t = await controller.createTopic({ name: 't', partitions: 1, replicationFactor: 2, configs });
    const p = t.partitions[0];
    if (p === undefined) throw new Error('no partition');
    await controller.alterPartition({ topicId: t.id, partition: 0, leaderId: p.leader, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, isr: [p.leader] });
    const other = p.replicas.find((b) => b !== p.leader) ?? 0;
    advance(7000);
    for (const id of [1, 2, 3].filter((b) => b !== p.leader)) await controller.heartbeat(id, `i${id}`);
    await controller.checkSessions();
    const after = image.topic('t')?.partitions[0];
    if (unclean) {
      expect(after).toMatchObject({ leader: other, isr: [other] });
    } else {
      expect(after).toMatchObject({ leader: NO_LEADER, isr: [p.leader] });
    }
  });
});

describe('controller: raising a partition count (CreatePartitions)', () => {
  it('adds PartitionRecords for the new partitions only, placed like a new topic, leaders spread', async () => {
    const { image, controller, committed, start } = setup();
    await start();
    await controller.createTopic({ name: 'grow', partitions: 3, replicationFactor: 2, configs: {} });
    const before = image.topic('grow')?.partitions;
    const commits = committed.length;
    const t = await controller.createPartitions({ name: 'grow', count: 6 });
    expect(t.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(t.partitions.slice(0, 3)).toEqual(before);
    expect(committed.length).toBe(commits + 1);
    expect(committed.at(-1)?.map((r) => [r.type, 'partition' in r ? r.partition : -1])).toEqual([[5, 3], [5, 4], [5, 5]]);
    for (const p of t.partitions.slice(3)) {
      expect(p).toMatchObject({ leader: p.replicas[0], isr: p.replicas, leaderEpoch: 0, partitionEpoch: 0 });
      expect(new Set(p.replicas).size).toBe(2);
    }
    // Six partitions over three brokers: each leads two.
    expect([1, 2, 3].map((b) => t.partitions.filter((p) => p.leader === b).length)).toEqual([2, 2, 2]);
  });

  it('honours assignments, and refuses a count not above the current one, an unknown topic and assignments that do not fit', async () => {
    const { controller, committed, start } = setup();
    await start();
    await controller.createTopic({ name: 'g', partitions: 2, replicationFactor: 2, configs: {} });
    const commits = committed.length;
    expect(await errorName(controller.createPartitions({ name: 'g', count: 2 }))).toMatch(/^INVALID_PARTITIONS: count: topic "g" has 2 partitions/);
    expect(await errorName(controller.createPartitions({ name: 'g', count: 1 }))).toMatch(/^INVALID_PARTITIONS/);
    expect(await errorName(controller.createPartitions({ name: 'nope', count: 3 }))).toMatch(/^UNKNOWN_TOPIC_OR_PARTITION/);
    expect(await errorName(controller.createPartitions({ name: 'g', count: 4, assignments: [[1, 2]] }))).toMatch(/^INVALID_REPLICA_ASSIGNMENT: assignments: 1 assignments for 2/);
    expect(await errorName(controller.createPartitions({ name: 'g', count: 3, assignments: [[1]] }))).toMatch(/^INVALID_REPLICA_ASSIGNMENT: assignments\[0\]: 1 replicas/);
    expect(await errorName(controller.createPartitions({ name: 'g', count: 3, assignments: [[2, 2]] }))).toMatch(/^INVALID_REPLICA_ASSIGNMENT: .*twice/);
    expect(await errorName(controller.createPartitions({ name: 'g', count: 3, assignments: [[1, 9]] }))).toMatch(/^INVALID_REPLICA_ASSIGNMENT: .*broker 9 is not registered/);
    expect(committed.length).toBe(commits);
    const t = await controller.createPartitions({ name: 'g', count: 4, assignments: [[3, 1], [2, 3]] });
    expect(t.partitions.slice(2).map((p) => [p.replicas, p.leader])).toEqual([[[3, 1], 3], [[2, 3], 2]]);
  });
});
