import { describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.ts';
import { withCluster } from '../support/process-cluster.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';

interface PartitionBody {
  partition_id: number;
  leader_id: number | null;
  isr: number[];
}

/**
 * A producer that, like a Kafka client with several bootstrap servers, moves to another node
 * when its node refuses the connection; every answer it gets counts.
 */
class Producer {
  ok = 0;
  failed: string[] = [];
  private stopped = false;
  private done: Promise<void> | undefined;

  constructor(
    private readonly c: ProcessCluster,
    private readonly topic: string,
    private node: number,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async loop(): Promise<void> {
    let n = 0;
    while (!this.stopped) {
      const body = JSON.stringify({ records: [{ value: `p${this.node}-${n}` }, { value: `p${this.node}-${n + 1}` }] });
      let res: Response;
      try {
        res = await fetch(this.c.url(this.node, `/topics/${this.topic}?acks=all&timeout_ms=20000`), {
          method: 'POST',
          headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
          body,
          signal: AbortSignal.timeout(30_000),
        });
      } catch {
        // No answer (the node is stopping or down): try the next node.
        this.node = (this.node % this.c.ids.length) + 1;
        continue;
      }
      const text = await res.text();
      if (res.status === 200) {
        this.ok++;
        n += 2;
      } else {
        this.failed.push(`${res.status} ${text}`);
      }
    }
  }
}

describe('rolling restart under load', () => {
  let c: ProcessCluster;
  withCluster((started) => (c = started));

  const partitions = async (): Promise<PartitionBody[]> => {
    const leader = await c.agreedLeader();
    return ((await c.get(leader, c.v3('/topics/rolling/partitions'))) as { data: PartitionBody[] }).data;
  };

  it('restarts every node in turn (SIGTERM, wait, start) with zero failed acks=all requests, and ends with balanced leaders', async () => {
    const created = await c.http(1, 'POST', c.v3('/topics'), {
      topic_name: 'rolling',
      partitions_count: 6,
      replication_factor: 3,
      configs: [{ name: 'min.insync.replicas', value: '2' }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const producers = c.ids.map((id) => new Producer(c, 'rolling', id));
    for (const p of producers) p.start();
    await pollUntil('the producers to get going', () => producers.every((p) => p.ok > 5), 20_000, 20);
    for (const id of c.ids) {
      console.log(`[rolling] stopping ${id} (ok so far ${producers.map((p) => p.ok).join(',')}, failed ${producers.map((p) => p.failed.length).join(',')})`);
      await c.kill(id, 'SIGTERM');
      console.log(`[rolling] ${id} stopped`);
      c.start(id);
      await c.waitHealthy([id], 30_000);
      console.log(`[rolling] ${id} healthy`);
      // Wait for the node to be back in every ISR before stopping the next one.
      await pollUntil(`node ${id} back in every ISR`, async () => (await partitions()).every((p) => p.isr.length === 3), 30_000, 100);
    }
    const before = producers.reduce((n, p) => n + p.ok, 0);
    await pollUntil('more acks after the last restart', () => producers.reduce((n, p) => n + p.ok, 0) > before + 10, 20_000, 20);
    await Promise.all(producers.map((p) => p.stop()));
    expect(producers.flatMap((p) => p.failed)).toEqual([]);
    // Auto leader rebalance gives each partition back to its preferred replica.
    const balanced = await pollUntil('leaders balanced', async () => {
      const ps = await partitions();
      return c.ids.every((b) => ps.filter((p) => p.leader_id === b).length === 2) ? ps : undefined;
    }, 20_000, 100);
    expect(balanced).toHaveLength(6);
  }, 150_000);
});
