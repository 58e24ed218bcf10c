import { batches } from '../../storage/record-batch.ts';

interface Appended {
  readonly baseOffset: number;
  readonly lastOffset: number;
}

/** Batches remembered per producer (Kafka keeps 5 in flight; we keep more, cheaply). */
const BATCHES_PER_PRODUCER = 64;
/** Producers remembered per partition; the least recently seen is forgotten first. */
const MAX_PRODUCERS = 1024;

/**
 * Which (producer id, base sequence) batches a partition's log already holds, and where
 * (Kafka's ProducerStateManager, reduced to what deduplication needs). A node that forwards a
 * produce to a leader stamps its batch with its own producer id and a per-partition sequence;
 * if leadership moves after the append and the node sends the same bytes to the new leader,
 * the new leader finds the batch here (it replicated it as a follower) and answers with the
 * offset it already has instead of appending it twice. Bounded in producers and batches.
 */
export class ProducerState {
  private readonly producers = new Map<bigint, Map<number, Appended>>();

  lookup(producerId: bigint, baseSequence: number): Appended | undefined {
    return this.producers.get(producerId)?.get(baseSequence);
  }

  record(producerId: bigint, baseSequence: number, appended: Appended): void {
    if (producerId < 0n) return;
    let seqs = this.producers.get(producerId);
    if (seqs === undefined) {
      seqs = new Map();
      if (this.producers.size >= MAX_PRODUCERS) {
        const oldest = this.producers.keys().next().value;
        if (oldest !== undefined) this.producers.delete(oldest);
      }
    } else {
      this.producers.delete(producerId); // re-insert: most recently seen last
    }
    this.producers.set(producerId, seqs);
    seqs.set(baseSequence, appended);
    if (seqs.size > BATCHES_PER_PRODUCER) {
      const first = seqs.keys().next().value;
      if (first !== undefined) seqs.delete(first);
    }
  }

  /** Remembers every producer batch in `buf` (a follower's appended fetch data). */
  recordBatches(buf: Buffer): void {
    for (const { header } of batches(buf)) {
      if (header.producerId >= 0n) this.record(header.producerId, header.baseSequence, { baseOffset: header.baseOffset, lastOffset: header.lastOffset });
    }
  }

  /** The log was truncated at `offset`: batches at or beyond it are gone. */
  truncate(offset: number): void {
    for (const seqs of this.producers.values()) {
      for (const [seq, a] of seqs) if (a.lastOffset >= offset) seqs.delete(seq);
    }
  }
}
