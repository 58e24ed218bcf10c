import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRecords } from '../../storage/record-batch.ts';
import { ByteReader } from '../../src/kafka/protocol/byte-reader.ts';
import { ByteWriter } from '../../src/kafka/protocol/byte-writer.ts';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, loadApiSpecs, readRequestPrefix } from '../../src/kafka/protocol/frames.ts';
import { MalformedFrameError } from '../../src/kafka/protocol/malformed-frame-error.ts';
import { messageCodec } from '../../src/kafka/protocol/message-codec.ts';
import { parseMessageSpec, parseVersions, stripCommentLines } from '../../src/kafka/protocol/message-spec.ts';
import { messageArbitrary } from './support/message-arbitrary.ts';

const MESSAGES = new URL('../../src/kafka/protocol/messages/', import.meta.url);
const API_NAMES = readdirSync(MESSAGES)
  .filter((f) => f.endsWith('Request.json'))
  .map((f) => f.slice(0, -'Request.json'.length));

function versionsOf(name: string): number[] {
  const { request } = loadApiSpecs(name);
  const out: number[] = [];
  for (let v = request.validVersions.min; v <= request.validVersions.max; v++) out.push(v);
  return out;
}

describe('message specs', () => {
  it('reads every vendored spec, skipping the // comment lines Kafka puts in them', () => {
    expect(API_NAMES.length).toBe(25);
    for (const name of API_NAMES) {
      const specs = loadApiSpecs(name);
      expect(specs.request.fields.length + specs.response.fields.length).toBeGreaterThan(0);
    }
    expect(stripCommentLines('// x\n  // y\n{"a": 1}')).toBe('{"a": 1}');
  });

  it('parses version ranges as the spec README defines them', () => {
    expect(parseVersions('0-4', 'x')).toEqual({ min: 0, max: 4 });
    expect(parseVersions('3', 'x')).toEqual({ min: 3, max: 3 });
    expect(parseVersions('9+', 'x').max).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseVersions('none', 'x').min).toBeGreaterThan(parseVersions('none', 'x').max);
    expect(() => parseVersions('1..2', 'x')).toThrow(/bad version range/);
  });
});

describe('codec round trip: decode(encode(x)) = x', () => {
  for (const name of API_NAMES) {
    it(`${name} requests and responses at every version`, () => {
      const specs = loadApiSpecs(name);
      for (const v of versionsOf(name)) {
        fc.assert(
          fc.property(messageArbitrary(specs.request, v), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.option(fc.string({ maxLength: 10 }), { nil: null }), (body, cid, clientId) => {
            const frame = encodeRequest(specs, v, cid, clientId, body);
            const d = decodeRequest(frame, specs, v);
            expect(d).toEqual({ apiKey: specs.apiKey, apiVersion: v, correlationId: cid, clientId, body });
          }),
          { numRuns: 40 },
        );
        fc.assert(
          fc.property(messageArbitrary(specs.response, v), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (body, cid) => {
            const sized = encodeResponse(specs, v, cid, body);
            expect(sized.readInt32BE(0)).toBe(sized.length - 4);
            expect(decodeResponse(sized.subarray(4), specs, v)).toEqual({ correlationId: cid, body });
          }),
          { numRuns: 40 },
        );
      }
    });
  }
});

describe('golden bytes, checked by hand against the specs', () => {
  const apiVersions = loadApiSpecs('ApiVersions');

  it('decodes ApiVersions v3 as librdkafka sends it: header v2 with a classic ClientId, compact strings, empty tag sections', () => {
    const frame = Buffer.from([
      0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, // api key 18, version 3, correlation id 1
      0x00, 0x07, ...Buffer.from('rdkafka'), // ClientId: int16 length even in header v2
      0x00, // header tagged fields: none
      0x0b, ...Buffer.from('librdkafka'), // ClientSoftwareName: compact string, length + 1
      0x06, ...Buffer.from('2.0.2'), // ClientSoftwareVersion
      0x00, // body tagged fields: none
    ]);
    expect(decodeRequest(frame, apiVersions, 3)).toEqual({
      apiKey: 18,
      apiVersion: 3,
      correlationId: 1,
      clientId: 'rdkafka',
      body: { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' },
    });
  });

  it('decodes ApiVersions v0 as kafka-python sends it: header v1, an empty body', () => {
    const frame = Buffer.from([0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0xff, 0xff]); // null ClientId
    expect(decodeRequest(frame, apiVersions, 0)).toEqual({
      apiKey: 18, apiVersion: 0, correlationId: 42, clientId: null, body: { clientSoftwareName: '', clientSoftwareVersion: '' },
    });
  });

  it('encodes the ApiVersions v3 response with header v0 (no tagged fields after the correlation id)', () => {
    const out = encodeResponse(apiVersions, 3, 7, { errorCode: 0, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 3 }], throttleTimeMs: 0 });
    expect([...out]).toEqual([
      0x00, 0x00, 0x00, 0x13, // size 19
      0x00, 0x00, 0x00, 0x07, // correlation id, and no header tags
      0x00, 0x00, // error code
      0x02, 0x00, 0x12, 0x00, 0x00, 0x00, 0x03, 0x00, // compact array of 1: key 18, 0..3, its tags
      0x00, 0x00, 0x00, 0x00, // throttle time
      0x00, // body tags: SupportedFeatures etc. left at their defaults are not written
    ]);
  });

  it('encodes Metadata v0 with classic arrays and strings', () => {
    const metadata = loadApiSpecs('Metadata');
    const out = encodeResponse(metadata, 0, 1, { brokers: [{ nodeId: 1, host: 'h', port: 9092 }], topics: [] });
    expect([...out.subarray(4)]).toEqual([
      0, 0, 0, 1, // correlation id
      0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0x68, 0, 0, 0x23, 0x84, // brokers: [ {1, "h", 9092} ]
      0, 0, 0, 0, // topics: []
    ]);
  });
});

