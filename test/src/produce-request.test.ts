import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RunnelError } from '../../src/errors.ts';
import {
  decodeBase64,
  errorEntry,
  formatFromContentType,
  parseAcks,
  parseProduceBody,
  parseTimeoutMs,
  produceResponse,
} from '../../src/http/produce-request.ts';
import type { EmbeddedFormat } from '../../src/http/consumers/consumed-record.ts';

/** The RunnelError `fn` throws; fails the test when it throws nothing or something else. */
function caught(fn: () => unknown): RunnelError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RunnelError) return e;
    throw e;
  }
  throw new Error('expected a RunnelError, nothing was thrown');
}

const opts = { maxRecords: 100 };
const utf8 = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));

describe('formatFromContentType', () => {
  it.each([
    ['application/vnd.kafka.json.v2+json', 'json'],
    ['application/json', 'json'],
    ['application/json; charset=utf-8', 'json'],
    ['Application/VND.Kafka.JSON.v2+json', 'json'],
    ['application/vnd.kafka.binary.v2+json', 'binary'],
    ['application/vnd.kafka.binary.v2+json;charset=UTF-8', 'binary'],
  ])('reads %s as the %s format', (ct, format) => {
    expect(formatFromContentType(ct)).toBe(format);
  });

  it.each([
    ['application/vnd.kafka.avro.v2+json'],
    ['application/vnd.kafka.binary.v1+json'],
    ['text/plain'],
    ['application/octet-stream'],
  ])('refuses %s with 415 naming the content type', (ct) => {
    const e = caught(() => formatFromContentType(ct));
    expect(e.errorName).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(e.status).toBe(415);
    expect(e.message).toContain('Content-Type');
    expect(e.message).toContain(ct);
  });

  it('refuses a missing content type with 415', () => {
    const e = caught(() => formatFromContentType(undefined));
    expect(e.status).toBe(415);
    expect(e.message).toMatch(/^Content-Type: missing/);
  });
});

describe('parseProduceBody: json format', () => {
  it('stores key and value as the UTF-8 bytes of their JSON text', () => {
    const [r] = parseProduceBody({ records: [{ key: 'user-7', value: { amount: 3 }, partition: 1, headers: [{ name: 'trace', value: 'YWJj' }] }] }, 'json', opts);
    expect(utf8(r!.key)).toBe('"user-7"');
    expect(utf8(r!.value)).toBe('{"amount":3}');
    expect(r!.partition).toBe(1);
    expect(r!.keyProvided).toBe(true);
    expect(r!.headers).toEqual([{ key: 'trace', value: Buffer.from('abc') }]);
  });

  it('stores every JSON kind: numbers, booleans, arrays, strings', () => {
    const rs = parseProduceBody({ records: [{ value: 42 }, { value: false }, { value: [1, 'a', null] }, { value: '' }] }, 'json', opts);
    expect(rs.map((r) => utf8(r.value))).toEqual(['42', 'false', '[1,"a",null]', '""']);
  });

  it('turns an absent or null key or value into null (no key: round-robin)', () => {
    const rs = parseProduceBody({ records: [{}, { key: null, value: null }] }, 'json', opts);
    for (const r of rs) {
      expect(r).toEqual({ key: null, value: null, headers: [], partition: undefined, keyProvided: false });
    }
  });

  it('keeps records in request order', () => {
    const rs = parseProduceBody({ records: [0, 1, 2, 3].map((i) => ({ value: i })) }, 'json', opts);
    expect(rs.map((r) => utf8(r.value))).toEqual(['0', '1', '2', '3']);
  });
});

