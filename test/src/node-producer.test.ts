import { describe, expect, it } from 'vitest';
import { NodeProducer } from '../../src/broker/node-producer.ts';
import { fromLogError } from '../../src/broker/log-errors.ts';
import type { ProduceCall } from '../../src/broker/partition-client.ts';
import { RunnelError } from '../../src/errors.ts';
import type { PartitionLog } from '../../storage/partition-log/partition-log.ts';
import { batches, buildBatch, decodeRecords } from '../../storage/record-batch.ts';
import { tempLogs } from '../support/temp-logs.ts';

const { tempDir, openLog } = tempLogs('runnel-node-producer');

const records = (tag: string, n: number) => Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`${tag}${i}`), headers: [], timestamp: 1 }));
const call = (tag: string, n: number): ProduceCall => ({ topicId: 't', partition: 0, batch: buildBatch(records(tag, n)), acks: 1, timeoutMs: 2000 });

/** The leader's side: a real log's append, with its producer-state checks, errors as the broker maps them. */
function leader(log: PartitionLog): (c: ProduceCall) => Promise<number> {
  return async (c) => {
    try {
      return (await log.appendAsLeader(Buffer.from(c.batch), 0)).baseOffset;
    } catch (err) {
      throw fromLogError(err);
    }
  };
}

/** A NodeProducer whose sends reach `log` after `before(n)` (n = 1 for the first send) lets them: it may hold or fail one. */
function scripted(log: PartitionLog, before: (n: number) => Promise<void> | void): { producer: NodeProducer<ProduceCall>; sends: () => number } {
  const append = leader(log);
  let n = 0;
  const producer = new NodeProducer<ProduceCall>(async (c) => {
    await before(++n);
    return append(c);
  });
  return { producer, sends: () => n };
}

/** A gate the test opens: what waits on `held` stays on its way until `release()`. */
function gate(): { held: Promise<void>; release: () => void } {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  return { held, release };
}

async function values(log: PartitionLog): Promise<string[]> {
  const { records: buf } = await log.read(0, 1 << 20, log.logEndOffset);
  return [...batches(buf)].flatMap(({ at }) => decodeRecords(buf, at).map((r) => r.value?.toString() ?? ''));
}

describe('NodeProducer (HTTP produce as an idempotent producer)', () => {
  it('moves a partition to a new epoch after a batch fails for good, so the batches after it are not refused as out of order', async () => {
    const log = await openLog(await tempDir());
    const { producer: p } = scripted(log, (n) => {
      if (n === 1) throw new RunnelError('NOT_ENOUGH_REPLICAS', 'refused before it was appended');
      return undefined;
    });
    await expect(p.produce(call('a', 2), 2)).rejects.toThrow(/refused before/);
    expect(await p.produce(call('b', 3), 3)).toBe(0);
    expect(await p.produce(call('c', 1), 1)).toBe(3);
    expect(await values(log)).toEqual(['b0', 'b1', 'b2', 'c0']);
  });

  it('sends a batch that overtook an earlier one again once that one is appended', async () => {
    const log = await openLog(await tempDir());
    const { held: firstHeld, release: releaseFirst } = gate();
    // The second send is slow on its way to the leader.
    const { producer: p, sends } = scripted(log, (n) => (n === 2 ? firstHeld : undefined));
    expect(await p.produce(call('w', 1), 1)).toBe(0); // the leader knows the producer from here on
    const first = p.produce(call('x', 2), 2);
    const second = p.produce(call('y', 2), 2);
    // The second reaches the leader first and is refused (sequence 3 before 1); it waits for the first.
    await expect.poll(sends).toBeGreaterThanOrEqual(3);
    releaseFirst();
    expect(await first).toBe(1);
    expect(await second).toBe(3);
    expect(await values(log)).toEqual(['w0', 'x0', 'x1', 'y0', 'y1']);
  });

  it('takes a fresh stamp for a batch refused for a stale epoch, and appends it once', async () => {
    const log = await openLog(await tempDir());
    const { held: firstHeld, release: releaseFirst } = gate();
    const { producer: p } = scripted(log, (n) => {
      if (n === 1) return firstHeld;
      if (n === 2) throw new RunnelError('REQUEST_TIMED_OUT', 'the second batch timed out before reaching the leader');
      return undefined;
    });
    const first = p.produce(call('e', 1), 1);
    await expect(p.produce(call('f', 1), 1)).rejects.toThrow(/timed out/); // the lane moves to epoch 1
    expect(await p.produce(call('g', 1), 1)).toBe(0); // epoch 1, sequence 0
    releaseFirst(); // the epoch-0 batch arrives late: stale, so it is stamped again in epoch 1
    expect(await first).toBe(1);
    expect(await values(log)).toEqual(['g0', 'e0']);
  });

  it('keeps at most 5 batches stamped since the oldest unanswered one, so its resend after a lost answer is recognised, not appended twice', async () => {
    const log = await openLog(await tempDir());
    const { held: answerLost, release: resend } = gate();
    const append = leader(log);
    let n = 0;
    // The first batch is appended, its answer is lost, and it is sent again (same bytes) once the gate opens.
    const p = new NodeProducer<ProduceCall>(async (c) => {
      if (++n !== 1) return append(c);
      await append(c);
      await answerLost;
      return append(c);
    });
    const first = p.produce(call('b', 1), 1);
    const later = ['c', 'd', 'e', 'f', 'g', 'h'].map((tag) => p.produce(call(tag, 1), 1));
    // Four batches after the first fit in the leader's memory of five; the fifth and sixth wait.
    await expect.poll(() => log.logEndOffset).toBe(5);
    resend();
    expect(await first).toBe(0); // the resend is recognised: the offset it already has
    expect(await Promise.all(later)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await values(log)).toEqual(['b0', 'c0', 'd0', 'e0', 'f0', 'g0', 'h0']);
  });
});
