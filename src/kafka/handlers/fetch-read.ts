// The read side of one Kafka Fetch over many partitions (Kafka ReplicaManager.fetchMessages +
// readFromLog): the response's MaxBytes over all partitions and PartitionMaxBytes each, at
// least one whole batch from the first partition with data (KIP-74), and a long poll until
// MinBytes over all partitions are there or MaxWaitMs passes.

import { batchLastOffset, batchTotalBytes } from '../../../storage/record-batch.ts';
import type { ConsumeAnswer } from '../../broker/replica-manager.ts';
import type { FetchService } from '../../services/front-door-services.ts';

/** One partition to read, in request order. */
export interface PartitionRead {
  readonly topicId: string;
  readonly partition: number;
  readonly fetchOffset: number;
  readonly partitionMaxBytes: number;
  readonly currentLeaderEpoch: number;
}

/** The one fetch service call a Fetch needs. */
export type Reader = Pick<FetchService, 'consume'>;

export type PartitionOutcome = { readonly ok: ConsumeAnswer } | { readonly err: unknown };

export interface FetchLimits {
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
}

/** Bytes of a batch header up to and including batchLength: enough to size the batch. */
const BATCH_SIZE_PREFIX_BYTES = 12;

/** The size of the leading whole batches of `records` that fit in `limit` bytes. */
export function wholeBatchesWithin(records: Buffer, limit: number): number {
  let pos = 0;
  while (pos + BATCH_SIZE_PREFIX_BYTES <= records.length) {
    const total = batchTotalBytes(records, pos);
    if (pos + total > limit || pos + total > records.length) break;
    pos += total;
  }
  return pos;
}

/** The offset after the last whole batch of `records`, or `from` when there is none. */
export function nextOffsetAfter(records: Buffer, from: number): number {
  const whole = wholeBatchesWithin(records, records.length);
  let next = from;
  for (let pos = 0; pos < whole; pos += batchTotalBytes(records, pos)) next = batchLastOffset(records, pos) + 1;
  return next;
}

/**
 * Applies MaxBytes across partitions to reads made in parallel, in request order: the first
 * partition with data keeps what it read (at least one whole batch, even over every limit:
 * KIP-74); each later one keeps the whole batches within what is left (none once it is spent).
 */
export function withinResponseBytes(outcomes: readonly PartitionOutcome[], maxBytes: number): PartitionOutcome[] {
  let left = maxBytes;
  let served = false;
  return outcomes.map((o) => {
    if (!('ok' in o) || o.ok.records.length === 0) return o;
    const keep = served ? wholeBatchesWithin(o.ok.records, Math.max(0, left)) : o.ok.records.length;
    served = true;
    left -= keep;
    return keep === o.ok.records.length ? o : { ok: { ...o.ok, records: o.ok.records.subarray(0, keep) } };
  });
}

const bytesOf = (outcomes: readonly PartitionOutcome[]): number => outcomes.reduce((n, o) => n + ('ok' in o ? o.ok.records.length : 0), 0);

function readAll(fetch: Reader, parts: readonly PartitionRead[], maxBytes: number, timeoutMs: number): Promise<PartitionOutcome[]> {
  return Promise.all(
    parts.map((p) =>
      fetch
        .consume({
          topicId: p.topicId,
          partition: p.partition,
          offset: p.fetchOffset,
          maxBytes: Math.max(1, Math.min(p.partitionMaxBytes, maxBytes)),
          timeoutMs,
          currentLeaderEpoch: p.currentLeaderEpoch,
        })
        .then(
          (ok): PartitionOutcome => ({ ok }),
          (err: unknown): PartitionOutcome => ({ err }),
        ),
    ),
  );
}

/**
 * Waits until MinBytes are there over all partitions, one partition fails, or the deadline
 * passes: each partition long-polls from where the last read ended, adding up what arrives.
 * Polls still waiting when it resolves are left to end at the deadline (bounded by it).
 */
function awaitMinBytes(fetch: Reader, parts: readonly PartitionRead[], limits: FetchLimits, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    let running = parts.length;
    let done = false;
    const finish = (): void => {
      done = true;
      resolve();
    };
    for (const p of parts) {
      void (async () => {
        let offset = p.fetchOffset;
        try {
          while (!done) {
            const left = deadline - Date.now();
            if (left <= 0) break;
            const call = { topicId: p.topicId, partition: p.partition, offset, maxBytes: Math.max(1, Math.min(p.partitionMaxBytes, limits.maxBytes)), timeoutMs: left, currentLeaderEpoch: p.currentLeaderEpoch };
            const { records } = await fetch.consume(call);
            seen += records.length;
            if (seen >= limits.minBytes) return finish();
            offset = nextOffsetAfter(records, offset);
          }
        } catch {
          // The final read answers this partition's error.
          return finish();
        }
        if (--running === 0) finish();
      })();
    }
  });
}

/**
 * Reads every partition once at once; answers then if MinBytes are there, a partition failed,
 * or MaxWaitMs is 0; else waits (awaitMinBytes) and reads once more. The answer holds to MaxBytes.
 */
export async function fetchPartitions(fetch: Reader, parts: readonly PartitionRead[], limits: FetchLimits): Promise<PartitionOutcome[]> {
  const deadline = Date.now() + limits.maxWaitMs;
  const first = await readAll(fetch, parts, limits.maxBytes, 0);
  const answer = (outcomes: PartitionOutcome[]): PartitionOutcome[] => withinResponseBytes(outcomes, limits.maxBytes);
  if (limits.maxWaitMs <= 0 || parts.length === 0 || bytesOf(first) >= limits.minBytes || first.some((o) => 'err' in o)) return answer(first);
  await awaitMinBytes(fetch, parts, limits, deadline);
  return answer(await readAll(fetch, parts, limits.maxBytes, 0));
}
