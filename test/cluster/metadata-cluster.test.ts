import { describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.ts';
import { withCluster } from '../support/process-cluster.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';

interface PartitionBody {
  partition_id: number;
  leader_id: number | null;
  leader_epoch: number;
  replicas: number[];
  isr: number[];
}

interface ErrorBody {
  error_code: number;
  message: string;
}

describe('a three-node cluster of real processes (metadata plane)', () => {
  let c: ProcessCluster;
  withCluster((started) => (c = started));

  const partitionsOn = async (id: number, topic: string): Promise<PartitionBody[]> =>
    ((await c.get(id, c.v3(`/topics/${topic}/partitions`))) as { data: PartitionBody[] }).data;
  const topicNames = async (id: number): Promise<string[]> =>
    ((await c.get(id, c.v3('/topics'))) as { data: { topic_name: string }[] }).data.map((t) => t.topic_name).sort();
  const brokerStatus = async (id: number, broker: number): Promise<string | undefined> =>
    ((await c.get(id, c.v3('/brokers'))) as { data: { broker_id: number; status: string }[] }).data.find((b) => b.broker_id === broker)?.status;

  it('starts healthy, and every node names the same raft leader', async () => {
    const leader = await c.agreedLeader();
    expect(c.ids).toContain(leader);
    for (const id of c.ids) expect(await c.get(id, '/healthz')).toEqual({ status: 'ok', node_id: id });
  });

  it('creates a topic through a follower; all nodes report the same partitions, each broker leading two of six', async () => {
    const leader = await c.agreedLeader();
    const follower = c.ids.find((id) => id !== leader) ?? 0;
    const created = await c.http(follower, 'POST', c.v3('/topics'), {
      topic_name: 'orders',
      partitions_count: 6,
      replication_factor: 3,
      configs: [{ name: 'min.insync.replicas', value: '2' }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ topic_name: 'orders', partitions_count: 6, replication_factor: 3 });
    const views = await pollUntil('every node to see orders', async () => {
      const all = await Promise.all(c.ids.map((id) => partitionsOn(id, 'orders').catch(() => undefined)));
      return all.every((v) => v !== undefined) ? all : undefined;
    });
    for (const v of views) expect(v).toEqual(views[0]);
    const parts = views[0] ?? [];
    expect(parts).toHaveLength(6);
    for (const p of parts) {
      expect([...p.replicas].sort()).toEqual([1, 2, 3]);
      expect(p.isr).toHaveLength(3);
    }
    for (const b of c.ids) expect(parts.filter((p) => p.leader_id === b)).toHaveLength(2);
  });

  it('refuses bad topic requests with an error naming the field, and creates nothing', async () => {
    const post = (body: unknown) => c.http(1, 'POST', c.v3('/topics'), body);
    const cases: [unknown, number, string][] = [
      [{ topic_name: 'orders' }, 409, 'already exists'],
      [{ topic_name: 'bad name!' }, 422, 'topic_name'],
      [{ partitions_count: 3 }, 422, 'topic_name'],
      [{ topic_name: 'a', partitions_count: 0 }, 422, 'partitions_count'],
      [{ topic_name: 'a', partitions_count: 'three' }, 422, 'partitions_count'],
      [{ topic_name: 'a', replication_factor: 4 }, 422, 'replication_factor'],
      [{ topic_name: 'a', configs: [{ name: 'retention.msec', value: '1' }] }, 422, 'configs[retention.msec]'],
      [{ topic_name: 'a', replication_factor: 2, configs: [{ name: 'min.insync.replicas', value: '3' }] }, 422, 'min.insync.replicas'],
      [{ topic_name: 'a', configs: [{ name: 'retention.ms', value: 'soon' }] }, 422, 'configs[retention.ms]'],
    ];
    for (const [body, status, field] of cases) {
      const r = await post(body);
      expect(r.status, `${JSON.stringify(body)} -> ${JSON.stringify(r.body)}`).toBe(status);
      const e = r.body as ErrorBody;
      expect(e.error_code).toBeGreaterThanOrEqual(status * 100);
      expect(e.error_code).toBeLessThan(status * 100 + 100);
      expect(e.message).toContain(field);
    }
    const notJson = await fetch(c.url(1, c.v3('/topics')), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"topic_name":' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as ErrorBody).error_code).toBe(40001);
    expect((await c.http(2, 'GET', c.v3('/topics/nope'))).status).toBe(404);
    expect((await c.http(2, 'GET', '/v3/clusters/other/topics')).status).toBe(404);
    expect(await topicNames(1)).toEqual(['orders']);
  });

  it('alters topic configs and deletes topics through any node', async () => {
    const created = await c.http(3, 'POST', c.v3('/topics'), { topic_name: 'scratch', partitions_count: 1, replication_factor: 1 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const put = await c.http(2, 'PUT', c.v3('/topics/scratch/configs/retention.ms'), { value: '60000' });
    expect(put.status, JSON.stringify(put.body)).toBe(204);
    expect(await c.get(2, c.v3('/topics/scratch/configs/retention.ms'))).toEqual({ name: 'retention.ms', value: '60000', is_default: false });
    const bad = await c.http(1, 'PUT', c.v3('/topics/scratch/configs/min.insync.replicas'), { value: '2' });
    expect(bad.status).toBe(422);
    expect((bad.body as ErrorBody).message).toContain('min.insync.replicas');
    const del = await c.http(1, 'DELETE', c.v3('/topics/scratch'));
    expect(del.status).toBe(204);
    expect((await c.http(1, 'GET', c.v3('/topics/scratch'))).status).toBe(404);
    expect((await c.http(3, 'DELETE', c.v3('/topics/scratch'))).status).toBe(404);
    await pollUntil('every node to drop the topic', async () => {
      const names = await Promise.all(c.ids.map((id) => topicNames(id)));
      return names.every((n) => !n.includes('scratch'));
    });
  });

  it('survives SIGKILL of the raft leader: the others agree on a new one and create topics; the old one rejoins and catches up', async () => {
    const old = await c.agreedLeader();
    const rest = c.ids.filter((id) => id !== old);
    await c.kill(old);
    const leader = await c.agreedLeader(rest);
    expect(leader).not.toBe(old);
    const r = await c.http(rest[0] ?? 0, 'POST', c.v3('/topics'), { topic_name: 'after-failover', partitions_count: 3, replication_factor: 2 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    c.start(old);
    await c.waitHealthy([old]);
    await pollUntil('the restarted node to catch up', async () => (await topicNames(old)).includes('after-failover'));
    expect(await c.agreedLeader()).toBe(leader);
  }, 60_000);

  it('shows a SIGKILLed broker as fenced after the session timeout, moves its leaderships, and unfences it when it returns', async () => {
    const leader = await c.agreedLeader();
    const victim = c.ids.find((id) => id !== leader) ?? 0;
    await c.kill(victim);
    await pollUntil('the broker to be fenced', async () => (await brokerStatus(leader, victim)) === 'fenced', 15_000, 50);
    const parts = await partitionsOn(leader, 'orders');
    for (const p of parts) {
      expect(p.leader_id).not.toBe(victim);
      expect(p.isr).not.toContain(victim);
    }
    c.start(victim);
    await pollUntil('the broker to be active again', async () => (await brokerStatus(leader, victim)) === 'active', 15_000, 50);
    await c.waitHealthy([victim]);
  }, 60_000);

  it('restarts as a whole cluster with every topic still there', async () => {
    for (const id of c.ids) await c.kill(id, 'SIGTERM');
    c.startAll();
    await c.waitHealthy();
    await c.agreedLeader();
    for (const id of c.ids) expect(await topicNames(id)).toEqual(['after-failover', 'orders']);
  }, 60_000);
});
