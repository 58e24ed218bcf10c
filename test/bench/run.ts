import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProcessCluster } from '../support/process-cluster.ts';
import { dataBench } from './data-bench.ts';
import { failoverBench } from './failover-bench.ts';
import { groupsBench } from './groups-bench.ts';
import { kafkaGroupsBench } from './kafka-groups-bench.ts';
import { loadBench, loadReport, LOAD_PARTITIONS, LOAD_PRODUCERS } from './load-bench.ts';
import { compareNatsOverKafka } from './kafka-compare.ts';
import { natsBench, percentile, runnelSingleLatency, startNatsCluster } from './nats-compare.ts';
import type { SideResult } from './nats-compare.ts';
import type { DataBenchRow } from './data-bench.ts';
import { rssMiB } from './rss-sampler.ts';
import { scaleBench, scaleReport } from './scale-bench.ts';

// `npm run bench [-- --suite data,metadata,groups,kafka-groups,failover] [--brokers URL,...] [--cluster-id ID] [--seconds N] [--json FILE]`
// Starts a fresh 3-node cluster on free ports (or uses --brokers), prints a table and saves it.
// --seconds is per measurement: default 10 for data, 5 for scale, 60 for load.
//
// Longer suites, not in the default set (each on its own fresh cluster with cluster.yaml's
// default timings; they sample the nodes' memory, so they ignore --brokers):
//   `--suite scale`: partitions {1, 10, 100} x producers {1, 8, 64}, --seconds per cell (9 cells),
//     records/s, MB/s, p50/p99, errors and peak RSS per node; then a 1,000-partition topic
//     created, 10 records written to every partition and every high watermark checked.
//   `--suite load`: 64 producers as fast as they can, 6 partitions, 100 B then 1 KiB records,
//     --seconds each; PASS/FAIL: no error other than 429 (retried after Retry-After), peak
//     RSS < 512 MiB per node. A FAIL sets the exit code to 1.
//   `npm run bench -- --compare nats` is the NATS JetStream comparison (README).
//   `npm run bench -- --compare nats --protocol kafka [--records N] [--nats-records N | --seconds N]`:
//     kcat produces and consumes N records (default 1,000,000) of 100 B and 1 KiB over the Kafka
//     listener; NATS publishes the same count (or --nats-records, or for --seconds); PASS/FAIL
//     against the issue's targets (a FAIL sets the exit code to 1).
// `--cpu-prof DIR`: every node started writes a V8 CPU profile (.cpuprofile) into DIR when it stops.

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

async function metadataSuite(c: ProcessCluster): Promise<Result[]> {
  const results: Result[] = [];
  await c.agreedLeader();
  const rss = await Promise.all(c.ids.map((id) => rssMiB(c.pid(id), 'VmRSS')));
  results.push({ name: 'idle node RSS', value: Math.max(...rss), unit: 'MiB', detail: `per node: ${rss.map((x) => x.toFixed(1)).join(', ')}` });

  const leader = await c.agreedLeader();
  const via = c.ids.find((id) => id !== leader) ?? 1;
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) {
    const r = await c.http(via, 'POST', c.v3('/topics'), { topic_name: `meta-${i}`, partitions_count: 3, replication_factor: 3 });
    if (r.status !== 201) throw new Error(`create meta-${i}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  const createMs = performance.now() - t0;
  results.push({ name: 'create 100 topics x 3 partitions (sequential, via a follower)', value: createMs, unit: 'ms', detail: `${(createMs / 100).toFixed(1)} ms per topic` });

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
  return results;
}

function dataTable(rows: readonly DataBenchRow[]): string[] {
  const head = '| record | produce rec/s | produce MB/s | p50 ms | p99 ms | errors | consume rec/s | consume MB/s |';
  return [
    head,
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.recordBytes} B | ${r.produceRecordsPerSec.toFixed(0)} | ${r.produceMBPerSec.toFixed(2)} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.errors === 0 ? '0' : `${r.errors} (${Object.entries(r.errorsByStatus).map(([k, v]) => `${v}x${k}`).join(', ')})`} | ${r.consumeRecordsPerSec.toFixed(0)} | ${r.consumeMBPerSec.toFixed(2)} |`,
    ),
  ];
}

