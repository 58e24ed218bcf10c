import { batches, decodeRecords } from '../../storage/record-batch.ts';
import type { GroupRecord } from './classic-group.ts';

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

/** A group's membership as of its last completed rebalance (Kafka's GroupMetadataValue); members' bytes as base64. */
interface GroupRecordValue {
  readonly v: 2;
  readonly kind: 'group';
  readonly group: string;
  readonly record: GroupRecord;
}

/** A deleted group (DeleteGroups) or one deleted committed offset (OffsetDelete): Kafka writes tombstones. */
interface DeletionValue {
  readonly v: 2;
  readonly kind: 'deleteGroup' | 'deleteOffset';
  readonly group: string;
  readonly topic?: string;
  readonly partition?: number;
}

/** One entry of the offsets topic, decoded. */
export type OffsetsTopicEntry =
  | { readonly kind: 'commit'; readonly commit: OffsetCommitRecord }
  | { readonly kind: 'group'; readonly group: string; readonly record: GroupRecord }
  | { readonly kind: 'deleteGroup'; readonly group: string }
  | { readonly kind: 'deleteOffset'; readonly group: string; readonly topic: string; readonly partition: number };

export function encodeGroupRecord(group: string, record: GroupRecord): { key: Buffer; value: Buffer } {
  const b64 = (x: Uint8Array): string => Buffer.from(x).toString('base64');
  const members = record.members.map((m) => ({ ...m, subscription: b64(m.subscription), assignment: b64(m.assignment), protocols: m.protocols?.map((p) => ({ name: p.name, metadata: b64(p.metadata) })) }));
  return { key: Buffer.from(`${group}\u0000`), value: Buffer.from(JSON.stringify({ v: 2, kind: 'group', group, record: { ...record, members } })) };
}

export function encodeGroupDeletion(group: string): { key: Buffer; value: Buffer } {
  const v: DeletionValue = { v: 2, kind: 'deleteGroup', group };
  return { key: Buffer.from(`${group}\u0000`), value: Buffer.from(JSON.stringify(v)) };
}

export function encodeOffsetDeletion(group: string, topic: string, partition: number): { key: Buffer; value: Buffer } {
  const v: DeletionValue = { v: 2, kind: 'deleteOffset', group, topic, partition };
  return { key: Buffer.from(`${group}\u0000${topic}\u0000${partition}`), value: Buffer.from(JSON.stringify(v)) };
}

/** Every entry in a run of batches read from the offsets topic, in log order; unknown or malformed values are skipped. */
export function decodeOffsetsTopic(buf: Buffer): OffsetsTopicEntry[] {
  const out: OffsetsTopicEntry[] = [];
  for (const { at } of batches(buf)) {
    for (const rec of decodeRecords(buf, at)) {
      if (rec.value === null) continue;
      const entry = decodeEntry(JSON.parse(rec.value.toString('utf8')) as Record<string, unknown>);
      if (entry !== undefined) out.push(entry);
    }
  }
  return out;
}

function decodeEntry(v: Record<string, unknown>): OffsetsTopicEntry | undefined {
  const group = v['group'];
  if (typeof group !== 'string') return undefined;
  if (v['v'] === 1) {
    const { topic, partition, offset, metadata } = v;
    if (typeof topic !== 'string' || typeof partition !== 'number' || typeof offset !== 'number') return undefined;
    return { kind: 'commit', commit: { v: 1, group, topic, partition, offset, metadata: typeof metadata === 'string' ? metadata : '' } };
  }
  if (v['v'] !== 2) return undefined;
  switch (v['kind']) {
    case 'group': {
      type Stored = Omit<GroupRecord['members'][number], 'subscription' | 'assignment' | 'protocols'> & { subscription: string; assignment: string; protocols?: { name: string; metadata: string }[] };
      const r = (v as unknown as GroupRecordValue).record as unknown as Omit<GroupRecord, 'members'> & { members: Stored[] };
      const bytes = (x: string): Buffer => Buffer.from(x, 'base64');
      const members = r.members.map(({ protocols, ...m }) => ({
        ...m,
        subscription: bytes(m.subscription),
        assignment: bytes(m.assignment),
        ...(protocols === undefined ? {} : { protocols: protocols.map((p) => ({ name: p.name, metadata: bytes(p.metadata) })) }),
      }));
      return { kind: 'group', group, record: { ...r, members } };
    }
    case 'deleteGroup':
      return { kind: 'deleteGroup', group };
    case 'deleteOffset': {
      const { topic, partition } = v;
      return typeof topic === 'string' && typeof partition === 'number' ? { kind: 'deleteOffset', group, topic, partition } : undefined;
    }
    default:
      return undefined;
  }
}
