import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RunnelError } from '../../src/errors.ts';
import { acceptFormat, parseConsumeQuery } from '../../src/http/consume-response.ts';
import { formatRecord } from '../../src/http/consumers/consumed-record.ts';
import type { StoredRecord } from '../../src/http/consumers/consumed-record.ts';
import { parseProduceBody } from '../../src/http/produce-request.ts';

function caught(fn: () => unknown): RunnelError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RunnelError) return e;
    throw e;
  }
  throw new Error('expected a RunnelError, nothing was thrown');
}

const stored = (o: Partial<StoredRecord> = {}): StoredRecord => ({ offset: 5, timestamp: 1_700_000_000_000, key: null, value: null, headers: [], ...o });
const defaults = { maxBytes: 1_048_576, timeoutMs: 1000, maxTimeoutMs: 30_000 };

describe('acceptFormat', () => {
  it.each([
    [undefined, 'json'],
    ['', 'json'],
    ['*/*', 'json'],
    ['application/*', 'json'],
    ['application/json', 'json'],
    ['application/vnd.kafka.json.v2+json', 'json'],
    ['application/vnd.kafka.v2+json', 'json'],
    ['application/vnd.kafka.binary.v2+json', 'binary'],
    ['Application/Vnd.Kafka.Binary.V2+JSON', 'binary'],
    ['application/vnd.kafka.binary.v2+json; charset=utf-8', 'binary'],
    ['application/vnd.kafka.binary.v2+json, application/vnd.kafka.v2+json, application/json', 'binary'],
    ['application/json;q=0.5, application/vnd.kafka.binary.v2+json', 'binary'],
    ['application/vnd.kafka.binary.v2+json;q=0.2, */*;q=0.9', 'json'],
    ['application/vnd.kafka.binary.v2+json;q=0, application/json', 'json'],
    ['text/html, application/xhtml+xml, */*;q=0.8', 'json'],
    ['application/vnd.kafka.avro.v2+json, application/vnd.kafka.binary.v2+json', 'binary'],
  ])('reads Accept %j as the %s format', (accept, format) => {
    expect(acceptFormat(accept)).toBe(format);
  });

  it.each([
    ['application/vnd.kafka.avro.v2+json'],
    ['application/vnd.kafka.protobuf.v2+json'],
    ['application/vnd.kafka.binary.v1+json'],
    ['text/plain'],
    ['application/json;q=0'],
  ])('refuses Accept %j with 406 naming Accept', (accept) => {
    const e = caught(() => acceptFormat(accept));
    expect(e.status).toBe(406);
    expect(e.errorName).toBe('NOT_ACCEPTABLE');
    expect(e.message).toMatch(/^Accept: /);
    expect(e.message).toContain(accept);
  });
});

