// Which segments retention deletes, and which segment holds an offset: pure functions over
// the segment list (oldest first, contiguous, never empty).

import type { Segment } from './segment.ts';

/**
 * How many of the oldest segments retention deletes (Kafka's deletableSegments, time and size
 * passes combined): oldest first, while a segment is past `retentionMs` by its newest
 * timestamp or the log without it is still at least `retentionBytes`; -1 disables either
 * limit. Stops at the active (last) segment and at the first segment holding offsets at or
 * above the high watermark.
 */
export function retainedFrom(
  segments: readonly Pick<Segment, 'size' | 'nextOffset' | 'maxTimestamp'>[],
  highWatermark: number,
  nowMs: number,
  limits: { readonly retentionMs: number; readonly retentionBytes: number },
): number {
  let total = 0;
  for (const s of segments) total += s.size;
  let n = 0;
  while (n < segments.length - 1) {
    const s = segments[n] as Pick<Segment, 'size' | 'nextOffset' | 'maxTimestamp'>;
    if (s.nextOffset > highWatermark) break;
    const expired = limits.retentionMs >= 0 && nowMs - s.maxTimestamp > limits.retentionMs;
    const oversize = limits.retentionBytes >= 0 && total - s.size >= limits.retentionBytes;
    if (!expired && !oversize) break;
    total -= s.size;
    n++;
  }
  return n;
}

/** Index of the last segment whose base offset is <= `offset` (binary search). */
export function floorSegment(segs: readonly Pick<Segment, 'baseOffset'>[], offset: number): number {
  let lo = 0;
  let hi = segs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((segs[mid] as Pick<Segment, 'baseOffset'>).baseOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
