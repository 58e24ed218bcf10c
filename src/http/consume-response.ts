// The consume side of API.md ("Consume one partition", and the records of consumer instances):
// the Accept header picks the embedded format, records are rendered in the REST Proxy v2 shape,
// and the read query (offset, max_bytes, timeout_ms | timeout) is validated field by field.

import { invalid } from '../errors.ts';
import type { EmbeddedFormat } from './consumers/consumed-record.ts';
import { mediaType, parseTimeoutMs, queryInt } from './produce-request.ts';

const JSON_V2 = 'application/vnd.kafka.json.v2+json';
const BINARY_V2 = 'application/vnd.kafka.binary.v2+json';

/** Types answered with the json format: its own, plain JSON, the format-less v2 type, wildcards. */
const JSON_TYPES = new Set([JSON_V2, 'application/json', 'application/vnd.kafka.v2+json', 'application/*', '*/*']);

/** Kafka fetch sizes are int32 on the wire. */
const MAX_FETCH_BYTES = 2 ** 31 - 1;

/**
 * The embedded format of records in the answer, from the Accept header (RFC 9110 §12.5.1:
 * a comma-separated list, each with an optional q weight; q=0 means "not this one"). A missing
 * or empty header means json. 406 when no listed type is one runnel can produce.
 */
export function acceptFormat(accept: string | undefined): EmbeddedFormat {
  if (accept === undefined || accept.trim() === '') return 'json';
  const ranges = accept
    .split(',')
    .map((part, order) => ({ type: mediaType(part), q: qualityOf(part), order }))
    .filter((r) => r.type !== '' && r.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
  for (const r of ranges) {
    if (r.type === BINARY_V2) return 'binary';
    if (JSON_TYPES.has(r.type)) return 'json';
  }
  throw invalid('Accept', `${JSON.stringify(accept)} names no format runnel serves; use ${JSON_V2}, ${BINARY_V2} or application/json`, 'NOT_ACCEPTABLE');
}

/** The q parameter of one Accept entry: 1 when absent, 0 when malformed (so it is skipped). */
function qualityOf(part: string): number {
  for (const param of part.split(';').slice(1)) {
    const [name, value] = param.split('=', 2).map((s) => s.trim());
    if (name?.toLowerCase() !== 'q') continue;
    const q = Number(value);
    return value !== undefined && /^[0-9.]+$/.test(value) && q >= 0 && q <= 1 ? q : 0;
  }
  return 1;
}

export interface ConsumeQueryDefaults {
  maxBytes: number;
  timeoutMs: number;
  maxTimeoutMs: number;
}

export interface ConsumeQuery {
  offset: number;
  maxBytes: number;
  timeoutMs: number;
}

/** `?offset=N&max_bytes=B&timeout_ms=T` (or `timeout=T`) of a single-partition read. */
export function parseConsumeQuery(query: Record<string, unknown>, defaults: ConsumeQueryDefaults): ConsumeQuery {
  const offset = queryInt(query, 'offset', 0, Number.MAX_SAFE_INTEGER);
  if (offset === undefined) throw invalid('offset', 'required: the first offset to read, an integer >= 0');
  const maxBytes = queryInt(query, 'max_bytes', 1, MAX_FETCH_BYTES) ?? defaults.maxBytes;
  const timeoutMs = parseTimeoutMs(query, defaults.timeoutMs, defaults.maxTimeoutMs);
  return { offset, maxBytes, timeoutMs };
}
