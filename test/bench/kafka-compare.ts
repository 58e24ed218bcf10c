import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { ProcessCluster } from '../support/process-cluster.ts';
import { measuringCpu, summarizeProfiles } from './cpu-usage.ts';
import type { CpuWindow, ProfileSummary } from './cpu-usage.ts';
import { kafkaSingleLatency } from './kafka-single-latency.ts';
import { natsBench, percentile, runnelSingleLatency, startNatsCluster } from './nats-compare.ts';
import type { NatsAmount, SideResult } from './nats-compare.ts';
import { createBenchTopic, topicPartitions, waitForFullIsr } from './produce-load.ts';
import { whileSampling } from './rss-sampler.ts';

// The runnel side of `npm run bench -- --compare nats --protocol kafka`: kcat (librdkafka, the
// client Debian ships) producing N records with acks=all and linger 5 ms to a 3-partition RF-3
// topic on a fresh 3-node cluster (cluster.yaml defaults, log.flush: batch), then consuming them
// back; one-record acks=all latency over the Kafka listener next to HTTP's; peak RSS per node.

export const KAFKA_PARTITIONS = 3;
/** A kcat run that has not finished after this long is a stall: killed and reported, not waited for. */
const KCAT_TIMEOUT_MS = 15 * 60_000;
/** The last bytes of kcat's stderr kept for the report (its errors), not all of it. */
const STDERR_TAIL_BYTES = 8192;

export interface KcatRun {
  readonly records: number;
  /** Wall time of the kcat process, start to exit (metadata lookup and the final flush included). */
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
}

export interface KafkaRow {
  readonly recordBytes: number;
  readonly records: number;
  readonly produce: KcatRun;
  readonly consume: KcatRun & { readonly firstToLastSeconds: number; readonly firstToLastPerSec: number };
  /** Each partition's high watermark after the produce run: they sum to `records` when nothing was lost or duplicated. */
  readonly highWatermarks: readonly number[];
  /**
   * Records stored minus records produced. kcat's producer is not idempotent, so a batch it
   * retries (after a retriable error or a request timeout) may be stored twice: at-least-once,
   * as Kafka allows; the count shows how often that happened. Below 0 would be loss.
   */
  readonly extraStored: number;
  /** The end of kcat -P's stderr (its warnings; empty on a clean run). */
  readonly produceStderr: string;
  readonly peakRssMiB: readonly number[];
  /** CPU of each node and of the machine while kcat produced, and while it consumed. */
  readonly produceCpu: CpuWindow;
  readonly consumeCpu: CpuWindow;
}

export interface KafkaSide {
  readonly httpSingleP50Ms: number;
  readonly httpSingleP99Ms: number;
  readonly kafkaSingleP50Ms: number;
  readonly kafkaSingleP99Ms: number;
  readonly warmupRecords: number;
  readonly rows: readonly KafkaRow[];
  /** Per node, the largest VmRSS sampled over the whole runnel side. */
  readonly peakRssMiB: readonly number[];
  /** With --cpu-prof: each node's busiest functions while kcat produced, per record size. */
  readonly produceProfiles?: Readonly<Record<string, readonly ProfileSummary[]>>;
}

/** Writes `count` lines of `bytes` bytes each (the record values; kcat -l splits on the newline). */
async function writeInputFile(path: string, count: number, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  const perChunk = Math.max(1, Math.floor((1 << 20) / (bytes + 1)));
  const chunk = Buffer.alloc(perChunk * (bytes + 1), 'x');
  for (let i = 1; i <= perChunk; i++) chunk[i * (bytes + 1) - 1] = 0x0a;
  for (let left = count; left > 0; left -= perChunk) {
    if (!out.write(left >= perChunk ? chunk : chunk.subarray(0, left * (bytes + 1)))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

interface KcatExit {
  readonly seconds: number;
  readonly stderr: string;
  /** Newlines kcat wrote to stdout (one per consumed record with -f '\n'). */
  readonly lines: number;
  /** From the first byte on stdout to the last, seconds (0 when it wrote nothing). */
  readonly firstToLastSeconds: number;
}

/** Runs kcat; resolves with its wall time once it exits 0, rejects with its exit code and stderr otherwise. */
async function kcat(args: readonly string[]): Promise<KcatExit> {
  const t0 = performance.now();
  const child = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let lines = 0;
  let first = 0;
  let last = 0;
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    last = performance.now();
    if (first === 0) first = last;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++;
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL_BYTES)));
  const timer = setTimeout(() => child.kill('SIGKILL'), KCAT_TIMEOUT_MS);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`kcat ${args.join(' ')}: exit ${code ?? signal} after ${seconds.toFixed(1)} s\n${stderr}`);
  return { seconds, stderr, lines, firstToLastSeconds: (last - first) / 1000 };
}

