// Producer state snapshots, Kafka's `<offset>.snapshot` files: the producer table as it stood
// with every batch below `offset` applied. Cut when a segment rolls and when the log closes;
// a reopened or truncated log loads the newest one at or below where it ends and replays the
// batches after it, so rebuilding costs at most the active segment (nothing after a clean
// close). Each file is a CRC32C followed by a msgpack body; one that fails its check is
// ignored (and removed), which only means replaying from an older one.

import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { crc32c } from '../crc32c.ts';
import { writeFileAtomic } from './checkpoint-file.ts';
import type { ProducerBatch, ProducerEntry } from './producer-state.ts';

const SNAPSHOT_FILE = /^(\d{20})\.snapshot$/;
const SNAPSHOT_VERSION = 1;
/** Snapshots kept: the newest few are enough to rebuild after a truncation of the active segment. */
const SNAPSHOTS_KEPT = 3;
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

type WireBatch = [firstSeq: number, lastSeq: number, baseOffset: number, lastOffset: number];
type WireEntry = [producerId: string, epoch: number, batches: WireBatch[]];

export function snapshotFileName(offset: number): string {
  return `${String(offset).padStart(20, '0')}.snapshot`;
}

/** The snapshot offsets present in `dir`, ascending. */
export async function snapshotOffsets(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir(dir)) {
    const m = SNAPSHOT_FILE.exec(name);
    if (m !== null) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

export async function writeSnapshot(dir: string, offset: number, entries: readonly ProducerEntry[], sync: boolean): Promise<void> {
  const wire: WireEntry[] = entries.map((e) => [String(e.producerId), e.epoch, e.batches.map((b): WireBatch => [b.firstSeq, b.lastSeq, b.baseOffset, b.lastOffset])]);
  const body = packr.pack({ v: SNAPSHOT_VERSION, offset, entries: wire });
  const file = Buffer.allocUnsafe(4 + body.length);
  file.writeUInt32BE(crc32c(body), 0);
  body.copy(file, 4);
  await writeFileAtomic(join(dir, snapshotFileName(offset)), file, sync);
}

/** The entries of one snapshot, or undefined when it is torn, corrupt or of an unknown version. */
export async function readSnapshot(dir: string, offset: number): Promise<ProducerEntry[] | undefined> {
  let file: Buffer;
  try {
    file = await readFile(join(dir, snapshotFileName(offset)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (file.length < 4 || file.readUInt32BE(0) !== crc32c(file, 4)) return undefined;
  let body: unknown;
  try {
    body = packr.unpack(file.subarray(4));
  } catch {
    return undefined;
  }
  const b = body as { v?: unknown; offset?: unknown; entries?: unknown } | null;
  if (b?.v !== SNAPSHOT_VERSION || b.offset !== offset || !Array.isArray(b.entries)) return undefined;
  return (b.entries as WireEntry[]).map(([producerId, epoch, batches]) => ({
    producerId: BigInt(producerId),
    epoch,
    batches: batches.map(([firstSeq, lastSeq, baseOffset, lastOffset]): ProducerBatch => ({ firstSeq, lastSeq, baseOffset, lastOffset })),
  }));
}

/**
 * The newest readable snapshot at or below `maxOffset`, removing every snapshot above it
 * (they describe batches the log no longer holds) and any unreadable one on the way.
 */
export async function loadLatestSnapshot(dir: string, maxOffset: number): Promise<{ offset: number; entries: ProducerEntry[] } | undefined> {
  const offsets = await snapshotOffsets(dir);
  for (const o of offsets.filter((x) => x > maxOffset)) await rm(join(dir, snapshotFileName(o)), { force: true });
  for (const o of offsets.filter((x) => x <= maxOffset).reverse()) {
    const entries = await readSnapshot(dir, o);
    if (entries !== undefined) return { offset: o, entries };
    await rm(join(dir, snapshotFileName(o)), { force: true });
  }
  return undefined;
}

/** Keeps the newest SNAPSHOTS_KEPT snapshots and none below `logStartOffset` except the newest. */
export async function pruneSnapshots(dir: string, logStartOffset: number): Promise<void> {
  const offsets = await snapshotOffsets(dir);
  const newest = offsets.at(-1);
  for (const [i, o] of offsets.entries()) {
    const old = i < offsets.length - SNAPSHOTS_KEPT || o < logStartOffset;
    if (old && o !== newest) await rm(join(dir, snapshotFileName(o)), { force: true });
  }
}

export async function removeAllSnapshots(dir: string): Promise<void> {
  for (const o of await snapshotOffsets(dir)) await rm(join(dir, snapshotFileName(o)), { force: true });
}
