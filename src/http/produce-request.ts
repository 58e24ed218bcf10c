// The produce request of API.md ("Produce (v2 shapes)", the Confluent REST Proxy v2 body):
// content type -> embedded format, body -> records with their bytes, query -> acks and timeout,
// and the per-record `offsets` answer. Every refusal is a 4xx naming the exact field path, and
// the whole body is checked before anything is appended (API.md: nothing is half-applied).

import { invalid } from '../errors.ts';
import type { RunnelError } from '../errors.ts';
import type { EmbeddedFormat } from './consumers/consumed-record.ts';


const JSON_V2 = 'application/vnd.kafka.json.v2+json';
const BINARY_V2 = 'application/vnd.kafka.binary.v2+json';

/** Kafka partitions are int32 on the wire. */
const MAX_PARTITION = 2 ** 31 - 1;

/** The media type without its parameters (`; charset=utf-8`), lower-cased (RFC 9110 §8.3.1). */
export function mediaType(headerValue: string): string {
  return (headerValue.split(';', 1)[0] ?? '').trim().toLowerCase();
}

/** The embedded format a produce request's Content-Type announces; 415 for any other type. */
export function formatFromContentType(contentType: string | undefined): EmbeddedFormat {
  const type = contentType === undefined ? '' : mediaType(contentType);
  if (type === JSON_V2 || type === 'application/json') return 'json';
  if (type === BINARY_V2) return 'binary';
  const given = type === '' ? 'missing' : JSON.stringify(contentType);
  throw invalid('Content-Type', `${given} is not supported; use ${JSON_V2}, ${BINARY_V2} or application/json`, 'UNSUPPORTED_MEDIA_TYPE');
}

/** One record of a produce request, its key and value already turned into the bytes to store. */
export interface ProduceRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
  /** The record's own partition, else the URL's (`/topics/{t}/partitions/{p}`), else undefined. */
  partition: number | undefined;
  /** True when the key is non-null: such a record with no partition goes by murmur2(key). */
  keyProvided: boolean;
}

export interface ParseProduceOptions {
  /** Bound on records per request (STYLE.md: every batch has a bound). */
  maxRecords: number;
  /** The partition named in the URL, when the route has one. */
  pathPartition?: number;
}

const BODY_FIELDS = new Set(['records']);
const RECORD_FIELDS = new Set(['key', 'value', 'partition', 'headers']);
const HEADER_FIELDS = new Set(['name', 'value']);

/** Validates a whole produce body and returns its records in request order. */
export function parseProduceBody(body: unknown, format: EmbeddedFormat, opts: ParseProduceOptions): ProduceRecord[] {
  if (!isObject(body)) throw invalid('body', 'must be a JSON object with a "records" array');
  rejectUnknown(body, BODY_FIELDS, '', 'a produce request has only "records"');
  const records = body['records'];
  if (!Array.isArray(records) || records.length === 0) throw invalid('records', 'must be a non-empty array');
  if (records.length > opts.maxRecords) {
    throw invalid('records', `at most ${opts.maxRecords} records per request, got ${records.length}`);
  }
  return records.map((r: unknown, i) => parseRecord(r, `records[${i}]`, format, opts.pathPartition));
}

function parseRecord(r: unknown, path: string, format: EmbeddedFormat, pathPartition: number | undefined): ProduceRecord {
  if (!isObject(r)) throw invalid(path, 'must be a JSON object');
  rejectUnknown(r, RECORD_FIELDS, `${path}.`, 'a record has key, value, partition, headers');
  const key = embeddedBytes(r['key'], `${path}.key`, format);
  const value = embeddedBytes(r['value'], `${path}.value`, format);
  const partition = parsePartition(r['partition'], `${path}.partition`, pathPartition);
  const headers = parseHeaders(r['headers'], `${path}.headers`);
  return { key, value, headers, partition, keyProvided: key !== null };
}

/** Key or value bytes: UTF-8 JSON text in the json format, base64-decoded in the binary one. */
function embeddedBytes(v: unknown, field: string, format: EmbeddedFormat): Buffer | null {
  if (v === undefined || v === null) return null;
  if (format === 'json') {
    // The body was parsed from JSON, so this only fails for values a caller built by hand.
    const text = JSON.stringify(v) as string | undefined;
    if (text === undefined) throw invalid(field, 'must be a JSON value');
    return Buffer.from(text, 'utf8');
  }
  if (typeof v !== 'string') throw invalid(field, 'must be a base64 string or null');
  return base64Field(v, field);
}

function parsePartition(v: unknown, field: string, pathPartition: number | undefined): number | undefined {
  if (v === undefined || v === null) return pathPartition;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalid(field, 'must be an integer >= 0');
  if (v > MAX_PARTITION) throw invalid(field, `must be an integer >= 0 and <= ${MAX_PARTITION}`);
  if (pathPartition !== undefined && v !== pathPartition) {
    throw invalid(field, `is ${v} but the URL names partition ${pathPartition}; leave it out or make them equal`);
  }
  return v;
}

