import { pollUntil } from '../support/poll.ts';
import { BenchHttpError, httpRequest } from './http-client.ts';

// The benchmarks' producer: HTTP produce requests with acks=all, as a well-behaved client
// sends them. A 429 (explicit backpressure) is retried after the Retry-After the node sent;
// every other failure is counted, never retried, so it shows in the figures.

/** A request unanswered this long is given up and counted as "client timeout", not an HTTP status. */
const CLIENT_TIMEOUT_MS = 45_000; // the server's own acks=all timeout_ms is 30 s
/** Retry-After the client assumes when a 429 comes without one (RFC 9110 §10.2.3 leaves it optional). */
const DEFAULT_RETRY_AFTER_MS = 1000;
/** A connection error is not backpressure: pause briefly instead of spinning, and count it. */
const NETWORK_ERROR_PAUSE_MS = 100;
/** produceAll gives a request up (counted as its 429s) after this many refusals in a row. */
const MAX_THROTTLED_RETRIES = 60;

export const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Creates an RF-3, min.insync.replicas 2 topic through `base`; throws unless 201. */
export async function createBenchTopic(base: string, clusterId: string, name: string, partitions: number): Promise<void> {
  const res = await fetch(`${base}/v3/clusters/${clusterId}/topics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic_name: name, partitions_count: partitions, replication_factor: 3, configs: [{ name: 'min.insync.replicas', value: '2' }] }),
  });
  if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${await res.text()}`);
}

interface PartitionBody {
  readonly partition_id: number;
  readonly leader_id: number | null;
  readonly isr: readonly number[];
  readonly high_watermark: number | null;
}

