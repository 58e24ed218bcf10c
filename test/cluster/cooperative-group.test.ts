import { afterEach, describe, expect, it } from 'vitest';
import { KcatMember } from '../support/group-members.ts';
import { pollUntil } from '../support/poll.ts';
import { withCluster } from '../support/process-cluster.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';

interface GroupView {
  partition_assignor: string | null;
  members: { consumer_id: string; client_id: string; assignments: { partition: number }[] }[];
}

// A group whose Kafka member speaks only cooperative-sticky (librdkafka configured so) takes HTTP
// consumer instances: they agree on cooperative-sticky, and an instance follows KIP-429 — when a
// member joins, it keeps reading the partitions it keeps, at their positions (no commit made, so
// an eager rejoin would read them again from the start).
describe('cooperative-sticky: kcat -G and HTTP consumer instances in one group', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster));
  const kcats: KcatMember[] = [];
  afterEach(async () => {
    await Promise.all(kcats.splice(0).map((k) => k.stop()));
  });

  const ok = async (node: number, method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await c.http(node, method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path} on node ${node}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const produce = async (t: string, batch: string): Promise<void> => {
    for (let p = 0; p < 4; p++) await ok(1 + (p % 3), 'POST', `/topics/${t}/partitions/${p}`, { records: [0, 1, 2].map((i) => ({ value: `${batch}-${p}-${i}` })) });
  };
  /** An HTTP instance on `node`, subscribed; auto-commit off, so nothing it read is ever committed. */
  const instance = async (node: number, group: string, name: string, t: string): Promise<{ poll: () => Promise<void>; read: string[] }> => {
    const base = `/consumers/${group}/instances/${name}`;
    await ok(node, 'POST', `/consumers/${group}`, { name, format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false', 'consumer.session.timeout.ms': '10000' });
    await ok(node, 'POST', `${base}/subscription`, { topics: [t] });
    const read: string[] = [];
    const poll = async (): Promise<void> => {
      read.push(...((await ok(node, 'GET', `${base}/records?timeout=200`)) as { value: string }[]).map((r) => r.value));
    };
    return { poll, read };
  };
  /** Each member's partitions ("h1", "h2" or "rdkafka"), and the group's protocol. */
  const view = async (group: string): Promise<{ split: Map<string, number[]>; protocol: string | null }> => {
    const v = (await ok(1, 'GET', c.v3(`/consumer-groups/${group}`))) as GroupView;
    const split = new Map(v.members.map((m) => [m.client_id === 'rdkafka' ? 'rdkafka' : m.consumer_id, m.assignments.map((a) => a.partition).sort()]));
    return { split, protocol: v.partition_assignor };
  };
  /** Every one of `names` has partitions and the four are split between them with no overlap. */
  const splitAmong = (split: Map<string, number[]>, names: string[]): boolean =>
    split.size === names.length && names.every((n) => (split.get(n)?.length ?? 0) > 0) && JSON.stringify([...split.values()].flat().sort()) === '[0,1,2,3]';

  async function joinAndKeep(group: string, t: string, kcatFirst: boolean): Promise<void> {
    await ok(1, 'POST', c.v3('/topics'), { topic_name: t, partitions_count: 4, replication_factor: 3 });
    const kcat = (): KcatMember => {
      const k = new KcatMember(`127.0.0.1:${c.kafkaPorts.get(3) ?? 0}`, group, t, ['-X', 'partition.assignment.strategy=cooperative-sticky', '-X', 'heartbeat.interval.ms=200', '-X', 'session.timeout.ms=10000']);
      kcats.push(k);
      return k;
    };
    let k: KcatMember;
    let h1: Awaited<ReturnType<typeof instance>>;
    if (kcatFirst) {
      k = kcat();
      await pollUntil('kcat alone in the group', async () => JSON.stringify([...(await view(group)).split]) === '[["rdkafka",[0,1,2,3]]]', 30_000, 100);
      h1 = await instance(2, group, 'h1', t);
    } else {
      h1 = await instance(2, group, 'h1', t);
      await h1.poll(); // settles alone (range): its leader stays the leader
      k = kcat();
    }
    await pollUntil('h1 and kcat split the partitions under cooperative-sticky', async () => {
      await h1.poll();
      const v = await view(group);
      return v.protocol === 'cooperative-sticky' && splitAmong(v.split, ['h1', 'rdkafka']);
    }, 30_000, 50);
    const mine = (await view(group)).split.get('h1') ?? [];
    await produce(t, 'a');
    await pollUntil('batch a read', async () => {
      await h1.poll();
      return h1.read.length + k.records.length >= 12;
    }, 30_000, 10);
    expect([...h1.read].sort()).toEqual(mine.flatMap((p) => [0, 1, 2].map((i) => `a-${p}-${i}`)));

    // h2 joins: two rounds (a partition moves to h2 only once its owner gave it up); h1 polls throughout.
    const h2 = await instance(3, group, 'h2', t);
    const settled = await pollUntil('three members split the partitions', async () => {
      await Promise.all([h1.poll(), h2.poll()]);
      const v = await view(group);
      return v.protocol === 'cooperative-sticky' && splitAmong(v.split, ['h1', 'h2', 'rdkafka']) ? v.split : undefined;
    }, 30_000, 50);
    const kept = settled.get('h1') ?? [];
    expect(kept.every((p) => mine.includes(p))).toBe(true);
    await produce(t, 'b');
    const seen = new Set<string>();
    await pollUntil('batch b read by the three', async () => {
      await Promise.all([h1.poll(), h2.poll()]);
      for (const v of [...h1.read, ...h2.read, ...k.records.map((r) => JSON.parse(r.value) as string)]) seen.add(v);
      return [0, 1, 2, 3].every((p) => [0, 1, 2].every((i) => seen.has(`b-${p}-${i}`)));
    }, 30_000, 10);
    // h1 never read a record twice: the partitions it kept went on from their positions (nothing
    // was committed), and after batch a it read only batch b of what it kept.
    expect(new Set(h1.read).size).toBe(h1.read.length);
    expect(h1.read.filter((v) => v.startsWith('b-')).sort()).toEqual(kept.flatMap((p) => [0, 1, 2].map((i) => `b-${p}-${i}`)));
    expect(h1.read.filter((v) => v.startsWith('a-')).length).toBe(mine.length * 3);
    // Every record of both batches was read by someone.
    expect([0, 1, 2, 3].every((p) => [0, 1, 2].every((i) => seen.has(`a-${p}-${i}`)))).toBe(true);
  }

  it('kcat leading: librdkafka assigns for the HTTP instances', () => joinAndKeep('g-coop-k', 'coop-k', true), 120_000);

  it('an HTTP instance leading: the node assigns cooperatively for kcat and the instances', () => joinAndKeep('g-coop-h', 'coop-h', false), 120_000);
});
