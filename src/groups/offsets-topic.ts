import { batches, decodeRecords } from '../../storage/record-batch.ts';

/** The internal topic holding committed offsets (Kafka's __consumer_offsets). */
export const OFFSETS_TOPIC = '__consumer_offsets';

/** Topics whose name starts with "__" are internal: hidden from listings unless asked for. */
export const isInternalTopic = (name: string): boolean => name.startsWith('__');

/** Java's String.hashCode, as Kafka hashes group ids. */
function javaHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's partitionFor(groupId): Utils.abs(groupId.hashCode()) % numPartitions. */
export function offsetsPartitionFor(groupId: string, numPartitions: number): number {
  const h = javaHashCode(groupId);
  const abs = h === -2147483648 ? 0 : Math.abs(h);
  return abs % numPartitions;
}

/** One committed offset, as stored in the offsets topic (the record value, JSON, versioned). */
export interface OffsetCommitRecord {
  readonly v: 1;
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read (Kafka's committed offset). */
  readonly offset: number;
  readonly metadata: string;
}

export function encodeOffsetCommit(r: OffsetCommitRecord): { key: Buffer; value: Buffer } {
  return { key: Buffer.from(`${r.group}\u0000${r.topic}\u0000${r.partition}`), value: Buffer.from(JSON.stringify(r)) };
}

/** Every offset commit in a run of batches read from the offsets topic, in log order. */
export function decodeOffsetCommits(buf: Buffer): { offset: number; commit: OffsetCommitRecord }[] {
  const out: { offset: number; commit: OffsetCommitRecord }[] = [];
  for (const { at } of batches(buf)) {
    for (const rec of decodeRecords(buf, at)) {
      if (rec.value === null) continue;
      const v = JSON.parse(rec.value.toString('utf8')) as Partial<OffsetCommitRecord>;
      if (v.v === 1 && typeof v.group === 'string' && typeof v.topic === 'string' && typeof v.partition === 'number' && typeof v.offset === 'number') {
        out.push({ offset: rec.offset, commit: { v: 1, group: v.group, topic: v.topic, partition: v.partition, offset: v.offset, metadata: v.metadata ?? '' } });
      }
    }
  }
  return out;
}
