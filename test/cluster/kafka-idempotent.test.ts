import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';

const run = promisify(execFile);

/** Every record value of one partition, in offset order, read with kcat (librdkafka) from the beginning to the end. */
async function kcatValues(port: number, topic: string, partition: number): Promise<string[]> {
  const { stdout } = await run('kcat', ['-C', '-b', `127.0.0.1:${port}`, '-t', topic, '-p', String(partition), '-o', 'beginning', '-e', '-q', '-f', '%s\n'], {
    timeout: 30_000,
    maxBuffer: 64 << 20,
  });
  return stdout.split('\n').filter((l) => l !== '');
}

async function partitionLeader(c: ProcessCluster, via: number, topic: string, partition: number): Promise<number> {
  const r = await c.http(via, 'GET', c.v3(`/topics/${topic}/partitions/${partition}`));
  return (r.body as { leader_id?: number | null }).leader_id ?? -1;
}

describe('the idempotent producer over Kafka on a 3-node cluster', () => {
  let c!: ProcessCluster;
  // Leaders hold each produce answer 300 ms once it is decided: a SIGKILL then almost surely
  // lands with a batch written and replicated but unanswered, which the producer resends.
  withCluster((cluster) => (c = cluster), { RUNNEL_TEST_HOOKS: '1', RUNNEL_TEST_PRODUCE_ANSWER_DELAY_MS: '300' });

  it('a kafkajs idempotent producer with acks=all keeps producing while the partition leader is SIGKILLed: every acknowledged record is in the log exactly once', async () => {
    const created = await c.http(1, 'POST', c.v3('/topics'), { topic_name: 'idem', partitions_count: 1, replication_factor: 3 });
    expect(created.status).toBe(201);
    const leader = await pollUntil('a leader for idem-0', async () => {
      const l = await partitionLeader(c, 1, 'idem', 0);
      return l > 0 ? l : undefined;
    });
    const survivors = c.ids.filter((id) => id !== leader);
    const kafka = new Kafka({
      clientId: 'runnel-idempotent-test',
      brokers: survivors.map((id) => `127.0.0.1:${c.kafkaPorts.get(id)}`),
      logLevel: logLevel.NOTHING,
      retry: { retries: 30, initialRetryTime: 50, maxRetryTime: 500 },
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const acked: string[] = [];
    const failed: string[] = [];
    let killedAt = -1;
    try {
      for (let i = 0; i < 60; i++) {
        const value = `r${i}`;
        // Three records per request, so a resent request is a multi-record batch.
        const batch = [value, `${value}b`, `${value}c`];
        const sent = producer.send({ topic: 'idem', acks: -1, timeout: 10_000, messages: batch.map((v) => ({ value: v })) });
        if (i === 15) {
          // Once this request's records are written and replicated (the high watermark passed
          // them) but, held by the leader, not yet answered, the leader dies.
          const before = acked.length;
          await pollUntil('the in-flight batch committed on the leader', async () => {
            const r = await c.http(survivors[0] ?? 1, 'GET', c.v3('/topics/idem/partitions/0'));
            const hw = (r.body as { high_watermark?: number | null }).high_watermark ?? 0;
            return hw >= before + batch.length ? true : undefined;
          }, 10_000, 10);
          await c.kill(leader);
          killedAt = i;
        }
        try {
          await sent;
          acked.push(...batch);
        } catch {
          failed.push(...batch);
        }
        if (i === 40) c.start(leader);
      }
    } finally {
      await producer.disconnect();
    }
    expect(killedAt).toBe(15);
    // The records the producer could not get acknowledged are few: it rides through the failover.
    expect(acked.length).toBeGreaterThan(150);
    await c.waitHealthy();
    const values = await pollUntil('every acknowledged record readable', async () => {
      const v = await kcatValues(c.kafkaPorts.get(survivors[0] ?? 1) ?? 0, 'idem', 0);
      const have = new Set(v);
      return acked.every((a) => have.has(a)) ? v : undefined;
    });
    const counts = new Map<string, number>();
    for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([v]) => v);
    expect(twice).toEqual([]);
    // Per-partition order: the producer's records appear in the order it sent them.
    const order = values.map((v) => Number(/^r(\d+)/.exec(v)?.[1]));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    console.info(`[idempotent] acknowledged ${acked.length}, failed ${failed.length} (${failed.filter((f) => counts.has(f)).length} of those written), log holds ${values.length}`);
  }, 180_000);

  it('kcat (librdkafka) with enable.idempotence=true gets a producer id and writes every line exactly once', async () => {
    const created = await c.http(1, 'POST', c.v3('/topics'), { topic_name: 'idem-kcat', partitions_count: 3, replication_factor: 3 });
    expect(created.status).toBe(201);
    const lines = Array.from({ length: 3000 }, (_, i) => `k${i % 7}:line-${i}`);
    const port = c.kafkaPorts.get(2) ?? 0;
    const kcat = spawn('kcat', ['-P', '-b', `127.0.0.1:${port}`, '-t', 'idem-kcat', '-K', ':', '-X', 'enable.idempotence=true', '-X', 'acks=all', '-X', 'linger.ms=5'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    kcat.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => kcat.once('exit', resolve));
    kcat.stdin.end(lines.join('\n') + '\n');
    expect(await exited, stderr).toBe(0);
    expect(stderr).not.toMatch(/fail|error/i);
    const values = (await Promise.all([0, 1, 2].map((p) => kcatValues(port, 'idem-kcat', p)))).flat();
    expect(values.sort()).toEqual(lines.map((l) => l.slice(l.indexOf(':') + 1)).sort());
  }, 60_000);
});
