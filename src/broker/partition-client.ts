import { retryUntil } from '../deadline.ts';
import { invalid, RunnelError } from '../errors.ts';
import type { MetadataImage, TopicState } from '../metadata/image.ts';
import type { PeerCaller, RpcMethod } from '../rpc/rpc-method.ts';
import type { Fields } from '../rpc/wire-shape.ts';
import { bytes, fields, int, str } from '../rpc/wire-shape.ts';
import { mappingLogErrors } from './log-errors.ts';
import { NodeProducer } from './node-producer.ts';
import type { Acks } from './partition-replica.ts';
import type { ConsumeAnswer, EpochEndOffset, OffsetAtTime, PartitionOffsets, ReplicaManager } from './replica-manager.ts';

/**
 * For a call naming the client's CurrentLeaderEpoch: conditions that pass when the partition's
 * leadership settles, retried inside the request's deadline. An epoch fence is the client's
 * answer (it refreshes its metadata), not a passing state to wait out.
 */
const RETRIABLE_WITH_CLIENT_EPOCH: ReadonlySet<string> = new Set(['NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE', 'BROKER_NOT_AVAILABLE']);
/** For the node's own calls, a fence too only means leadership is still moving. */
const RETRIABLE: ReadonlySet<string> = new Set([...RETRIABLE_WITH_CLIENT_EPOCH, 'FENCED_LEADER_EPOCH']);
/** Margin over a produce's own timeout for the rpc carrying it (the leader answers at its timeout). */
const PRODUCE_RPC_MARGIN_MS = 1000;
/** Margin over a long poll's wait: for the rpc, and for leader moves within it. */
const CONSUME_RPC_MARGIN_MS = 5000;
/** Default bound on an offsets lookup. */
const OFFSETS_TIMEOUT_MS = 5000;

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
  /** The leader epoch the client knows (Kafka CurrentLeaderEpoch); -1 or absent: unchecked. */
  readonly currentLeaderEpoch?: number;
}

export interface OffsetForTimestampCall {
  readonly topicId: string;
  readonly partition: number;
  /** Milliseconds since the epoch, or -1 latest, -2 earliest, -3 max timestamp (Kafka ListOffsets). */
  readonly timestamp: number;
  /** The leader epoch the client knows (Kafka CurrentLeaderEpoch); -1 or absent: unchecked. */
  readonly currentLeaderEpoch?: number;
}

export interface EndOffsetForEpochCall {
  readonly topicId: string;
  readonly partition: number;
  /** The leader epoch whose end offset is asked for (Kafka OffsetForLeaderEpoch). */
  readonly leaderEpoch: number;
  /** The leader epoch the client knows (Kafka CurrentLeaderEpoch); -1 or absent: unchecked. */
  readonly currentLeaderEpoch?: number;
}

/** The optional CurrentLeaderEpoch of an rpc call; -1 when absent. */
const clientEpoch = (o: Fields): number => (o['currentLeaderEpoch'] === undefined || o['currentLeaderEpoch'] === null ? -1 : int(o, 'currentLeaderEpoch'));

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

export interface PartitionRef {
  readonly topicId: string;
  readonly partition: number;
}

const partitionRef = (o: Fields): PartitionRef => ({ topicId: str(o, 'topicId'), partition: int(o, 'partition') });

function acks(o: Fields): Acks {
  const a = o['acks'];
  if (a !== 0 && a !== 1 && a !== -1) throw invalid('acks', 'must be 0, 1 or -1');
  return a;
}

/** rpc `produce`: append a batch on the partition's leader. */
export const PRODUCE_RPC: RpcMethod<ProduceCall, { baseOffset: number }> = {
  name: 'produce',
  parseRequest: (payload) => {
    const o = fields(payload, 'produce');
    return { ...partitionRef(o), batch: bytes(o, 'batch'), acks: acks(o), timeoutMs: int(o, 'timeoutMs') };
  },
  parseResponse: (payload) => ({ baseOffset: int(fields(payload, 'produce answer'), 'baseOffset') }),
};

/** rpc `consume`: a long-polling read on the partition's leader, up to its high watermark. */
export const CONSUME_RPC: RpcMethod<ConsumeCall, { records: Uint8Array; highWatermark: number; logStartOffset: number }> = {
  name: 'consume',
  parseRequest: (payload) => {
    const o = fields(payload, 'consume');
    return { ...partitionRef(o), offset: int(o, 'offset'), maxBytes: int(o, 'maxBytes'), timeoutMs: int(o, 'timeoutMs'), currentLeaderEpoch: clientEpoch(o) };
  },
  parseResponse: (payload) => {
    const o = fields(payload, 'consume answer');
    return { records: bytes(o, 'records'), highWatermark: int(o, 'highWatermark'), logStartOffset: int(o, 'logStartOffset') };
  },
};

