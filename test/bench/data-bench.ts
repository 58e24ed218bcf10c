import { readFile } from 'node:fs/promises';

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
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** Failed requests by HTTP status (429 = explicit backpressure). */
  readonly errorsByStatus: Readonly<Record<string, number>>;
  readonly consumed: number;
  readonly consumeRecordsPerSec: number;
  readonly consumeMBPerSec: number;
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

async function createTopic(base: string, clusterId: string, name: string, partitions: number): Promise<void> {
  const res = await fetch(`${base}/v3/clusters/${clusterId}/topics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic_name: name, partitions_count: partitions, replication_factor: 3, configs: [{ name: 'min.insync.replicas', value: '2' }] }),
  });
  if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${await res.text()}`);
}

/** Produces with acks=all from `concurrency` clients for `seconds`, then reads every partition back. */
async function runOne(o: DataBenchOptions, recordBytes: number): Promise<DataBenchRow> {
  const topic = `bench-${recordBytes}b-${Date.now()}`;
  await createTopic(o.brokers[0] ?? '', o.clusterId, topic, o.partitions);
  // One request body per client, reused: the bench measures the server, not JSON building.
  const value = Buffer.alloc(recordBytes, 120).toString('base64');
  const body = JSON.stringify({ records: Array.from({ length: o.recordsPerRequest }, () => ({ value })) });
  const latencies: number[] = [];
  let produced = 0;
  let errors = 0;
  const errorsByStatus: Record<string, number> = {};
  const deadline = performance.now() + o.seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: o.concurrency }, async (_, client) => {
      const url = `${o.brokers[client % o.brokers.length] ?? ''}/topics/${topic}?acks=all`;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/vnd.kafka.binary.v2+json' }, body });
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (res.status === 200) produced += o.recordsPerRequest;
        else {
          errors++;
          errorsByStatus[String(res.status)] = (errorsByStatus[String(res.status)] ?? 0) + 1;
        }
      }
    }),
  );
  const produceSecs = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);

  // Consume everything back, partitions in parallel.
  const consumeStart = performance.now();
  const counts = await Promise.all(
    Array.from({ length: o.partitions }, async (_, p) => {
      const base = o.brokers[p % o.brokers.length] ?? '';
      const end = ((await (await fetch(`${base}/topics/${topic}/partitions/${p}/offsets`)).json()) as { end_offset: number }).end_offset;
      let offset = 0;
      let n = 0;
      while (offset < end) {
        const res = await fetch(`${base}/topics/${topic}/partitions/${p}/records?offset=${offset}&max_bytes=4194304&timeout_ms=1000`, {
          headers: { accept: 'application/vnd.kafka.binary.v2+json' },
        });
        const records = (await res.json()) as { offset: number }[];
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
    produceRecordsPerSec: produced / produceSecs,
    produceMBPerSec: mb(produced) / produceSecs,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
    errorsByStatus,
    consumed,
    consumeRecordsPerSec: consumed / consumeSecs,
    consumeMBPerSec: mb(consumed) / consumeSecs,
  };
}

export async function dataBench(o: DataBenchOptions): Promise<DataBenchRow[]> {
  const rows: DataBenchRow[] = [];
  for (const size of o.recordBytes) rows.push(await runOne(o, size));
  return rows;
}

/** A process's resident set in MiB: now (VmRSS) or its peak so far (VmHWM). */
export async function rssMiB(pid: number | undefined, which: 'VmRSS' | 'VmHWM'): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${which}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
}
