import { Packr } from 'msgpackr';

// KRaft-style metadata records. One raft entry carries one batch of records (everything one
// controller command decided), applied atomically and in order on every node. Each record has
// a numeric type id and a version so the format can evolve; they are plain objects, never
// class instances.

export const RecordType = {
  RegisterBroker: 1,
  FenceBroker: 2,
  UnfenceBroker: 3,
  CreateTopic: 4,
  Partition: 5,
  PartitionChange: 6,
  DeleteTopic: 7,
  ConfigChange: 8,
  ProducerIds: 9,
} as const;

export interface RegisterBrokerRecord {
  readonly type: typeof RecordType.RegisterBroker;
  readonly v: 1;
  readonly brokerId: number;
  /** Random per process start: a restarted broker is a new incarnation (KRaft's incarnationId). */
  readonly incarnationId: string;
  readonly host: string;
  readonly httpPort: number;
  readonly rpcPort: number;
  /** The Kafka listener's port, advertised in Metadata; absent when the node has none (and in records written before it existed). */
  readonly kafkaPort?: number;
}

export interface FenceBrokerRecord {
  readonly type: typeof RecordType.FenceBroker;
  readonly v: 1;
  readonly brokerId: number;
}

export interface UnfenceBrokerRecord {
  readonly type: typeof RecordType.UnfenceBroker;
  readonly v: 1;
  readonly brokerId: number;
}

export interface CreateTopicRecord {
  readonly type: typeof RecordType.CreateTopic;
  readonly v: 1;
  readonly name: string;
  readonly topicId: string;
  /** Only the configs set explicitly on the topic; defaults come from cluster.yaml. */
  readonly configs: Readonly<Record<string, string>>;
}

export interface PartitionRecord {
  readonly type: typeof RecordType.Partition;
  readonly v: 1;
  readonly topicId: string;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** -1 when no replica can lead (offline). */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

/** A change of ISR and/or leader. Applying it bumps partitionEpoch, and leaderEpoch if the leader changes. */
export interface PartitionChangeRecord {
  readonly type: typeof RecordType.PartitionChange;
  readonly v: 1;
  readonly topicId: string;
  readonly partition: number;
  readonly isr?: readonly number[];
  readonly leader?: number;
}

export interface DeleteTopicRecord {
  readonly type: typeof RecordType.DeleteTopic;
  readonly v: 1;
  readonly topicId: string;
}

/** Sets (value) or removes (value null) one topic config. */
export interface ConfigChangeRecord {
  readonly type: typeof RecordType.ConfigChange;
  readonly v: 1;
  readonly topicId: string;
  readonly name: string;
  readonly value: string | null;
}

/**
 * A block of producer ids handed to a broker (Kafka's ProducerIdsRecord): the block is
 * [previous nextProducerId, nextProducerId), and nextProducerId is the first id no broker has
 * been given yet. Ids are never handed out twice, across restarts and controller changes,
 * because the allocation is this replayed record and not controller memory.
 */
export interface ProducerIdsRecord {
  readonly type: typeof RecordType.ProducerIds;
  readonly v: 1;
  readonly brokerId: number;
  /** The broker's registration the block went to (KRaft's broker epoch). */
  readonly incarnationId: string;
  /** A safe integer: 2^53 ids are far more than a cluster hands out. */
  readonly nextProducerId: number;
}

export type MetadataRecord =
  | RegisterBrokerRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | CreateTopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | DeleteTopicRecord
  | ConfigChangeRecord
  | ProducerIdsRecord;

// Records only (no structured-clone extensions): plain maps and arrays round-trip exactly.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeRecords(records: readonly MetadataRecord[]): Uint8Array {
  return packr.pack(records);
}

const KNOWN_TYPES = new Set<number>(Object.values(RecordType));

export function decodeRecords(data: Uint8Array): MetadataRecord[] {
  const value: unknown = packr.unpack(data);
  if (!Array.isArray(value)) throw new Error('metadata entry is not a record batch');
  for (const r of value as unknown[]) {
    const t = (r as { type?: unknown } | null)?.type;
    if (typeof t !== 'number' || !KNOWN_TYPES.has(t)) throw new Error(`unknown metadata record type ${String(t)}`);
  }
  return value as MetadataRecord[];
}
