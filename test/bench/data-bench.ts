import { createBenchTopic, produceLoad } from './produce-load.ts';
import { httpRequest } from './http-client.ts';

// Produce/consume throughput and latency against a running cluster (any node's HTTP URL).

export interface DataBenchOptions {
  readonly brokers: readonly string[];
  readonly clusterId: string;
  readonly recordBytes: readonly number[];
  readonly seconds: number;
  readonly concurrency: number;
  readonly recordsPerRequest: number;
  readonly partitions: number;
}

export interface DataBenchRow {
  readonly recordBytes: number;
  readonly produced: number;
  readonly produceRecordsPerSec: number;
  readonly produceMBPerSec: number;
  /** Latency of acknowledged (200) requests. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** Failed requests by HTTP status (429 = explicit backpressure, retried after Retry-After). */
  readonly errorsByStatus: Readonly<Record<string, number>>;
  readonly consumed: number;
  readonly consumeRecordsPerSec: number;
  readonly consumeMBPerSec: number;
}

/** Produces with acks=all from `concurrency` clients for `seconds`, then reads every partition back. */
async function runOne(o: DataBenchOptions, recordBytes: number): Promise<DataBenchRow> {
  const topic = `bench-${recordBytes}b-${Date.now()}`;
  await createBenchTopic(o.brokers[0] ?? '', o.clusterId, topic, o.partitions);
  const load = await produceLoad({ brokers: o.brokers, topic, producers: o.concurrency, seconds: o.seconds, recordBytes, recordsPerRequest: o.recordsPerRequest });
  const produced = load.tally.produced;

  // Consume everything back, partitions in parallel.
  const consumeStart = performance.now();
  const counts = await Promise.all(
    Array.from({ length: o.partitions }, async (_, p) => {
      const base = o.brokers[p % o.brokers.length] ?? '';
      const end = (JSON.parse((await httpRequest(`${base}/topics/${topic}/partitions/${p}/offsets`)).body.toString()) as { end_offset: number }).end_offset;
      let offset = 0;
      let n = 0;
      while (offset < end) {
        const res = await httpRequest(`${base}/topics/${topic}/partitions/${p}/records?offset=${offset}&max_bytes=4194304&timeout_ms=1000`, {
          headers: { accept: 'application/vnd.kafka.binary.v2+json' },
        });
        const records = JSON.parse(res.body.toString()) as { offset: number }[];
        if (records.length === 0) break;
        n += records.length;
        offset = (records[records.length - 1]?.offset ?? offset) + 1;
      }
      return n;
    }),
  );
  const consumed = counts.reduce((a, b) => a + b, 0);
  const consumeSecs = (performance.now() - consumeStart) / 1000;
  const mb = (records: number): number => (records * recordBytes) / 1e6;
  return {
    recordBytes,
    produced,
    produceRecordsPerSec: load.recordsPerSec,
    produceMBPerSec: load.mbPerSec,
    p50Ms: load.p50Ms,
    p99Ms: load.p99Ms,
    errors: load.tally.errors,
    errorsByStatus: load.tally.errorsByStatus,
    consumed,
    consumeRecordsPerSec: consumed / consumeSecs,
    consumeMBPerSec: mb(consumed) / consumeSecs,
  };
}

/**
 * Produce to a throwaway topic first, unmeasured: the first seconds of a fresh cluster run
 * unoptimised code on both sides of every socket (V8 tiers up as it goes), which is not what
 * a running broker does. The comparison with NATS warms both systems the same way anyway.
 */
const WARMUP_SECONDS = 3;

export async function dataBench(o: DataBenchOptions): Promise<DataBenchRow[]> {
  const warmup = `bench-warmup-${Date.now()}`;
  await createBenchTopic(o.brokers[0] ?? '', o.clusterId, warmup, o.partitions);
  await produceLoad({ brokers: o.brokers, topic: warmup, producers: o.concurrency, seconds: WARMUP_SECONDS, recordBytes: o.recordBytes[0] ?? 100, recordsPerRequest: o.recordsPerRequest });
  const rows: DataBenchRow[] = [];
  for (const size of o.recordBytes) rows.push(await runOne(o, size));
  return rows;
}
