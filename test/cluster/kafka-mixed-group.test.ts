import { Kafka, logLevel } from 'kafkajs';
import type { Consumer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';

interface GroupView {
  state: string;
  generation: number;
  partition_assignor: string | null;
  members: { consumer_id: string; instance_id: string | null; client_id: string; host: string; assignments: { topic: string; partition: number }[] }[];
  partitions: { topic: string; partition: number; consumer_id: string | null; committed_offset: number | null; end_offset: number | null; lag: number | null }[];
}

interface Rec {
  partition: number;
  offset: number;
  value: string;
}

/**
 * One consumer group, two front doors: kafkajs members (Kafka's classic group protocol) and
 * REST v2 consumer instances (the node is their group client) in the same group, on the
 * same coordinator and committed offsets.
 */
describe('a consumer group with kafkajs and HTTP members', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster));
  const consumers: Consumer[] = [];
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((k) => k.disconnect().catch(() => undefined)));
  });

  const ok = async (node: number, method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await c.http(node, method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path} on node ${node}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const group = (g: string): Promise<GroupView> => ok(1, 'GET', c.v3(`/consumer-groups/${g}`)) as Promise<GroupView>;
  const kafka = (): Kafka => new Kafka({ clientId: 'mixed-kjs', brokers: c.ids.map((id) => `127.0.0.1:${c.kafkaPorts.get(id) ?? 0}`), logLevel: logLevel.NOTHING });
  const produce = async (topic: string, partitions: number, perPartition: number, tag: string): Promise<void> => {
    for (let p = 0; p < partitions; p++) {
      await ok(1 + (p % 3), 'POST', `/topics/${topic}/partitions/${p}`, { records: Array.from({ length: perPartition }, (_, i) => ({ value: `${tag}-${p}-${i}` })) });
    }
  };
  /** A kafkajs member that records what it reads and commits each message as it goes. */
  const kafkaMember = async (g: string, topic: string, got: Rec[]): Promise<Consumer> => {
    const k = kafka().consumer({ groupId: g, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 6000 });
    consumers.push(k);
    await k.connect();
    await k.subscribe({ topic, fromBeginning: true });
    await k.run({
      autoCommit: true,
      autoCommitThreshold: 1,
      eachMessage: ({ partition, message }) => {
        got.push({ partition, offset: Number(message.offset), value: message.value?.toString() ?? '' });
        return Promise.resolve();
      },
    });
    return k;
  };
  const httpMember = async (node: number, g: string, name: string, topic: string): Promise<string> => {
    await ok(node, 'POST', `/consumers/${g}`, { name, format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false', 'consumer.session.timeout.ms': '6000' });
    const base = `/consumers/${g}/instances/${name}`;
    await ok(node, 'POST', `${base}/subscription`, { topics: [topic] });
    return base;
  };
  const poll = async (node: number, base: string): Promise<Rec[]> => {
    const r = await c.http(node, 'GET', `${base}/records?timeout=300`);
    if (r.status !== 200) throw new Error(`poll ${base}: ${r.status} ${JSON.stringify(r.body)}`);
    return (r.body as { partition: number; offset: number; value: string }[]).map((x) => ({ partition: x.partition, offset: x.offset, value: x.value }));
  };

  it('a kafkajs member and an HTTP instance split the partitions, together read every record, and the v3 view lists both', async () => {
    await ok(1, 'POST', c.v3('/topics'), { topic_name: 'mixed', partitions_count: 4, replication_factor: 3 });
    await produce('mixed', 4, 5, 'a');
    const kGot: Rec[] = [];
    await kafkaMember('g-mixed', 'mixed', kGot);
    const base = await httpMember(2, 'g-mixed', 'rest-1', 'mixed');
    const hGot: Rec[] = [];
    // Both in one Stable generation, each with partitions.
    const view = await pollUntil('both members to hold partitions in a Stable group', async () => {
      hGot.push(...(await poll(2, base)));
      const g = await group('g-mixed');
      return g.state === 'Stable' && g.members.length === 2 && g.members.every((m) => m.assignments.length > 0) ? g : undefined;
    }, 30_000, 50);
    // kafkajs speaks only RoundRobinAssigner; the HTTP member offers it too, so the group agrees on it.
    expect(view.partition_assignor).toBe('RoundRobinAssigner');
    const rest = view.members.find((m) => m.consumer_id === 'rest-1');
    const kjs = view.members.find((m) => m.consumer_id !== 'rest-1');
    expect(rest).toMatchObject({ client_id: 'runnel-rest-node-2', instance_id: null });
    expect(kjs).toMatchObject({ client_id: 'mixed-kjs', instance_id: null });
    const owned = view.members.flatMap((m) => m.assignments.map((a) => a.partition)).sort();
    expect(owned).toEqual([0, 1, 2, 3]);

    await pollUntil('every record read', async () => {
      hGot.push(...(await poll(2, base)));
      return new Set([...kGot, ...hGot].map((r) => r.value)).size === 20;
    }, 30_000, 50);
    // Each member read only its own partitions (those it holds now: the group settled before the first HTTP record).
    const restParts = new Set(rest?.assignments.map((a) => a.partition));
    expect(hGot.every((r) => restParts.has(r.partition))).toBe(true);
    // Records of the HTTP member's partitions reached nobody else after it held them.
    const commits = [...restParts].map((p) => ({ topic: 'mixed', partition: p, offset: Math.max(...hGot.filter((r) => r.partition === p).map((r) => r.offset)) }));
    await ok(2, 'POST', `${base}/offsets`, { offsets: commits });
    const lagged = await pollUntil('the view to show every partition committed to its end', async () => {
      const g = await group('g-mixed');
      return g.partitions.length === 4 && g.partitions.every((p) => p.lag === 0 && p.end_offset === 5) ? g : undefined;
    }, 20_000, 100);
    expect(lagged.partitions.map((p) => p.committed_offset)).toEqual([5, 5, 5, 5]);
    await ok(2, 'DELETE', base);
  });

  it('resetting a group\'s offsets is refused while a kafkajs member is in it, and a member after the reset starts there', async () => {
    await ok(1, 'POST', c.v3('/topics'), { topic_name: 'resettable', partitions_count: 2, replication_factor: 3 });
    await produce('resettable', 2, 4, 'r');
    const got: Rec[] = [];
    const k = await kafkaMember('g-reset', 'resettable', got);
    await pollUntil('the kafkajs member to read and commit everything', async () => {
      const g = await group('g-reset');
      return g.partitions.length === 2 && g.partitions.every((p) => p.committed_offset === 4) ? true : undefined;
    }, 30_000, 100);
    const refused = await c.http(3, 'POST', c.v3('/consumer-groups/g-reset/offsets'), { offsets: [{ topic: 'resettable', partition: 0, offset: 1 }] });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error_code: 40905 });
    // LeaveGroup on disconnect: the group empties, and the reset is taken.
    await k.disconnect();
    await pollUntil('the group to be empty', async () => ((await group('g-reset')).members.length === 0 ? true : undefined), 20_000, 100);
    await ok(3, 'POST', c.v3('/consumer-groups/g-reset/offsets'), { offsets: [{ topic: 'resettable', partition: 0, offset: 1 }] });
    const again: Rec[] = [];
    await kafkaMember('g-reset', 'resettable', again);
    await pollUntil('the new member to re-read partition 0 from offset 1', () => Promise.resolve(again.filter((r) => r.partition === 0).length >= 3 ? true : undefined), 30_000, 100);
    expect(again.filter((r) => r.partition === 0).map((r) => r.offset)).toEqual([1, 2, 3]);
    // Partition 1 stays committed at its end: nothing of it is read again.
    expect(again.filter((r) => r.partition === 1)).toEqual([]);
  });
});
