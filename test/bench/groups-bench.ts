import type { ProcessCluster } from '../support/process-cluster.ts';
import { pollUntil } from '../support/poll.ts';

export interface GroupsBenchResult {
  readonly leaveMs: number[];
  readonly deathMs: number[];
  readonly sessionTimeoutMs: number;
  readonly commitsPerSec: number;
  readonly commits: number;
}

const JSON_V2 = 'application/vnd.kafka.json.v2+json';

/**
 * Rebalance time with two members over 6 partitions: from one member leaving (DELETE) or
 * dying (it simply stops polling: its session expires) until the other owns all 6; and the
 * commit rate of one member committing as fast as it can (each commit an acks=all write to
 * the offsets topic).
 */
export async function groupsBench(c: ProcessCluster, rounds: number, sessionTimeoutMs: number): Promise<GroupsBenchResult> {
  const call = async (node: number, method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(c.url(node, path), {
      method,
      headers: body === undefined ? {} : { 'content-type': JSON_V2 },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };
  await call(1, 'POST', c.v3('/topics'), { topic_name: 'gbench', partitions_count: 6, replication_factor: 3 });
  const member = async (node: number, group: string, name: string): Promise<string> => {
    await call(node, 'POST', `/consumers/${group}`, { name, format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false', 'consumer.session.timeout.ms': String(sessionTimeoutMs) });
    const base = `/consumers/${group}/instances/${name}`;
    await call(node, 'POST', `${base}/subscription`, { topics: ['gbench'] });
    return base;
  };
  const owned = async (node: number, base: string): Promise<number> => {
    await call(node, 'GET', `${base}/records?timeout=50`);
    return ((await call(node, 'GET', `${base}/assignments`)) as { partitions: unknown[] }).partitions.length;
  };

  const leaveMs: number[] = [];
  const deathMs: number[] = [];
  for (let round = 0; round < 2 * rounds; round++) {
    const dies = round >= rounds;
    const group = `gbench-${round}`;
    const a = await member(2, group, 'a');
    const b = await member(3, group, 'b');
    // Both polling until each owns 3.
    let stopA = false;
    const aLoop = (async () => {
      while (!stopA) await owned(2, a);
    })();
    await pollUntil('an even split', async () => (await owned(3, b)) === 3, 30_000, 0);
    const t0 = performance.now();
    stopA = true;
    await aLoop;
    if (!dies) await call(2, 'DELETE', a);
    await pollUntil('the survivor to own all 6', async () => (await owned(3, b)) === 6, 60_000, 0);
    (dies ? deathMs : leaveMs).push(performance.now() - t0);
    await call(3, 'DELETE', b);
  }

  const base = await member(1, 'gbench-commits', 'solo');
  await pollUntil('the member to own all 6', async () => (await owned(1, base)) === 6, 30_000, 0);
  const t0 = performance.now();
  let commits = 0;
  while (performance.now() - t0 < 5000) {
    await call(1, 'POST', `${base}/offsets`, { offsets: [{ topic: 'gbench', partition: commits % 6, offset: commits }] });
    commits++;
  }
  const commitsPerSec = commits / ((performance.now() - t0) / 1000);
  await call(1, 'DELETE', base);
  return { leaveMs, deathMs, sessionTimeoutMs, commitsPerSec, commits };
}
