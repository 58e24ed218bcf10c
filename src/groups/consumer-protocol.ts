// Kafka's ConsumerProtocol: the subscription a consumer puts in its JoinGroup protocols and the
// assignment its group leader hands out through SyncGroup. The coordinator treats both as
// opaque bytes; the member side (kafkajs, librdkafka, and the node on behalf of an HTTP
// consumer instance) reads and writes them. Layout: an int16 version, then the struct of the
// vendored spec (ConsumerProtocolSubscription.json / ConsumerProtocolAssignment.json, run by
// the same codec as the Kafka requests).
//
// Reading is lenient as Kafka's ConsumerProtocol is: a version above the newest known one is
// read as the newest (new versions only append fields), and bytes after the known fields are
// ignored. kafkajs writes v0 (version, topics, userData), librdkafka v3 with empty userData.

import { ByteReader } from '../kafka/protocol/byte-reader.ts';
import { ByteWriter } from '../kafka/protocol/byte-writer.ts';
import { MalformedFrameError } from '../kafka/protocol/malformed-frame-error.ts';
import { messageCodec } from '../kafka/protocol/message-codec.ts';
import { loadMessageSpec } from '../kafka/protocol/message-spec.ts';
import type { MessageSpec } from '../kafka/protocol/message-spec.ts';
import { compareStrings, compareTopicPartitions } from './assignor.ts';
import type { TopicPartition } from './assignor.ts';

export interface ConsumerSubscription {
  readonly topics: readonly string[];
  /** The assignor's own data (sticky assignors keep their previous assignment here); null for none. */
  readonly userData: Buffer | null;
  /** v1+: what the member holds now (cooperative rebalancing); empty below. */
  readonly ownedPartitions: readonly TopicPartition[];
  /** v2+: the generation of ownedPartitions; -1 below. */
  readonly generationId: number;
  /** v3+: the member's rack; null below. */
  readonly rackId: string | null;
}

export interface ConsumerAssignment {
  readonly partitions: readonly TopicPartition[];
  readonly userData: Buffer | null;
}

let specs: { subscription: MessageSpec; assignment: MessageSpec } | undefined;
function loadSpecs(): { subscription: MessageSpec; assignment: MessageSpec } {
  specs ??= { subscription: loadMessageSpec('ConsumerProtocolSubscription'), assignment: loadMessageSpec('ConsumerProtocolAssignment') };
  return specs;
}

interface TopicPartitionsValue {
  topic: string;
  partitions: number[];
}

/** Groups partitions by topic, topics and partitions sorted (how every client lists them). */
function byTopic(tps: readonly TopicPartition[]): TopicPartitionsValue[] {
  const out = new Map<string, number[]>();
  for (const tp of [...tps].sort(compareTopicPartitions)) {
    const list = out.get(tp.topic);
    if (list === undefined) out.set(tp.topic, [tp.partition]);
    else if (list.at(-1) !== tp.partition) list.push(tp.partition);
  }
  return [...out].map(([topic, partitions]) => ({ topic, partitions }));
}

function flatten(list: readonly TopicPartitionsValue[]): TopicPartition[] {
  return list.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition })));
}

function encode(spec: MessageSpec, version: number, value: Record<string, unknown>): Buffer {
  const w = new ByteWriter(64);
  w.int16(version);
  messageCodec(spec, version).write(w, value);
  return w.finish();
}

/** Kafka's ConsumerProtocol.checkSubscriptionVersion / checkAssignmentVersion: clamp, refuse negatives. */
function decode(spec: MessageSpec, bytes: Uint8Array, what: string): Record<string, unknown> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new ByteReader(buf);
  const version = r.int16();
  if (version < spec.validVersions.min) throw new MalformedFrameError(`${what}: unsupported version ${version}`);
  return messageCodec(spec, Math.min(version, spec.validVersions.max)).read(r); // trailing bytes ignored
}

/**
 * The subscription at the lowest version that carries every field given: v0 for topics and
 * userData alone, v1 with owned partitions (also an empty list: a cooperative leader needs the
 * field), v2 with a generation, v3 with a rack. userData null is written as empty bytes, as
 * librdkafka does (old brokers and clients cannot read null bytes).
 */
export function encodeSubscription(s: Partial<ConsumerSubscription> & { readonly topics: readonly string[] }): Buffer {
  const owned = s.ownedPartitions ?? [];
  const generationId = s.generationId ?? -1;
  const rackId = s.rackId ?? null;
  const version = rackId !== null ? 3 : generationId !== -1 ? 2 : s.ownedPartitions !== undefined ? 1 : 0;
  return encode(loadSpecs().subscription, version, {
    topics: [...s.topics],
    userData: s.userData ?? Buffer.alloc(0),
    ownedPartitions: byTopic(owned),
    generationId,
    rackId,
  });
}

/** Throws MalformedFrameError when the bytes are not a subscription of any version. */
export function decodeSubscription(bytes: Uint8Array): ConsumerSubscription {
  const v = decode(loadSpecs().subscription, bytes, 'ConsumerProtocolSubscription');
  return {
    topics: v['topics'] as string[],
    userData: v['userData'] as Buffer | null,
    ownedPartitions: flatten(v['ownedPartitions'] as TopicPartitionsValue[]),
    generationId: v['generationId'] as number,
    rackId: v['rackId'] as string | null,
  };
}

/** Version 0 (every version has the same fields); partitions grouped by topic, sorted. */
export function encodeAssignment(a: { readonly partitions: readonly TopicPartition[]; readonly userData?: Buffer | null }): Buffer {
  return encode(loadSpecs().assignment, 0, { assignedPartitions: byTopic(a.partitions), userData: a.userData ?? Buffer.alloc(0) });
}

/**
 * Empty bytes are an empty assignment: the coordinator hands those to a member the leader left
 * out (kafkajs's leader lists only members that get partitions). Throws MalformedFrameError
 * when the bytes are not an assignment of any version.
 */
export function decodeAssignment(bytes: Uint8Array): ConsumerAssignment {
  if (bytes.byteLength === 0) return { partitions: [], userData: null };
  const v = decode(loadSpecs().assignment, bytes, 'ConsumerProtocolAssignment');
  const partitions = flatten(v['assignedPartitions'] as TopicPartitionsValue[]).sort(compareTopicPartitions);
  return { partitions, userData: v['userData'] as Buffer | null };
}

/** Topics sorted and without duplicates: two subscriptions are the same when these are equal. */
export function normaliseTopics(topics: readonly string[]): string[] {
  return [...new Set(topics)].sort(compareStrings);
}
