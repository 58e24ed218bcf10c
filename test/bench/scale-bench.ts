import type { ProcessCluster } from '../support/process-cluster.ts';
import { pollUntil } from '../support/poll.ts';
import { createBenchTopic, produceAll, produceLoad, topicPartitions, waitForFullIsr } from './produce-load.ts';
import { mibList, rssMiB, whileSampling } from './rss-sampler.ts';

// `--suite scale` (issue 7): how produce throughput, p99 and node memory move with the number
// of partitions and of concurrent producers, and whether a 1,000-partition topic can be
// created and written. acks=all, RF 3, min.insync.replicas 2, 100 B records.

export const SCALE_PARTITIONS = [1, 10, 100] as const;
export const SCALE_PRODUCERS = [1, 8, 64] as const;
const RECORD_BYTES = 100;
const RECORDS_PER_REQUEST = 100;
const WIDE_PARTITIONS = 1000;
const WIDE_RECORDS_PER_PARTITION = 10;
const WIDE_PRODUCERS = 8;
/** Bounds on waiting for a fresh topic's leaders and ISRs, and for the high watermarks to settle. */
const TOPIC_READY_TIMEOUT_MS = 60_000;
const WIDE_READY_TIMEOUT_MS = 180_000;
const HW_SETTLE_TIMEOUT_MS = 15_000;

export interface ScaleCell {
  readonly partitions: number;
  readonly producers: number;
  readonly seconds: number;
  readonly requests: number;
  readonly produced: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  /** Latency of acknowledged requests. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly errorsByStatus: Readonly<Record<string, number>>;
  /** Max VmRSS per node (in `nodeIds` order) sampled every 250 ms during this cell. */
  readonly peakRssMiB: readonly number[];
}

export interface WideTopicResult {
  readonly topic: string;
  readonly partitions: number;
  /** POST /topics until its 201. */
  readonly createMs: number;
  /** From the POST until every partition has a leader and a full ISR (NaN: not within the bound). */
  readonly fullIsrMs: number;
  readonly records: number;
  readonly writeMs: number;
  readonly writeErrors: number;
  readonly writeErrorsByStatus: Readonly<Record<string, number>>;
  /** Every partition's high_watermark (admin API) equals the records written to it. */
  readonly highWatermarksOk: boolean;
  /** Partitions the admin API listed in the last check (WIDE_PARTITIONS unless it failed). */
  readonly partitionsReported: number;
  /** Partitions whose high_watermark was not the expected one, first 10. */
  readonly wrongHighWatermarks: readonly { partition: number; highWatermark: number | null }[];
  /** Max VmRSS per node sampled during create + write, and VmRSS right after. */
  readonly peakRssMiB: readonly number[];
  readonly rssAfterMiB: readonly number[];
}

export interface ScaleResult {
  readonly nodeIds: readonly number[];
  readonly recordBytes: number;
  readonly recordsPerRequest: number;
  readonly cells: readonly ScaleCell[];
  readonly wide: WideTopicResult;
}

async function runCell(c: ProcessCluster, partitions: number, producers: number, seconds: number): Promise<ScaleCell> {
  const brokers = c.ids.map((id) => c.url(id, ''));
  const base = brokers[0] ?? '';
  const topic = `scale-p${partitions}-n${producers}`;
  await createBenchTopic(base, c.clusterId, topic, partitions);
  await waitForFullIsr(base, c.clusterId, topic, 3, TOPIC_READY_TIMEOUT_MS);
  const { result: load, peakRssMiB } = await whileSampling(
    c.ids.map((id) => c.pid(id)),
    () => produceLoad({ brokers, topic, producers, seconds, recordBytes: RECORD_BYTES, recordsPerRequest: RECORDS_PER_REQUEST }),
  );
  return {
    partitions,
    producers,
    seconds,
    requests: load.tally.requests,
    produced: load.tally.produced,
    recordsPerSec: load.recordsPerSec,
    mbPerSec: load.mbPerSec,
    p50Ms: load.p50Ms,
    p99Ms: load.p99Ms,
    errors: load.tally.errors,
    errorsByStatus: load.tally.errorsByStatus,
    peakRssMiB,
  };
}

/**
 * A 1,000-partition RF-3 topic: time its creation, then write 10 records to every partition
 * (one keyless request per partition with the partition named in each record, spread over
 * the nodes and over WIDE_PRODUCERS concurrent producers) and check each partition's high
 * watermark through the admin API.
 */
