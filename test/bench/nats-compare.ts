import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pollUntil } from '../support/poll.ts';
import { httpRequest } from './http-client.ts';
import { createBenchTopic } from './produce-load.ts';
import { freePorts } from '../support/process-cluster.ts';

// The NATS JetStream side of `npm run bench -- --compare nats`: a 3-node JetStream cluster on
// loopback with an R3 file stream, driven with nats.js the way its users would.

export interface SideResult {
  readonly system: 'runnel' | 'nats';
  readonly singleP50Ms: number;
  readonly singleP99Ms: number;
  readonly rows: readonly { recordBytes: number; recordsPerSec: number; mbPerSec: number; p50Ms: number; p99Ms: number; consumePerSec: number }[];
}

/**
 * One-at-a-time latency: requests sent first and not counted (JIT, connection and page-cache
 * warm-up on both sides; 500 left runnel's p50 still falling), then the ones measured.
 */
export const SINGLE_WARMUP = 2000;
export const SINGLE_MEASURED = 3000;
/** Unmeasured publishing before the throughput runs, as runnel's side does (data-bench.ts). */
const THROUGHPUT_WARMUP_SECONDS = 3;

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** A 3-node JetStream cluster; stop() kills the servers and removes their stores. */
export async function startNatsCluster(): Promise<{ urls: string[]; stop: () => Promise<void> }> {
  const probe = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) {
    throw new Error('nats-server is not installed: on Debian/Ubuntu run `sudo apt-get install nats-server` (2.9+), then run the comparison again');
  }
  const dir = await mkdtemp(join(tmpdir(), 'runnel-nats-'));
  const ports = await freePorts(6);
  const client = ports.slice(0, 3);
  const cluster = ports.slice(3);
  const routes = cluster.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const procs: ChildProcess[] = client.map((port, i) =>
    spawn('nats-server', ['--jetstream', '--store_dir', join(dir, `n${i}`), '--addr', '127.0.0.1', '--port', String(port), '--name', `n${i}`, '--cluster_name', 'bench', '--cluster', `nats://127.0.0.1:${cluster[i] ?? 0}`, '--routes', routes], {
      stdio: 'ignore',
      detached: true,
    }),
  );
  const stop = async (): Promise<void> => {
    for (const p of procs) if (p.pid !== undefined) process.kill(-p.pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // nats.js gives up on a refused first connect: wait until every server listens.
    for (const port of client) await pollUntil(`nats-server on port ${port}`, () => accepts(port), 15_000, 50);
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls: client.map((p) => `nats://127.0.0.1:${p}`), stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** How much each throughput run publishes: for a time, or a fixed number of records. */
export type NatsAmount = { readonly seconds: number } | { readonly records: number };

/** One-at-a-time publish-ack latency, windowed async publish throughput, and consume-back, for each record size. */
export async function natsBench(urls: readonly string[], recordBytes: readonly number[], amount: NatsAmount, window: number): Promise<SideResult> {
  const nc = await connect({ servers: [...urls], timeout: 20_000 });
  try {
    // The cluster needs a moment to elect its meta leader: retry until an R3 stream can be made.
    const deadline = Date.now() + 60_000;
    let jsm: Awaited<ReturnType<typeof jetstreamManager>> | undefined;
    for (let n = 0; jsm === undefined; n++) {
      try {
        const m = await jetstreamManager(nc, { timeout: 2000 });
        await m.streams.add({ name: `BENCH${n}`, subjects: [`bench${n}.>`], num_replicas: 3, storage: StorageType.File });
        await m.streams.delete(`BENCH${n}`);
        jsm = m;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const js = jetstream(nc);
    const single = async (): Promise<number[]> => {
      await jsm.streams.add({ name: 'SINGLE', subjects: ['single'], num_replicas: 3, storage: StorageType.File });
      const payload = new Uint8Array(100);
      const lat: number[] = [];
      for (let i = 0; i < SINGLE_WARMUP + SINGLE_MEASURED; i++) {
        const t0 = performance.now();
        await js.publish('single', payload);
        if (i >= SINGLE_WARMUP) lat.push(performance.now() - t0);
      }
      return lat.sort((a, b) => a - b);
    };
    const singleLat = await single();
    /** Async publish with `window` in flight (nats.js's idiom for throughput) for a time or a count; the ack latencies. */
    const publishFor = async (subject: string, payload: Uint8Array, how: NatsAmount): Promise<number[]> => {
      const lat: number[] = [];
      const end = 'seconds' in how ? performance.now() + how.seconds * 1000 : Number.POSITIVE_INFINITY;
      let left = 'records' in how ? how.records : Number.POSITIVE_INFINITY;
      await Promise.all(
        Array.from({ length: window }, async () => {
          while (performance.now() < end && left-- > 0) {
            const s = performance.now();
            await js.publish(subject, payload);
            lat.push(performance.now() - s);
          }
        }),
      );
      return lat;
    };
    // The same unmeasured throughput warm-up runnel's side gets (data-bench.ts).
    await jsm.streams.add({ name: 'WARMUP', subjects: ['warmup'], num_replicas: 3, storage: StorageType.File });
    await publishFor('warmup', new Uint8Array(recordBytes[0] ?? 100), { seconds: THROUGHPUT_WARMUP_SECONDS });
    const rows = [];
    for (const size of recordBytes) {
      const stream = `S${size}`;
      await jsm.streams.add({ name: stream, subjects: [`s${size}`], num_replicas: 3, storage: StorageType.File });
      const t0 = performance.now();
      const lat = await publishFor(`s${size}`, new Uint8Array(size).fill(120), amount);
      const acked = lat.length;
      const secs = (performance.now() - t0) / 1000;
      lat.sort((a, b) => a - b);
      // Consume everything back with a pull consumer, no acks.
      await jsm.consumers.add(stream, { durable_name: 'reader', ack_policy: AckPolicy.None });
      const consumer = await js.consumers.get(stream, 'reader');
      const c0 = performance.now();
      let read = 0;
      while (read < acked) {
        const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
        let got = 0;
        for await (const _m of batch) got++;
        if (got === 0) break;
        read += got;
      }
      const csecs = (performance.now() - c0) / 1000;
      rows.push({ recordBytes: size, recordsPerSec: acked / secs, mbPerSec: (acked * size) / 1e6 / secs, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), consumePerSec: read / csecs });
    }
    return { system: 'nats', singleP50Ms: percentile(singleLat, 50), singleP99Ms: percentile(singleLat, 99), rows };
  } finally {
    await nc.close();
  }
}

/** runnel's one-record-at-a-time acks=all latency to a partition's leader. */
export async function runnelSingleLatency(brokerUrl: (id: number) => string, clusterId: string, leaderOf: () => Promise<number>): Promise<number[]> {
  await createBenchTopic(brokerUrl(1), clusterId, 'single', 1);
  const leader = await leaderOf();
  const body = JSON.stringify({ records: [{ value: Buffer.alloc(100, 120).toString('base64') }] });
  const lat: number[] = [];
  for (let i = 0; i < SINGLE_WARMUP + SINGLE_MEASURED; i++) {
    const t0 = performance.now();
    const r = await httpRequest(`${brokerUrl(leader)}/topics/single/partitions/0?acks=all`, { method: 'POST', headers: { 'content-type': 'application/vnd.kafka.binary.v2+json' }, body });
    if (r.status !== 200) throw new Error(`single-record produce: ${r.status} ${r.body.toString()}`);
    if (i >= SINGLE_WARMUP) lat.push(performance.now() - t0);
  }
  return lat.sort((a, b) => a - b);
}

export { percentile };
