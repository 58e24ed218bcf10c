// `runnel consume TOPIC --group G`: reads as one consumer instance of the group (API.md,
// "Consumer groups"), commits what it printed after printing it, and deletes the instance
// when it ends (caught up, --count reached, Ctrl-C), so the group does not wait a session
// timeout to hand its partitions on.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { CliContext } from '../context.ts';
import { HttpError } from '../http-client.ts';
import { decodeBinaryRecord } from '../record-format.ts';
import type { TextRecord } from '../record-format.ts';
import type { RecordSink } from '../record-sink.ts';
import { BINARY_V2, partitionOffsets, READ_MAX_BYTES, READ_TIMEOUT_MS, READ_WAIT_MS } from './consume-partitions.ts';
import type { PartitionOffsets, ReadOptions, WireRecord } from './consume-partitions.ts';

/** Consumer instance names are 1-200 of a-z A-Z 0-9 . _ - (the registry's rule). */
export function instanceName(): string {
  const host = hostname().replace(/[^a-zA-Z0-9._-]/g, '-').slice(0, 60);
  return `runnel-cli-${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The last printed record of each partition: what to commit (REST Proxy: the last processed offset). */
function lastPerPartition(records: readonly TextRecord[]): { topic: string; partition: number; offset: number }[] {
  const last = new Map<number, number>();
  for (const r of records) last.set(r.partition, Math.max(r.offset, last.get(r.partition) ?? -1));
  return [...last].map(([partition, offset]) => ({ topic: records[0]?.topic ?? '', partition, offset }));
}

export async function consumeGroup(ctx: CliContext, topic: string, partitionCount: number, group: string, o: ReadOptions, sink: RecordSink, signal: AbortSignal): Promise<void> {
  const c = ctx.client;
  // Without follow, "caught up" is measured against the end offsets as they are now.
  const start = o.follow ? [] : await Promise.all(Array.from({ length: partitionCount }, (_, p) => partitionOffsets(ctx, topic, p)));
  /** Partition -> the offset after the last record printed from it. */
  const printedUpTo = new Map<number, number>();
  const name = instanceName();
  const base = `/consumers/${encodeURIComponent(group)}/instances/${name}`;
  await c.request({
    method: 'POST',
    path: `/consumers/${encodeURIComponent(group)}`,
    body: { name, format: 'binary', 'auto.offset.reset': o.fromBeginning ? 'earliest' : 'latest', 'auto.commit.enable': 'false' },
  });
  try {
    await c.request({ method: 'POST', path: `${base}/subscription`, body: { topics: [topic] }, idempotent: true });
    while (!signal.aborted && !sink.done) {
      let records: WireRecord[];
      try {
        // Not idempotent: records an answer carried are past the instance's position even if the
        // answer is lost, so a lost poll is an error here, not a silent retry.
        records = await c.request<WireRecord[]>({ path: `${base}/records?timeout=${READ_WAIT_MS}&max_bytes=${READ_MAX_BYTES}`, accept: BINARY_V2, timeoutMs: READ_TIMEOUT_MS, signal });
      } catch (err) {
        if (signal.aborted) return;
        throw err;
      }
      if (records.length === 0) {
        if (!o.follow && (await caughtUp(ctx, base, start, o.fromBeginning, printedUpTo))) return;
        continue;
      }
      const printed = sink.take(records.map(decodeBinaryRecord));
      if (printed.length === 0) continue;
      for (const r of printed) printedUpTo.set(r.partition, Math.max(r.offset + 1, printedUpTo.get(r.partition) ?? 0));
      try {
        await c.request({ method: 'POST', path: `${base}/offsets`, body: { offsets: lastPerPartition(printed) }, idempotent: true });
      } catch (err) {
        // A rebalance took a partition away: its next reader starts from the last commit (at-least-once).
        if (!(err instanceof HttpError && err.status === 409)) throw err;
        ctx.note(`commit refused: ${err.message}`);
      }
      // Done as soon as the commits reach the ends, without waiting out one more empty poll.
      if (!o.follow && !sink.done && (await caughtUp(ctx, base, start, o.fromBeginning, printedUpTo))) return;
    }
  } finally {
    await c.request({ method: 'DELETE', path: base, idempotent: true, timeoutMs: 5000 }).catch((err: unknown) => {
      ctx.note(`could not delete consumer instance ${name} of group ${group} (${err instanceof Error ? err.message : String(err)}); it leaves the group after its session timeout`);
    });
  }
}

/**
 * Every partition assigned to this instance is at or past the end offset seen at the start:
 * past the last record printed from it, else at its committed offset, else where
 * auto.offset.reset put it (the log start with --from-beginning, else the end).
 */
async function caughtUp(ctx: CliContext, base: string, start: readonly PartitionOffsets[], fromBeginning: boolean, printedUpTo: ReadonlyMap<number, number>): Promise<boolean> {
  const assigned = (await ctx.client.get<{ partitions: { topic: string; partition: number }[] }>(`${base}/assignments`)).partitions;
  if (assigned.length === 0) return true;
  const committed = (await ctx.client.get<{ offsets: { partition: number; offset: number }[] }>(`${base}/offsets`)).offsets;
  return assigned.every((tp) => {
    const at = start[tp.partition];
    if (at === undefined) return true; // a partition added since the start: not part of "the end seen at start"
    const c = Math.max(committed.find((x) => x.partition === tp.partition)?.offset ?? -1, printedUpTo.get(tp.partition) ?? -1);
    const position = c >= 0 ? c : fromBeginning ? at.beginning_offset : at.end_offset;
    return position >= at.end_offset;
  });
}