describe('parseProduceBody: binary format', () => {
  it('decodes base64 key, value and header values', () => {
    const [r] = parseProduceBody({ records: [{ key: 'a2V5', value: 'AAH/', headers: [{ name: 'h', value: null }] }] }, 'binary', opts);
    expect(r!.key).toEqual(Buffer.from('key'));
    expect(r!.value).toEqual(Buffer.from([0, 1, 255]));
    expect(r!.headers).toEqual([{ key: 'h', value: null }]);
    expect(r!.keyProvided).toBe(true);
  });

  it('accepts the empty string as zero bytes', () => {
    const [r] = parseProduceBody({ records: [{ value: '' }] }, 'binary', opts);
    expect(r!.value).toEqual(Buffer.alloc(0));
  });

  it.each([
    ['YWJ', 'length not a multiple of 4'],
    ['YWJjZA', 'missing padding'],
    ['YW=j', 'padding in the middle'],
    ['YWJj=', 'padding beyond a full quantum'],
    ['Y===', 'three padding characters'],
    ['YW Jj', 'a space'],
    ['YW\nJj', 'a newline'],
    ['YW*j', 'a character outside the alphabet'],
    ['YW-_', 'the URL-safe alphabet'],
    ['YR==', 'non-zero unused bits (non-canonical)'],
    ['YWJjZB==', 'non-zero unused bits after a full quantum'],
  ])('refuses %j (%s) with 422 naming the field', (b64) => {
    const e = caught(() => parseProduceBody({ records: [{ value: 'AA==' }, { value: b64 }] }, 'binary', opts));
    expect(e.status).toBe(422);
    expect(e.errorCode).toBe(42201);
    expect(e.message).toMatch(/^records\[1\]\.value: not valid base64/);
  });

  it.each([
    [{ key: 'a b' }, 'records[0].key: not valid base64'],
    [{ key: 12 }, 'records[0].key: must be a base64 string or null'],
    [{ value: { a: 1 } }, 'records[0].value: must be a base64 string or null'],
    [{ value: true }, 'records[0].value: must be a base64 string or null'],
  ])('refuses %j in the binary format', (rec, msg) => {
    expect(caught(() => parseProduceBody({ records: [rec] }, 'binary', opts)).message).toContain(msg);
  });

  it('round-trips any bytes through base64', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.option(fc.uint8Array({ maxLength: 40 })), (value, key) => {
        const body = { records: [{ key: key === null ? null : Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') }] };
        const [r] = parseProduceBody(body, 'binary', opts);
        expect(r!.value).toEqual(Buffer.from(value));
        expect(r!.key).toEqual(key === null ? null : Buffer.from(key));
        expect(r!.keyProvided).toBe(key !== null);
      }),
    );
  });
});

describe('decodeBase64', () => {
  it('accepts exactly what Buffer encodes (canonical, padded)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(decodeBase64(Buffer.from(b).toString('base64'))).toEqual(Buffer.from(b));
      }),
    );
  });

  it('refuses every string whose re-encoding differs', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'AYQ+/=z- \n'), maxLength: 12 }), (s) => {
        const d = decodeBase64(s);
        if (d !== null) expect(d.toString('base64')).toBe(s);
      }),
    );
  });
});

