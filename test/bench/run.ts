import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProcessCluster } from '../support/process-cluster.ts';

// `npm run bench [-- --json FILE]`: measures a real 3-node cluster on this machine and prints
// a table; results are also saved under bench-results/.

interface Result {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly detail?: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

async function rssMiB(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function metadataSuite(): Promise<Result[]> {
  const c = await ProcessCluster.create({
    extraYaml: 'raft: {election_timeout_ms: 1000, heartbeat_interval_ms: 100, tick_ms: 50}\nbroker: {heartbeat_interval_ms: 200, session_timeout_ms: 2000}',
  });
  const results: Result[] = [];
  try {
    c.startAll();
    await c.waitHealthy();
    await c.agreedLeader();

    // Idle RSS: after startup settles, nothing running.
    await new Promise((r) => setTimeout(r, 3000));
    const rss = await Promise.all(c.ids.map((id) => rssMiB(c.pid(id))));
    results.push({ name: 'idle node RSS', value: Math.max(...rss), unit: 'MiB', detail: `per node: ${rss.map((x) => x.toFixed(1)).join(', ')}` });

    // 100 topics of 3 partitions (RF 3), one after another, through a follower.
    const leader = await c.agreedLeader();
    const via = c.ids.find((id) => id !== leader) ?? 1;
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) {
      const r = await c.http(via, 'POST', c.v3('/topics'), { topic_name: `bench-${i}`, partitions_count: 3, replication_factor: 3 });
      if (r.status !== 201) throw new Error(`create bench-${i}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const createMs = performance.now() - t0;
    results.push({ name: 'create 100 topics x 3 partitions (sequential, via a follower)', value: createMs, unit: 'ms', detail: `${(createMs / 100).toFixed(1)} ms per topic` });

    // Raft leader failover: SIGKILL the leader, time until both survivors name the same new one.
    const failovers: number[] = [];
    for (let round = 0; round < 5; round++) {
      const old = await c.agreedLeader();
      const rest = c.ids.filter((id) => id !== old);
      const start = performance.now();
      await c.kill(old);
      await c.agreedLeader(rest, 30_000, 5);
      failovers.push(performance.now() - start);
      c.start(old);
      await c.waitHealthy();
    }
    results.push({
      name: 'SIGKILL raft leader -> new leader agreed (median of 5)',
      value: median(failovers),
      unit: 'ms',
      detail: `runs: ${failovers.map((x) => x.toFixed(0)).join(', ')}; election timeout 1000 ms`,
    });
  } finally {
    await c.destroy();
  }
  return results;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'string' } }, strict: true });
  const results = await metadataSuite();
  const width = Math.max(...results.map((r) => r.name.length));
  console.log(`runnel bench (${new Date().toISOString()}, node ${process.version})`);
  for (const r of results) console.log(`${r.name.padEnd(width)}  ${r.value.toFixed(1).padStart(9)} ${r.unit}${r.detail ? `  (${r.detail})` : ''}`);
  const out = values.json ?? join('bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await mkdir(join(out, '..'), { recursive: true });
  await writeFile(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2) + '\n');
  console.log(`saved ${out}`);
}

await main();
