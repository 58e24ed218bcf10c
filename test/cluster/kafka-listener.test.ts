import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildBatch } from '../../storage/record-batch.ts';
import { encodeRequest, loadApiSpecs } from '../../src/kafka/protocol/frames.ts';
import { ZERO_UUID } from '../../src/kafka/protocol/message-codec.ts';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';
import { sizePrefixed } from '../support/kafka-call.ts';

const run = promisify(execFile);

interface KcatMetadata {
  controllerid: number;
  brokers: { id: number; name: string }[];
  topics: { topic: string; error?: string; partitions: { partition: number; leader: number; replicas: { id: number }[]; isrs: { id: number }[] }[] }[];
}

/** `kcat -L -J`: librdkafka's ApiVersions (v3, header v0 answer) then Metadata, as a user runs it. */
async function kcatMetadata(port: number, topic?: string, extra: readonly string[] = []): Promise<KcatMetadata> {
  const args = ['-L', '-J', '-b', `127.0.0.1:${port}`, '-m', '10', ...extra, ...(topic === undefined ? [] : ['-t', topic])];
  const { stdout } = await run('kcat', args, { timeout: 20_000 });
  return JSON.parse(stdout) as KcatMetadata;
}


/** Opens a connection, writes `bytes`, and resolves once the node has closed it (or rejects after the deadline). */
async function sendAndAwaitClose(port: number, bytes: Buffer, timeoutMs = 5000): Promise<void> {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection not closed within ${timeoutMs} ms after ${bytes.length} bytes ${bytes.subarray(0, 16).toString('hex')}`));
    }, timeoutMs);
    socket.on('error', () => undefined);
    socket.resume(); // read (and drop) any answer, so that the node's FIN is seen
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.write(bytes, () => socket.end());
  });
}

describe('Kafka listener on a 3-node cluster', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster));

  it('kcat -L lists the three brokers at their Kafka ports, a live controller, and a topic created over HTTP with its leaders', async () => {
    const created = await c.http(1, 'POST', c.v3('/topics'), { topic_name: 'kcat-meta', partitions_count: 3, replication_factor: 3 });
    expect(created.status).toBe(201);
    for (const id of c.ids) {
      const port = c.kafkaPorts.get(id) ?? 0;
      // Poll: the node may still be registering, and a leader may move between the two reads.
      const md = await pollUntil(`kcat metadata from node ${id}: 3 brokers, the leaders HTTP names`, async () => {
        const m = await kcatMetadata(port);
        const http = (await c.get(id, c.v3('/topics/kcat-meta/partitions'))) as { data: { partition_id: number; leader_id: number | null }[] };
        const topic = m.topics.find((t) => t.topic === 'kcat-meta');
        const leadersAgree = topic !== undefined && topic.partitions.length === 3 &&
          topic.partitions.every((p) => http.data.find((h) => h.partition_id === p.partition)?.leader_id === p.leader);
        return m.brokers.length === 3 && leadersAgree ? m : undefined;
      }, 20_000, 200);
      expect(md.brokers.map((b) => b.id).sort()).toEqual([1, 2, 3]);
      for (const b of md.brokers) expect(b.name).toBe(`127.0.0.1:${c.kafkaPorts.get(b.id)}`);
      expect([1, 2, 3]).toContain(md.controllerid);
      const topic = md.topics.find((t) => t.topic === 'kcat-meta');
      expect(topic?.error).toBeUndefined();
      expect(topic?.partitions.map((p) => p.partition).sort()).toEqual([0, 1, 2]);
      for (const p of topic?.partitions ?? []) {
        expect(p.replicas.map((r) => r.id).sort()).toEqual([1, 2, 3]);
        expect(p.isrs.length).toBeGreaterThanOrEqual(2);
        expect([1, 2, 3]).toContain(p.leader);
      }
    }
  }, 90_000);

  it('kcat produces keyed records with acks=all and consumes them back; HTTP reads the same bytes', async () => {
    const created = await c.http(1, 'POST', c.v3('/topics'), { topic_name: 'kcat-data', partitions_count: 1, replication_factor: 3 });
    expect(created.status).toBe(201);
    const port = c.kafkaPorts.get(2) ?? 0;
    const lines = Array.from({ length: 20 }, (_, i) => `k${i}:value-${i}`);
    const produce = execFile('kcat', ['-P', '-b', `127.0.0.1:${port}`, '-t', 'kcat-data', '-p', '0', '-K', ':', '-X', 'acks=all', '-m', '10']);
    produce.stdin?.end(lines.join('\n') + '\n');
    const code = await new Promise<number | null>((resolve) => produce.on('exit', resolve));
    expect(code).toBe(0);
    const { stdout } = await run('kcat', ['-C', '-b', `127.0.0.1:${c.kafkaPorts.get(3)}`, '-t', 'kcat-data', '-p', '0', '-o', '0', '-c', '20', '-e', '-f', '%k:%s:%o\n', '-m', '10'], { timeout: 30_000 });
    expect(stdout.trim().split('\n')).toEqual(lines.map((l, i) => `${l}:${i}`));
    const http = (await c.get(1, '/topics/kcat-data/partitions/0/records?offset=0&timeout_ms=2000')) as { key: unknown; value: unknown; offset: number }[];
    expect(http.slice(0, 3).map((r) => [r.key, r.value, r.offset])).toEqual([['k0', 'value-0', 0], ['k1', 'value-1', 1], ['k2', 'value-2', 2]]);
  }, 60_000);

  it('kcat -L -t names an unknown topic as unknown when the client does not allow auto-creation', async () => {
    // librdkafka producers allow auto-creation by default, and runnel auto-creates as Kafka does (kafka-admin.test.ts).
    const md = await kcatMetadata(c.kafkaPorts.get(1) ?? 0, 'no-such-topic', ['-X', 'allow.auto.create.topics=false']);
    const t = md.topics.find((x) => x.topic === 'no-such-topic');
    expect(t?.error).toMatch(/Unknown topic|UNKNOWN_TOPIC/i);
  }, 30_000);

  it('closes connections that send malformed frames, survives a bounded fuzz of mutated real requests, appends nothing, and serves a real produce afterwards', async () => {
    const port = c.kafkaPorts.get(2) ?? 0;
    const fuzzTopic = 'fuzz-target';
    expect((await c.http(1, 'POST', c.v3('/topics'), { topic_name: fuzzTopic, partitions_count: 2, replication_factor: 3 })).status).toBe(201);
    await kcatProduceLines(port, fuzzTopic, ['before-1', 'before-2']);
    const marksBefore = await highWatermarks();
    const metadata = loadApiSpecs('Metadata');
    const apiVersions = loadApiSpecs('ApiVersions');
    const produce = loadApiSpecs('Produce');
    const fetch = loadApiSpecs('Fetch');
    const listOffsets = loadApiSpecs('ListOffsets');
    const epochs = loadApiSpecs('OffsetForLeaderEpoch');
    // A batch whose CRC is wrong: a mutation that still parses can never append it (CORRUPT_MESSAGE).
    const badCrc = buildBatch([{ key: null, value: Buffer.from('never appended'), headers: [], timestamp: 1 }]);
    badCrc.writeUInt32BE((badCrc.readUInt32BE(17) ^ 1) >>> 0, 17);
    const real = [
      encodeRequest(apiVersions, 3, 1, 'rdkafka', { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' }),
      encodeRequest(metadata, 4, 2, 'rdkafka', { topics: [{ name: fuzzTopic, topicId: ZERO_UUID }], allowAutoTopicCreation: false }),
      encodeRequest(metadata, 12, 3, null, { topics: null, includeTopicAuthorizedOperations: false }),
      encodeRequest(produce, 9, 4, 'rdkafka', { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: fuzzTopic, partitionData: [{ index: 0, records: badCrc }] }] }),
      encodeRequest(produce, 3, 5, 'kafkajs', { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: fuzzTopic, partitionData: [{ index: 1, records: badCrc }] }] }),
      encodeRequest(fetch, 12, 6, 'rdkafka', { replicaId: -1, maxWaitMs: 100, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, forgottenTopicsData: [], rackId: '',
        topics: [{ topic: fuzzTopic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }] }),
      encodeRequest(fetch, 4, 7, 'kafkajs', { replicaId: -1, maxWaitMs: 100, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 1,
        topics: [{ topic: fuzzTopic, partitions: [{ partition: 1, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }] }),
      encodeRequest(listOffsets, 7, 8, 'rdkafka', { replicaId: -1, isolationLevel: 0, topics: [{ name: fuzzTopic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] }),
      encodeRequest(epochs, 4, 9, 'rdkafka', { replicaId: -1, topics: [{ topic: fuzzTopic, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] }),
    ];
    const fixed = [
      Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), // HTTP spoken to the Kafka port: size 0x47455420 > 100 MiB
      Buffer.from([0xff, 0xff, 0xff, 0xfe, 1, 2, 3]), // negative size
      sizePrefixed(Buffer.from([0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff])), // unknown api key
      sizePrefixed(Buffer.from([0x00, 0x03, 0x00, 0x63, 0, 0, 0, 1, 0xff, 0xff])), // Metadata v99
      ...real.map((f) => sizePrefixed(f.subarray(0, f.length - 1))), // truncated body
    ];
    for (const bytes of fixed) await sendAndAwaitClose(port, bytes);
    // Random bytes and mutated real requests for a bounded time: each connection closes or answers, the node stays up.
    // mulberry32, seeded: a failing run replays (an LCG's low bits cycle too short to mix the choices below).
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const fuzzMs = 6000;
    const deadline = Date.now() + fuzzMs;
    const tried = { random: 0, mutated: 0, unsized: 0 };
    while (Date.now() < deadline) {
      const base = real[rand(real.length)] as Buffer;
      const random = rand(4) === 0;
      const frame = random ? Buffer.from(Array.from({ length: 1 + rand(64) }, () => rand(256))) : Buffer.from(base);
      for (let i = 0; i < 1 + rand(4); i++) frame[rand(frame.length)] = rand(256);
      const unsized = rand(3) === 0;
      // A mutation may leave a valid request: it is answered, and our end() then closes the connection.
      await sendAndAwaitClose(port, unsized ? frame : sizePrefixed(frame));
      if (unsized) tried.unsized++;
      else if (random) tried.random++;
      else tried.mutated++;
    }
    const total = tried.random + tried.mutated + tried.unsized;
    console.info(`kafka fuzz: ${total} frames in ${fuzzMs} ms (${tried.mutated} mutated real requests, ${tried.random} random, ${tried.unsized} without a size prefix)`);
    expect(total).toBeGreaterThan(100);
    expect(tried.mutated).toBeGreaterThan(50);
    expect((await c.http(2, 'GET', '/healthz')).status).toBe(200);
    // Nothing was appended anywhere: every partition's high watermark is where it was. A
    // mutated Metadata request may name a new topic and, auto.create.topics.enable being on as
    // in Kafka, create it: such a topic must be empty.
    const marksAfter = await highWatermarks();
    const existing = Object.fromEntries(Object.entries(marksAfter).filter(([k]) => k in marksBefore));
    const created = Object.entries(marksAfter).filter(([k]) => !(k in marksBefore));
    expect(existing).toEqual(marksBefore);
    expect(created.filter(([, hw]) => hw !== 0 && hw !== null)).toEqual([]);
    const md = await kcatMetadata(port);
    expect(md.brokers).toHaveLength(3);
    // A real produce through the fuzzed node still works, and lands after what was there.
    await kcatProduceLines(port, fuzzTopic, ['after']);
    const { stdout } = await run('kcat', ['-C', '-b', `127.0.0.1:${port}`, '-t', fuzzTopic, '-p', '0', '-o', '0', '-e', '-f', '%s\n', '-m', '10'], { timeout: 30_000 });
    expect(stdout.trim().split('\n')).toEqual(['before-1', 'before-2', 'after']);
  }, 90_000);

  /** Every partition's high watermark, by "topic/partition", as HTTP admin reports it. */
  async function highWatermarks(): Promise<Record<string, number | null>> {
    const topics = ((await c.get(1, c.v3('/topics?include_internal=true'))) as { data: { topic_name: string }[] }).data.map((t) => t.topic_name).sort();
    const marks: Record<string, number | null> = {};
    for (const t of topics) {
      const ps = ((await c.get(1, c.v3(`/topics/${t}/partitions`))) as { data: { partition_id: number; high_watermark: number | null }[] }).data;
      for (const p of ps) marks[`${t}/${p.partition_id}`] = p.high_watermark;
    }
    return marks;
  }

  /** kcat -P of `values` to partition 0 with acks=all. */
  async function kcatProduceLines(port: number, topic: string, values: readonly string[]): Promise<void> {
    const p = execFile('kcat', ['-P', '-b', `127.0.0.1:${port}`, '-t', topic, '-p', '0', '-X', 'acks=all', '-m', '10']);
    p.stdin?.end(values.join('\n') + '\n');
    expect(await new Promise<number | null>((resolve) => p.on('exit', resolve))).toBe(0);
  }
});