describe('parseProduceBody: field errors name the exact path', () => {
  const table: [string, unknown, EmbeddedFormat, string][] = [
    ['a non-object body', [], 'json', 'body: must be a JSON object'],
    ['a null body', null, 'json', 'body: must be a JSON object'],
    ['missing records', {}, 'json', 'records: must be a non-empty array'],
    ['empty records', { records: [] }, 'json', 'records: must be a non-empty array'],
    ['records not an array', { records: { key: 1 } }, 'json', 'records: must be a non-empty array'],
    ['an unknown top-level field', { records: [{}], value_schema: 'x' }, 'json', 'value_schema: unknown field'],
    ['a record that is not an object', { records: [{}, 'x'] }, 'json', 'records[1]: must be a JSON object'],
    ['a record that is null', { records: [null] }, 'json', 'records[0]: must be a JSON object'],
    ['an unknown record field', { records: [{ value: 1, vaule: 2 }] }, 'json', 'records[0].vaule: unknown field'],
    ['several unknown record fields', { records: [{}, { a: 1, b: 2 }] }, 'json', 'records[1].a, records[1].b: unknown fields'],
    ['a negative partition', { records: [{}, {}, { partition: -1 }] }, 'json', 'records[2].partition: must be an integer >= 0'],
    ['a fractional partition', { records: [{ partition: 1.5 }] }, 'json', 'records[0].partition: must be an integer >= 0'],
    ['a string partition', { records: [{ partition: '1' }] }, 'json', 'records[0].partition: must be an integer >= 0'],
    ['a partition beyond int32', { records: [{ partition: 2 ** 31 }] }, 'json', 'records[0].partition: must be an integer >= 0 and <= 2147483647'],
    ['headers not an array', { records: [{ headers: { trace: 'YWJj' } }] }, 'json', 'records[0].headers: must be an array'],
    ['a header that is not an object', { records: [{ headers: ['x'] }] }, 'json', 'records[0].headers[0]: must be a JSON object'],
    ['a header without a name', { records: [{}, { headers: [{ value: 'YWJj' }] }] }, 'json', 'records[1].headers[0].name: must be a string'],
    ['a numeric header name', { records: [{ headers: [{ name: 1, value: null }] }] }, 'binary', 'records[0].headers[0].name: must be a string'],
    ['a non-string header value', { records: [{ headers: [{ name: 'a', value: null }, { name: 'b', value: 7 }] }] }, 'json', 'records[0].headers[1].value: must be a base64 string or null'],
    ['a header value not base64', { records: [{ headers: [{ name: 'a', value: 'abc' }] }] }, 'json', 'records[0].headers[0].value: not valid base64'],
    ['an unknown header field', { records: [{ headers: [{ name: 'a', value: null, key: 'x' }] }] }, 'json', 'records[0].headers[0].key: unknown field'],
  ];

  it.each(table)('refuses %s', (_what, body, format, message) => {
    const e = caught(() => parseProduceBody(body, format, opts));
    expect(e.status).toBe(422);
    expect(e.errorName).toBe('INVALID_REQUEST');
    expect(e.message).toContain(message);
  });

  it('refuses more records than maxRecords, naming records', () => {
    const e = caught(() => parseProduceBody({ records: [{}, {}, {}] }, 'json', { maxRecords: 2 }));
    expect(e.message).toBe('records: at most 2 records per request, got 3');
    expect(parseProduceBody({ records: [{}, {}] }, 'json', { maxRecords: 2 })).toHaveLength(2);
  });

  it('reports the first bad record, checking all before any is returned', () => {
    const e = caught(() => parseProduceBody({ records: [{ value: 1 }, { partition: -3 }, { partition: 'x' }] }, 'json', opts));
    expect(e.message).toMatch(/^records\[1\]\.partition:/);
  });
});

describe('parseProduceBody: partition from the URL', () => {
  it('gives every record the path partition', () => {
    const rs = parseProduceBody({ records: [{ value: 1 }, { value: 2, partition: 4 }] }, 'json', { maxRecords: 10, pathPartition: 4 });
    expect(rs.map((r) => r.partition)).toEqual([4, 4]);
  });

  it('refuses a record partition that differs from the path partition', () => {
    const e = caught(() => parseProduceBody({ records: [{}, { partition: 1 }] }, 'json', { maxRecords: 10, pathPartition: 2 }));
    expect(e.status).toBe(422);
    expect(e.message).toContain('records[1].partition: is 1 but the URL names partition 2');
  });

  it('leaves partition undefined when neither names one', () => {
    expect(parseProduceBody({ records: [{ key: 'k' }] }, 'json', opts)[0]!.partition).toBeUndefined();
  });
});

describe('parseAcks', () => {
  it.each([
    [undefined, -1],
    ['all', -1],
    ['-1', -1],
    ['1', 1],
    ['0', 0],
  ] as const)('reads acks=%s as %d', (v, acks) => {
    expect(parseAcks(v)).toBe(acks);
  });

  it.each(['2', 'ALL', '', 'leader', ' 1'])('refuses acks=%j with 422 naming acks', (v) => {
    const e = caught(() => parseAcks(v));
    expect(e.status).toBe(422);
    expect(e.message).toMatch(/^acks: must be all, -1, 1 or 0/);
  });
});

