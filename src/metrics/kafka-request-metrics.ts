import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { RequestObserver } from '../kafka/kafka-connection.ts';
import { KAFKA_ERROR } from '../kafka/kafka-error-codes.ts';
import type { MessageValue } from '../kafka/protocol/message-codec.ts';

/** Kafka request latency buckets (seconds): sub-millisecond metadata answers up to fetch long polls (fetch.max.wait.ms 500 ms default) and produce timeouts. */
const KAFKA_DURATION_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Kafka's error names by code, for the error label: a bounded set (codes outside it are "UNKNOWN"). */
const ERROR_NAMES = new Map<number, string>(Object.entries(KAFKA_ERROR).map(([name, code]) => [code, name]));

/** A walk over a response body's error codes is bounded: past this many values, the rest is not looked at. */
const ERROR_WALK_MAX_VALUES = 10_000;

/**
 * The error codes in a response body (top-level, per topic, per partition), each once: a walk
 * over its objects and arrays, never into record bytes.
 */
export function errorCodesIn(body: MessageValue): Set<number> {
  const codes = new Set<number>();
  const stack: unknown[] = [body];
  let seen = 0;
  while (stack.length > 0 && seen < ERROR_WALK_MAX_VALUES) {
    const v = stack.pop();
    seen++;
    if (Array.isArray(v)) {
      stack.push(...(v as unknown[]));
    } else if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'errorCode' && typeof x === 'number') {
          if (x !== 0) codes.add(x);
        } else if (typeof x === 'object' && x !== null) {
          stack.push(x);
        }
      }
    }
  }
  return codes;
}

/**
 * Per Kafka API (label `api`, Kafka's name: Produce, Fetch, Metadata, ...): requests answered,
 * the error codes in their answers (label `error`, Kafka's error name; one count per code per
 * response), and the time to answer (from decoded request to response body, long polls
 * included). Acks=0 produces, answered with nothing, are counted and timed too.
 */
export class KafkaRequestMetrics implements RequestObserver {
  private readonly requests: Counter<'api'>;
  private readonly errors: Counter<'api' | 'error'>;
  private readonly duration: Histogram<'api'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'runnel_kafka_requests_total', help: 'Kafka requests answered by this node, by API', labelNames: ['api'], registers });
    this.errors = new Counter({ name: 'runnel_kafka_request_errors_total', help: 'Error codes in Kafka responses of this node, by API and Kafka error name (once per response and code)', labelNames: ['api', 'error'], registers });
    this.duration = new Histogram({ name: 'runnel_kafka_request_duration_seconds', help: 'Time to answer a Kafka request, by API (fetch long polls included)', labelNames: ['api'], buckets: KAFKA_DURATION_BUCKETS_SECONDS, registers });
  }

  answered(api: string, elapsedMs: number, body: MessageValue | null): void {
    this.requests.inc({ api });
    this.duration.observe({ api }, elapsedMs / 1000);
    if (body === null) return;
    for (const code of errorCodesIn(body)) this.errors.inc({ api, error: ERROR_NAMES.get(code) ?? 'UNKNOWN' });
  }
}