/** One runnel side of the comparison: a fresh cluster with the given flush policy. */
async function runnelSide(flush: 'batch' | 'os', seconds: number, concurrency: number): Promise<SideResult & { flush: string }> {
  const c = await ProcessCluster.create({ extraYaml: `log: {flush: ${flush}}` });
  try {
    c.startAll();
    await c.waitHealthy(c.ids, 30_000);
    const single = await runnelSingleLatency(
      (id) => c.url(id, ''),
      c.clusterId,
      async () => ((await c.get(1, c.v3('/topics/single/partitions'))) as { data: { leader_id: number }[] }).data[0]?.leader_id ?? 1,
    );
    const rows = await dataBench({ brokers: c.ids.map((id) => c.url(id, '')), clusterId: c.clusterId, recordBytes: [100, 1024], seconds, concurrency, recordsPerRequest: 100, partitions: 6 });
    return {
      system: 'runnel',
      flush,
      singleP50Ms: percentile(single, 50),
      singleP99Ms: percentile(single, 99),
      rows: rows.map((r) => ({ recordBytes: r.recordBytes, recordsPerSec: r.produceRecordsPerSec, mbPerSec: r.produceMBPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, consumePerSec: r.consumeRecordsPerSec })),
    };
  } finally {
    await c.destroy();
  }
}

async function compareNats(seconds: number, concurrency: number): Promise<unknown> {
  const runnelBatch = await runnelSide('batch', seconds, concurrency);
  const nats = await startNatsCluster();
  let natsSide: SideResult;
  try {
    natsSide = await natsBench(nats.urls, [100, 1024], { seconds }, 256);
  } finally {
    await nats.stop();
  }
  const runnelOs = await runnelSide('os', seconds, concurrency);
  const sides = [runnelBatch, runnelOs];
  const f = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
  const lines = [
    '| workload | runnel (flush=batch) | runnel (flush=os) | NATS JetStream R3 | batch/NATS | os/NATS |',
    '|---|---|---|---|---|---|',
    `| one at a time, acks=all / publish-ack: p50 ms | ${f(runnelBatch.singleP50Ms, 2)} | ${f(runnelOs.singleP50Ms, 2)} | ${f(natsSide.singleP50Ms, 2)} | ${ratio(runnelBatch.singleP50Ms, natsSide.singleP50Ms)} | ${ratio(runnelOs.singleP50Ms, natsSide.singleP50Ms)} |`,
    `| one at a time: p99 ms | ${f(runnelBatch.singleP99Ms, 2)} | ${f(runnelOs.singleP99Ms, 2)} | ${f(natsSide.singleP99Ms, 2)} | | |`,
  ];
  for (const [k, size] of [100, 1024].entries()) {
    const [b, o, n] = [sides[0]?.rows[k], sides[1]?.rows[k], natsSide.rows[k]];
    if (b === undefined || o === undefined || n === undefined) continue;
    lines.push(`| ${size} B produce records/s | ${f(b.recordsPerSec)} | ${f(o.recordsPerSec)} | ${f(n.recordsPerSec)} | ${ratio(b.recordsPerSec, n.recordsPerSec)} | ${ratio(o.recordsPerSec, n.recordsPerSec)} |`);
    lines.push(`| ${size} B produce MB/s | ${f(b.mbPerSec, 1)} | ${f(o.mbPerSec, 1)} | ${f(n.mbPerSec, 1)} | | |`);
    lines.push(`| ${size} B request p50 / p99 ms | ${f(b.p50Ms, 1)} / ${f(b.p99Ms, 1)} | ${f(o.p50Ms, 1)} / ${f(o.p99Ms, 1)} | ${f(n.p50Ms, 1)} / ${f(n.p99Ms, 1)} | | |`);
    lines.push(`| ${size} B consume records/s | ${f(b.consumePerSec)} | ${f(o.consumePerSec)} | ${f(n.consumePerSec)} | ${ratio(b.consumePerSec, n.consumePerSec)} | ${ratio(o.consumePerSec, n.consumePerSec)} |`);
  }
  console.log(`\nrunnel vs NATS JetStream, same machine, ${seconds} s per throughput run:`);
  console.log('  runnel: HTTP requests of 100 records, ' + String(concurrency) + ' in flight, acks=all, RF 3, min.insync 2, 6 partitions;');
  console.log('          flush=batch fsyncs before every ack (group commit), flush=os leaves it to the OS as Kafka does.');
  console.log('  NATS:   nats.js async publish, 256 in flight, R3 file stream; JetStream syncs to disk every 2 min by default (sync_interval).\n');
  for (const l of lines) console.log(l);
  return { runnelBatch, runnelOs, nats: natsSide, table: lines };
}