/** rpc `offsets`: the leader's log start offset and high watermark. */
export const OFFSETS_RPC: RpcMethod<PartitionRef, PartitionOffsets> = {
  name: 'offsets',
  parseRequest: (payload) => partitionRef(fields(payload, 'offsets')),
  parseResponse: (payload) => {
    const o = fields(payload, 'offsets answer');
    return { logStartOffset: int(o, 'logStartOffset'), highWatermark: int(o, 'highWatermark'), logEndOffset: int(o, 'logEndOffset') };
  },
};

/** rpc `offsetForTimestamp`: ListOffsets on the partition's leader; null (undefined to the caller) when no offset qualifies. */
export const OFFSET_FOR_TIMESTAMP_RPC: RpcMethod<OffsetForTimestampCall, OffsetAtTime | undefined> = {
  name: 'offsetForTimestamp',
  parseRequest: (payload) => {
    const o = fields(payload, 'offsetForTimestamp');
    return { ...partitionRef(o), timestamp: int(o, 'timestamp'), currentLeaderEpoch: clientEpoch(o) };
  },
  parseResponse: (payload) => {
    // msgpack carries the handler's undefined as nil.
    if (payload === null || payload === undefined) return undefined;
    const o = fields(payload, 'offsetForTimestamp answer');
    return { offset: int(o, 'offset'), timestamp: int(o, 'timestamp'), leaderEpoch: o['leaderEpoch'] === undefined ? -1 : int(o, 'leaderEpoch') };
  },
};

/** rpc `endOffsetForEpoch`: OffsetForLeaderEpoch on the partition's leader. */
export const END_OFFSET_FOR_EPOCH_RPC: RpcMethod<EndOffsetForEpochCall, EpochEndOffset> = {
  name: 'endOffsetForEpoch',
  parseRequest: (payload) => {
    const o = fields(payload, 'endOffsetForEpoch');
    return { ...partitionRef(o), leaderEpoch: int(o, 'leaderEpoch'), currentLeaderEpoch: clientEpoch(o) };
  },
  parseResponse: (payload) => {
    const o = fields(payload, 'endOffsetForEpoch answer');
    return { epoch: int(o, 'epoch'), endOffset: int(o, 'endOffset') };
  },
};

/**
 * Reaches a partition's leader from any node: locally when this broker leads it, else over
 * rpc. While leadership is moving (just created, failing over) it retries within the
 * caller's deadline, so a plain HTTP client sees success a little later, not an error.
 */
export class PartitionClient {
  constructor(
    private readonly selfId: number,
    private readonly image: () => MetadataImage,
    private readonly replicas: ReplicaManager,
    private readonly peers: PeerCaller,
  ) {}

  /** This node's own idempotent producer, for the batches HTTP produce builds (NodeProducer). */
  private readonly own = new NodeProducer<ProduceCall>((c) => this.produce(c));

  /** Stamps a batch this node built with its own producer's id, epoch and sequence, then produces it. */
  produceOwn(c: ProduceCall, recordCount: number): Promise<number> {
    return this.own.produce(c, recordCount);
  }

  // ---- the leader's side of the rpc methods above (src/node/rpc-routes.ts) ----

  answerProduce(c: ProduceCall): Promise<{ baseOffset: number }> {
    return mappingLogErrors(async () => ({ baseOffset: await this.replicas.produce(c.topicId, c.partition, asBuffer(c.batch), c.acks, c.timeoutMs) }));
  }

  answerConsume(c: ConsumeCall): Promise<ConsumeAnswer> {
    return mappingLogErrors(() => this.replicas.consume(c.topicId, c.partition, c.offset, c.maxBytes, c.timeoutMs, c.currentLeaderEpoch));
  }

  answerOffsets(c: PartitionRef): Promise<PartitionOffsets> {
    return mappingLogErrors(() => Promise.resolve(this.replicas.offsets(c.topicId, c.partition)));
  }

  answerOffsetForTimestamp(c: OffsetForTimestampCall): Promise<OffsetAtTime | undefined> {
    return mappingLogErrors(() => this.replicas.offsetForTimestamp(c.topicId, c.partition, c.timestamp, c.currentLeaderEpoch));
  }

