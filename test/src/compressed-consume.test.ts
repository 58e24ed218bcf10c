import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { compress as zstdCompress, init as zstdInit } from '@bokuweb/zstd-wasm';
import { compressFrameSync } from 'lz4-napi';
import { pino } from 'pino';
import { compress as snappyCompress } from 'snappyjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApp } from '../../src/http/app.ts';
import type { HttpDeps } from '../../src/http/http-deps.ts';
import type { TopicState } from '../../src/metadata/image.ts';
import { MetadataImage } from '../../src/metadata/image.ts';
import { NodeMetrics } from '../../src/metrics/node-metrics.ts';
import type { CompressionCodec } from '../../storage/compression.ts';
import { PartitionLog } from '../../storage/partition-log/partition-log.ts';
import { buildBatch, recordsSection, verifyBatch, withCompressedRecords } from '../../storage/record-batch.ts';

// A compressed batch appended to a real partition log is stored as sent and served decoded
// through GET /topics/:t/partitions/:p/records, in both embedded formats.

const topic: TopicState = {
  id: 'tid-1',
  name: 'events',
  configs: {},
  partitions: [{ partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 3, partitionEpoch: 0 }],
};

beforeAll(async () => {
  await zstdInit();
});

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function openLog(): Promise<PartitionLog> {
  const dir = await mkdtemp(join(tmpdir(), 'runnel-compressed-'));
  const log = await PartitionLog.open({ dir, segmentBytes: 1 << 20, flush: 'os', retentionMs: -1, retentionBytes: -1 });
  cleanup.push(async () => {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  });
  return log;
}

/** Routes backed by `log` for topic "events" partition 0; other services refuse. */
async function appOver(log: PartitionLog): Promise<FastifyInstance> {
  const unused = (what: string) => () => Promise.reject(new Error(`stub: ${what} is not used by these tests`));
  const services: HttpDeps = {
    cluster: { clusterId: 'runnel-local', nodeId: 1 },
    metadata: { image: () => new MetadataImage(), findTopic: () => Promise.resolve(topic), requireTopic: () => Promise.resolve(topic), topicConfig: () => '', topicConfigIsDefault: () => true, appliedOnLiveBrokers: unused('appliedOnLiveBrokers') },
    admin: { createTopic: unused('createTopic'), deleteTopic: unused('deleteTopic'), alterTopicConfigs: unused('alterTopicConfigs') },
    quorum: { controllerId: () => null, joined: () => false, status: unused('quorum status') },
    produce: { produce: unused('produce'), produceOwn: unused('produceOwn') },
    produceBudget: { acquire: () => () => undefined },
    fetch: {
      consume: async (c) => ({ records: (await log.read(c.offset, c.maxBytes, log.logEndOffset)).records, highWatermark: log.logEndOffset, logStartOffset: log.logStartOffset }),
      offsets: unused('offsets'),
      offsetForTimestamp: unused('offsetForTimestamp'),
      endOffsetForEpoch: unused('endOffsetForEpoch'),
    },
    groups: { list: unused('group list'), describe: unused('group describe'), alterOffsets: unused('alterOffsets') },
    consumers: { create: unused('consumer create'), call: unused('consumer instance call') },
    metrics: new NodeMetrics(1),
    testHooks: { cutLinks: () => undefined, localReplica: () => undefined },
  };
  const app = buildHttpApp({ services, logger: pino({ level: 'silent' }) });
  cleanup.push(() => app.close());
  await app.ready();
  return app;
}

const values = ['alpha', 'beta', 'gamma'];
const records = values.map((v, i) => ({ key: Buffer.from(JSON.stringify(`k${i}`)), value: Buffer.from(JSON.stringify({ v })), headers: [], timestamp: 1_700_000_000_000 + i }));

function compressedBatch(codec: Exclude<CompressionCodec, 'none'>, compress: (raw: Buffer) => Buffer): Buffer {
  const plain = buildBatch(records);
  return withCompressedRecords(plain, codec, compress(recordsSection(plain)));
}

describe('consuming compressed batches over HTTP', () => {
  it.each([
    ['gzip', (raw: Buffer) => gzipSync(raw)],
    ['snappy', (raw: Buffer) => Buffer.from(snappyCompress(raw))],
    ['lz4', (raw: Buffer) => compressFrameSync(raw)],
    ['zstd', (raw: Buffer) => Buffer.from(zstdCompress(raw, 3))],
  ] as const)('stores a %s batch as sent and serves its records decoded, json and binary', async (codec, compress) => {
    const log = await openLog();
    await log.appendAsLeader(buildBatch([{ key: null, value: Buffer.from('"first"'), headers: [], timestamp: 1_699_999_999_999 }]), 3);
    const batch = compressedBatch(codec, compress);
    const sent = Buffer.from(batch);
    const { baseOffset } = await log.appendAsLeader(batch, 3);
    expect(baseOffset).toBe(1);

    // Stored as sent: past baseOffset and partitionLeaderEpoch (outside the CRC) the bytes are the producer's.
    const stored = (await log.read(1, 1 << 20, log.logEndOffset)).records;
    expect(stored.length).toBe(sent.length);
    expect(verifyBatch(stored, 0)).toBe(true);
    expect(stored.subarray(16)).toEqual(sent.subarray(16));
    expect(stored.readInt16BE(21) & 0x07).toBe(['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(codec));

    const app = await appOver(log);
    const json = await app.inject({ method: 'GET', url: '/topics/events/partitions/0/records?offset=2', headers: { accept: 'application/vnd.kafka.json.v2+json' } });
    expect(json.statusCode).toBe(200);
    expect(json.json<{ offset: number; key: unknown; value: unknown }[]>().map((r) => [r.offset, r.key, r.value])).toEqual([
      [2, 'k1', { v: 'beta' }],
      [3, 'k2', { v: 'gamma' }],
    ]);
    const binary = await app.inject({ method: 'GET', url: '/topics/events/partitions/0/records?offset=0', headers: { accept: 'application/vnd.kafka.binary.v2+json' } });
    expect(binary.statusCode).toBe(200);
    const got = binary.json<{ offset: number; value: string }[]>();
    expect(got.map((r) => [r.offset, Buffer.from(r.value, 'base64').toString()])).toEqual([
      [0, '"first"'],
      ...values.map((v, i) => [1 + i, JSON.stringify({ v })]),
    ]);
  });

  it('answers CORRUPT_MESSAGE (500, 50003) for a stored batch whose records do not decompress', async () => {
    const log = await openLog();
    const batch = compressedBatch('gzip', (raw) => gzipSync(raw).subarray(0, 20)); // truncated by its producer; its CRC holds
    await log.appendAsLeader(batch, 3);
    const app = await appOver(log);
    const res = await app.inject({ method: 'GET', url: '/topics/events/partitions/0/records?offset=0' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ error_code: 50003, message: expect.stringContaining('gzip') as unknown });
  });
});