async function wideTopic(c: ProcessCluster): Promise<WideTopicResult> {
  const brokers = c.ids.map((id) => c.url(id, ''));
  const base = brokers[0] ?? '';
  const topic = `scale-wide-${WIDE_PARTITIONS}`;
  const { result, peakRssMiB } = await whileSampling(c.ids.map((id) => c.pid(id)), async () => {
    const t0 = performance.now();
    await createBenchTopic(base, c.clusterId, topic, WIDE_PARTITIONS);
    const createMs = performance.now() - t0;
    const ready = await waitForFullIsr(base, c.clusterId, topic, 3, WIDE_READY_TIMEOUT_MS).then(() => true, () => false);
    const fullIsrMs = ready ? performance.now() - t0 : Number.NaN;

    const value = Buffer.alloc(RECORD_BYTES, 120).toString('base64');
    const requests = Array.from({ length: WIDE_PARTITIONS }, (_, partition) => ({
      url: `${brokers[partition % brokers.length] ?? ''}/topics/${topic}?acks=all`,
      body: JSON.stringify({ records: Array.from({ length: WIDE_RECORDS_PER_PARTITION }, () => ({ value, partition })) }),
      records: WIDE_RECORDS_PER_PARTITION,
    }));
    const w0 = performance.now();
    const tally = await produceAll(requests, WIDE_PRODUCERS);
    const writeMs = performance.now() - w0;
    return { createMs, fullIsrMs, writeMs, tally };
  });

  // acks=all: an acknowledged write is below its leader's high watermark already; the poll
  // only gives a failed request whose records were committed anyway time to show.
  let last: Awaited<ReturnType<typeof topicPartitions>> = [];
  const isExpected = (p: { high_watermark: number | null }): boolean => p.high_watermark === WIDE_RECORDS_PER_PARTITION;
  const highWatermarksOk = await pollUntil(
    `every high watermark of ${topic} at ${WIDE_RECORDS_PER_PARTITION}`,
    async () => {
      last = await topicPartitions(base, c.clusterId, topic);
      return last.length === WIDE_PARTITIONS && last.every(isExpected);
    },
    HW_SETTLE_TIMEOUT_MS,
    250,
  ).then(() => true, () => false);
  const rssAfterMiB = await Promise.all(c.ids.map((id) => rssMiB(c.pid(id), 'VmRSS')));
  return {
    topic,
    partitions: WIDE_PARTITIONS,
    createMs: result.createMs,
    fullIsrMs: result.fullIsrMs,
    records: WIDE_PARTITIONS * WIDE_RECORDS_PER_PARTITION,
    writeMs: result.writeMs,
    writeErrors: result.tally.errors,
    writeErrorsByStatus: result.tally.errorsByStatus,
    highWatermarksOk,
    partitionsReported: last.length,
    wrongHighWatermarks: last.filter((p) => !isExpected(p)).slice(0, 10).map((p) => ({ partition: p.partition_id, highWatermark: p.high_watermark })),
    peakRssMiB,
    rssAfterMiB,
  };
}

/** The grid (SCALE_PARTITIONS x SCALE_PRODUCERS, a fresh topic per cell, `seconds` each), then the wide topic. */
export async function scaleBench(c: ProcessCluster, seconds: number): Promise<ScaleResult> {
  const cells: ScaleCell[] = [];
  for (const partitions of SCALE_PARTITIONS) {
    for (const producers of SCALE_PRODUCERS) {
      const cell = await runCell(c, partitions, producers, seconds);
      console.log(`  ${partitions} partition(s) x ${producers} producer(s): ${cell.recordsPerSec.toFixed(0)} records/s, p99 ${cell.p99Ms.toFixed(1)} ms`);
      cells.push(cell);
    }
  }
  const wide = await wideTopic(c);
  return { nodeIds: c.ids, recordBytes: RECORD_BYTES, recordsPerRequest: RECORDS_PER_REQUEST, cells, wide };
}

const int = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: 0 });

function errorsText(errors: number, byStatus: Readonly<Record<string, number>>): string {
  return errors === 0 ? '0' : `${errors} (${Object.entries(byStatus).map(([k, v]) => `${v}x${k}`).join(', ')})`;
}

/** The report: one row per cell, the same figures pivoted, then the wide topic. */
export function scaleReport(r: ScaleResult): string[] {
  const nodes = r.nodeIds.map((id) => `n${id}`).join(' / ');
  const lines = [
    `| partitions | producers | records/s | MB/s | p50 ms | p99 ms | errors | peak RSS MiB (${nodes}) |`,
    '|---|---|---|---|---|---|---|---|',
    ...r.cells.map(
      (x) =>
        `| ${x.partitions} | ${x.producers} | ${int(x.recordsPerSec)} | ${x.mbPerSec.toFixed(2)} | ${x.p50Ms.toFixed(1)} | ${x.p99Ms.toFixed(1)} | ${errorsText(x.errors, x.errorsByStatus)} | ${x.peakRssMiB.map((m) => m.toFixed(0)).join(' / ')} |`,
    ),
    '',
    '| records/s (p99 ms) | ' + SCALE_PRODUCERS.map((n) => `${n} producer${n === 1 ? '' : 's'}`).join(' | ') + ' |',
    '|---|' + SCALE_PRODUCERS.map(() => '---|').join(''),
  ];
  for (const p of SCALE_PARTITIONS) {
    const row = SCALE_PRODUCERS.map((n) => {
      const x = r.cells.find((cell) => cell.partitions === p && cell.producers === n);
      return x === undefined ? '' : `${int(x.recordsPerSec)} (${x.p99Ms.toFixed(1)})`;
    });
    lines.push(`| ${p} partition${p === 1 ? '' : 's'} | ${row.join(' | ')} |`);
  }
  const w = r.wide;
  lines.push(
    '',
    `${w.partitions}-partition topic (RF 3): created (201) in ${int(w.createMs)} ms; every partition led with a full ISR ` +
      (Number.isNaN(w.fullIsrMs) ? `NOT within ${WIDE_READY_TIMEOUT_MS / 1000} s` : `${int(w.fullIsrMs)} ms after the POST`),
    `  wrote ${int(w.records)} records (${WIDE_RECORDS_PER_PARTITION} per partition, one request each, ${WIDE_PRODUCERS} producers) in ${int(w.writeMs)} ms` +
      ` (${int(w.records / (w.writeMs / 1000))} records/s), errors: ${errorsText(w.writeErrors, w.writeErrorsByStatus)}`,
    w.highWatermarksOk
      ? `  PASS every partition's high_watermark (admin API) is ${WIDE_RECORDS_PER_PARTITION}`
      : `  FAIL high_watermark not ${WIDE_RECORDS_PER_PARTITION} everywhere (${w.partitionsReported} partitions listed), e.g. ` +
        w.wrongHighWatermarks.map((x) => `partition ${x.partition}: ${String(x.highWatermark)}`).join(', '),
    `  node RSS after: ${mibList(w.rssAfterMiB)} (peak while creating and writing: ${mibList(w.peakRssMiB)})`,
  );
  return lines;
}