/** The topic's partitions as the admin API reports them (leader, ISR, leader's high watermark). */
export async function topicPartitions(base: string, clusterId: string, topic: string): Promise<PartitionBody[]> {
  const res = await fetch(`${base}/v3/clusters/${clusterId}/topics/${topic}/partitions`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
  if (res.status !== 200) throw new Error(`partitions of ${topic}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: PartitionBody[] }).data;
}

/** Waits until every partition of the topic has a leader and all `replicas` in its ISR. */
export async function waitForFullIsr(base: string, clusterId: string, topic: string, replicas: number, timeoutMs: number): Promise<void> {
  await pollUntil(
    `every partition of ${topic} led, with ${replicas} replicas in sync`,
    async () => (await topicPartitions(base, clusterId, topic)).every((p) => p.leader_id !== null && p.isr.length === replicas),
    timeoutMs,
    100,
  );
}

/** Retry-After as milliseconds: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function retryAfterMs(header: string | null): number {
  if (header === null || header.trim() === '') return DEFAULT_RETRY_AFTER_MS;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? DEFAULT_RETRY_AFTER_MS : Math.max(0, at - Date.now());
}

export type ProduceOutcome =
  | { readonly kind: 'answered'; readonly status: number; readonly ms: number; readonly retryAfterMs: number }
  | { readonly kind: 'failed'; readonly reason: string; readonly ms: number };

/** One binary-format produce request; never throws for a network failure or a timeout. */
export async function produceOnce(url: string, body: string): Promise<ProduceOutcome> {
  const t0 = performance.now();
  try {
    const res = await httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/vnd.kafka.binary.v2+json' }, body, timeoutMs: CLIENT_TIMEOUT_MS });
    const header = res.headers['retry-after'];
    const retry = res.status === 429 ? retryAfterMs(typeof header === 'string' ? header : null) : 0;
    return { kind: 'answered', status: res.status, ms: performance.now() - t0, retryAfterMs: retry };
  } catch (err) {
    const code = err instanceof BenchHttpError ? err.code : 'ERROR';
    const reason = code === 'TIMEOUT' ? 'client timeout' : `network ${code}`;
    return { kind: 'failed', reason, ms: performance.now() - t0 };
  }
}

/** What a set of producers saw; latencies are of acknowledged (200) requests only. */
export class ProduceTally {
  requests = 0;
  acked = 0;
  /** Records in acknowledged requests. */
  produced = 0;
  /** 429 answers; each was retried after its Retry-After. */
  throttled = 0;
  retryWaitMs = 0;
  readonly latenciesMs: number[] = [];
  /** Every non-200 answer by HTTP status (429 included), plus client-side failures by reason. */
  readonly errorsByStatus: Record<string, number> = {};

  get errors(): number {
    return Object.values(this.errorsByStatus).reduce((a, b) => a + b, 0);
  }

  /** Errors that are not explicit backpressure. */
  get errorsOtherThan429(): number {
    return this.errors - (this.errorsByStatus['429'] ?? 0);
  }

  /**
   * Records one outcome; returns how long the caller must wait before its next request
   * (the Retry-After of a 429, a short pause after a network failure, else 0).
   */
  record(o: ProduceOutcome, records: number): number {
    this.requests++;
    if (o.kind === 'failed') {
      this.errorsByStatus[o.reason] = (this.errorsByStatus[o.reason] ?? 0) + 1;
      return NETWORK_ERROR_PAUSE_MS;
    }
    if (o.status === 200) {
      this.acked++;
      this.produced += records;
      this.latenciesMs.push(o.ms);
      return 0;
    }
    this.errorsByStatus[String(o.status)] = (this.errorsByStatus[String(o.status)] ?? 0) + 1;
    if (o.status !== 429) return 0;
    this.throttled++;
    return o.retryAfterMs;
  }

  /** `errorsByStatus` as `3x429, 1x503`, or `0`. */
  errorsText(): string {
    const parts = Object.entries(this.errorsByStatus).map(([k, v]) => `${v}x${k}`);
    return parts.length === 0 ? '0' : `${this.errors} (${parts.join(', ')})`;
  }
}

export interface ProduceLoadOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly producers: number;
  readonly seconds: number;
  readonly recordBytes: number;
  readonly recordsPerRequest: number;
}

export interface ProduceLoadResult {
  readonly tally: ProduceTally;
  /** Wall time from the first request to the last answer. */
  readonly elapsedSecs: number;
  /** Sorted copy of the acknowledged requests' latencies. */
  readonly sortedLatenciesMs: readonly number[];
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * `producers` concurrent clients (spread over the brokers round-robin) each send keyless
 * requests of `recordsPerRequest` records of `recordBytes` with acks=all, back to back, until
 * `seconds` have passed. A 429 is retried after its Retry-After (cut short by the deadline).
 */
export async function produceLoad(o: ProduceLoadOptions): Promise<ProduceLoadResult> {
  // One request body for everyone, reused: the bench measures the server, not JSON building.
  const value = Buffer.alloc(o.recordBytes, 120).toString('base64');
  const body = JSON.stringify({ records: Array.from({ length: o.recordsPerRequest }, () => ({ value })) });
  const tally = new ProduceTally();
  const started = performance.now();
  const deadline = started + o.seconds * 1000;
  await Promise.all(
    Array.from({ length: o.producers }, async (_, client) => {
      const url = `${o.brokers[client % o.brokers.length] ?? ''}/topics/${o.topic}?acks=all`;
      while (performance.now() < deadline) {
        const waitMs = tally.record(await produceOnce(url, body), o.recordsPerRequest);
        if (waitMs > 0) {
          const capped = Math.min(waitMs, Math.max(0, deadline - performance.now()));
          tally.retryWaitMs += capped;
          await sleep(capped);
        }
      }
    }),
  );
  const elapsedSecs = (performance.now() - started) / 1000;
  const sorted = [...tally.latenciesMs].sort((a, b) => a - b);
  return {
    tally,
    elapsedSecs,
    sortedLatenciesMs: sorted,
    recordsPerSec: tally.produced / elapsedSecs,
    mbPerSec: (tally.produced * o.recordBytes) / 1e6 / elapsedSecs,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

/**
 * Sends every request once, `producers` at a time, in order of the list; a 429 is retried after
 * its Retry-After (bounded), any other failure is counted and not retried (it may have been
 * appended, and a retry would write the records twice).
 */
export async function produceAll(requests: readonly { url: string; body: string; records: number }[], producers: number): Promise<ProduceTally> {
  const tally = new ProduceTally();
  let next = 0;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      for (let i = next++; i < requests.length; i = next++) {
        const r = requests[i];
        if (r === undefined) break;
        for (let attempt = 1; ; attempt++) {
          const outcome = await produceOnce(r.url, r.body);
          const waitMs = tally.record(outcome, r.records);
          if (outcome.kind !== 'answered' || outcome.status !== 429 || attempt > MAX_THROTTLED_RETRIES) break;
          tally.retryWaitMs += waitMs;
          await sleep(waitMs);
        }
      }
    }),
  );
  return tally;
}
