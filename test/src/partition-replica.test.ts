import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBatch } from '../../storage/record-batch.ts';
import { PartitionLog } from '../../storage/partition-log/partition-log.ts';
import { PartitionReplica } from '../../src/broker/partition-replica.ts';
import { RunnelError } from '../../src/errors.ts';
import type { PartitionState } from '../../src/metadata/image.ts';

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
const logs: PartitionLog[] = [];

afterEach(async () => {
  await Promise.all(logs.splice(0).map((l) => l.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function leaderReplica(isr = [1, 2, 3], minIsr = 2, flush: 'os' | 'batch' = 'os'): Promise<PartitionReplica> {
  const dir = await mkdtemp(join(tmpdir(), 'runnel-replica-'));
  dirs.push(dir);
  const log = await PartitionLog.open({ dir, segmentBytes: 1 << 20, flush, retentionMs: -1, retentionBytes: -1 });
  logs.push(log);
  const r = new PartitionReplica('tid', 'orders', 0, log, 1, logger);
  r.applyMetadata(state({ isr }), minIsr, Date.now());
  return r;
}

function state(o: Partial<PartitionState>): PartitionState {
  return { partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 3, partitionEpoch: 7, ...o };
}

const batch = (n: number): Buffer => buildBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`), headers: [], timestamp: 1 })));

import { pollUntil } from '../support/poll.ts';

/** Waits until the leader's log holds `n` records (its appends run asynchronously). */
const appended = (r: PartitionReplica, n: number): Promise<boolean> => pollUntil(`${n} records appended`, () => r.log.logEndOffset >= n, 5000, 1);

const rejection = async (p: Promise<unknown>): Promise<string> => {
  const e = await p.then(() => undefined, (err: unknown) => err);
  return e instanceof RunnelError ? e.errorName : `resolved or untyped: ${String(e)}`;
};

describe('partition replica (leader side)', () => {
  it('completes acks=all only once every ISR follower has fetched past the batch', async () => {
    const r = await leaderReplica();
    let done = false;
    const acked = r.produce(batch(3), -1, 10_000).then((base) => {
      done = true;
      return base;
    });
    await appended(r, 3);
    await r.fetchFromFollower(2, 3, -1, 1 << 20, Date.now());
    await Promise.resolve();
    expect(done).toBe(false);
    expect(r.log.highWatermark).toBe(0);
    await r.fetchFromFollower(3, 3, -1, 1 << 20, Date.now());
    expect(await acked).toBe(0);
    expect(r.log.highWatermark).toBe(3);
  });

  it('refuses acks=all before appending when the ISR is below min.insync.replicas, but takes acks=1', async () => {
    const r = await leaderReplica([1], 2);
    expect(await rejection(r.produce(batch(1), -1, 1000))).toBe('NOT_ENOUGH_REPLICAS');
    expect(r.log.logEndOffset).toBe(0);
    expect(await r.produce(batch(1), 1, 1000)).toBe(0);
    // KAFKA-15583: with the ISR below the minimum the high watermark does not move.
    expect(r.log.highWatermark).toBe(0);
  });

  it('fails a waiting acks=all with NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrinks below the minimum', async () => {
    const r = await leaderReplica([1, 2], 2);
    const waiting = rejection(r.produce(batch(2), -1, 10_000));
    await appended(r, 2);
    r.applyMetadata(state({ isr: [1], partitionEpoch: 8 }), 2, Date.now());
    expect(await waiting).toBe('NOT_ENOUGH_REPLICAS_AFTER_APPEND');
  });

  it('fails waiting produces with NOT_LEADER_OR_FOLLOWER when leadership moves, and refuses a stale epoch', async () => {
    const r = await leaderReplica();
    const waiting = rejection(r.produce(batch(1), -1, 10_000));
    await appended(r, 1);
    r.applyMetadata(state({ leader: 2, leaderEpoch: 4, partitionEpoch: 8 }), 2, Date.now());
    expect(await waiting).toBe('NOT_LEADER_OR_FOLLOWER');
    const again = await leaderReplica();
    expect(() => again.checkLeader(2)).toThrow(/leader epoch 2/);
  });

  it('tells a follower whose last epoch ends elsewhere where to truncate (diverging epoch)', async () => {
    const r = await leaderReplica();
    await r.produce(batch(5), 1, 1000); // offsets 0-4 in epoch 3
    // A follower that claims epoch 2 up to offset 4: our epoch 2 is empty, it ends where 3 starts.
    const a = await r.fetchFromFollower(2, 4, 2, 1 << 20, Date.now());
    expect(a.divergingEpoch).toEqual({ epoch: 2, endOffset: 0 });
    const ok = await r.fetchFromFollower(2, 2, 3, 1 << 20, Date.now());
    expect(ok.divergingEpoch).toBeUndefined();
    expect(ok.records.length).toBeGreaterThan(0);
  });

  it('proposes dropping a follower that lags past the limit and re-adding it once caught up', async () => {
    const r = await leaderReplica();
    const t0 = Date.now();
    await r.produce(batch(2), 1, 1000);
    await r.fetchFromFollower(2, 2, 3, 1 << 20, t0);
    // Follower 3 never fetches: after the lag limit it leaves the ISR.
    expect(r.nextIsrChange(t0 + 100, 1000)).toBeUndefined();
    await r.fetchFromFollower(2, 2, 3, 1 << 20, t0 + 4900);
    expect(r.nextIsrChange(t0 + 5000, 1000)).toEqual({ leaderEpoch: 3, partitionEpoch: 7, isr: [1, 2] });
    // One change at a time: nothing more while it is pending.
    expect(r.nextIsrChange(t0 + 5000, 1000)).toBeUndefined();
    r.applyMetadata(state({ isr: [1, 2], partitionEpoch: 8 }), 2, t0);
    await r.fetchFromFollower(3, 2, 3, 1 << 20, t0 + 5000);
    // KIP-841: not while broker 3 is fenced (the controller would refuse it every round).
    expect(r.nextIsrChange(t0 + 5000, 1000, (id) => id !== 3)).toBeUndefined();
    expect(r.nextIsrChange(t0 + 5000, 1000)?.isr).toEqual([1, 2, 3]);
  });

  it('keeps a follower that keeps pace with a steady producer in sync, though it never fetches exactly at the log end (Kafka lastFetchLeaderLogEndOffset)', async () => {
    const r = await leaderReplica([1, 2, 3], 2);
    const t0 = Date.now();
    let end = 0;
    // Every 200 ms a batch arrives, then both followers fetch what they had before it.
    for (let tick = 0; tick < 30; tick++) {
      await r.produce(batch(2), 1, 1000);
      await r.fetchFromFollower(2, end, 3, 1 << 20, t0 + tick * 200);
      await r.fetchFromFollower(3, tick < 10 ? end : 0, 3, 1 << 20, t0 + tick * 200); // broker 3 stops progressing after 2 s
      end = r.log.logEndOffset;
    }
    // 6 s in, lag limit 1 s: broker 2 was caught up as of its previous fetch; broker 3 has lagged for 4 s.
    expect(r.nextIsrChange(t0 + 29 * 200, 1000)?.isr).toEqual([1, 2]);
  });

  it('counts a pending joiner for the high watermark until the metadata settles the change (KIP-497 maximal ISR)', async () => {
    const r = await leaderReplica([1, 2], 2);
    const t0 = Date.now();
    await r.produce(batch(2), 1, 1000);
    await r.fetchFromFollower(2, 2, 3, 1 << 20, t0);
    await r.fetchFromFollower(3, 2, 3, 1 << 20, t0);
    expect(r.log.highWatermark).toBe(2);
    const change = r.nextIsrChange(t0, 1000);
    expect(change?.isr).toEqual([1, 2, 3]);
    // In flight: broker 2 fetches past new records, broker 3 does not; the HW waits for 3.
    const acked = r.produce(batch(3), -1, 10_000);
    await appended(r, 5);
    await r.fetchFromFollower(2, 5, 3, 1 << 20, t0);
    expect(r.log.highWatermark).toBe(2);
    // The answer comes before this broker's metadata shows the commit: still pending.
    r.isrChangeSettled(7, { kind: 'answered', state: state({ isr: [1, 2, 3], partitionEpoch: 8 }) });
    await r.fetchFromFollower(2, 5, 3, 1 << 20, t0);
    expect(r.log.highWatermark).toBe(2);
    r.applyMetadata(state({ isr: [1, 2, 3], partitionEpoch: 8 }), 2, t0);
    expect(r.log.highWatermark).toBe(2);
    await r.fetchFromFollower(3, 5, 3, 1 << 20, t0);
    expect(await acked).toBe(2);
    expect(r.log.highWatermark).toBe(5);
  });

  it('counts a replica being dropped until the shrink is committed, and resends a change whose answer was lost', async () => {
    const r = await leaderReplica([1, 2, 3], 1);
    const t0 = Date.now();
    await r.produce(batch(2), 1, 1000);
    await r.fetchFromFollower(2, 2, 3, 1 << 20, t0);
    await r.fetchFromFollower(3, 0, 3, 1 << 20, t0);
    await r.fetchFromFollower(2, 2, 3, 1 << 20, t0 + 5000);
    const shrink = r.nextIsrChange(t0 + 5000, 1000);
    expect(shrink?.isr).toEqual([1, 2]);
    expect(r.log.highWatermark).toBe(0);
    // No answer (the controller moved): the same request goes out again, and the HW still waits for 3.
    r.isrChangeSettled(7, { kind: 'unknown' });
    expect(r.nextIsrChange(t0 + 5000, 1000)).toEqual(shrink);
    await r.fetchFromFollower(2, 2, 3, 1 << 20, t0 + 5000);
    expect(r.log.highWatermark).toBe(0);
    // Committed and applied: broker 3 no longer holds the HW back.
    r.applyMetadata(state({ isr: [1, 2], partitionEpoch: 8 }), 1, t0 + 5000);
    expect(r.log.highWatermark).toBe(2);
  });

  it('drops a pending expansion the controller refuses, and waits for the metadata when the controller is ahead', async () => {
    const r = await leaderReplica([1, 2], 1);
    const t0 = Date.now();
    await r.produce(batch(2), 1, 1000);
    await r.fetchFromFollower(2, 2, 3, 1 << 20, t0);
    await r.fetchFromFollower(3, 2, 3, 1 << 20, t0);
    expect(r.nextIsrChange(t0, 1000)?.isr).toEqual([1, 2, 3]);
    r.isrChangeSettled(7, { kind: 'stale' });
    expect(r.nextIsrChange(t0, 1000)).toBeUndefined();
    r.applyMetadata(state({ isr: [1, 2], partitionEpoch: 8 }), 1, t0);
    const again = r.nextIsrChange(t0, 1000);
    expect(again).toEqual({ leaderEpoch: 3, partitionEpoch: 8, isr: [1, 2, 3] });
    await r.produce(batch(1), 1, 1000);
    await r.fetchFromFollower(2, 3, 3, 1 << 20, t0);
    expect(r.log.highWatermark).toBe(2);
    r.isrChangeSettled(8, { kind: 'refused' });
    expect(r.log.highWatermark).toBe(3);
  });

  it('keeps a fetch session\'s silent, caught-up follower in sync, but only at a position it heard in this epoch (KIP-227)', async () => {
    const r = await leaderReplica();
    const t0 = Date.now();
    await r.produce(batch(2), 1, 1000);
    // New in this leader epoch: the follower's position is unknown, so the quick path declines
    // and the full fetch (with its epoch check) has to run first.
    expect(r.caughtUpFollowerFetch(2, 2, t0)).toBeUndefined();
    await r.fetchFromFollower(2, 2, 3, 1 << 20, t0);
    await r.fetchFromFollower(3, 2, 3, 1 << 20, t0);
    // Later session fetches that do not restate the partition keep both followers in the ISR.
    expect(r.caughtUpFollowerFetch(2, 2, t0 + 4000)).toMatchObject({ records: Buffer.alloc(0), highWatermark: 2 });
    expect(r.caughtUpFollowerFetch(3, 2, t0 + 4000)).toBeDefined();
    expect(r.nextIsrChange(t0 + 4500, 1000)).toBeUndefined();
    // With records past the follower's position, the quick path declines: they must be read.
    await r.produce(batch(1), 1, 1000);
    expect(r.caughtUpFollowerFetch(2, 2, t0 + 4600)).toBeUndefined();
    // A new leader epoch forgets every follower position again.
    r.applyMetadata(state({ leaderEpoch: 4, partitionEpoch: 8 }), 2, t0);
    expect(r.caughtUpFollowerFetch(2, 3, t0 + 4700)).toBeUndefined();
  });

  it('answers a resent batch (same producer id and sequence) with its first offsets instead of appending it again', async () => {
    const r = await leaderReplica();
    const stamped = (seq: number): Buffer =>
      buildBatch([{ key: null, value: Buffer.from(`s${seq}`), headers: [], timestamp: 1 }, { key: null, value: Buffer.from('x'), headers: [], timestamp: 1 }], {
        producerId: 42n,
        producerEpoch: 0,
        baseSequence: seq,
      });
    expect(await r.produce(stamped(0), 1, 1000)).toBe(0);
    expect(await r.produce(stamped(2), 1, 1000)).toBe(2);
    expect(await r.produce(stamped(0), 1, 1000)).toBe(0);
    expect(r.log.logEndOffset).toBe(4);
    // A follower that replicated the batches knows them too: as the next leader it deduplicates.
    const copy = await r.log.read(0, 1 << 20, r.log.logEndOffset);
    const next = await leaderReplica();
    await next.log.appendAsFollower(Buffer.from(copy.records));
    expect(await next.produce(stamped(2), 1, 1000)).toBe(2);
    expect(next.log.logEndOffset).toBe(4);
  });

  it('serves a caught-up follower from the batches it just appended, byte for byte what is on disk', async () => {
    const r = await leaderReplica();
    for (let i = 0; i < 3; i++) await r.produce(batch(2), 1, 1000);
    const fromTail = await r.fetchFromFollower(2, 2, 3, 1 << 20, Date.now());
    const fromDisk = await r.log.read(2, 1 << 20, r.log.logEndOffset);
    expect(Buffer.compare(fromTail.records, fromDisk.records)).toBe(0);
    // Leadership changes forget the tail (the next leader's log is the truth).
    r.applyMetadata(state({ leader: 2, leaderEpoch: 4, partitionEpoch: 8 }), 2, Date.now());
    r.applyMetadata(state({ leader: 1, leaderEpoch: 5, partitionEpoch: 9 }), 2, Date.now());
    const again = await r.fetchFromFollower(2, 4, 3, 1 << 20, Date.now());
    expect(Buffer.compare(again.records, (await r.log.read(4, 1 << 20, r.log.logEndOffset)).records)).toBe(0);
  });

  it('with flush=batch, lets followers fetch a batch while the leader fsyncs it, and acknowledges only after both', async () => {
    const r = await leaderReplica([1, 2, 3], 2, 'batch');
    for (let round = 0; round < 20; round++) {
      const end = r.log.logEndOffset;
      const acked = r.produce(batch(2), -1, 10_000);
      await appended(r, end + 2);
      // The followers have the batch (readable as soon as it is written) and ack it at once.
      const got = await r.fetchFromFollower(2, end, -1, 1 << 20, Date.now());
      expect(got.records.length).toBeGreaterThan(0);
      await r.fetchFromFollower(2, end + 2, -1, 1 << 20, Date.now());
      await r.fetchFromFollower(3, end + 2, -1, 1 << 20, Date.now());
      // Whether or not the leader's own fsync has finished, the HW never passes what it covers.
      expect(r.log.highWatermark).toBeLessThanOrEqual(r.log.durableEndOffset);
      expect(await acked).toBe(end);
      expect(r.log.highWatermark).toBe(end + 2);
    }
  });
});
