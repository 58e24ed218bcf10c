import { readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PartitionLog, TimestampOffset } from '../../storage/partition-log/partition-log.ts';
import { buildBatch } from '../../storage/record-batch.ts';
import { tempLogs } from '../support/temp-logs.ts';

/** Small segments and a small index interval, so a few batches make several segments and entries. */
const { tempDir, openLog } = tempLogs('runnel-timeindex', { segmentBytes: 600, indexIntervalBytes: 150 });

/** One batch whose records carry `timestamps`, in that order. */
function batchAt(timestamps: readonly number[]): Buffer {
  return buildBatch(timestamps.map((timestamp, i) => ({ key: null, value: Buffer.from(`v${i}`), headers: [], timestamp })));
}

/** The model's answer: the first record, in offset order, with timestamp >= target. */
function linearScan(model: readonly number[], target: number, start = 0): TimestampOffset | undefined {
  for (let offset = start; offset < model.length; offset++) {
    const timestamp = model[offset] as number;
    if (timestamp >= target) return { offset, timestamp };
  }
  return undefined;
}

async function timeIndexFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.timeindex')).sort();
}

/** The (timestamp, offset) entries of a .timeindex file. */
async function readTimeIndex(path: string): Promise<TimestampOffset[]> {
  const base = Number(path.slice(-30, -10));
  const b = await readFile(path);
  const out: TimestampOffset[] = [];
  for (let at = 0; at + 12 <= b.length; at += 12) out.push({ timestamp: Number(b.readBigInt64BE(at)), offset: base + b.readUInt32BE(at + 8) });
  return out;
}

/** Appends batches of three records with timestamps that jump around; returns every record's timestamp. */
async function fill(log: PartitionLog, batchCount: number): Promise<number[]> {
  const model: number[] = [];
  for (let i = 0; i < batchCount; i++) {
    // Rising overall, but each batch has one record from the past.
    const ts = [1000 + i * 10, 1000 + i * 10 + 5, 990 + i * 10 - (i % 4) * 20];
    await log.appendAsLeader(batchAt(ts), 0);
    model.push(...ts);
  }
  return model;
}

async function expectAnswers(log: PartitionLog, model: readonly number[], start = 0): Promise<void> {
  const targets = new Set<number>([-1, 0, ...model, ...model.map((t) => t + 1), Math.max(...model) + 1]);
  for (const t of targets) expect(await log.offsetForTimestamp(t), `timestamp ${t}`).toEqual(linearScan(model, t, start));
}

