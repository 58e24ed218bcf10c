import { Kafka, logLevel } from 'kafkajs';
import type { Consumer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { KcatMember } from '../support/group-members.ts';
import { pollUntil } from '../support/poll.ts';
import { withCluster } from '../support/process-cluster.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';

type TP = { topic: string; partition: number };
interface GroupView {
  state: string;
  members: { consumer_id: string; client_id: string; assignments: TP[] }[];
}

// One classic group, two doors: the node is an HTTP instance's client (GroupMember), kafkajs and
// librdkafka (kcat -G) are their own. Whoever joins first leads: here the HTTP member leads
// (the node assigns for the Kafka client, in the client's protocol) and librdkafka leads (the
// node reads the assignment librdkafka wrote), under range and cooperative-sticky.
// kafka-mixed-group.test.ts has kafkajs leading.
describe('group leaders across the two doors', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster));
  const consumers: Consumer[] = [];
  afterEach(async () => {
    for (const k of consumers.splice(0)) await k.disconnect();
  });

  const ok = async (node: number, method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await c.http(node, method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path} on node ${node}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const produce = async (t: string, partitions: number, perPartition: number): Promise<void> => {
    for (let p = 0; p < partitions; p++) await ok(2, 'POST', `/topics/${t}/partitions/${p}`, { records: Array.from({ length: perPartition }, (_, i) => ({ value: `${t}-${p}-${i}` })) });
  };
  const httpMember = async (node: number, group: string, name: string, t: string): Promise<string> => {
    const base = `/consumers/${group}/instances/${name}`;
    await ok(node, 'POST', `/consumers/${group}`, { name, format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false', 'consumer.session.timeout.ms': '10000' });
    await ok(node, 'POST', `${base}/subscription`, { topics: [t] });
    return base;
  };
  /** A kafkajs member reading `t` from the beginning: what it was assigned (per GROUP_JOIN) and what it read. */
  const kafkajsMember = async (group: string, t: string): Promise<{ joins: { leader: boolean; protocol: string; partitions: number[] }[]; read: string[] }> => {
    const kafka = new Kafka({ clientId: 'mixed-kjs', brokers: [`127.0.0.1:${c.kafkaPorts.get(1) ?? 0}`], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: group, heartbeatInterval: 200, sessionTimeout: 10_000, rebalanceTimeout: 10_000 });
    consumers.push(consumer);
    const joins: { leader: boolean; protocol: string; partitions: number[] }[] = [];
    const read: string[] = [];
    consumer.on(consumer.events.GROUP_JOIN, (e) => joins.push({ leader: e.payload.isLeader, protocol: e.payload.groupProtocol, partitions: [...(e.payload.memberAssignment[t] ?? [])].sort() }));
    await consumer.connect();
    await consumer.subscribe({ topics: [t], fromBeginning: true });
    // Values were produced as JSON over HTTP: the same bytes kafkajs reads.
    await consumer.run({ eachMessage: ({ message }) => Promise.resolve(void read.push(JSON.parse(message.value?.toString() ?? 'null') as string)) });
    return { joins, read };
  };
  /** Polls the HTTP member (on node 2) until it and the other member read `n` records between them; the values it read, sorted. */
  const readTogether = async (base: string, n: number, others: () => number): Promise<unknown[]> => {
    const values: unknown[] = [];
    await pollUntil(`all ${n} records read`, async () => {
      values.push(...((await ok(2, 'GET', `${base}/records?timeout=200`)) as { value: unknown }[]).map((r) => r.value));
      return values.length + others() >= n;
    }, 30_000, 10);
    return values.sort();
  };
  const assigned = async (node: number, base: string): Promise<number[]> => ((await ok(node, 'GET', `${base}/assignments`)) as { partitions: TP[] }).partitions.map((p) => p.partition).sort();

  it('kafkajs: the HTTP instance leads, its node assigns RoundRobinAssigner for kafkajs (h1: 0,2; kafkajs: 1), and between them they read every record once', async () => {
    const [group, t] = ['g-lead-kjs', 'lead-a'];
    await ok(1, 'POST', c.v3('/topics'), { topic_name: t, partitions_count: 3, replication_factor: 3 });
    const base = await httpMember(2, group, 'h1', t);
    expect(await ok(2, 'GET', `${base}/records?timeout=1000`)).toEqual([]); // settles alone: the leader
    const kj = await kafkajsMember(group, t);
    // The HTTP member reads on every poll; both settle in one generation that splits 3 partitions.
    await pollUntil('a split of the three partitions', async () => {
      await ok(2, 'GET', `${base}/records?timeout=200`);
      const last = kj.joins.at(-1);
      const mine = await assigned(2, base);
      return last !== undefined && last.partitions.length + mine.length === 3 && mine.length > 0 && last.partitions.length > 0;
    }, 30_000, 50);
    const last = kj.joins.at(-1);
    expect(last).toMatchObject({ protocol: 'RoundRobinAssigner', leader: false });
    // Kafka's round robin over member ids sorted: "h1" before "mixed-kjs-<uuid>".
    expect(await assigned(2, base)).toEqual([0, 2]);
    expect(last?.partitions).toEqual([1]);
    const view = (await ok(3, 'GET', c.v3(`/consumer-groups/${group}`))) as GroupView;
    expect(view.members.map((m) => [m.consumer_id === 'h1' ? 'h1' : m.client_id, m.assignments.map((a) => a.partition).sort()]).sort()).toEqual([
      ['h1', [0, 2]],
      ['mixed-kjs', [1]],
    ]);

    // Between them they read every record once: the HTTP member partitions 0 and 2, kafkajs 1.
    await produce(t, 3, 4);
    expect(await readTogether(base, 12, () => kj.read.length)).toEqual([0, 2].flatMap((p) => [0, 1, 2, 3].map((i) => `${t}-${p}-${i}`)));
    expect([...kj.read].sort()).toEqual([0, 1, 2, 3].map((i) => `${t}-1-${i}`));
    await ok(2, 'DELETE', base);
  }, 90_000);

  describe('kcat -G (librdkafka)', () => {
    const kcats: KcatMember[] = [];
    afterEach(async () => {
      for (const k of kcats.splice(0)) await k.stop();
    });
    const kcatMember = (group: string, t: string, strategy: string): KcatMember => {
      const conf = ['heartbeat.interval.ms=200', 'session.timeout.ms=10000', 'max.poll.interval.ms=10000', `partition.assignment.strategy=${strategy}`];
      const k = new KcatMember(`127.0.0.1:${c.kafkaPorts.get(3) ?? 0}`, group, t, conf.flatMap((x) => ['-X', x]));
      kcats.push(k);
      return k;
    };
    /** [member ("h1" or its client id), its partitions] sorted, and the group's protocol. */
    const split = async (group: string): Promise<{ members: [string, number[]][]; protocol: string }> => {
      const v = (await ok(1, 'GET', c.v3(`/consumer-groups/${group}`))) as GroupView & { partition_assignor: string };
      return { members: v.members.map((m): [string, number[]] => [m.consumer_id === 'h1' ? 'h1' : m.client_id, m.assignments.map((a) => a.partition).sort()]).sort(), protocol: v.partition_assignor };
    };

    /** kcat and an HTTP instance over three partitions: `expected` split (or any split of 1 and 2), then every record read once. */
    async function withKcat(group: string, t: string, strategy: string, httpFirst: boolean, expected?: [string, number[]][]): Promise<void> {
      await ok(1, 'POST', c.v3('/topics'), { topic_name: t, partitions_count: 3, replication_factor: 3 });
      let base = '';
      let k: KcatMember;
      if (httpFirst) {
        base = await httpMember(2, group, 'h1', t);
        expect(await ok(2, 'GET', `${base}/records?timeout=1000`)).toEqual([]);
        k = kcatMember(group, t, strategy);
      } else {
        k = kcatMember(group, t, strategy);
        await pollUntil('kcat alone in the group', async () => JSON.stringify((await split(group)).members) === JSON.stringify([['rdkafka', [0, 1, 2]]]), 30_000, 100);
        base = await httpMember(2, group, 'h1', t);
      }
      const settled = await pollUntil(`a ${strategy} split`, async () => {
        await ok(2, 'GET', `${base}/records?timeout=200`);
        const s = await split(group);
        const all = s.members.flatMap(([, ps]) => ps).sort();
        const fits = expected === undefined ? s.members.every(([, ps]) => ps.length > 0) : JSON.stringify(s.members) === JSON.stringify(expected);
        return s.members.length === 2 && JSON.stringify(all) === '[0,1,2]' && s.protocol === strategy.split(',')[0] && fits ? s : undefined;
      }, 30_000, 50);
      const mine = settled.members.find(([id]) => id === 'h1')?.[1] ?? [];
      await pollUntil('the HTTP member to read its split', async () => JSON.stringify(await assigned(2, base)) === JSON.stringify(mine), 10_000);
      await produce(t, 3, 4);
      const theirs = [0, 1, 2].filter((p) => !mine.includes(p));
      expect(await readTogether(base, 12, () => k.records.length)).toEqual(mine.flatMap((p) => [0, 1, 2, 3].map((i) => `${t}-${p}-${i}`)));
      expect(k.records.map((r) => `${r.partition} ${r.value}`).sort()).toEqual(theirs.flatMap((p) => [0, 1, 2, 3].map((i) => `${p} "${t}-${p}-${i}"`)));
      await ok(2, 'DELETE', base);
    }

    // Kafka's range over member ids sorted: "h1" before "rdkafka-<uuid>".
    it('default range,roundrobin, the HTTP instance leading: range, assigned by the node', () => withKcat('g-rd-http', 'lead-c', 'range,roundrobin', true, [['h1', [0, 1]], ['rdkafka', [2]]]), 90_000);

    it('default range,roundrobin, kcat leading: the node reads the range assignment librdkafka wrote', () => withKcat('g-rd-kcat', 'lead-d', 'range,roundrobin', false, [['h1', [0, 1]], ['rdkafka', [2]]]), 90_000);

    it('cooperative-sticky, the HTTP instance leading: the node assigns for a cooperative member', () => withKcat('g-coop-http', 'lead-e', 'cooperative-sticky', true, [['h1', [0, 2]], ['rdkafka', [1]]]), 90_000);

    it('cooperative-sticky, kcat leading: librdkafka hands the HTTP member its share over two rounds', () => withKcat('g-coop-kcat', 'lead-f', 'cooperative-sticky', false), 90_000);
  });
});
