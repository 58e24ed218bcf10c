import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogError } from '../../storage/partition-log/partition-log.ts';
import type { PartitionLog } from '../../storage/partition-log/partition-log.ts';
import { BATCHES_PER_PRODUCER, lastSequence, ProducerStateTable } from '../../storage/partition-log/producer-state.ts';
import { batches, buildBatch, readBatchHeader, stampProducer } from '../../storage/record-batch.ts';
import { tempLogs } from '../support/temp-logs.ts';

const { tempDir, openLog } = tempLogs('runnel-producers');

/** A batch of `count` records from producer `pid` at `epoch`, first sequence `seq`. */
function producerBatch(pid: bigint, epoch: number, seq: number, count = 1): Buffer {
  return buildBatch(
    Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`${pid}/${epoch}/${seq + i}`), headers: [], timestamp: 1_000 })),
    { producerId: pid, producerEpoch: epoch, baseSequence: seq },
  );
}

async function refused(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LogError);
    return (err as LogError).code;
  }
  throw new Error('expected the append to be refused');
}

/** The producer table a fresh replay of every batch in the log gives (the state is a function of the log). */
async function replayed(log: PartitionLog): Promise<ProducerStateTable> {
  const t = new ProducerStateTable();
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const { records, nextOffset } = await log.read(offset, 1 << 20, log.logEndOffset);
    for (const { header } of batches(records)) if (header.baseOffset >= offset) t.apply(header, header.baseOffset);
    offset = nextOffset;
  }
  return t;
}

describe('ProducerStateTable', () => {
  const h = (pid: bigint, epoch: number, seq: number, count = 1) => readBatchHeader(producerBatch(pid, epoch, seq, count));

  it.each([
    ['an unknown producer may start at any sequence', [], [7n, 0, 40], 'append'],
    ['the next sequence is accepted', [[7n, 0, 0, 3]], [7n, 0, 3], 'append'],
    ['a gap is OUT_OF_ORDER_SEQUENCE_NUMBER', [[7n, 0, 0, 3]], [7n, 0, 4], 'OUT_OF_ORDER_SEQUENCE_NUMBER'],
    ['a sequence already passed is OUT_OF_ORDER_SEQUENCE_NUMBER', [[7n, 0, 0, 3]], [7n, 0, 1], 'OUT_OF_ORDER_SEQUENCE_NUMBER'],
    ['an older epoch is INVALID_PRODUCER_EPOCH', [[7n, 2, 0, 1]], [7n, 1, 1], 'INVALID_PRODUCER_EPOCH'],
    ['a new epoch starts at sequence 0', [[7n, 0, 0, 5]], [7n, 1, 0], 'append'],
    ['a new epoch not at 0 is OUT_OF_ORDER_SEQUENCE_NUMBER', [[7n, 0, 0, 5]], [7n, 1, 5], 'OUT_OF_ORDER_SEQUENCE_NUMBER'],
    ['sequences wrap from 2^31-1 to 0', [[7n, 0, 0x7ffffffe, 2]], [7n, 0, 0], 'append'],
    ['another producer has its own sequence', [[7n, 0, 0, 3]], [8n, 0, 9], 'append'],
  ] as const)('%s', (_name, before, [pid, epoch, seq], expected) => {
    const t = new ProducerStateTable();
    let offset = 0;
    for (const [p, e, s, n] of before) {
      t.apply(h(p, e, s, n), offset);
      offset += n;
    }
    let got: string;
    try {
      got = t.check(h(pid, epoch, seq)).kind;
    } catch (err) {
      got = (err as LogError).code;
    }
    expect(got).toBe(expected);
  });

  it('answers a resend of one of the last 5 batches with its offsets, and refuses an older one as out of order', () => {
    const t = new ProducerStateTable();
    for (let i = 0; i < 7; i++) t.apply(h(9n, 0, i * 2, 2), 100 + i * 2);
    for (let i = 7 - BATCHES_PER_PRODUCER; i < 7; i++) expect(t.check(h(9n, 0, i * 2, 2))).toEqual({ kind: 'duplicate', baseOffset: 100 + i * 2, lastOffset: 101 + i * 2 });
    expect(() => t.check(h(9n, 0, 2, 2))).toThrow(/expected sequence 14, got 2/);
    // Same first sequence, different length: not the batch it remembers.
    expect(() => t.check(h(9n, 0, 12, 1))).toThrow(LogError);
  });

  it('computes the last sequence across the int32 wrap', () => {
    expect(lastSequence(10, 4)).toBe(14);
    expect(lastSequence(0x7ffffffe, 3)).toBe(1);
  });

  it('forgets the producer seen least recently beyond its bound, which may then start anywhere', () => {
    const t = new ProducerStateTable(3);
    for (const pid of [1n, 2n, 3n]) t.apply(h(pid, 0, 0), 0);
    t.apply(h(1n, 0, 1), 1); // 1 seen again: 2 is now the oldest
    t.apply(h(4n, 0, 0), 2);
    expect(t.size).toBe(3);
    expect(t.entry(2n)).toBeUndefined();
    expect(t.check(h(2n, 0, 50)).kind).toBe('append');
    expect(() => t.check(h(1n, 0, 5))).toThrow(LogError);
  });
});

