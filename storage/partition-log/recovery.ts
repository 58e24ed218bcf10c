// Opening a log directory: find the segments, recover them, drop what cannot be trusted.

import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PartitionLogLogger } from './log-options.ts';
import { Segment } from './segment.ts';

const SEGMENT_FILE = /^(\d{20})\.(log|index|timeindex)$/;

/**
 * The segments of `dir`, recovered, oldest first (possibly none). The last (active) segment is
 * scanned in full and cut at the first torn, CRC-failing or non-contiguous batch. An older
 * segment keeps its index files if they are well formed and the batches after its last entry check
 * out; otherwise it is recovered like the active one, and a cut in it drops every later segment
 * (the replica re-fetches them). A segment that does not continue its predecessor is dropped
 * with all later ones. Leftover `.tmp` files and orphan indexes are removed. An older segment
 * whose indexes were rebuilt gets them written back, so the next open trusts them: this is
 * also how a data dir from before time indexes gets one per segment, once.
 */
export async function recoverSegments(dir: string, interval: number, log: PartitionLogLogger): Promise<Segment[]> {
    const names = await readdir(dir);
    const bases: number[] = [];
    for (const name of names) {
      const m = SEGMENT_FILE.exec(name);
      if (name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
      else if (m?.[2] === 'log') bases.push(Number(m[1]));
    }
    bases.sort((a, b) => a - b);
    for (const name of names) {
      const m = SEGMENT_FILE.exec(name);
      if ((m?.[2] === 'index' || m?.[2] === 'timeindex') && !bases.includes(Number(m[1]))) await rm(join(dir, name), { force: true });
    }
    const segments: Segment[] = [];
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i] as number;
      const prev = segments.at(-1);
      if (prev !== undefined && prev.nextOffset !== base) {
        log.warn({ dir, segment: base, expected: prev.nextOffset }, 'segment does not continue the log; dropping it and later segments');
        await removeSegmentFiles(dir, bases.slice(i));
        break;
      }
      const seg = await Segment.open(dir, base, interval);
      segments.push(seg);
      const isLast = i === bases.length - 1;
      if (!isLast && (await seg.loadIndex())) continue;
      const r = await seg.recover();
      if (r.problem !== undefined) {
        log.warn({ dir, segment: base, droppedBytes: r.droppedBytes, logEndOffset: r.nextOffset, problem: r.problem }, 'truncated a torn or corrupt segment tail');
        if (!isLast) {
          log.warn({ dir, segments: bases.slice(i + 1) }, 'dropping segments after a corrupt one');
          await removeSegmentFiles(dir, bases.slice(i + 1));
          break;
        }
      }
      if (!isLast) {
        seg.markInactive();
        await seg.writeIndex(true);
      }
    }
    return segments;
}

async function removeSegmentFiles(dir: string, bases: readonly number[]): Promise<void> {
  for (const base of bases) {
    const stem = String(base).padStart(20, '0');
    await rm(join(dir, `${stem}.log`), { force: true });
    await rm(join(dir, `${stem}.index`), { force: true });
    await rm(join(dir, `${stem}.timeindex`), { force: true });
  }
}
