// `runnel consume TOPIC` without --group: reads partitions directly
// (GET /topics/{t}/partitions/{p}/records), one reading loop per partition.

import type { CliContext } from '../context.ts';
import { HttpError } from '../http-client.ts';
import { decodeBinaryRecord } from '../record-format.ts';
import type { RecordSink } from '../record-sink.ts';

export const BINARY_V2 = 'application/vnd.kafka.binary.v2+json';
/** Bounds of one read (STYLE.md): bytes per request and how long it waits for new records. */
export const READ_MAX_BYTES = 1024 * 1024;
export const READ_WAIT_MS = 1000;
/** The request's own deadline: the server's wait plus a margin. */
export const READ_TIMEOUT_MS = READ_WAIT_MS + 15_000;

export interface ReadOptions {
  readonly fromBeginning: boolean;
  readonly follow: boolean;
}

export interface PartitionOffsets {
  readonly beginning_offset: number;
  readonly end_offset: number;
}

export interface WireRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: unknown;
  value: unknown;
}

export function partitionOffsets(ctx: CliContext, topic: string, partition: number): Promise<PartitionOffsets> {
  return ctx.client.get<PartitionOffsets>(`/topics/${encodeURIComponent(topic)}/partitions/${partition}/offsets`);
}

/**
 * Reads the given partitions from the beginning or the end as they are now, until each reaches
 * the end offset it had at the start (or forever with follow), the sink is full, or `signal` aborts.
 */
export async function consumePartitions(ctx: CliContext, topic: string, partitions: readonly number[], o: ReadOptions, sink: RecordSink, signal: AbortSignal): Promise<void> {
  const stop = new AbortController();
  const stopAll = (): void => stop.abort();
  signal.addEventListener('abort', stopAll, { once: true });
  const t = encodeURIComponent(topic);
  const start = await Promise.all(partitions.map((p) => partitionOffsets(ctx, topic, p)));

  const read = async (p: number, at: PartitionOffsets): Promise<void> => {
    let position = o.fromBeginning ? at.beginning_offset : at.end_offset;
    const stopAt = at.end_offset; // without follow: caught up to the end seen at the start
    while (!stop.signal.aborted && !sink.done && (o.follow || position < stopAt)) {
      let records: WireRecord[];
      try {
        records = await ctx.client.get<WireRecord[]>(`/topics/${t}/partitions/${p}/records?offset=${position}&max_bytes=${READ_MAX_BYTES}&timeout_ms=${READ_WAIT_MS}`, {
          accept: BINARY_V2,
          timeoutMs: READ_TIMEOUT_MS,
          signal: stop.signal,
        });
      } catch (err) {
        if (stop.signal.aborted) return;
        if (err instanceof HttpError && err.status === 416) {
          // Retention removed the records at `position` (or the log was truncated): go on from what exists.
          const now = await partitionOffsets(ctx, topic, p);
          ctx.note(`partition ${p}: offset ${position} is out of range (${now.beginning_offset}-${now.end_offset}); continuing from ${position < now.beginning_offset ? now.beginning_offset : now.end_offset}`);
          position = position < now.beginning_offset ? now.beginning_offset : now.end_offset;
          continue;
        }
        throw err;
      }
      const wanted = records.filter((r) => r.offset >= position && (o.follow || r.offset < stopAt));
      const printed = sink.take(wanted.map(decodeBinaryRecord));
      const last = printed[printed.length - 1];
      if (last !== undefined) position = last.offset + 1;
      if (sink.done) stop.abort(); // --count reached: end the other partitions' waits too
      if (records.length > 0 && printed.length === 0 && !sink.done) return; // only records past stopAt: caught up
    }
  };

  try {
    await Promise.all(partitions.map((p, i) => read(p, start[i] ?? { beginning_offset: 0, end_offset: 0 })));
  } finally {
    stop.abort();
    signal.removeEventListener('abort', stopAll);
  }
}