function parseHeaders(v: unknown, path: string): { key: string; value: Buffer | null }[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(path, 'must be an array of {"name": string, "value": base64 string or null}');
  return v.map((h: unknown, j) => {
    const hp = `${path}[${j}]`;
    if (!isObject(h)) throw invalid(hp, 'must be a JSON object {"name", "value"}');
    rejectUnknown(h, HEADER_FIELDS, `${hp}.`, 'a header has name, value');
    const name = h['name'];
    if (typeof name !== 'string') throw invalid(`${hp}.name`, 'must be a string');
    const value = h['value'];
    if (value === undefined || value === null) return { key: name, value: null };
    // Header values are bytes: base64 in both embedded formats (API.md's example: "YWJj").
    if (typeof value !== 'string') throw invalid(`${hp}.value`, 'must be a base64 string or null');
    return { key: name, value: base64Field(value, `${hp}.value`) };
  });
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict RFC 4648 §4 base64: standard alphabet, padded to a multiple of 4, and canonical
 * (§3.5: unused trailing bits zero). Node's decoder silently skips bad characters and stops at
 * stray padding, which would store bytes the client never meant; null means "not base64".
 */
export function decodeBase64(s: string): Buffer | null {
  if (!BASE64.test(s)) return null;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : null;
}

function base64Field(s: string, field: string): Buffer {
  const bytes = decodeBase64(s);
  if (bytes === null) throw invalid(field, 'not valid base64 (standard alphabet A-Z a-z 0-9 + /, "=" padding to a multiple of 4)');
  return bytes;
}

/** Kafka acks: -1 (all in-sync replicas), 1 (leader only), 0 (no answer awaited). */
export type Acks = 0 | 1 | -1;

/** The `acks` query parameter; API.md: `acks=all|1|0`, default all. */
export function parseAcks(v: string | undefined): Acks {
  switch (v) {
    case undefined:
    case 'all':
    case '-1':
      return -1;
    case '1':
      return 1;
    case '0':
      return 0;
    default:
      throw invalid('acks', `must be all, -1, 1 or 0, got ${shown(v)}`);
  }
}

/**
 * An integer query parameter in [min, max], or undefined when absent. Query strings arrive as
 * strings, so only plain digit strings are accepted ("1e3", "-0", " 5", "1.0" are refused); a
 * number is accepted too, for callers whose schema already coerced it.
 */
export function queryInt(query: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw invalid(name, 'given more than once');
  const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  let n = Number.NaN;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^[0-9]{1,16}$/.test(v)) n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalid(name, `must be ${range}, got ${shown(v)}`);
  return n;
}

/** A client-supplied value for an error message, cut short so a huge one cannot bloat the answer. */
export function shown(v: unknown): string {
  const text = (JSON.stringify(v) as string | undefined) ?? typeof v;
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/**
 * The wait bound of a request: `timeout_ms`, or `timeout` (the REST Proxy's and Redpanda's name
 * for the same milliseconds, API.md); `fallback` when neither is given.
 */
export function parseTimeoutMs(query: Record<string, unknown>, fallback: number, max: number): number {
  const ms = queryInt(query, 'timeout_ms', 0, max);
  const alias = queryInt(query, 'timeout', 0, max);
  if (ms !== undefined && alias !== undefined && ms !== alias) {
    throw invalid('timeout', `is ${alias} but timeout_ms is ${ms}; give one of them`);
  }
  return ms ?? alias ?? fallback;
}

/** One `offsets` entry of a produce answer (API.md), one per record in request order. */
export interface OffsetResult {
  partition: number;
  offset: number | null;
  error_code: number | null;
  error: string | null;
}

/** REST Proxy v2 per-record codes for broker-side failures. */
export const RETRIABLE_PRODUCE_ERROR_CODE = 50003;
export const NON_RETRIABLE_PRODUCE_ERROR_CODE = 50002;

export function offsetEntry(partition: number, offset: number): OffsetResult {
  return { partition, offset, error_code: null, error: null };
}

/**
 * A failed record's entry, REST Proxy style: 50003 for a retriable broker condition (503 no
 * leader / not enough replicas / fenced, 504 timed out: a retry may succeed), 50002 for other
 * server faults, else the client fault's own code (40402, 41301, ...); `error` = the Kafka name.
 */
export function errorEntry(partition: number, err: RunnelError): OffsetResult {
  let code: number;
  if (err.status === 503 || err.status === 504) code = RETRIABLE_PRODUCE_ERROR_CODE;
  else if (err.status >= 500) code = NON_RETRIABLE_PRODUCE_ERROR_CODE;
  else code = err.errorCode;
  return { partition, offset: null, error_code: code, error: err.errorName };
}

/** What happened to one record: appended at `offset`, or refused with `error`. */
export type ProduceOutcome = { partition: number; offset: number } | { partition: number; error: RunnelError };

/**
 * The whole answer: one entry per record in request order; the status is 200, or, if any record
 * failed, the status of the first failure in request order (API.md: "the status is that
 * failure's ... and each entry still says its own outcome").
 */
export function produceResponse(outcomes: readonly ProduceOutcome[]): { status: number; body: { offsets: OffsetResult[] } } {
  let status = 200;
  const offsets = outcomes.map((o) => {
    if ('error' in o) {
      if (status === 200) status = o.error.status;
      return errorEntry(o.partition, o.error);
    }
    return offsetEntry(o.partition, o.offset);
  });
  return { status, body: { offsets } };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rejectUnknown(o: Record<string, unknown>, allowed: ReadonlySet<string>, prefix: string, hint: string): void {
  const unknown = Object.keys(o).filter((k) => !allowed.has(k));
  if (unknown.length === 0) return;
  const fields = unknown.map((k) => `${prefix}${k}`).join(', ');
  throw invalid(fields, `unknown field${unknown.length > 1 ? 's' : ''}; ${hint}`);
}
