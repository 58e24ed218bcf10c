import { Consumer, MessagesStreamModes, stringDeserializers } from '@platformatic/kafka';
import type { MessagesStream } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';

interface GroupView {
  state: string;
  partition_assignor: string | null;
  members: { consumer_id: string; client_id: string; assignments: { topic: string; partition: number }[] }[];
  partitions: { partition: number; committed_offset: number | null }[];
}

/** @platformatic/kafka 1.x (flexible versions, its "roundrobin" with subscription v1) as a group member next to an HTTP instance. */
describe('@platformatic/kafka group consumer', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster));

  const ok = async (node: number, method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await c.http(node, method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path} on node ${node}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };

  it('joins a group with an HTTP instance under roundrobin, reads its partitions and commits them', async () => {
    await ok(1, 'POST', c.v3('/topics'), { topic_name: 'pf', partitions_count: 3, replication_factor: 3 });
    for (let p = 0; p < 3; p++) await ok(2, 'POST', `/topics/pf/partitions/${p}`, { records: Array.from({ length: 4 }, (_, i) => ({ value: `pf-${p}-${i}` })) });
    const consumer = new Consumer({
      clientId: 'pf-member',
      groupId: 'g-pf',
      bootstrapBrokers: c.ids.map((id) => `127.0.0.1:${c.kafkaPorts.get(id) ?? 0}`),
      deserializers: stringDeserializers,
      sessionTimeout: 6000,
      rebalanceTimeout: 6000,
      heartbeatInterval: 500,
    });
    const got: { partition: number; value: string }[] = [];
    let stream: MessagesStream<string, string, string, string> | undefined;
    try {
      stream = await consumer.consume({ topics: ['pf'], mode: MessagesStreamModes.COMMITTED, fallbackMode: 'earliest', autocommit: 200 });
      stream.on('data', (m: { partition: number; value: string }) => got.push({ partition: m.partition, value: m.value }));
      await ok(3, 'POST', '/consumers/g-pf', { name: 'rest-pf', format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'true', 'auto.commit.interval.ms': '100', 'consumer.session.timeout.ms': '6000' });
      await ok(3, 'POST', '/consumers/g-pf/instances/rest-pf/subscription', { topics: ['pf'] });
      const restGot: { partition: number; value: string }[] = [];
      const view = await pollUntil('both members to hold partitions in a Stable group', async () => {
        restGot.push(...((await ok(3, 'GET', '/consumers/g-pf/instances/rest-pf/records?timeout=200')) as { partition: number; value: string }[]));
        const g = (await ok(1, 'GET', c.v3('/consumer-groups/g-pf'))) as GroupView;
        return g.state === 'Stable' && g.members.length === 2 && g.members.every((m) => m.assignments.length > 0) ? g : undefined;
      }, 30_000, 50);
      expect(view.partition_assignor).toBe('roundrobin');
      expect(view.members.map((m) => m.client_id).sort()).toEqual(['pf-member', 'runnel-rest-node-3']);
      expect(view.members.flatMap((m) => m.assignments.map((a) => a.partition)).sort()).toEqual([0, 1, 2]);
      // Together they read all 12 and commit them (platformatic autocommits, the instance auto-commits on its polls).
      const committed = await pollUntil('every partition committed to its end', async () => {
        restGot.push(...((await ok(3, 'GET', '/consumers/g-pf/instances/rest-pf/records?timeout=200')) as { partition: number; value: string }[]));
        const g = (await ok(1, 'GET', c.v3('/consumer-groups/g-pf'))) as GroupView;
        return g.partitions.length === 3 && g.partitions.every((p) => p.committed_offset === 4) ? g : undefined;
      }, 30_000, 100);
      expect(committed.partitions.map((p) => p.committed_offset)).toEqual([4, 4, 4]);
      expect(new Set([...got, ...restGot].map((m) => m.value)).size).toBe(12);
      await ok(3, 'DELETE', '/consumers/g-pf/instances/rest-pf');
    } finally {
      await stream?.close();
      await consumer.close();
    }
  }, 60_000);
});