describe('PartitionLog time index and offsetForTimestamp', () => {
  it('answers the earliest record with timestamp >= the target, as a linear scan of a model does, through appends, truncations and reopens', async () => {
    type Op = { kind: 'append'; timestamps: number[] } | { kind: 'truncate'; fraction: number } | { kind: 'reopen' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 8, arbitrary: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 5 }).map((timestamps) => ({ kind: 'append' as const, timestamps })) },
      { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((fraction) => ({ kind: 'truncate' as const, fraction })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: -1, max: 62 }), { minLength: 1, maxLength: 8 }), async (ops, targets) => {
        const dir = await tempDir();
        let log = await openLog(dir);
        const model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'append') {
            await log.appendAsLeader(batchAt(o.timestamps), 0);
            model.push(...o.timestamps);
          } else if (o.kind === 'truncate') {
            await log.truncateTo(Math.floor(o.fraction * model.length));
            // Truncation cuts at a batch boundary: the model follows the log end.
            model.length = log.logEndOffset;
          } else {
            await log.close();
            log = await openLog(dir);
          }
          for (const t of targets) expect(await log.offsetForTimestamp(t)).toEqual(linearScan(model, t));
          const max = model.length === 0 ? undefined : Math.max(...model);
          expect(await log.maxTimestampOffset()).toEqual(max === undefined ? undefined : linearScan(model, max));
        }
        await log.close();
      }),
      { numRuns: 40 },
    );
  });

  it('gives each inactive segment a time index whose last entry is its largest timestamp, and answers across segments', async () => {
    const dir = await tempDir();
    const log = await openLog(dir);
    const model = await fill(log, 30);
    expect(log.stats.segments).toBeGreaterThan(3);
    await expectAnswers(log, model);
    await log.close();
    const files = await timeIndexFiles(dir);
    expect(files.length).toBe(log.stats.segments);
    for (const f of files.slice(0, -1)) {
      const entries = await readTimeIndex(join(dir, f));
      expect(entries.length).toBeGreaterThan(0);
      const last = entries.at(-1) as TimestampOffset;
      // Every record of the segment: from its base offset to the next segment's.
      const next = files[files.indexOf(f) + 1] as string;
      const records = model.slice(Number(f.slice(0, 20)), Number(next.slice(0, 20)));
      expect(last.timestamp).toBe(Math.max(...records));
      for (let i = 1; i < entries.length; i++) expect((entries[i] as TimestampOffset).timestamp).toBeGreaterThan((entries[i - 1] as TimestampOffset).timestamp);
    }
  });

  it('rebuilds and writes back deleted time indexes on open (a data dir from before time indexes)', async () => {
    const dir = await tempDir();
    let log = await openLog(dir);
    const model = await fill(log, 30);
    await log.close();
    const before = await timeIndexFiles(dir);
    const older = before.slice(0, -1);
    const saved = await Promise.all(older.map((f) => readFile(join(dir, f))));
    for (const f of before) await rm(join(dir, f));
    log = await openLog(dir);
    await expectAnswers(log, model);
    // Older segments got theirs back at open, byte for byte, so the next open trusts them.
    const now = await timeIndexFiles(dir);
    expect(now).toEqual(older);
    for (const [i, f] of older.entries()) expect((await readFile(join(dir, f))).equals(saved[i] as Buffer)).toBe(true);
  });

  it('rebuilds a torn or stale time index on open', async () => {
    const dir = await tempDir();
    let log = await openLog(dir);
    const model = await fill(log, 30);
    await log.close();
    const [first, second] = await timeIndexFiles(dir);
    if (first === undefined || second === undefined) throw new Error('expected several segments');
    const good = await readFile(join(dir, first));
    // Torn: a write cut mid-entry.
    await truncate(join(dir, first), good.length - 5);
    // Stale: well formed, but missing the entries that hold the segment's largest timestamps.
    await writeFile(join(dir, second), Buffer.alloc(0));
    log = await openLog(dir);
    await expectAnswers(log, model);
    expect((await readFile(join(dir, first))).equals(good)).toBe(true);
    expect((await stat(join(dir, second))).size).toBeGreaterThan(0);
  });

  it('drops time index entries at and above a truncation point', async () => {
    const dir = await tempDir();
    const log = await openLog(dir);
    const model = await fill(log, 30);
    const cut = Math.floor(model.length / 2);
    await log.truncateTo(cut);
    const kept = model.slice(0, log.logEndOffset);
    await expectAnswers(log, kept);
    // Timestamps only the dropped records had now find nothing.
    expect(await log.offsetForTimestamp(Math.max(...kept) + 1)).toBeUndefined();
    await log.close();
    for (const f of await timeIndexFiles(dir)) {
      for (const e of await readTimeIndex(join(dir, f))) expect(e.offset).toBeLessThan(log.logEndOffset);
    }
  });

  it('forgets the time indexes of segments retention deleted and answers from the log start', async () => {
    const dir = await tempDir();
    const log = await openLog(dir, { retentionBytes: 1500 });
    const model = await fill(log, 30);
    log.setHighWatermark(log.logEndOffset);
    expect(await log.applyRetention(Date.now())).toBeGreaterThan(0);
    const start = log.logStartOffset;
    expect(start).toBeGreaterThan(0);
    const files = await timeIndexFiles(dir);
    expect(files.map((f) => Number(f.slice(0, 20))).every((base) => base >= start)).toBe(true);
    // A timestamp older than everything left answers the first record left.
    expect(await log.offsetForTimestamp(0)).toEqual({ offset: start, timestamp: model[start] });
    await expectAnswers(log, model, start);
  });
});