describe('PartitionLog producer state', () => {
  it('refuses gaps and stale epochs on the leader, answers resends with their offsets, and writes nothing for either', async () => {
    const log = await openLog(await tempDir());
    expect(await log.appendAsLeader(producerBatch(5n, 0, 0, 3), 1)).toEqual({ baseOffset: 0, lastOffset: 2 });
    expect(await log.appendAsLeader(producerBatch(5n, 0, 3, 2), 1)).toEqual({ baseOffset: 3, lastOffset: 4 });
    expect(await log.appendAsLeader(producerBatch(5n, 0, 0, 3), 1)).toEqual({ baseOffset: 0, lastOffset: 2, duplicate: true });
    expect(await refused(log.appendAsLeader(producerBatch(5n, 0, 9, 1), 1))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(await log.appendAsLeader(producerBatch(5n, 1, 0, 1), 1)).toEqual({ baseOffset: 5, lastOffset: 5 });
    expect(await refused(log.appendAsLeader(producerBatch(5n, 0, 5, 1), 1))).toBe('INVALID_PRODUCER_EPOCH');
    // A batch without a producer id is never checked.
    expect((await log.appendAsLeader(buildBatch([{ key: null, value: Buffer.from('plain'), headers: [], timestamp: 1 }]), 1)).baseOffset).toBe(6);
    expect(log.logEndOffset).toBe(7);
  });

  it.each([
    ['a transactional batch', 0x10],
    ['a control batch', 0x20],
  ])('refuses %s from a client with INVALID_RECORD (no transactions), writing nothing', async (_name, flag) => {
    const log = await openLog(await tempDir());
    const b = producerBatch(12n, 0, 0, 2);
    b.writeInt16BE(b.readInt16BE(21) | flag, 21);
    stampProducer(b, 12n, 0, 0); // recomputes the CRC over the new attributes
    expect(await refused(log.appendAsLeader(b, 1))).toBe('INVALID_RECORD');
    expect(log.logEndOffset).toBe(0);
  });

  it('orders the checks with appends: concurrent resends of one batch append it once', async () => {
    const log = await openLog(await tempDir(), { flush: 'batch' });
    const sends = await Promise.all(Array.from({ length: 6 }, () => log.appendAsLeader(producerBatch(6n, 0, 0, 4), 2)));
    expect(sends.map((s) => s.baseOffset)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(sends.filter((s) => s.duplicate === true)).toHaveLength(5);
    expect(log.logEndOffset).toBe(4);
  });

  it('builds the same state on a follower from the batches it replicates', async () => {
    const leader = await openLog(await tempDir());
    for (let i = 0; i < 4; i++) await leader.appendAsLeader(producerBatch(11n, 0, i * 2, 2), 3);
    const follower = await openLog(await tempDir());
    const { records } = await leader.read(0, 1 << 20, leader.logEndOffset);
    await follower.appendAsFollower(Buffer.from(records));
    expect(follower.producers.list()).toEqual(leader.producers.list());
    expect(await follower.appendAsLeader(producerBatch(11n, 0, 4, 2), 4)).toEqual({ baseOffset: 4, lastOffset: 5, duplicate: true });
    expect(await refused(follower.appendAsLeader(producerBatch(11n, 0, 10, 1), 4))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
  });

  it('keeps the state across a clean close (snapshot, nothing replayed) and a crash (log replay)', async () => {
    const dir = await tempDir();
    const first = await openLog(dir, { segmentBytes: 600 });
    for (let i = 0; i < 30; i++) await first.appendAsLeader(producerBatch(BigInt(1 + (i % 3)), 0, Math.floor(i / 3) * 2, 2), 1);
    const before = first.producers.list();
    await first.close();
    expect((await readdir(dir)).filter((n) => n.endsWith('.snapshot'))).toContain(`${String(60).padStart(20, '0')}.snapshot`);
    const reopened = await openLog(dir, { segmentBytes: 600 });
    expect(reopened.producers.list()).toEqual(before);
    expect(await reopened.appendAsLeader(producerBatch(3n, 0, 18, 2), 1)).toMatchObject({ baseOffset: 58, duplicate: true });
    // Crash: appends after the last snapshot, and the log is reopened without a close.
    for (let i = 0; i < 6; i++) await reopened.appendAsLeader(producerBatch(BigInt(1 + (i % 3)), 0, 20 + Math.floor(i / 3) * 2, 2), 1);
    const crashed = await openLog(dir, { segmentBytes: 600 });
    expect(crashed.producers.list()).toEqual(reopened.producers.list());
    expect(await crashed.appendAsLeader(producerBatch(2n, 0, 22, 2), 1)).toMatchObject({ baseOffset: 68, duplicate: true });
  });

  it('ignores a corrupt snapshot and rebuilds from an older one or the log', async () => {
    const dir = await tempDir();
    const log = await openLog(dir, { segmentBytes: 400 });
    for (let i = 0; i < 20; i++) await log.appendAsLeader(producerBatch(21n, 0, i, 1), 1);
    const expected = log.producers.list();
    await log.close();
    const snaps = (await readdir(dir)).filter((n) => n.endsWith('.snapshot')).sort();
    await writeFile(join(dir, snaps.at(-1) as string), 'not a snapshot');
    const reopened = await openLog(dir, { segmentBytes: 400 });
    expect(reopened.producers.list()).toEqual(expected);
  });

  it('rebuilds the state on truncation: a truncated batch may be appended again, a kept one is still a duplicate', async () => {
    const log = await openLog(await tempDir(), { segmentBytes: 300 });
    for (let i = 0; i < 12; i++) await log.appendAsLeader(producerBatch(31n, 0, i, 1), 1);
    await log.truncateTo(4); // a follower's log diverged: offsets 4.. (sequences 4..) are gone
    expect(await log.appendAsLeader(producerBatch(31n, 0, 3, 1), 2)).toMatchObject({ baseOffset: 3, duplicate: true });
    expect(await log.appendAsLeader(producerBatch(31n, 0, 4, 1), 2)).toEqual({ baseOffset: 4, lastOffset: 4 });
    expect(await refused(log.appendAsLeader(producerBatch(31n, 0, 9, 1), 2))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    await log.truncateFullyAndStartAt(100);
    expect(log.producers.size).toBe(0);
    expect((await readdir((log as unknown as { opts: { dir: string } }).opts.dir)).filter((n) => n.endsWith('.snapshot'))).toEqual([]);
  });

  it('holds the state a replay of the whole log gives, under random appends, resends, truncations, rolls and reopens', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('send' as const), pid: fc.integer({ min: 1, max: 3 }), count: fc.integer({ min: 1, max: 3 }), resend: fc.nat({ max: 7 }) }),
            fc.record({ op: fc.constant('bump' as const), pid: fc.integer({ min: 1, max: 3 }) }),
            fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
            fc.record({ op: fc.constant('reopen' as const), clean: fc.boolean() }),
          ),
          { maxLength: 40 },
        ),
        async (ops) => {
          const dir = await tempDir();
          const opts = { segmentBytes: 350 };
          let log = await openLog(dir, opts);
          // What each producer sent, as a client would resend it.
          const sent = new Map<number, { epoch: number; seq: number; count: number }[]>();
          const next = new Map<number, { epoch: number; seq: number }>();
          for (const op of ops) {
            if (op.op === 'send') {
              const history = sent.get(op.pid) ?? [];
              const old = op.resend > 0 ? history.at(-op.resend) : undefined;
              const n = next.get(op.pid) ?? { epoch: 0, seq: 0 };
              const b = old ?? { epoch: n.epoch, seq: n.seq, count: op.count };
              const before = log.logEndOffset;
              try {
                const r = await log.appendAsLeader(producerBatch(BigInt(op.pid), b.epoch, b.seq, b.count), 1);
                if (r.duplicate === true) expect(log.logEndOffset).toBe(before);
                if (old === undefined) {
                  history.push(b);
                  sent.set(op.pid, history);
                  next.set(op.pid, { epoch: n.epoch, seq: n.seq + b.count });
                }
              } catch (err) {
                expect(err).toBeInstanceOf(LogError);
                expect(log.logEndOffset).toBe(before);
              }
            } else if (op.op === 'bump') {
              next.set(op.pid, { epoch: (next.get(op.pid)?.epoch ?? 0) + 1, seq: 0 });
            } else if (op.op === 'truncate') {
              if (log.logEndOffset === 0) continue;
              await log.truncateTo(op.at % log.logEndOffset);
            } else {
              if (op.clean) await log.close();
              log = await openLog(dir, opts);
            }
            expect(log.producers.list()).toEqual((await replayed(log)).list());
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});
