import type { ProcessCluster } from '../support/process-cluster.ts';
import { pollUntil } from '../support/poll.ts';

interface PartitionBody {
  partition_id: number;
  leader_id: number | null;
  isr: number[];
}

export interface FailoverRun {
  readonly partition: number;
  readonly killed: number;
  readonly wasRaftLeader: boolean;
  readonly ms: number;
}

async function partitions(c: ProcessCluster, via: number, topic: string): Promise<PartitionBody[]> {
  return ((await c.get(via, c.v3(`/topics/${topic}/partitions`))) as { data: PartitionBody[] }).data;
}

/**
 * `rounds` times: SIGKILL the leader of one partition, then time from the kill to the first
 * successful acks=all produce on that partition (sent through a surviving node right after
 * the kill; the node retries internally while leadership moves). The killed node is restarted
 * and caught up before the next round.
 */
export async function failoverBench(c: ProcessCluster, rounds: number): Promise<FailoverRun[]> {
  const topic = 'failover';
  const created = await c.http(1, 'POST', c.v3('/topics'), {
    topic_name: topic,
    partitions_count: 3,
    replication_factor: 3,
    configs: [{ name: 'min.insync.replicas', value: '2' }],
  });
  if (created.status !== 201) throw new Error(`create ${topic}: ${created.status} ${JSON.stringify(created.body)}`);
  const runs: FailoverRun[] = [];
  for (let round = 0; round < rounds; round++) {
    const p = round % 3;
    const raftLeader = await c.agreedLeader(c.ids, 30_000);
    const ps = await partitions(c, raftLeader, topic);
    const leader = ps[p]?.leader_id;
    if (leader === null || leader === undefined) throw new Error(`partition ${p} has no leader`);
    const via = c.ids.find((id) => id !== leader) ?? 1;
    const body = JSON.stringify({ records: [{ value: `round-${round}` }] });
    const produce = (): Promise<Response> =>
      fetch(c.url(via, `/topics/${topic}/partitions/${p}?acks=all&timeout_ms=30000`), {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
        body,
      });
    const warm = await produce();
    if (warm.status !== 200) throw new Error(`warm-up produce: ${warm.status} ${await warm.text()}`);
    const t0 = performance.now();
    await c.kill(leader);
    for (;;) {
      const res = await produce();
      await res.arrayBuffer();
      if (res.status === 200) break;
    }
    runs.push({ partition: p, killed: leader, wasRaftLeader: leader === raftLeader, ms: performance.now() - t0 });
    c.start(leader);
    await c.waitHealthy(c.ids, 60_000);
    await pollUntil('every ISR full again', async () => (await partitions(c, via, topic)).every((x) => x.isr.length === 3), 60_000, 100);
  }
  return runs;
}
