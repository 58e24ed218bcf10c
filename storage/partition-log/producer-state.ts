// What a partition's log knows about its idempotent producers (Kafka's ProducerStateManager,
// without transactions): per producer id the epoch and the last few batches appended, so a
// leader can refuse a stale epoch or a sequence gap and answer a resent batch with the offsets
// it already has. It is a pure function of the batches in the log: leaders and followers apply
// the same batches in the same order and hold the same table, snapshots of it are cut at
// segment rolls and on close, and a reopened or truncated log rebuilds it from the last
// snapshot below its end plus the batches after it (producer-snapshots.ts).

import type { BatchHeader } from '../record-batch.ts';
import { LogError } from './log-error.ts';

/** Batches remembered per producer: Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN (max.in.flight 5). */
export const BATCHES_PER_PRODUCER = 5;
/** Producers remembered per partition; the one seen least recently is forgotten first. */
export const DEFAULT_MAX_PRODUCERS = 2048;
const INT32_MAX = 0x7fffffff;

/** One appended batch of a producer: its sequence range and where it landed. */
export interface ProducerBatch {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

export interface ProducerEntry {
  readonly producerId: bigint;
  epoch: number;
  /** Oldest first, at most BATCHES_PER_PRODUCER. */
  batches: ProducerBatch[];
}

/** What a leader append of a producer batch should do. */
export type SequenceVerdict = { readonly kind: 'append' } | { readonly kind: 'duplicate'; readonly baseOffset: number; readonly lastOffset: number };

const APPEND: SequenceVerdict = { kind: 'append' };

/** The last sequence of a batch: sequences are int32 and wrap to 0 (DefaultRecordBatch.incrementSequence). */
export function lastSequence(firstSeq: number, lastOffsetDelta: number): number {
  return firstSeq > INT32_MAX - lastOffsetDelta ? lastOffsetDelta - (INT32_MAX - firstSeq) - 1 : firstSeq + lastOffsetDelta;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

export class ProducerStateTable {
  /** Insertion order is recency order: a producer seen again moves to the end. */
  private readonly entries = new Map<bigint, ProducerEntry>();

  constructor(private readonly maxProducers = DEFAULT_MAX_PRODUCERS) {}

  get size(): number {
    return this.entries.size;
  }

  entry(producerId: bigint): ProducerEntry | undefined {
    return this.entries.get(producerId);
  }

  /**
   * A leader's check of a client batch before it is appended (Kafka's
   * ProducerAppendInfo.append with origin CLIENT): an epoch older than the producer's is
   * INVALID_PRODUCER_EPOCH; the same epoch and sequence range as one of its last batches is a
   * duplicate, answered with that batch's offsets; otherwise the batch must continue the
   * producer's sequence (or start a new epoch at 0) or it is OUT_OF_ORDER_SEQUENCE_NUMBER. A
   * producer the table does not know (new, or forgotten) may start at any sequence.
   */
  check(h: BatchHeader): SequenceVerdict {
    if (h.producerId < 0n) return APPEND;
    const e = this.entries.get(h.producerId);
    if (e === undefined) return APPEND;
    if (h.producerEpoch < e.epoch) {
      throw new LogError('INVALID_PRODUCER_EPOCH', `producer ${h.producerId} is at epoch ${e.epoch}; a batch of epoch ${h.producerEpoch} is stale`);
    }
    const firstSeq = h.baseSequence;
    if (h.producerEpoch > e.epoch) {
      if (firstSeq !== 0) throw new LogError('OUT_OF_ORDER_SEQUENCE_NUMBER', `producer ${h.producerId}: a new epoch ${h.producerEpoch} must start at sequence 0, not ${firstSeq}`);
      return APPEND;
    }
    const lastSeq = lastSequence(firstSeq, h.lastOffsetDelta);
    const dup = e.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
    if (dup !== undefined) return { kind: 'duplicate', baseOffset: dup.baseOffset, lastOffset: dup.lastOffset };
    const last = e.batches.at(-1);
    // An entry with no batches (its batches were truncated away) knows only the epoch.
    if (last !== undefined && !inSequence(last.lastSeq, firstSeq)) {
      throw new LogError(
        'OUT_OF_ORDER_SEQUENCE_NUMBER',
        `producer ${h.producerId} epoch ${e.epoch}: expected sequence ${last.lastSeq === INT32_MAX ? 0 : last.lastSeq + 1}, got ${firstSeq}`,
      );
    }
    return APPEND;
  }

  /** Records a batch now in the log (leader append, follower append, or replay), unchecked. */
  apply(h: BatchHeader, baseOffset: number): void {
    if (h.producerId < 0n) return;
    let e = this.entries.get(h.producerId);
    if (e === undefined) {
      e = { producerId: h.producerId, epoch: h.producerEpoch, batches: [] };
      if (this.entries.size >= this.maxProducers) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
    } else {
      this.entries.delete(h.producerId);
    }
    this.entries.set(h.producerId, e);
    if (h.producerEpoch !== e.epoch) {
      e.epoch = h.producerEpoch;
      e.batches = [];
    }
    e.batches.push({ firstSeq: h.baseSequence, lastSeq: lastSequence(h.baseSequence, h.lastOffsetDelta), baseOffset, lastOffset: baseOffset + h.lastOffsetDelta });
    if (e.batches.length > BATCHES_PER_PRODUCER) e.batches.shift();
  }

  clear(): void {
    this.entries.clear();
  }

  /** Every entry, least recently seen first (the snapshot order, so a reload keeps recency). */
  list(): readonly ProducerEntry[] {
    return [...this.entries.values()];
  }

  /** Replaces the table with `entries` (a snapshot), least recently seen first. */
  load(entries: readonly ProducerEntry[]): void {
    this.entries.clear();
    for (const e of entries.slice(-this.maxProducers)) this.entries.set(e.producerId, { producerId: e.producerId, epoch: e.epoch, batches: e.batches.slice(-BATCHES_PER_PRODUCER) });
  }
}