describe('requests captured from real clients (test/kafka/fixtures/captured-requests.json)', () => {
  const captured = (JSON.parse(readFileSync(new URL('./fixtures/captured-requests.json', import.meta.url), 'utf8')) as { requests: { client: string; apiKey: number; apiVersion: number; hex: string }[] }).requests;
  const names = new Map([[18, 'ApiVersions'], [3, 'Metadata'], [0, 'Produce']]);

  it('holds kcat\'s ApiVersions and Metadata and kafkajs\'s ApiVersions, Metadata and Produce', () => {
    expect(captured.map((r) => `${r.client.split(' ')[0]} ${names.get(r.apiKey)} v${r.apiVersion}`)).toEqual([
      'kcat ApiVersions v3', 'kcat Metadata v4', 'kcat Metadata v4', 'kafkajs ApiVersions v2', 'kafkajs Metadata v6', 'kafkajs Produce v7',
    ]);
  });

  for (const r of captured) {
    it(`decodes ${r.client}'s ${names.get(r.apiKey)} v${r.apiVersion} and encodes it back to the same bytes`, () => {
      const frame = Buffer.from(r.hex, 'hex');
      const specs = loadApiSpecs(names.get(r.apiKey) ?? '?');
      const req = decodeRequest(frame, specs, r.apiVersion);
      expect(req.clientId).toMatch(/^(rdkafka|golden-kafkajs)$/);
      if (r.apiKey === 3) expect(req.body['topics']).toEqual([expect.objectContaining({ name: 'golden' })]);
      if (r.apiKey === 0) {
        const topicData = req.body['topicData'] as { name: string; partitionData: { index: number; records: Buffer }[] }[];
        expect(req.body['acks']).toBe(-1);
        expect(topicData.map((t) => [t.name, t.partitionData.map((p) => p.index)])).toEqual([['golden', [0]]]);
        const [record] = decodeRecords(topicData[0]?.partitionData[0]?.records ?? Buffer.alloc(0));
        expect([record?.key?.toString(), record?.value?.toString(), record?.timestamp]).toEqual(['k', 'v', 1767225600000]);
      }
      expect(encodeRequest(specs, r.apiVersion, req.correlationId, req.clientId, req.body).equals(frame)).toBe(true);
    });
  }
});

describe('malformed input is a typed error, never a crash or a huge allocation', () => {
  const metadata = loadApiSpecs('Metadata');

  it('refuses an array length beyond the frame', () => {
    const frame = Buffer.from([0x00, 0x03, 0x00, 0x01, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
    expect(() => decodeRequest(frame, metadata, 1)).toThrow(MalformedFrameError);
  });

  it('refuses a null where the version allows none, and trailing bytes', () => {
    expect(() => decodeRequest(Buffer.from([0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), metadata, 0)).toThrow(/null where/);
    expect(() => decodeRequest(Buffer.from([0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]), metadata, 1)).toThrow(/after the body/);
  });

  it('refuses a truncated prefix and an over-long varint', () => {
    expect(() => readRequestPrefix(Buffer.from([0, 3, 0]))).toThrow(MalformedFrameError);
    expect(() => new ByteReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).uvarint()).toThrow(/longer than 5/);
  });

  it('survives random bytes and mutations of real requests for every API and version', () => {
    for (const name of API_NAMES) {
      const specs = loadApiSpecs(name);
      for (const v of versionsOf(name)) {
        fc.assert(
          fc.property(messageArbitrary(specs.request, v), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), (body, flips, cut) => {
            const frame = encodeRequest(specs, v, 1, 'c', body);
            for (const [at, byte] of flips) if (frame.length > 0) frame[at % frame.length] = byte;
            const truncated = frame.subarray(0, cut % (frame.length + 1));
            for (const f of [frame, truncated]) {
              try {
                decodeRequest(f, specs, v);
              } catch (err) {
                expect(err).toBeInstanceOf(MalformedFrameError);
              }
            }
          }),
          { numRuns: 30 },
        );
      }
    }
  });
});

describe('byte primitives', () => {
  it('round-trips unsigned varints at the 7-bit boundaries', () => {
    for (const n of [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 32 - 1]) {
      const w = new ByteWriter(1);
      w.uvarint(n);
      expect(new ByteReader(w.finish()).uvarint()).toBe(n);
    }
  });

  it('reads tagged fields it does not know and skips them (KIP-482)', () => {
    const spec = parseMessageSpec('{"type":"header","name":"T","validVersions":"0","flexibleVersions":"0+","fields":[{"name":"A","type":"int8","versions":"0+"}]}', 'T');
    const r = new ByteReader(Buffer.from([0x05, 0x01, 0x09, 0x02, 0xaa, 0xbb]));
    expect(messageCodec(spec, 0).read(r)).toEqual({ a: 5 });
    expect(r.remaining).toBe(0);
  });
});
