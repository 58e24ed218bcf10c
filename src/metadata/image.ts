import { Packr } from 'msgpackr';
import type { MetadataRecord } from './records.ts';
import { RecordType } from './records.ts';

export interface BrokerState {
  readonly id: number;
  readonly incarnationId: string;
  readonly host: string;
  readonly httpPort: number;
  readonly rpcPort: number;
  /** Where Kafka clients reach it (Metadata, DescribeCluster); absent: no Kafka listener. */
  readonly kafkaPort?: number;
  readonly fenced: boolean;
}

export interface PartitionState {
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** -1: offline, no leader. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

export interface TopicState {
  readonly id: string;
  readonly name: string;
  readonly configs: Readonly<Record<string, string>>;
  readonly partitions: readonly PartitionState[];
}

export const NO_LEADER = -1;

interface ImageData {
  readonly brokers: BrokerState[];
  readonly topics: TopicState[];
  /** Absent in checkpoints written before producer ids existed: none handed out yet. */
  readonly nextProducerId?: number;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/**
 * The cluster metadata as of some raft index: a pure function of the records applied, in
 * order (KRaft's MetadataImage). Leader and standbys run the same replay(), so every node's
 * image is identical at the same index. The objects it hands out are never mutated: replay
 * replaces them.
 */
export class MetadataImage {
  private readonly brokers = new Map<number, BrokerState>();
  private readonly topicsById = new Map<string, TopicState>();
  private readonly topicIdByName = new Map<string, string>();
  /** The first producer id no broker has been given. Invariant: only grows. */
  private nextFreeProducerId = 0;

  broker(id: number): BrokerState | undefined {
    return this.brokers.get(id);
  }

  allBrokers(): BrokerState[] {
    return [...this.brokers.values()].sort((a, b) => a.id - b.id);
  }

  topic(name: string): TopicState | undefined {
    const id = this.topicIdByName.get(name);
    return id === undefined ? undefined : this.topicsById.get(id);
  }

  topicById(id: string): TopicState | undefined {
    return this.topicsById.get(id);
  }

  /** How many partitions `brokerId` leads. */
  leaderships(brokerId: number): number {
    let n = 0;
    for (const t of this.topicsById.values()) for (const p of t.partitions) if (p.leader === brokerId) n++;
    return n;
  }

  /** The first producer id of the next block the controller hands out. */
  nextProducerId(): number {
    return this.nextFreeProducerId;
  }

  allTopics(): TopicState[] {
    return [...this.topicsById.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  replay(r: MetadataRecord): void {
    switch (r.type) {
      case RecordType.RegisterBroker:
        // A (re-)registration starts fenced: the controller unfences it once it heartbeats.
        this.brokers.set(r.brokerId, {
          id: r.brokerId,
          incarnationId: r.incarnationId,
          host: r.host,
          httpPort: r.httpPort,
          rpcPort: r.rpcPort,
          ...(r.kafkaPort === undefined ? {} : { kafkaPort: r.kafkaPort }),
          fenced: true,
        });
        return;
      case RecordType.FenceBroker:
      case RecordType.UnfenceBroker: {
        const b = this.brokers.get(r.brokerId);
        if (b === undefined) throw new Error(`metadata: fence change for unknown broker ${r.brokerId}`);
        this.brokers.set(r.brokerId, { ...b, fenced: r.type === RecordType.FenceBroker });
        return;
      }
      case RecordType.CreateTopic:
        if (this.topicIdByName.has(r.name)) throw new Error(`metadata: topic ${r.name} already exists`);
        this.topicsById.set(r.topicId, { id: r.topicId, name: r.name, configs: { ...r.configs }, partitions: [] });
        this.topicIdByName.set(r.name, r.topicId);
        return;
      case RecordType.Partition: {
        const t = this.requireTopic(r.topicId);
        const p: PartitionState = {
          partition: r.partition,
          replicas: [...r.replicas],
          isr: [...r.isr],
          leader: r.leader,
          leaderEpoch: r.leaderEpoch,
          partitionEpoch: r.partitionEpoch,
        };
        const partitions = [...t.partitions];
        partitions[r.partition] = p;
        this.topicsById.set(t.id, { ...t, partitions });
        return;
      }
      case RecordType.PartitionChange: {
        const t = this.requireTopic(r.topicId);
        const old = t.partitions[r.partition];
        if (old === undefined) throw new Error(`metadata: change for unknown partition ${t.name}-${r.partition}`);
        const leaderChanged = r.leader !== undefined && r.leader !== old.leader;
        const p: PartitionState = {
          ...old,
          isr: r.isr !== undefined ? [...r.isr] : old.isr,
          leader: r.leader ?? old.leader,
          leaderEpoch: leaderChanged ? old.leaderEpoch + 1 : old.leaderEpoch,
          partitionEpoch: old.partitionEpoch + 1,
        };
        const partitions = [...t.partitions];
        partitions[r.partition] = p;
        this.topicsById.set(t.id, { ...t, partitions });
        return;
      }
      case RecordType.DeleteTopic: {
        const t = this.requireTopic(r.topicId);
        this.topicsById.delete(t.id);
        this.topicIdByName.delete(t.name);
        return;
      }
      case RecordType.ConfigChange: {
        const t = this.requireTopic(r.topicId);
        const configs = { ...t.configs };
        if (r.value === null) delete configs[r.name];
        else configs[r.name] = r.value;
        this.topicsById.set(t.id, { ...t, configs });
        return;
      }
      case RecordType.ProducerIds:
        // Kafka's ProducerIdControlManager.replay: a block never starts below the last one's end.
        if (r.nextProducerId <= this.nextFreeProducerId) {
          throw new Error(`metadata: producer ids go back from ${this.nextFreeProducerId} to ${r.nextProducerId}`);
        }
        this.nextFreeProducerId = r.nextProducerId;
        return;
      default: {
        const never: never = r;
        throw new Error(`metadata: unknown record ${JSON.stringify(never)}`);
      }
    }
  }

  private requireTopic(id: string): TopicState {
    const t = this.topicsById.get(id);
    if (t === undefined) throw new Error(`metadata: unknown topic id ${id}`);
    return t;
  }

  /** The whole image as bytes (raft snapshot data and the LevelDB checkpoint). */
  encode(): Uint8Array {
    const topics = [...this.topicsById.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const data: ImageData = { brokers: this.allBrokers(), topics, nextProducerId: this.nextFreeProducerId };
    return packr.pack(data);
  }

  static decode(bytes: Uint8Array): MetadataImage {
    const img = new MetadataImage();
    if (bytes.length === 0) return img;
    const data = packr.unpack(bytes) as ImageData;
    for (const b of data.brokers) img.brokers.set(b.id, b);
    for (const t of data.topics) {
      img.topicsById.set(t.id, t);
      img.topicIdByName.set(t.name, t.id);
    }
    img.nextFreeProducerId = data.nextProducerId ?? 0;
    return img;
  }
}
