import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { encodeRequest, loadApiSpecs } from '../../src/kafka/protocol/frames.ts';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';

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

function sized(frame: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(frame.length);
  return Buffer.concat([size, frame]);
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

  it('closes connections that send malformed frames, and stays healthy', async () => {
    const port = c.kafkaPorts.get(2) ?? 0;
    const metadata = loadApiSpecs('Metadata');
    const apiVersions = loadApiSpecs('ApiVersions');
    const real = [
      encodeRequest(apiVersions, 3, 1, 'rdkafka', { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' }),
      encodeRequest(metadata, 4, 2, 'rdkafka', { topics: [{ name: 'kcat-meta', topicId: '00000000-0000-0000-0000-000000000000' }], allowAutoTopicCreation: false }),
      encodeRequest(metadata, 12, 3, null, { topics: null, includeTopicAuthorizedOperations: false }),
    ];
    const fixed = [
      Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), // HTTP spoken to the Kafka port: size 0x47455420 > 100 MiB
      Buffer.from([0xff, 0xff, 0xff, 0xfe, 1, 2, 3]), // negative size
      sized(Buffer.from([0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff])), // unknown api key
      sized(Buffer.from([0x00, 0x03, 0x00, 0x63, 0, 0, 0, 1, 0xff, 0xff])), // Metadata v99
      ...real.map((f) => sized(f.subarray(0, f.length - 1))), // truncated body
    ];
    for (const bytes of fixed) await sendAndAwaitClose(port, bytes);
    // Random bytes and mutated real requests for a bounded time: each connection closes or answers, the node stays up.
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const deadline = Date.now() + 3000;
    let tried = 0;
    while (Date.now() < deadline) {
      const base = real[rand(real.length)] as Buffer;
      const frame = rand(4) === 0 ? Buffer.from(Array.from({ length: 1 + rand(64) }, () => rand(256))) : Buffer.from(base);
      for (let i = 0; i < 1 + rand(4); i++) frame[rand(frame.length)] = rand(256);
      // A mutation may leave a valid request: it is answered, and our end() then closes the connection.
      await sendAndAwaitClose(port, rand(3) === 0 ? frame : sized(frame));
      tried++;
    }
    expect(tried).toBeGreaterThan(10);
    expect((await c.http(2, 'GET', '/healthz')).status).toBe(200);
    const md = await kcatMetadata(port);
    expect(md.brokers).toHaveLength(3);
  }, 60_000);
});