describe('parseTimeoutMs', () => {
  it.each([
    [{}, 30000],
    [{ timeout_ms: '0' }, 0],
    [{ timeout_ms: '1500' }, 1500],
    [{ timeout: '250' }, 250],
    [{ timeout_ms: '60000' }, 60000],
    [{ timeout_ms: '100', timeout: '100' }, 100],
    [{ timeout_ms: 700 }, 700],
  ])('reads %j as %d ms', (query, ms) => {
    expect(parseTimeoutMs(query, 30000, 60000)).toBe(ms);
  });

  it.each([
    [{ timeout_ms: '-1' }, 'timeout_ms: must be an integer from 0 to 60000'],
    [{ timeout_ms: '60001' }, 'timeout_ms: must be an integer from 0 to 60000'],
    [{ timeout_ms: '1.5' }, 'timeout_ms: must be an integer'],
    [{ timeout_ms: '1e3' }, 'timeout_ms: must be an integer'],
    [{ timeout_ms: '' }, 'timeout_ms: must be an integer'],
    [{ timeout_ms: 'soon' }, 'timeout_ms: must be an integer'],
    [{ timeout: 'x' }, 'timeout: must be an integer'],
    [{ timeout: '99999999999999999999' }, 'timeout: must be an integer'],
    [{ timeout_ms: ['1', '2'] }, 'timeout_ms: given more than once'],
    [{ timeout_ms: '100', timeout: '200' }, 'timeout: is 200 but timeout_ms is 100'],
  ])('refuses %j with 422 naming the parameter', (query, message) => {
    const e = caught(() => parseTimeoutMs(query, 30000, 60000));
    expect(e.status).toBe(422);
    expect(e.message).toContain(message);
  });
});

describe('produce answer', () => {
  it.each([
    ['NOT_ENOUGH_REPLICAS', 50003],
    ['NOT_ENOUGH_REPLICAS_AFTER_APPEND', 50003],
    ['LEADER_NOT_AVAILABLE', 50003],
    ['NOT_LEADER_OR_FOLLOWER', 50003],
    ['REQUEST_TIMED_OUT', 50003],
    ['UNKNOWN_SERVER_ERROR', 50002],
    ['MESSAGE_TOO_LARGE', 41301],
    ['UNKNOWN_PARTITION', 40402],
    ['INVALID_REQUEST', 42201],
  ] as const)('reports %s with error_code %d and the Kafka name', (name, code) => {
    expect(errorEntry(2, new RunnelError(name, 'why'))).toEqual({ partition: 2, offset: null, error_code: code, error: name });
  });

  it('answers 200 with one entry per record when all succeeded', () => {
    expect(produceResponse([{ partition: 1, offset: 41 }, { partition: 0, offset: 7 }])).toEqual({
      status: 200,
      body: {
        offsets: [
          { partition: 1, offset: 41, error_code: null, error: null },
          { partition: 0, offset: 7, error_code: null, error: null },
        ],
      },
    });
  });

  it("takes the first failure's status and still reports every record's own outcome", () => {
    const r = produceResponse([
      { partition: 0, offset: 3 },
      { partition: 1, error: new RunnelError('NOT_ENOUGH_REPLICAS', 'isr 1 < 2') },
      { partition: 2, error: new RunnelError('MESSAGE_TOO_LARGE', 'too big') },
    ]);
    expect(r.status).toBe(503);
    expect(r.body.offsets).toEqual([
      { partition: 0, offset: 3, error_code: null, error: null },
      { partition: 1, offset: null, error_code: 50003, error: 'NOT_ENOUGH_REPLICAS' },
      { partition: 2, offset: null, error_code: 41301, error: 'MESSAGE_TOO_LARGE' },
    ]);
  });
});
