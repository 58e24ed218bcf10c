// Kafka's default partitioner, bit-exact, so that a keyed record lands on the same partition
// whether a Java client or runnel picks it (API.md, Produce: "by the key's murmur2 hash (as
// Kafka's default partitioner), else round-robin").

const MURMUR2_SEED = 0x9747b28c;
const MURMUR2_M = 0x5bd1e995;
const MURMUR2_R = 24;

/**
 * org.apache.kafka.common.utils.Utils.murmur2: 32-bit MurmurHash2 over little-endian 4-byte
 * chunks. Returns a signed 32-bit int, as Java's `int` would be.
 */
export function murmur2(key: Uint8Array): number {
  const length = key.length;
  let h = (MURMUR2_SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    // Indices are < length by construction; `?? 0` only satisfies noUncheckedIndexedAccess.
    let k = (key[i4] ?? 0) | ((key[i4 + 1] ?? 0) << 8) | ((key[i4 + 2] ?? 0) << 16) | ((key[i4 + 3] ?? 0) << 24);
    k = Math.imul(k, MURMUR2_M);
    k ^= k >>> MURMUR2_R;
    k = Math.imul(k, MURMUR2_M);
    h = Math.imul(h, MURMUR2_M);
    h ^= k;
  }
  // Java's tail is a fall-through `switch (length % 4) { case 3: ... case 2: ... case 1: ...; h *= m; }`.
  // tsconfig forbids fall-through cases, so the same cascade is spelled as nested thresholds.
  const tail = length & ~3;
  const rest = length & 3;
  if (rest >= 3) h ^= (key[tail + 2] ?? 0) << 16;
  if (rest >= 2) h ^= (key[tail + 1] ?? 0) << 8;
  if (rest >= 1) {
    h ^= key[tail] ?? 0;
    h = Math.imul(h, MURMUR2_M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, MURMUR2_M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's Utils.toPositive: drops the sign bit (not Math.abs, which overflows at MIN_VALUE). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** DefaultPartitioner / BuiltInPartitioner.partitionForKey for a non-null key. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  assertPartitionCount(numPartitions);
  return toPositive(murmur2(key)) % numPartitions;
}

/** Topics whose round-robin position is remembered; the least recently used is forgotten first. */
export const ROUND_ROBIN_MAX_TOPICS = 10_000;

/**
 * Spreads keyless records over a topic's partitions in turn (Kafka's RoundRobinPartitioner: a
 * per-topic counter, `toPositive(counter++) % numPartitions`). Topic names come from clients, so
 * the map is bounded (STYLE.md: no unbounded maps keyed by client input); a forgotten topic
 * simply starts again at partition 0, which only costs evenness, never correctness.
 */
export class RoundRobin {
  // Insertion order is recency order: next() re-inserts the topic it touches.
  private readonly counters = new Map<string, number>();

  constructor(private readonly maxTopics: number = ROUND_ROBIN_MAX_TOPICS) {
    if (!Number.isSafeInteger(maxTopics) || maxTopics < 1) throw new Error(`RoundRobin maxTopics must be an integer >= 1, got ${maxTopics}`);
  }

  next(topic: string, numPartitions: number): number {
    assertPartitionCount(numPartitions);
    const counter = this.counters.get(topic) ?? 0;
    this.counters.delete(topic);
    if (this.counters.size >= this.maxTopics) {
      const oldest = this.counters.keys().next();
      if (oldest.done !== true) this.counters.delete(oldest.value);
    }
    // Wraps like Java's int counter; toPositive keeps the result in range after the wrap.
    this.counters.set(topic, (counter + 1) | 0);
    return toPositive(counter) % numPartitions;
  }

  /** Topics currently remembered (for tests and metrics). */
  get size(): number {
    return this.counters.size;
  }
}

function assertPartitionCount(numPartitions: number): void {
  // A topic always has >= 1 partition (the controller refuses less): anything else is a bug.
  if (!Number.isSafeInteger(numPartitions) || numPartitions < 1) throw new Error(`numPartitions must be an integer >= 1, got ${numPartitions}`);
}