const run = (records: number, bytes: number, seconds: number): KcatRun => ({ records, seconds, recordsPerSec: records / seconds, mbPerSec: (records * bytes) / 1e6 / seconds });

/** The producer settings of the issue: acks=all, linger 5 ms; librdkafka's defaults otherwise. */
const produceArgs = (brokers: string, topic: string, file: string): string[] => ['-P', '-b', brokers, '-t', topic, '-X', 'acks=all', '-X', 'linger.ms=5', '-m', '30', '-l', file];

/** kcat -P of `records` lines of `bytes` from a file written beforehand, then kcat -C -e of the whole topic. */
async function produceAndConsume(c: ProcessCluster, dir: string, topic: string, records: number, bytes: number): Promise<Omit<KafkaRow, 'peakRssMiB'>> {
  const pids = c.ids.map((id) => c.pid(id));
  const brokers = c.ids.map((id) => `127.0.0.1:${c.kafkaPorts.get(id) ?? 0}`).join(',');
  await createBenchTopic(c.url(1, ''), c.clusterId, topic, KAFKA_PARTITIONS);
  await waitForFullIsr(c.url(1, ''), c.clusterId, topic, 3, 30_000);
  const file = join(dir, `${topic}.txt`);
  await writeInputFile(file, records, bytes);
  const { result: produced, cpu: produceCpu } = await measuringCpu(pids, () => kcat(produceArgs(brokers, topic, file)));
  await rm(file);
  const highWatermarks = (await topicPartitions(c.url(1, ''), c.clusterId, topic)).sort((a, b) => a.partition_id - b.partition_id).map((p) => p.high_watermark ?? -1);
  const stored = highWatermarks.reduce((a, b) => a + b, 0);
  if (stored < records) throw new Error(`kcat produced ${records} records of ${bytes} B to ${topic} and exited 0, but the high watermarks are ${highWatermarks.join(', ')} (sum ${stored}): records lost\n${produced.stderr}`);
  if (stored > records) console.log(`${topic}: ${stored - records} records stored twice (kcat retried batches; high watermarks ${highWatermarks.join(', ')})`);
  // -f '\n': one byte per record on stdout, so kcat's formatting and the pipe cost as little as they can.
  const { result: consumed, cpu: consumeCpu } = await measuringCpu(pids, () => kcat(['-C', '-b', brokers, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '\\n', '-m', '30']));
  if (consumed.lines !== stored) throw new Error(`kcat -C -e read ${consumed.lines} records of ${topic} back, expected ${stored} (the high watermarks' sum)`);
  return {
    recordBytes: bytes,
    records,
    produce: run(records, bytes, produced.seconds),
    consume: { ...run(stored, bytes, consumed.seconds), firstToLastSeconds: consumed.firstToLastSeconds, firstToLastPerSec: stored / consumed.firstToLastSeconds },
    highWatermarks,
    extraStored: stored - records,
    produceStderr: produced.stderr,
    produceCpu,
    consumeCpu,
  };
}

/** The leader of partition 0 of a topic, once it has one. */
async function leaderOf(c: ProcessCluster, topic: string): Promise<number> {
  const p = (await topicPartitions(c.url(1, ''), c.clusterId, topic))[0];
  if (p?.leader_id === null || p === undefined) throw new Error(`${topic}-0 has no leader`);
  return p.leader_id;
}

/**
 * A fresh 3-node cluster with cluster.yaml's defaults (log.flush: batch): one-record latency over
 * HTTP and over Kafka, an unmeasured kcat warm-up, then kcat produce + consume of `records`
 * records for each record size, sampling every node's RSS throughout.
 */