describe('formatRecord', () => {
  it('renders the json format with JSON key and value and base64 headers', () => {
    const r = stored({ key: Buffer.from('"user-7"'), value: Buffer.from('{"amount":3}'), headers: [{ key: 'trace', value: Buffer.from('abc') }] });
    expect(formatRecord('orders', 1, r, 'json')).toEqual({
      topic: 'orders',
      partition: 1,
      offset: 5,
      key: 'user-7',
      value: { amount: 3 },
      timestamp: 1_700_000_000_000,
      headers: [{ name: 'trace', value: 'YWJj' }],
    });
  });

  it('renders the binary format with base64 key, value and headers', () => {
    const r = stored({ key: Buffer.from('key'), value: Buffer.from([0, 1, 255]), headers: [{ key: 'h', value: null }] });
    expect(formatRecord('t', 0, r, 'binary')).toEqual({
      topic: 't',
      partition: 0,
      offset: 5,
      key: 'a2V5',
      value: 'AAH/',
      timestamp: 1_700_000_000_000,
      headers: [{ name: 'h', value: null }],
    });
  });

  it('keeps null keys and values null in both formats', () => {
    for (const format of ['json', 'binary'] as const) {
      const out = formatRecord('t', 0, stored(), format);
      expect(out.key).toBeNull();
      expect(out.value).toBeNull();
    }
  });

  it('gives the UTF-8 text when stored bytes are not JSON (json format)', () => {
    const out = formatRecord('t', 0, stored({ key: Buffer.from('plain key'), value: Buffer.alloc(0) }), 'json');
    expect(out.key).toBe('plain key');
    expect(out.value).toBe('');
  });

  it('round-trips any JSON key and value from a json produce to a json consume', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (key, value) => {
        const [p] = parseProduceBody({ records: [{ key, value, headers: [{ name: 'n', value: 'AA==' }] }] }, 'json', { maxRecords: 1 });
        const out = formatRecord('t', 0, stored({ key: p!.key, value: p!.value, headers: p!.headers }), 'json');
        // JSON itself has no -0: the wire form of a value is what JSON.stringify makes of it.
        const wire = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;
        expect(out.key).toEqual(wire(key));
        expect(out.value).toEqual(wire(value));
        expect(out.headers).toEqual([{ name: 'n', value: 'AA==' }]);
      }),
    );
  });

  it('round-trips any bytes from a binary produce to a binary consume', () => {
    fc.assert(
      fc.property(fc.option(fc.uint8Array({ maxLength: 64 })), fc.uint8Array({ maxLength: 300 }), fc.option(fc.uint8Array({ maxLength: 16 })), (key, value, hv) => {
        const b64 = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('base64'));
        const body = { records: [{ key: b64(key), value: b64(value), headers: [{ name: 'h', value: b64(hv) }] }] };
        const [p] = parseProduceBody(body, 'binary', { maxRecords: 1 });
        const out = formatRecord('t', 3, stored({ key: p!.key, value: p!.value, headers: p!.headers }), 'binary');
        expect(out.key).toBe(b64(key));
        expect(out.value).toBe(b64(value));
        expect(out.headers).toEqual([{ name: 'h', value: b64(hv) }]);
      }),
    );
  });
});

describe('parseConsumeQuery', () => {
  it('reads offset and falls back to the defaults', () => {
    expect(parseConsumeQuery({ offset: '0' }, defaults)).toEqual({ offset: 0, maxBytes: 1_048_576, timeoutMs: 1000 });
  });

  it('reads max_bytes and timeout_ms or timeout', () => {
    expect(parseConsumeQuery({ offset: '41', max_bytes: '4096', timeout_ms: '250' }, defaults)).toEqual({ offset: 41, maxBytes: 4096, timeoutMs: 250 });
    expect(parseConsumeQuery({ offset: '41', timeout: '0' }, defaults)).toEqual({ offset: 41, maxBytes: 1_048_576, timeoutMs: 0 });
  });

  it('accepts offsets up to 2^53 - 1', () => {
    expect(parseConsumeQuery({ offset: '9007199254740991' }, defaults).offset).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([
    [{}, 'offset: required'],
    [{ offset: '' }, 'offset: must be an integer >= 0'],
    [{ offset: '-1' }, 'offset: must be an integer >= 0'],
    [{ offset: '1.0' }, 'offset: must be an integer >= 0'],
    [{ offset: '0x10' }, 'offset: must be an integer >= 0'],
    [{ offset: '1e3' }, 'offset: must be an integer >= 0'],
    [{ offset: ' 1' }, 'offset: must be an integer >= 0'],
    [{ offset: '9007199254740992' }, 'offset: must be an integer >= 0'],
    [{ offset: ['1', '2'] }, 'offset: given more than once'],
    [{ offset: '0', max_bytes: '0' }, 'max_bytes: must be an integer from 1 to 2147483647'],
    [{ offset: '0', max_bytes: '2147483648' }, 'max_bytes: must be an integer from 1 to 2147483647'],
    [{ offset: '0', max_bytes: 'lots' }, 'max_bytes: must be an integer'],
    [{ offset: '0', timeout_ms: '30001' }, 'timeout_ms: must be an integer from 0 to 30000'],
    [{ offset: '0', timeout: '-5' }, 'timeout: must be an integer from 0 to 30000'],
  ])('refuses %j with 422 naming the parameter', (query, message) => {
    const e = caught(() => parseConsumeQuery(query, defaults));
    expect(e.status).toBe(422);
    expect(e.errorCode).toBe(42201);
    expect(e.message).toContain(message);
  });
});
