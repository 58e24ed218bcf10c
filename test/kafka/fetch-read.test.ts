import { describe, expect, it } from 'vitest';
import { buildBatch } from '../../storage/record-batch.ts';
import type { ConsumeCall } from '../../src/broker/partition-client.ts';
import type { ConsumeAnswer } from '../../src/broker/replica-manager.ts';
import { fetchPartitions, nextOffsetAfter, wholeBatchesWithin } from '../../src/kafka/handlers/fetch-read.ts';
import type { PartitionOutcome, PartitionRead, Reader } from '../../src/kafka/handlers/fetch-read.ts';

/** A batch of one record of `valueBytes` at `baseOffset`. */
const batch = (baseOffset: number, valueBytes = 100): Buffer =>
  buildBatch([{ key: null, value: Buffer.alloc(valueBytes, 1), headers: [], timestamp: 1000 }], { baseOffset });

/**
 * Partitions as arrays of stored batches behind the FetchService seam, read the way the leader
 * reads (ReplicaManager.consume): whole batches from the offset within maxBytes but at least
 * one, long-polling while there are none; appends wake the polls.
 */
class BatchesFetchService implements Reader {
  readonly logs = new Map<number, Buffer[]>();
  private wakers: (() => void)[] = [];

  append(partition: number, valueBytes = 100): void {
    const log = this.logs.get(partition) ?? [];
    log.push(batch(log.length, valueBytes));
    this.logs.set(partition, log);
    const ws = this.wakers;
    this.wakers = [];
    for (const w of ws) w();
  }

  async consume(c: ConsumeCall): Promise<ConsumeAnswer> {
    const deadline = Date.now() + c.timeoutMs;
    for (;;) {
      const log = this.logs.get(c.partition) ?? [];
      const out: Buffer[] = [];
      let bytes = 0;
      for (const b of log.slice(c.offset)) {
        if (out.length > 0 && bytes + b.length > c.maxBytes) break;
        out.push(b);
        bytes += b.length;
      }
      const left = deadline - Date.now();
      if (out.length > 0 || left <= 0) return { records: Buffer.concat(out), highWatermark: log.length, logStartOffset: 0 };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wakers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

const reads = (partitions: readonly number[], partitionMaxBytes = 1 << 20): PartitionRead[] =>
  partitions.map((partition) => ({ topicId: 't', partition, fetchOffset: 0, partitionMaxBytes, currentLeaderEpoch: -1 }));

const sizes = (outcomes: readonly PartitionOutcome[]): number[] => outcomes.map((o) => ('ok' in o ? o.ok.records.length : -1));

describe('Fetch over many partitions (Kafka ReplicaManager.fetchMessages)', () => {
  const one = batch(0).length;

  it('cuts batches at whole-batch boundaries and finds the offset after the last', () => {
    const two = Buffer.concat([batch(5), batch(6)]);
    expect(wholeBatchesWithin(two, one * 2)).toBe(one * 2);
    expect(wholeBatchesWithin(two, one * 2 - 1)).toBe(one);
    expect(wholeBatchesWithin(two, one - 1)).toBe(0);
    expect(nextOffsetAfter(two, 5)).toBe(7);
    expect(nextOffsetAfter(Buffer.alloc(0), 5)).toBe(5);
  });

  it('holds the response to MaxBytes over all partitions, in request order, with PartitionMaxBytes each', async () => {
    const f = new BatchesFetchService();
    for (const p of [0, 1, 2]) for (let i = 0; i < 3; i++) f.append(p);
    const limits = { maxWaitMs: 0, minBytes: 1, maxBytes: one * 4 };
    expect(sizes(await fetchPartitions(f, reads([0, 1, 2]), limits))).toEqual([one * 3, one, 0]);
    expect(sizes(await fetchPartitions(f, reads([2, 0, 1], one * 2), limits))).toEqual([one * 2, one * 2, 0]);
  });

  it('returns one whole batch of the first partition with data even over MaxBytes and PartitionMaxBytes (KIP-74), and no more', async () => {
    const f = new BatchesFetchService();
    f.append(1, 5000);
    f.append(2);
    const got = await fetchPartitions(f, reads([0, 1, 2], 10), { maxWaitMs: 0, minBytes: 1, maxBytes: 10 });
    expect(sizes(got)).toEqual([0, batch(0, 5000).length, 0]);
  });

  it('answers as soon as MinBytes arrive on any partition, not after MaxWaitMs', async () => {
    const f = new BatchesFetchService();
    const started = Date.now();
    const pending = fetchPartitions(f, reads([0, 1, 2]), { maxWaitMs: 20_000, minBytes: 1, maxBytes: 1 << 20 });
    setTimeout(() => f.append(2), 50);
    expect(sizes(await pending)).toEqual([0, 0, one]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('waits for MinBytes summed over partitions, then answers everything there', async () => {
    const f = new BatchesFetchService();
    f.append(0);
    let answered = false;
    const pending = fetchPartitions(f, reads([0, 1]), { maxWaitMs: 20_000, minBytes: one * 2, maxBytes: 1 << 20 }).then((o) => {
      answered = true;
      return o;
    });
    // One batch is not MinBytes: still waiting after the first read and its long polls began.
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false);
    const appended = Date.now();
    f.append(1);
    expect(sizes(await pending)).toEqual([one, one]);
    expect(Date.now() - appended).toBeLessThan(5000);
  });

  it('answers empty after MaxWaitMs when MinBytes never arrive', async () => {
    const f = new BatchesFetchService();
    const started = Date.now();
    expect(sizes(await fetchPartitions(f, reads([0, 1]), { maxWaitMs: 200, minBytes: 1, maxBytes: 1 << 20 }))).toEqual([0, 0]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });
});