/** A fresh 3-node cluster with cluster.yaml's default timings (what a user runs), all healthy. */
async function freshCluster(): Promise<ProcessCluster> {
  const c = await ProcessCluster.create();
  c.startAll();
  await c.waitHealthy(c.ids, 30_000);
  return c;
}

function positive(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${flag}: a positive integer, not "${text}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'string' },
      suite: { type: 'string', default: 'data,metadata,groups,kafka-groups,failover' },
      brokers: { type: 'string' },
      'cluster-id': { type: 'string', default: 'runnel-local' },
      seconds: { type: 'string' },
      concurrency: { type: 'string', default: '8' },
      compare: { type: 'string' },
      protocol: { type: 'string', default: 'http' },
      records: { type: 'string', default: '1000000' },
      'nats-records': { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
    strict: true,
  });
  // Every node this run starts writes a V8 CPU profile into the directory when it stops
  // (open it in Chrome DevTools or speedscope).
  if (values['cpu-prof'] !== undefined) process.env['RUNNEL_NODE_ARGS'] = `--cpu-prof --cpu-prof-dir=${values['cpu-prof']}`;
  if (values.compare !== undefined) {
    if (values.compare !== 'nats') throw new Error(`--compare: only "nats" is supported, not "${values.compare}"`);
    if (values.protocol !== 'http' && values.protocol !== 'kafka') throw new Error(`--protocol: "http" or "kafka", not "${values.protocol}"`);
    let result: unknown;
    if (values.protocol === 'kafka') {
      const records = positive('--records', values.records);
      const natsAmount = values.seconds !== undefined && values['nats-records'] === undefined
        ? { seconds: positive('--seconds', values.seconds) }
        : { records: positive('--nats-records', values['nats-records'] ?? values.records) };
      const r = await compareNatsOverKafka(records, natsAmount, values['cpu-prof']);
      result = r.result;
      if (!r.pass) process.exitCode = 1;
    } else {
      result = await compareNats(Number(values.seconds ?? '10'), Number(values.concurrency));
    }
    const file = values.json ?? join('bench-results', `compare-nats-${values.protocol === 'kafka' ? 'kafka-' : ''}${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(result, null, 2) + '\n');
    console.log(`\nsaved ${file}`);
    return;
  }
  const suites = new Set(values.suite.split(','));
  const known = ['data', 'metadata', 'groups', 'kafka-groups', 'failover', 'scale', 'load'];
  const unknown = [...suites].filter((x) => !known.includes(x));
  if (unknown.length > 0) throw new Error(`--suite: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const secondsOr = (dflt: number): number => Number(values.seconds ?? dflt);
  const external = values.brokers?.split(',').map((u) => u.replace(/\/$/, ''));
  const needShared = suites.has('data') || suites.has('metadata');
  const cluster = external === undefined && needShared ? await ProcessCluster.started() : undefined;
  const out: Record<string, unknown> = { at: new Date().toISOString(), node: process.version, cores: (await readFile('/proc/cpuinfo', 'utf8')).split('\nprocessor').length };
  console.log(`runnel bench (${String(out['at'])}, node ${process.version}${external ? `, brokers ${external.join(',')}` : ', fresh 3-node cluster'})`);
  try {
    if (suites.has('data')) {
      const brokers = external ?? (cluster?.ids.map((id) => cluster.url(id, '')) ?? []);
      const rows = await dataBench({
        brokers,
        clusterId: cluster?.clusterId ?? values['cluster-id'],
        recordBytes: [100, 1024],
        seconds: secondsOr(10),
        concurrency: Number(values.concurrency),
        recordsPerRequest: 100,
        partitions: 6,
      });
      out['data'] = rows;
      console.log(`\nproduce acks=all (RF 3, min.insync 2, 6 partitions, ${values.concurrency} clients x requests of 100 records, ${secondsOr(10)} s each), then consume all back:\n`);
      for (const line of dataTable(rows)) console.log(line);
      if (cluster !== undefined) {
        const peaks = await Promise.all(cluster.ids.map((id) => rssMiB(cluster.pid(id), 'VmHWM')));
        out['peakRssMiB'] = peaks;
        console.log(`\npeak RSS per node during the data runs: ${peaks.map((x) => `${x.toFixed(0)} MiB`).join(', ')}`);
      }
    }
    if (suites.has('metadata') && cluster !== undefined) {
      const results = await metadataSuite(cluster);
      out['metadata'] = results;
      console.log('');
      const width = Math.max(...results.map((r) => r.name.length));
      for (const r of results) console.log(`${r.name.padEnd(width)}  ${r.value.toFixed(1).padStart(9)} ${r.unit}${r.detail ? `  (${r.detail})` : ''}`);
    }
  } finally {
    await cluster?.destroy();
  }
  if (suites.has('groups') && external === undefined) {
    const c = await ProcessCluster.started();
    try {
      const r = await groupsBench(c, 5, 3000);
      out['groups'] = { ...r, leaveMedianMs: median(r.leaveMs), deathMedianMs: median(r.deathMs) };
      console.log('\nconsumer group, 2 members over 6 partitions:');
      console.log(`  member leaves (DELETE) -> survivor owns all 6: median ${median(r.leaveMs).toFixed(0)} ms (runs ${r.leaveMs.map((x) => x.toFixed(0)).join(', ')})`);
      console.log(`  member dies (stops polling, session ${r.sessionTimeoutMs} ms) -> survivor owns all 6: median ${median(r.deathMs).toFixed(0)} ms (runs ${r.deathMs.map((x) => x.toFixed(0)).join(', ')})`);
      console.log(`  commits by one member, one at a time (acks=all to __consumer_offsets): ${r.commitsPerSec.toFixed(0)} commits/s (${r.commits} in 5 s)`);
    } finally {
      await c.destroy();
    }
  }
  if (suites.has('kafka-groups') && external === undefined) {
    const c = await ProcessCluster.started();
    try {
      console.log('\nKafka-protocol consumer group, 2 members over 6 partitions (kafkajs, kcat), median of 5:');
      out['kafkaGroups'] = await kafkaGroupsBench(c, 5);
    } finally {
      await c.destroy();
    }
  }
  if (suites.has('failover') && external === undefined) {
    // cluster.yaml defaults (no test timings): what a user gets.
    const c = await freshCluster();
    try {
      const runs = await failoverBench(c, 10);
      const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
      out['failover'] = { runs, minMs: ms[0], medianMs: median(ms), maxMs: ms[ms.length - 1] };
      console.log('\nSIGKILL of a partition leader -> next successful acks=all produce on it (cluster.yaml defaults), 10 runs:');
      for (const r of runs) console.log(`  partition ${r.partition}, killed node ${r.killed}${r.wasRaftLeader ? ' (also the raft leader)' : ''}: ${r.ms.toFixed(0)} ms`);
      console.log(`  min ${ms[0]?.toFixed(0)} ms, median ${median(ms).toFixed(0)} ms, max ${ms[ms.length - 1]?.toFixed(0)} ms`);
    } finally {
      await c.destroy();
    }
  }
  if ((suites.has('scale') || suites.has('load')) && external !== undefined) {
    console.log('\nscale and load suites skipped: they start their own cluster to sample node memory (drop --brokers)');
  }
  if (suites.has('scale') && external === undefined) {
    const seconds = secondsOr(5);
    const c = await freshCluster();
    try {
      console.log(`\nscale: acks=all, RF 3, min.insync 2, 100 B records, requests of 100 records, ${seconds} s per cell, a fresh topic per cell:`);
      const r = await scaleBench(c, seconds);
      out['scale'] = { ...r, seconds, table: scaleReport(r) };
      console.log('');
      for (const line of scaleReport(r)) console.log(line);
    } finally {
      await c.destroy();
    }
  }
  if (suites.has('load') && external === undefined) {
    const seconds = secondsOr(60);
    const c = await freshCluster();
    try {
      console.log(`\nload: ${LOAD_PRODUCERS} producers as fast as they can, acks=all, RF 3, min.insync 2, ${LOAD_PARTITIONS} partitions, requests of 100 records, ${seconds} s per record size:\n`);
      const r = await loadBench(c, seconds, [100, 1024]);
      out['load'] = { ...r, report: loadReport(r) };
      for (const line of loadReport(r)) console.log(line);
      if (!r.pass) process.exitCode = 1;
    } finally {
      await c.destroy();
    }
  }
  const file = values.json ?? join('bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nsaved ${file}`);
}

await main();