  answerEndOffsetForEpoch(c: EndOffsetForEpochCall): Promise<EpochEndOffset> {
    return mappingLogErrors(() => Promise.resolve(this.replicas.endOffsetForEpoch(c.topicId, c.partition, c.leaderEpoch, c.currentLeaderEpoch)));
  }

  produce(c: ProduceCall): Promise<number> {
    return this.onLeader(c.topicId, c.partition, c.timeoutMs, -1, async (leader, left) => {
      if (leader === this.selfId) return this.replicas.produce(c.topicId, c.partition, asBuffer(c.batch), c.acks, left);
      const r = await this.peers.call(leader, PRODUCE_RPC, { ...c, timeoutMs: left }, left + PRODUCE_RPC_MARGIN_MS);
      return r.baseOffset;
    });
  }

  consume(c: ConsumeCall): Promise<ConsumeAnswer> {
    // The long poll may use the whole timeout; allow leader moves within it plus a margin.
    return this.onLeader(c.topicId, c.partition, c.timeoutMs + CONSUME_RPC_MARGIN_MS, c.currentLeaderEpoch, async (leader) => {
      if (leader === this.selfId) return this.replicas.consume(c.topicId, c.partition, c.offset, c.maxBytes, c.timeoutMs, c.currentLeaderEpoch);
      const r = await this.peers.call(leader, CONSUME_RPC, c, c.timeoutMs + CONSUME_RPC_MARGIN_MS);
      return { records: asBuffer(r.records), highWatermark: r.highWatermark, logStartOffset: r.logStartOffset };
    });
  }

  offsets(topicId: string, partition: number, timeoutMs = OFFSETS_TIMEOUT_MS): Promise<PartitionOffsets> {
    return this.onLeader(topicId, partition, timeoutMs, -1, async (leader, left) => {
      if (leader === this.selfId) return this.replicas.offsets(topicId, partition);
      return this.peers.call(leader, OFFSETS_RPC, { topicId, partition }, left);
    });
  }

  /** ListOffsets for one partition on its leader (ReplicaManager.offsetForTimestamp): offsets below the high watermark only. */
  offsetForTimestamp(c: OffsetForTimestampCall, timeoutMs = OFFSETS_TIMEOUT_MS): Promise<OffsetAtTime | undefined> {
    return this.onLeader(c.topicId, c.partition, timeoutMs, c.currentLeaderEpoch, async (leader, left) => {
      if (leader === this.selfId) return this.replicas.offsetForTimestamp(c.topicId, c.partition, c.timestamp, c.currentLeaderEpoch);
      return this.peers.call(leader, OFFSET_FOR_TIMESTAMP_RPC, c, left);
    });
  }

  /** OffsetForLeaderEpoch for one partition on its leader (ReplicaManager.endOffsetForEpoch). */
  endOffsetForEpoch(c: EndOffsetForEpochCall, timeoutMs = OFFSETS_TIMEOUT_MS): Promise<EpochEndOffset> {
    return this.onLeader(c.topicId, c.partition, timeoutMs, c.currentLeaderEpoch, async (leader, left) => {
      if (leader === this.selfId) return this.replicas.endOffsetForEpoch(c.topicId, c.partition, c.leaderEpoch, c.currentLeaderEpoch);
      return this.peers.call(leader, END_OFFSET_FOR_EPOCH_RPC, c, left);
    });
  }

  private onLeader<T>(topicId: string, partition: number, timeoutMs: number, clientLeaderEpoch: number | undefined, call: (leader: number, leftMs: number) => Promise<T>): Promise<T> {
    const retriable = clientLeaderEpoch !== undefined && clientLeaderEpoch >= 0 ? RETRIABLE_WITH_CLIENT_EPOCH : RETRIABLE;
    return retryUntil(Date.now() + timeoutMs, { retriable }, (leftMs) => {
      const t: TopicState | undefined = this.image().topicById(topicId);
      const p = t?.partitions[partition];
      if (t === undefined || p === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `partition ${partition} of topic id ${topicId} does not exist (any more)`);
      if (p.leader < 0) throw new RunnelError('LEADER_NOT_AVAILABLE', `${t.name}-${partition} has no leader: its in-sync replicas (${p.isr.join(',')}) are down`);
      return mappingLogErrors(() => call(p.leader, leftMs));
    });
  }
}