export async function kafkaSide(records: number, recordBytes: readonly number[], cpuProfDir?: string): Promise<KafkaSide> {
  const c = await ProcessCluster.create();
  const dir = await mkdtemp(join(tmpdir(), 'runnel-kcat-'));
  let side: KafkaSide;
  let pids: (number | undefined)[] = [];
  try {
    c.startAll();
    pids = c.ids.map((id) => c.pid(id));
    // Generous: three nodes compiling TypeScript at once on a busy 2-core machine took over 30 s.
    await c.waitHealthy(c.ids, 90_000);
    const { result, peakRssMiB } = await whileSampling(pids, async () => {
      const http = await runnelSingleLatency((id) => c.url(id, ''), c.clusterId, () => leaderOf(c, 'single'));
      await createBenchTopic(c.url(1, ''), c.clusterId, 'ksingle', 1);
      await waitForFullIsr(c.url(1, ''), c.clusterId, 'ksingle', 3, 30_000);
      const kafka = await kafkaSingleLatency(c.kafkaPorts.get(await leaderOf(c, 'ksingle')) ?? 0, 'ksingle');
      // Warm-up as the other comparisons get (JIT, page cache, connections): not measured.
      const warmupRecords = Math.min(100_000, Math.ceil(records / 10));
      await produceAndConsume(c, dir, 'kwarmup', warmupRecords, recordBytes[0] ?? 100);
      const rows: KafkaRow[] = [];
      for (const bytes of recordBytes) {
        const r = await whileSampling(pids, () => produceAndConsume(c, dir, `k${bytes}`, records, bytes));
        rows.push({ ...r.result, peakRssMiB: r.peakRssMiB });
      }
      return { http, kafka, warmupRecords, rows };
    });
    side = {
      httpSingleP50Ms: percentile(result.http, 50),
      httpSingleP99Ms: percentile(result.http, 99),
      kafkaSingleP50Ms: percentile(result.kafka, 50),
      kafkaSingleP99Ms: percentile(result.kafka, 99),
      warmupRecords: result.warmupRecords,
      rows: result.rows,
      // Two samplers read at different instants: the side's peak is the larger of its own and each run's.
      peakRssMiB: peakRssMiB.map((m, i) => Math.max(m, ...result.rows.map((r) => r.peakRssMiB[i] ?? Number.NaN).filter((x) => !Number.isNaN(x)))),
    };
  } catch (err) {
    // A failure under kcat load is the finding: keep the node logs for the report.
    process.env['KEEP_CLUSTER_DIR'] = '1';
    throw err;
  } finally {
    await c.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  // The nodes write their profiles as they exit (destroy above): cut each to its produce run.
  if (cpuProfDir === undefined) return side;
  const produceProfiles: Record<string, ProfileSummary[]> = {};
  for (const row of side.rows) produceProfiles[`${row.recordBytes}`] = await summarizeProfiles(cpuProfDir, pids, row.produceCpu);
  return { ...side, produceProfiles };
}

/** The issue's targets, each as a ratio to NATS or a bound, with PASS/FAIL. */
export interface Target {
  readonly name: string;
  readonly value: string;
  readonly target: string;
  readonly pass: boolean;
}

const PRODUCE_TIMES_NATS = 10;
const CONSUME_TIMES_NATS = 5;
const PEAK_RSS_MAX_MIB = 512;

/** The side-by-side table and the targets (measured on the 100 B run, as the issue sets them). */
export function kafkaReport(k: KafkaSide, nats: SideResult, natsRecords: string): { lines: string[]; targets: Target[] } {
  const f = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const x = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
  const lines = [
    '| workload | runnel over Kafka (kcat) | NATS JetStream R3 | runnel / NATS |',
    '|---|---|---|---|',
    `| one at a time, acks=all / publish-ack: p50 ms | Kafka ${f(k.kafkaSingleP50Ms, 2)}, HTTP ${f(k.httpSingleP50Ms, 2)} | ${f(nats.singleP50Ms, 2)} | ${x(k.kafkaSingleP50Ms, nats.singleP50Ms)} the time |`,
    `| one at a time: p99 ms | Kafka ${f(k.kafkaSingleP99Ms, 2)}, HTTP ${f(k.httpSingleP99Ms, 2)} | ${f(nats.singleP99Ms, 2)} | |`,
  ];
  for (const row of k.rows) {
    const n = nats.rows.find((r) => r.recordBytes === row.recordBytes);
    if (n === undefined) continue;
    const size = row.recordBytes === 1024 ? '1 KiB' : `${row.recordBytes} B`;
    lines.push(`| ${size} produce records/s | ${f(row.produce.recordsPerSec)} (${f(row.records)} in ${f(row.produce.seconds, 1)} s) | ${f(n.recordsPerSec)} | ${x(row.produce.recordsPerSec, n.recordsPerSec)} |`);
    lines.push(`| ${size} produce MB/s | ${f(row.produce.mbPerSec, 1)} | ${f(n.mbPerSec, 1)} | |`);
    lines.push(`| ${size} records stored twice (kcat retries) | ${f(row.extraStored)} | | |`);
    lines.push(`| ${size} consume records/s | ${f(row.consume.recordsPerSec)} (first to last record: ${f(row.consume.firstToLastPerSec)}) | ${f(n.consumePerSec)} | ${x(row.consume.recordsPerSec, n.consumePerSec)} |`);
    lines.push(`| ${size} peak RSS per node, MiB | ${row.peakRssMiB.map((m) => f(m)).join(' / ')} | | |`);
    const cores = (w: CpuWindow): string => `nodes ${w.coresPerProcess.map((c) => f(c, 2)).join(' / ')}, kcat ${f(w.exitedChildrenCores, 2)}, machine ${f(w.machineBusy * 100)}% busy`;
    lines.push(`| ${size} cores used while producing | ${cores(row.produceCpu)} | | |`);
    lines.push(`| ${size} cores used while consuming | ${cores(row.consumeCpu)} | | |`);
  }
  const small = k.rows[0];
  const n = nats.rows.find((r) => r.recordBytes === small?.recordBytes);
  const targets: Target[] = [];
  if (small !== undefined && n !== undefined) {
    const produceX = small.produce.recordsPerSec / n.recordsPerSec;
    const consumeX = small.consume.recordsPerSec / n.consumePerSec;
    targets.push({ name: `${small.recordBytes} B produce records/s vs NATS async publish`, value: `${produceX.toFixed(2)}x`, target: `>= ${PRODUCE_TIMES_NATS}x`, pass: produceX >= PRODUCE_TIMES_NATS });
    targets.push({ name: `${small.recordBytes} B consume records/s vs NATS consume`, value: `${consumeX.toFixed(2)}x`, target: `>= ${CONSUME_TIMES_NATS}x`, pass: consumeX >= CONSUME_TIMES_NATS });
  }
  const extra = k.rows.map((r) => r.extraStored);
  targets.push({ name: 'records stored = records kcat produced, per size (a check, not a target of the issue)', value: `${extra.map((e) => (e === 0 ? '0' : `+${f(e)}`)).join(' / ')}`, target: '0 extra', pass: extra.every((e) => e === 0) });
  const peak = Math.max(...k.peakRssMiB);
  targets.push({ name: 'peak RSS per node (whole runnel side)', value: `${k.peakRssMiB.map((m) => f(m)).join(' / ')} MiB`, target: `< ${PEAK_RSS_MAX_MIB} MiB`, pass: peak < PEAK_RSS_MAX_MIB });
  lines.push('', '| target | measured | target | result |', '|---|---|---|---|');
  for (const t of targets) lines.push(`| ${t.name} | ${t.value} | ${t.target} | ${t.pass ? 'PASS' : 'FAIL'} |`);
  lines.unshift(`NATS published ${natsRecords} per record size.`, '');
  for (const [size, summaries] of Object.entries(k.produceProfiles ?? {})) {
    lines.push('', `CPU profile while kcat produced ${size} B records (self time, share of the window's samples):`);
    summaries.forEach((p, i) => {
      lines.push(`  node ${i + 1} (pid ${p.pid}): main thread not idle ${f(p.busy * 100)}% of the window (running or waiting for a core)`);
      for (const t of p.top) lines.push(`    ${f(t.share * 100, 1).padStart(5)}%  ${t.fn}`);
    });
  }
  return { lines, targets };
}

/** `--compare nats --protocol kafka`: the runnel side, then NATS on the same machine; prints the table and returns what the JSON file saves. */
export async function compareNatsOverKafka(records: number, natsAmount: NatsAmount, cpuProfDir?: string): Promise<{ result: unknown; pass: boolean }> {
  const sizes = [100, 1024];
  const runnel = await kafkaSide(records, sizes, cpuProfDir);
  const nats = await startNatsCluster();
  let natsSide: SideResult;
  try {
    natsSide = await natsBench(nats.urls, sizes, natsAmount, 256);
  } finally {
    await nats.stop();
  }
  const natsRecords = 'records' in natsAmount ? `${natsAmount.records.toLocaleString('en-US')} records` : `for ${natsAmount.seconds} s`;
  const { lines, targets } = kafkaReport(runnel, natsSide, natsRecords);
  console.log(`\nrunnel over the Kafka protocol vs NATS JetStream, same machine:`);
  console.log(`  runnel: fresh 3-node cluster, cluster.yaml defaults (log.flush: batch); kcat (librdkafka) -P -X acks=all -X linger.ms=5 of`);
  console.log(`          ${records.toLocaleString('en-US')} records per size from a file written beforehand, to a ${KAFKA_PARTITIONS}-partition RF-3 topic (min.insync 2),`);
  console.log('          then kcat -C -e of the whole topic; records/s from the wall time of each kcat process.');
  console.log(`          Unmeasured warm-up first: ${runnel.warmupRecords.toLocaleString('en-US')} records produced and consumed the same way.`);
  console.log('          One at a time: raw Produce v9 requests (runnel\'s codec, one TCP socket, acks=-1, 100 B) to the');
  console.log('          partition leader\'s Kafka port, and HTTP requests of one record (acks=all); 2,000 warm-up, 3,000 measured.');
  console.log('  NATS:   nats.js async publish, 256 in flight, R3 file stream, then a pull consumer reads it all back.\n');
  for (const l of lines) console.log(l);
  const pass = targets.every((t) => t.pass);
  return { result: { records, natsAmount, runnel, nats: natsSide, targets, pass, table: lines }, pass };
}
