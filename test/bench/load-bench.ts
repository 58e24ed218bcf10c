import type { ProcessCluster } from '../support/process-cluster.ts';
import { pollUntil } from '../support/poll.ts';
import { createBenchTopic, produceLoad, topicPartitions, waitForFullIsr } from './produce-load.ts';
import { mibList, rssMiB, whileSampling } from './rss-sampler.ts';

// `--suite load` (issue 7 acceptance): 64 producers push as fast as they can. Targets: no
// error other than explicit backpressure (429, which the producers retry after Retry-After),
// and every node's peak RSS under 512 MiB.

export const LOAD_PRODUCERS = 64;
export const LOAD_PARTITIONS = 6;
export const RSS_LIMIT_MIB = 512;
const RECORDS_PER_REQUEST = 100;
const TOPIC_READY_TIMEOUT_MS = 60_000;
const HW_SETTLE_TIMEOUT_MS = 15_000;

export interface LoadRun {
  readonly recordBytes: number;
  readonly producers: number;
  readonly partitions: number;
  readonly seconds: number;
  readonly requests: number;
  readonly acknowledgedRequests: number;
  readonly produced: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  /** Latency of acknowledged requests (a 429 answer and the wait after it are not in it). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Non-200 answers by HTTP status, and client-side failures (timeout, network) by reason. */
  readonly errorsByStatus: Readonly<Record<string, number>>;
  readonly throttled: number;
  /** Total time producers waited as told by Retry-After. */
  readonly retryWaitMs: number;
  readonly errorsOtherThan429: number;
  /** Max VmRSS per node (in `nodeIds` order), sampled every 250 ms during the run. */
  readonly peakRssMiB: readonly number[];
  /** VmHWM per node after the run: the peak over the node's life (this suite's cluster is fresh). */
  readonly vmHwmMiB: readonly number[];
  /** Sum of the partitions' high watermarks: at least `produced` (acks=all), or the run fails. */
  readonly highWatermarkSum: number;
  readonly pass: { readonly noErrorsOtherThan429: boolean; readonly rssUnderLimit: boolean; readonly acknowledgedRecordsPresent: boolean };
}

export interface LoadResult {
  readonly nodeIds: readonly number[];
  readonly rssLimitMiB: number;
  readonly runs: readonly LoadRun[];
  readonly pass: boolean;
}

async function runOne(c: ProcessCluster, recordBytes: number, seconds: number): Promise<LoadRun> {
  const brokers = c.ids.map((id) => c.url(id, ''));
  const base = brokers[0] ?? '';
  const topic = `load-${recordBytes}b`;
  await createBenchTopic(base, c.clusterId, topic, LOAD_PARTITIONS);
  await waitForFullIsr(base, c.clusterId, topic, 3, TOPIC_READY_TIMEOUT_MS);
  const { result: load, peakRssMiB } = await whileSampling(
    c.ids.map((id) => c.pid(id)),
    () => produceLoad({ brokers, topic, producers: LOAD_PRODUCERS, seconds, recordBytes, recordsPerRequest: RECORDS_PER_REQUEST }),
  );
  const vmHwmMiB = await Promise.all(c.ids.map((id) => rssMiB(c.pid(id), 'VmHWM')));
  // Every acknowledged record is below its leader's high watermark (more may be: a request that
  // timed out can still have been committed).
  let highWatermarkSum = 0;
  const acknowledgedRecordsPresent = await pollUntil(
    `high watermarks of ${topic} to cover the acknowledged records`,
    async () => {
      highWatermarkSum = (await topicPartitions(base, c.clusterId, topic)).reduce((a, p) => a + (p.high_watermark ?? 0), 0);
      return highWatermarkSum >= load.tally.produced;
    },
    HW_SETTLE_TIMEOUT_MS,
    250,
  ).then(() => true, () => false);
  const t = load.tally;
  return {
    recordBytes,
    producers: LOAD_PRODUCERS,
    partitions: LOAD_PARTITIONS,
    seconds,
    requests: t.requests,
    acknowledgedRequests: t.acked,
    produced: t.produced,
    recordsPerSec: load.recordsPerSec,
    mbPerSec: load.mbPerSec,
    p50Ms: load.p50Ms,
    p99Ms: load.p99Ms,
    errorsByStatus: t.errorsByStatus,
    throttled: t.throttled,
    retryWaitMs: t.retryWaitMs,
    errorsOtherThan429: t.errorsOtherThan429,
    peakRssMiB,
    vmHwmMiB,
    highWatermarkSum,
    pass: {
      noErrorsOtherThan429: t.errorsOtherThan429 === 0,
      // VmHWM >= every sample and misses no spike between samples: the strict reading.
      rssUnderLimit: vmHwmMiB.every((m) => m < RSS_LIMIT_MIB),
      acknowledgedRecordsPresent,
    },
  };
}

/** One run per record size, each `seconds` long, on the given (fresh) cluster. */
export async function loadBench(c: ProcessCluster, seconds: number, recordBytes: readonly number[]): Promise<LoadResult> {
  const runs: LoadRun[] = [];
  for (const size of recordBytes) runs.push(await runOne(c, size, seconds));
  const pass = runs.every((r) => Object.values(r.pass).every((ok) => ok));
  return { nodeIds: c.ids, rssLimitMiB: RSS_LIMIT_MIB, runs, pass };
}

const int = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: 0 });
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');

export function loadReport(r: LoadResult): string[] {
  const lines: string[] = [];
  for (const x of r.runs) {
    const answers = [`${int(x.acknowledgedRequests)}x200`, ...Object.entries(x.errorsByStatus).map(([k, v]) => `${int(v)}x${k}`)].join(', ');
    lines.push(
      `${x.producers} producers, ${x.recordBytes} B records, ${x.partitions} partitions, ${x.seconds} s:`,
      `  ${int(x.recordsPerSec)} records/s, ${x.mbPerSec.toFixed(2)} MB/s, acknowledged request p50 ${x.p50Ms.toFixed(1)} ms, p99 ${x.p99Ms.toFixed(1)} ms`,
      `  answers: ${answers}; 429s retried after Retry-After: ${int(x.throttled)} (${(x.retryWaitMs / 1000).toFixed(1)} s waited in all)`,
      `  errors other than 429: ${x.errorsOtherThan429}`,
      `  peak RSS per node (VmRSS every 250 ms): ${mibList(x.peakRssMiB)}; VmHWM: ${mibList(x.vmHwmMiB)}`,
      `  ${verdict(x.pass.noErrorsOtherThan429)} no errors other than 429`,
      `  ${verdict(x.pass.rssUnderLimit)} peak RSS (VmHWM) < ${r.rssLimitMiB} MiB on every node (max ${Math.max(...x.vmHwmMiB).toFixed(0)} MiB)`,
      `  ${verdict(x.pass.acknowledgedRecordsPresent)} acknowledged records all below the high watermarks (HW sum ${int(x.highWatermarkSum)} >= ${int(x.produced)} acknowledged)`,
    );
  }
  lines.push(`load: ${verdict(r.pass)}`);
  return lines;
}
