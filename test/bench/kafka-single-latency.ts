import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { decodeResponse, encodeRequest, loadApiSpecs } from '../../src/kafka/protocol/frames.ts';
import { buildBatch } from '../../storage/record-batch.ts';
import { SINGLE_MEASURED, SINGLE_WARMUP } from './nats-compare.ts';
import { sizePrefixed } from '../support/kafka-call.ts';

// One-record-at-a-time acks=all latency over the Kafka listener, from a raw client: a Produce
// request encoded with runnel's own codec, written to a plain TCP socket, timed until its
// answer is read. No client library sits between the clock and the server (kafkajs would add
// its own batching timers and promise chains), so this is the server's round trip plus the
// loopback, as runnelSingleLatency is over HTTP.

const PRODUCE = loadApiSpecs('Produce');
/** The newest Produce version served (flexible: header v2, compact strings), as current clients send. */
const PRODUCE_VERSION = 9;
const REQUEST_TIMEOUT_MS = 30_000;

/** A connection that sends one frame at a time and resolves with the next answer frame (without its size). */
class OneAtATime {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: ((frame: Buffer) => void) | undefined;
  private failed: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      if (this.buffered.length < 4) return;
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + size) return;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      const w = this.waiting;
      this.waiting = undefined;
      w?.(frame);
    });
    socket.on('error', (err) => (this.failed = err));
    socket.on('close', () => (this.failed ??= new Error('the node closed the Kafka connection')));
  }

  static open(port: number): Promise<OneAtATime> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.off('error', reject);
        resolve(new OneAtATime(s));
      });
      s.once('error', reject);
    });
  }

  roundTrip(frame: Buffer): Promise<Buffer> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no Produce answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
      this.waiting = (f) => {
        clearTimeout(timer);
        resolve(f);
      };
      this.socket.write(sizePrefixed(frame));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Sends SINGLE_WARMUP + SINGLE_MEASURED Produce requests of one 100 B record with acks=-1 to
 * partition 0 of `topic` on its leader's Kafka port, one at a time; the measured latencies
 * (ms, sorted). Throws on any error code: a failed write is not a latency.
 */
export async function kafkaSingleLatency(leaderKafkaPort: number, topic: string): Promise<number[]> {
  const conn = await OneAtATime.open(leaderKafkaPort);
  const value = Buffer.alloc(100, 120);
  const lat: number[] = [];
  try {
    for (let i = 0; i < SINGLE_WARMUP + SINGLE_MEASURED; i++) {
      const records = buildBatch([{ key: null, value, headers: [], timestamp: Date.now() }]);
      const frame = encodeRequest(PRODUCE, PRODUCE_VERSION, i, 'runnel-bench', {
        transactionalId: null,
        acks: -1,
        timeoutMs: REQUEST_TIMEOUT_MS,
        topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
      });
      const t0 = performance.now();
      const answer = await conn.roundTrip(frame);
      const ms = performance.now() - t0;
      const { correlationId, body } = decodeResponse(answer, PRODUCE, PRODUCE_VERSION);
      if (correlationId !== i) throw new Error(`Produce answer for correlation id ${correlationId}, expected ${i}`);
      const part = (body['responses'] as { partitionResponses: { errorCode: number; errorMessage: string | null }[] }[])[0]?.partitionResponses[0];
      if (part === undefined || part.errorCode !== 0) throw new Error(`single-record Kafka produce: error code ${part?.errorCode} ${part?.errorMessage ?? ''}`);
      if (i >= SINGLE_WARMUP) lat.push(ms);
    }
  } finally {
    conn.close();
  }
  return lat.sort((a, b) => a - b);
}
