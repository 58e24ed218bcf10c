import type { MetadataImage } from '../metadata/image.ts';
import type { MetadataRecord } from '../metadata/records.ts';
import { RecordType } from '../metadata/records.ts';
import type { IsrChangeKind } from './node-metrics.ts';

/**
 * Counts ISR shrinks and expansions from the metadata records as this node applies them
 * (a MetadataMachine listener). Every node applies every PartitionChange; only the node that
 * leads the partition after the change counts it, so each change is counted exactly once in
 * the cluster and the sum over nodes is the cluster's total (Kafka's IsrShrinksPerSec and
 * IsrExpandsPerSec are also the leader's). It sees both sources of ISR changes: a leader's
 * AlterPartition and the controller fencing a silent broker. A change that both removes and
 * adds replicas counts as one of each.
 */
export class IsrChangeCounter {
  /** "topicId:partition" -> the ISR as last applied. Bounded by the partitions in the image. */
  private readonly isrs = new Map<string, readonly number[]>();

  constructor(
    private readonly selfId: number,
    image: MetadataImage,
    private readonly count: (kind: IsrChangeKind) => void,
  ) {
    this.reset(image);
  }

  /** Forget everything and take every ISR from `image` (at start and after a snapshot restore). */
  reset(image: MetadataImage): void {
    this.isrs.clear();
    for (const t of image.allTopics()) for (const p of t.partitions) this.isrs.set(key(t.id, p.partition), p.isr);
  }

  /** ImageListener: `records` were just applied to `image` (none: a snapshot replaced it). */
  onMetadata(image: MetadataImage, records: readonly MetadataRecord[]): void {
    if (records.length === 0) {
      this.reset(image);
      return;
    }
    for (const r of records) {
      switch (r.type) {
        case RecordType.Partition:
          this.isrs.set(key(r.topicId, r.partition), r.isr);
          break;
        case RecordType.PartitionChange: {
          const after = r.isr;
          if (after === undefined) break;
          const k = key(r.topicId, r.partition);
          const before = this.isrs.get(k);
          this.isrs.set(k, after);
          if (before === undefined || image.topicById(r.topicId)?.partitions[r.partition]?.leader !== this.selfId) break;
          if (before.some((b) => !after.includes(b))) this.count('shrink');
          if (after.some((b) => !before.includes(b))) this.count('expand');
          break;
        }
        case RecordType.DeleteTopic:
          for (const k of [...this.isrs.keys()]) if (k.startsWith(`${r.topicId}:`)) this.isrs.delete(k);
          break;
        case RecordType.RegisterBroker:
        case RecordType.FenceBroker:
        case RecordType.UnfenceBroker:
        case RecordType.CreateTopic:
        case RecordType.ConfigChange:
        case RecordType.ProducerIds:
          // No default: the switch-exhaustiveness lint names a new record type here, and a
          // metrics listener never throws into the apply path.
          break;
      }
    }
  }
}

function key(topicId: string, partition: number): string {
  return `${topicId}:${partition}`;
}
