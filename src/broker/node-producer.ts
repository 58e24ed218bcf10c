import { randomInt } from 'node:crypto';
import { RunnelError } from '../errors.ts';
import { stampProducer } from '../../storage/record-batch.ts';

/** What NodeProducer needs of a produce call (PartitionClient's ProduceCall). */
export interface OwnBatchCall {
  readonly topicId: string;
  readonly partition: number;
  /** A batch this node built; its producer fields are stamped here. */
  readonly batch: Uint8Array;
  readonly timeoutMs: number;
}

/** Producer epochs are int16: past this a lane takes a new producer id. */
const MAX_EPOCH = 0x7fff;
/** Fresh stamps one batch may take after the leader refused its sequence or epoch. */
const MAX_RESTAMPS = 8;
/**
 * A leader remembers a producer's last 5 batches (storage/partition-log/producer-state.ts, as
 * Kafka's ProducerStateManager), so a resent batch is recognised only while at most 4 batches of
 * its lane were stamped after it (Kafka's producer: max.in.flight.requests.per.connection <= 5).
 */
const MAX_IN_FLIGHT = 5;

interface Stamp {
  readonly producerId: bigint;
  readonly epoch: number;
  readonly seq: number;
  /** The lane's count of stamps before this one. */
  readonly ordinal: number;
}

/** One partition's sequence as this node's producer writes it. */
interface Lane {
  producerId: bigint;
  epoch: number;
  nextSeq: number;
  /** Stamps handed out so far. */
  stamps: number;
  /** Batches sent and not yet answered, by stamp; waited on when a later one finds a gap. */
  readonly inFlight: Map<Stamp, Promise<void>>;
}

/**
 * This node's own idempotent producer: the batches HTTP produce builds go through the same
 * producer-state checks on the partition leader as a Kafka client's (storage/partition-log/
 * producer-state.ts), so a batch resent after a leader change is answered with the offsets it
 * already has instead of being appended twice.
 *
 * Each partition is a lane with its own producer id, epoch and sequence, stamped into a batch
 * just before it is sent (Kafka's idempotent producer, with the client's recovery rules of
 * KIP-360): a batch the leader refuses as out of order while an earlier batch of its lane is
 * still in flight waits for that one and is sent again as it was (requests overtook each other
 * on the way to a new leader); a refused sequence or epoch otherwise means the batch was not
 * appended, and it takes a fresh stamp in a new epoch; a batch that fails for good leaves a gap,
 * so the lane moves to a new epoch (sequence 0) for the batches after it.
 */
export class NodeProducer<C extends OwnBatchCall> {
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly send: (c: C) => Promise<number>) {}

  /** Stamps `c.batch` (built by this node, records counted by its header) and appends it on the leader. */
  async produce(c: C, recordCount: number): Promise<number> {
    const lane = this.lane(c.topicId, c.partition);
    const deadline = Date.now() + c.timeoutMs;
    const batch = Buffer.from(c.batch.buffer, c.batch.byteOffset, c.batch.byteLength);
    // Checked and stamped in the same turn: concurrent calls must not all pass an empty window.
    for (let full = this.windowFull(lane); full !== undefined; full = this.windowFull(lane)) await full;
    let stamp = this.stamp(lane, batch, recordCount);
    let settle = this.track(lane, stamp);
    try {
      for (let restamps = 0; ; ) {
        try {
          return await this.send({ ...c, timeoutMs: Math.max(1, deadline - Date.now()) });
        } catch (err) {
          const name = err instanceof RunnelError ? err.errorName : undefined;
          if (name !== 'OUT_OF_ORDER_SEQUENCE_NUMBER' && name !== 'INVALID_PRODUCER_EPOCH') throw err;
          if (Date.now() >= deadline || restamps >= MAX_RESTAMPS) throw err;
          const earlier = name === 'OUT_OF_ORDER_SEQUENCE_NUMBER' ? this.earlierInFlight(lane, stamp) : [];
          if (earlier.length > 0) {
            await Promise.all(earlier);
            if (lane.producerId === stamp.producerId && lane.epoch === stamp.epoch) continue; // in order now: the same bytes again
          } else if (lane.producerId === stamp.producerId && lane.epoch === stamp.epoch) {
            this.bump(lane); // a gap nothing in flight will fill
          }
          settle();
          restamps++;
          stamp = this.stamp(lane, batch, recordCount);
          settle = this.track(lane, stamp);
        }
      }
    } catch (err) {
      // Whether or not it was appended, the batches after it must not wait on its sequence.
      if (lane.producerId === stamp.producerId && lane.epoch === stamp.epoch) this.bump(lane);
      throw err;
    } finally {
      settle();
    }
  }

  private lane(topicId: string, partition: number): Lane {
    const k = `${topicId}:${partition}`;
    let lane = this.lanes.get(k);
    if (lane === undefined) {
      lane = { producerId: freshProducerId(), epoch: 0, nextSeq: 0, stamps: 0, inFlight: new Map() };
      this.lanes.set(k, lane);
    }
    return lane;
  }

  private stamp(lane: Lane, batch: Buffer, count: number): Stamp {
    const s = { producerId: lane.producerId, epoch: lane.epoch, seq: lane.nextSeq, ordinal: lane.stamps++ };
    // Kafka sequences are int32 and wrap to 0.
    lane.nextSeq = (lane.nextSeq + count) % 2 ** 31;
    stampProducer(batch, s.producerId, s.epoch, s.seq);
    return s;
  }

  private bump(lane: Lane): void {
    if (lane.epoch >= MAX_EPOCH) {
      lane.producerId = freshProducerId();
      lane.epoch = 0;
    } else {
      lane.epoch++;
    }
    lane.nextSeq = 0;
  }

  /** Registers a batch in flight; the returned function settles it (idempotent). */
  private track(lane: Lane, stamp: Stamp): () => void {
    let done!: () => void;
    lane.inFlight.set(
      stamp,
      new Promise<void>((r) => (done = r)),
    );
    return () => {
      if (lane.inFlight.delete(stamp)) done();
    };
  }

  /**
   * Undefined when a new stamp keeps every batch in flight within the leader's memory (fewer
   * than MAX_IN_FLIGHT stamps since the oldest one still unanswered), else that oldest batch's
   * settlement to wait for. Otherwise the oldest, resent after a leader change, would be refused
   * as out of order although it was appended, and appended again under a fresh stamp.
   */
  private windowFull(lane: Lane): Promise<void> | undefined {
    let oldest: { ordinal: number; done: Promise<void> } | undefined;
    for (const [s, done] of lane.inFlight) if (oldest === undefined || s.ordinal < oldest.ordinal) oldest = { ordinal: s.ordinal, done };
    return oldest === undefined || lane.stamps - oldest.ordinal < MAX_IN_FLIGHT ? undefined : oldest.done;
  }

  private earlierInFlight(lane: Lane, stamp: Stamp): Promise<void>[] {
    const out: Promise<void>[] = [];
    for (const [s, p] of lane.inFlight) if (s !== stamp && s.producerId === stamp.producerId && s.epoch === stamp.epoch && s.seq < stamp.seq) out.push(p);
    return out;
  }
}

/**
 * A producer id of this node's own. Random in the upper half of the id space, apart from the
 * ids InitProducerId hands out in blocks from 0 upwards, so they never meet in practice.
 */
function freshProducerId(): bigint {
  return (1n << 62n) + BigInt(randomInt(0, 2 ** 47)) * 32768n + BigInt(randomInt(0, 32768));
}
