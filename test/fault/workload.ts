import type { Prng } from '../sim/prng.ts';

const JSON_V2 = 'application/vnd.kafka.json.v2+json';

/**
 * One produce request as the client saw it. `ok` = 200: every record is acknowledged at the
 * partition and offset the answer gave. `failed` = the node answered with another status;
 * `unknown` = connection error or client-side timeout. The records of a failed or unknown
 * request may or may not be in the log (a timed-out acks=all append can still commit).
 */
export interface Attempt {
  /** Producer loop index; `finalProducer` for the post-heal writes. */
  readonly producer: number;
  /** Position in the loop's sequence: acks of one loop are received in this order. */
  readonly seq: number;
  readonly node: number;
  readonly partition: number;
  readonly values: readonly string[];
  /** Milliseconds since the run started. */
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: 'ok' | 'failed' | 'unknown';
  /** ok only: the offset the answer gave each record, in request order. */
  readonly offsets?: readonly number[];
  /** ok only: what was wrong with a 200 answer (wrong partition, null offset ...), if anything. */
  readonly badAnswer?: string;
  /** Status and error name, or the client-side error. */
  readonly detail: string;
}

export interface WorkloadOptions {
  /** Base URL of each node's HTTP API. */
  readonly urls: ReadonlyMap<number, string>;
  readonly topic: string;
  readonly partitions: number;
  readonly producers: number;
  readonly recordsPerRequest: number;
  /** Server-side acks=all deadline (timeout_ms). */
  readonly produceTimeoutMs: number;
  /** Client-side deadline of the whole HTTP call (AbortSignal), above produceTimeoutMs. */
  readonly httpTimeoutMs: number;
  /** A failed request is sent again with the same records up to this many times. */
  readonly maxRetries: number;
  readonly rng: Prng;
  /** Time origin shared with the nemesis log. */
  readonly t0: number;
}

export interface Workload {
  /** Stops every loop after its in-flight request and returns every attempt. */
  stop(): Promise<Attempt[]>;
}

interface ProduceAnswer {
  offsets?: { partition?: unknown; offset?: unknown; error_code?: unknown; error?: unknown }[];
}

/** Sends one acks=all request; never throws. */
export async function produceOnce(
  url: string,
  topic: string,
  partition: number,
  values: readonly string[],
  produceTimeoutMs: number,
  httpTimeoutMs: number,
): Promise<Pick<Attempt, 'outcome' | 'offsets' | 'badAnswer' | 'detail'>> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${url}/topics/${topic}/partitions/${partition}?acks=all&timeout_ms=${produceTimeoutMs}`, {
      method: 'POST',
      headers: { 'content-type': JSON_V2 },
      body: JSON.stringify({ records: values.map((value) => ({ value })) }),
      signal: AbortSignal.timeout(httpTimeoutMs),
    });
    text = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { outcome: 'unknown', detail: e.name === 'TimeoutError' ? 'client timeout' : `${e.cause?.code ?? e.name}: ${e.message}` };
  }
  let body: ProduceAnswer | undefined;
  try {
    body = JSON.parse(text) as ProduceAnswer;
  } catch {
    body = undefined;
  }
  if (res.status !== 200) {
    const names = [...new Set((body?.offsets ?? []).map((o) => String(o.error)))].join(',');
    return { outcome: 'failed', detail: `${res.status} ${names || text.slice(0, 120)}` };
  }
  const entries = body?.offsets ?? [];
  const offsets = entries.map((o) => (typeof o.offset === 'number' ? o.offset : Number.NaN));
  let bad: string | undefined;
  if (entries.length !== values.length) bad = `${entries.length} offsets for ${values.length} records`;
  else if (entries.some((o) => o.partition !== partition)) bad = `partitions ${entries.map((o) => String(o.partition)).join(',')} for partition ${partition}`;
  else if (offsets.some((o) => !Number.isInteger(o))) bad = `offsets ${JSON.stringify(entries.map((o) => o.offset))}`;
  else if (entries.some((o) => o.error_code !== null && o.error_code !== undefined)) bad = `error codes in a 200 answer: ${text.slice(0, 200)}`;
  return { outcome: 'ok', offsets, detail: '200', ...(bad === undefined ? {} : { badAnswer: bad }) };
}

/**
 * W producer loops, each sending acks=all requests one after another, every record value
 * unique (`w3-r1234`). Each request goes to a node the loop's own seeded RNG picks; a node
 * that refused the connection or let the call time out is avoided for a while (the loop moves
 * on to another). A failed request is retried with the same values a few times (as a
 * non-idempotent Kafka producer would), which is what may put a value in the log twice.
 */
export function startWorkload(opts: WorkloadOptions): Workload {
  const attempts: Attempt[] = [];
  const ids = [...opts.urls.keys()];
  let running = true;
  const loops = Array.from({ length: opts.producers }, (_, w) => {
    const rng = opts.rng.fork();
    return (async () => {
      const avoidUntil = new Map<number, number>();
      let nextRecord = 0;
      let seq = 0;
      while (running) {
        const partition = rng.int(opts.partitions);
        const values = Array.from({ length: opts.recordsPerRequest }, () => `w${w}-r${nextRecord++}`);
        for (let tries = 0; running && tries <= opts.maxRetries; tries++) {
          const now = performance.now();
          const usable = ids.filter((id) => (avoidUntil.get(id) ?? 0) <= now);
          const node = rng.pick(usable.length > 0 ? usable : ids);
          const url = opts.urls.get(node) ?? '';
          const startMs = performance.now() - opts.t0;
          const r = await produceOnce(url, opts.topic, partition, values, opts.produceTimeoutMs, opts.httpTimeoutMs);
          attempts.push({ producer: w, seq: seq++, node, partition, values, startMs, endMs: performance.now() - opts.t0, ...r });
          if (r.outcome === 'ok') break;
          if (r.outcome === 'unknown') avoidUntil.set(node, performance.now() + 1500);
          await new Promise((resolve) => setTimeout(resolve, 50 + rng.int(100)));
        }
      }
    })();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return attempts;
    },
  };
}
