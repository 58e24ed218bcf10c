import { randomInt } from 'node:crypto';
import { RunnelError } from '../errors.ts';
import type { MetadataImage, TopicState } from '../metadata/image.ts';
import { mappingLogErrors } from './log-errors.ts';
import type { Acks } from './partition-replica.ts';
import type { PartitionOffsets, ReplicaManager } from './replica-manager.ts';

/** How a node calls another node (the rpc layer). */
export type PeerRequest = (peerId: number, method: string, payload: unknown, timeoutMs: number) => Promise<unknown>;

/** Conditions that pass when the partition's leadership settles: retried inside the request's deadline. */
const RETRIABLE = new Set(['NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE', 'BROKER_NOT_AVAILABLE', 'FENCED_LEADER_EPOCH']);
const RETRY_MS = 50;

export interface ProduceCall {
  readonly topicId: string;
  readonly partition: number;
  readonly batch: Uint8Array;
  readonly acks: Acks;
  readonly timeoutMs: number;
}

export interface ConsumeCall {
  readonly topicId: string;
  readonly partition: number;
  readonly offset: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * Reaches a partition's leader from any node: locally when this broker leads it, else over
 * rpc. While leadership is moving (just created, failing over) it retries within the
 * caller's deadline, so a plain HTTP client sees success a little later, not an error.
 */
export class PartitionClient {
  /**
   * This process's producer id, stamped into every batch it builds, with a sequence per
   * partition, so a batch resent after a leader change is recognised (ProducerState).
   * Random per process: a restart is a new producer.
   */
  readonly producerId = BigInt(randomInt(1, 2 ** 47)) * 65536n + BigInt(randomInt(0, 65536));
  private readonly sequences = new Map<string, number>();

  /** The base sequence for the next `count` records to a partition. */
  nextSequence(topicId: string, partition: number, count: number): number {
    const k = `${topicId}:${partition}`;
    const seq = this.sequences.get(k) ?? 0;
    // Kafka sequences are int32 and wrap to 0.
    this.sequences.set(k, (seq + count) % 2 ** 31);
    return seq;
  }

  constructor(
    private readonly selfId: number,
    private readonly image: () => MetadataImage,
    private readonly replicas: ReplicaManager,
    private readonly request: PeerRequest,
  ) {}

  /** Registers the rpc methods other nodes call on this one's leaders. */
  handlers(): Record<string, (payload: unknown) => Promise<unknown>> {
    return {
      produce: (p) =>
        mappingLogErrors(async () => {
          const c = p as ProduceCall;
          return { baseOffset: await this.replicas.produce(c.topicId, c.partition, asBuffer(c.batch), c.acks, c.timeoutMs) };
        }),
      consume: (p) =>
        mappingLogErrors(() => {
          const c = p as ConsumeCall;
          return this.replicas.consume(c.topicId, c.partition, c.offset, c.maxBytes, c.timeoutMs);
        }),
      offsets: (p) =>
        mappingLogErrors(() => {
          const c = p as { topicId: string; partition: number };
          return Promise.resolve(this.replicas.offsets(c.topicId, c.partition));
        }),
    };
  }

  produce(c: ProduceCall): Promise<number> {
    return this.onLeader(c.topicId, c.partition, c.timeoutMs, async (leader, left) => {
      if (leader === this.selfId) return this.replicas.produce(c.topicId, c.partition, asBuffer(c.batch), c.acks, left);
      const r = (await this.request(leader, 'produce', { ...c, timeoutMs: left }, left + 1000)) as { baseOffset: number };
      return r.baseOffset;
    });
  }

  consume(c: ConsumeCall): Promise<{ records: Buffer; highWatermark: number }> {
    // The long poll may use the whole timeout; allow leader moves within it plus a margin.
    return this.onLeader(c.topicId, c.partition, c.timeoutMs + 5000, async (leader) => {
      if (leader === this.selfId) return this.replicas.consume(c.topicId, c.partition, c.offset, c.maxBytes, c.timeoutMs);
      const r = (await this.request(leader, 'consume', c, c.timeoutMs + 5000)) as { records: Uint8Array; highWatermark: number };
      return { records: asBuffer(r.records), highWatermark: r.highWatermark };
    });
  }

  offsets(topicId: string, partition: number, timeoutMs = 5000): Promise<PartitionOffsets> {
    return this.onLeader(topicId, partition, timeoutMs, async (leader, left) => {
      if (leader === this.selfId) return this.replicas.offsets(topicId, partition);
      return (await this.request(leader, 'offsets', { topicId, partition }, left)) as PartitionOffsets;
    });
  }

  private async onLeader<T>(topicId: string, partition: number, timeoutMs: number, call: (leader: number, leftMs: number) => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t: TopicState | undefined = this.image().topicById(topicId);
      const p = t?.partitions[partition];
      if (t === undefined || p === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `partition ${partition} of topic id ${topicId} does not exist (any more)`);
      let lastErr: RunnelError;
      if (p.leader < 0) {
        lastErr = new RunnelError('LEADER_NOT_AVAILABLE', `${t.name}-${partition} has no leader: its in-sync replicas (${p.isr.join(',')}) are down`);
      } else {
        try {
          return await mappingLogErrors(() => call(p.leader, Math.max(1, deadline - Date.now())));
        } catch (err) {
          if (!(err instanceof RunnelError) || !RETRIABLE.has(err.errorName)) throw err;
          lastErr = err;
        }
      }
      if (Date.now() + RETRY_MS >= deadline) throw lastErr;
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
}
