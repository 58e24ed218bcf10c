import { describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.ts';
import { FAST_TIMINGS, ProcessCluster } from '../support/process-cluster.ts';

interface ProduceAnswer {
  offsets: { partition: number; offset: number | null; error: string | null }[];
}

interface ReadRecord {
  partition: number;
  offset: number;
  value: unknown;
}

/**
 * README, Operations: with no controller left a node gives up its controlled shutdown after
 * broker.controlled_shutdown_no_controller_ms (2 s), then close() drains HTTP (1 s at most)
 * and exits; 1.5 s more for closing the stores and a loaded machine.
 */
const STOP_BOUND_MS = 2000 + 1000 + 1500;

describe('a full stop of the cluster', () => {
  it('stops every node within the bound when all get SIGTERM at once, and a restart in another order keeps every acks=all record', async () => {
    const c = await ProcessCluster.create({ extraYaml: FAST_TIMINGS });
    try {
      c.startAll();
      await c.waitHealthy();
      await c.agreedLeader();
      const created = await c.http(1, 'POST', c.v3('/topics'), { topic_name: 'kept', partitions_count: 3, replication_factor: 3 });
      expect(created.status).toBe(201);

      const written = new Map<string, string>();
      for (let i = 0; i < 10; i++) {
        const values = [0, 1, 2].map((p) => `r${i}-p${p}`);
        const r = await c.http((i % 3) + 1, 'POST', '/topics/kept?acks=all', { records: values.map((value, p) => ({ value, partition: p })) });
        expect(r.status).toBe(200);
        (r.body as ProduceAnswer).offsets.forEach((o, j) => {
          expect(o.error).toBeNull();
          written.set(`${o.partition}/${o.offset}`, values[j] ?? '');
        });
      }

      const t0 = Date.now();
      const stopMs = await Promise.all(c.ids.map(async (id) => {
        await c.kill(id, 'SIGTERM');
        return Date.now() - t0;
      }));
      console.log(`SIGTERM to every node at once: nodes ${c.ids.join(', ')} exited after ${stopMs.join(', ')} ms`);
      for (const ms of stopMs) expect(ms).toBeLessThan(STOP_BOUND_MS);
      for (const id of c.ids) expect(await c.logOf(id)).toContain('"msg":"node stopped"');

      // Another order: 3 and 2 first (a quorum of their own), 1 once they serve.
      c.start(3);
      c.start(2);
      await c.waitHealthy([3, 2], 30_000);
      c.start(1);
      await c.waitHealthy(c.ids, 30_000);

      // A restarted leader's high watermark moves up to its log end once its followers fetch
      // again: poll until everything written is visible, then compare.
      const read = await pollUntil('every acknowledged record to be readable', async () => {
        const seen = new Map<string, string>();
        for (const p of [0, 1, 2]) {
          const records = (await c.get(1, `/topics/kept/partitions/${p}/records?offset=0&timeout_ms=100`)) as ReadRecord[];
          for (const rec of records) seen.set(`${rec.partition}/${rec.offset}`, String(rec.value));
        }
        return seen.size >= written.size ? seen : undefined;
      }, 20_000, 100);
      expect(read).toEqual(written);
    } finally {
      await c.destroy();
    }
  }, 120_000);
});
