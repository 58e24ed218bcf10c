// Partition assignment for consumer groups: Kafka's RangeAssignor and RoundRobinAssignor, plus a
// sticky pass (a StickyAssignor-lite) used when the previous assignment is known.
//
// Pure and deterministic: the same input always gives the same output, whatever the order of
// `members` or of the maps' insertion.

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export type AssignmentStrategy = 'range' | 'roundrobin';

export interface AssignorMember {
  readonly memberId: string;
  readonly topics: readonly string[];
}

/** Java String.compareTo order (UTF-16 code units), which Kafka's assignors sort with. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  return compareStrings(a.topic, b.topic) || a.partition - b.partition;
}

/** A map key for a topic-partition; NUL cannot occur in a topic name. */
export function tpKey(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

/**
 * Assigns every partition of every subscribed topic to exactly one member subscribed to its
 * topic; members beyond the partition count get nothing. The answer has an entry (possibly
 * empty) for every member, each list sorted by topic then partition.
 *
 * Without `previous` the answer is exactly Kafka's:
 * - 'range' (RangeAssignor): per topic, the members subscribed to it sorted by memberId split
 *   its partitions into contiguous ranges, the first `partitions % members` getting one extra.
 * - 'roundrobin' (RoundRobinAssignor): all subscribed topic-partitions sorted, dealt one at a
 *   time over the members sorted by memberId, skipping a member not subscribed to the topic.
 *
 * With `previous` (both strategies) the answer is sticky and balanced instead: each member
 * keeps the partitions it had, as far as its share allows (every member gets floor(P/n) or
 * ceil(P/n) of the P partitions, n = members with something to read); the rest go first to the
 * member the plain strategy would pick, if it has room, else to the least-loaded subscribed
 * member. With mixed subscriptions a share may be impossible to honour; then a partition goes
 * to its least-loaded subscriber and members with the same subscription are evened out to
 * within one partition of each other. See `stickyAssign` for the steps.
 */
export function assign(
  strategy: AssignmentStrategy,
  members: readonly AssignorMember[],
  partitionCounts: ReadonlyMap<string, number>,
  previous?: ReadonlyMap<string, readonly TopicPartition[]>,
): Map<string, TopicPartition[]> {
  const sorted = normalise(members, partitionCounts);
  const fresh = strategy === 'range' ? rangeAssign(sorted, partitionCounts) : roundRobinAssign(sorted, partitionCounts);
  const out = previous === undefined ? fresh : stickyAssign(sorted, partitionCounts, fresh, previous);
  for (const list of out.values()) list.sort(compareTopicPartitions);
  return out;
}

interface Member {
  readonly memberId: string;
  /** Subscribed topics that exist (count > 0), sorted, without duplicates. */
  readonly topics: readonly string[];
  readonly topicSet: ReadonlySet<string>;
}

function normalise(members: readonly AssignorMember[], partitionCounts: ReadonlyMap<string, number>): Member[] {
  for (const [topic, count] of partitionCounts) {
    if (!Number.isSafeInteger(count) || count < 0) throw new Error(`assign: partition count of ${topic} must be an integer >= 0, got ${count}`);
  }
  const seen = new Set<string>();
  const out: Member[] = [];
  for (const m of members) {
    if (seen.has(m.memberId)) throw new Error(`assign: duplicate member id ${m.memberId}`);
    seen.add(m.memberId);
    const topics = [...new Set(m.topics)].filter((t) => (partitionCounts.get(t) ?? 0) > 0).sort(compareStrings);
    out.push({ memberId: m.memberId, topics, topicSet: new Set(topics) });
  }
  return out.sort((a, b) => compareStrings(a.memberId, b.memberId));
}

function emptyAssignment(members: readonly Member[]): Map<string, TopicPartition[]> {
  return new Map(members.map((m) => [m.memberId, []]));
}

/** Every partition of every topic some member subscribes to, sorted. */
function subscribedPartitions(members: readonly Member[], partitionCounts: ReadonlyMap<string, number>): TopicPartition[] {
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort(compareStrings);
  const out: TopicPartition[] = [];
  for (const topic of topics) {
    const count = partitionCounts.get(topic) ?? 0;
    for (let partition = 0; partition < count; partition++) out.push({ topic, partition });
  }
  return out;
}

// Kafka RangeAssignor.assignPartitions.
function rangeAssign(members: readonly Member[], partitionCounts: ReadonlyMap<string, number>): Map<string, TopicPartition[]> {
  const out = emptyAssignment(members);
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort(compareStrings);
  for (const topic of topics) {
    const count = partitionCounts.get(topic) ?? 0;
    const consumers = members.filter((m) => m.topicSet.has(topic)); // already sorted by id
    const perConsumer = Math.floor(count / consumers.length);
    const withExtra = count % consumers.length;
    consumers.forEach((c, i) => {
      const start = perConsumer * i + Math.min(i, withExtra);
      const length = perConsumer + (i < withExtra ? 1 : 0);
      const list = out.get(c.memberId) ?? [];
      for (let p = start; p < start + length; p++) list.push({ topic, partition: p });
    });
  }
  return out;
}

// Kafka RoundRobinAssignor.assign: one circular iterator over the sorted members that carries
// on where it stopped, skipping members not subscribed to the partition's topic.
function roundRobinAssign(members: readonly Member[], partitionCounts: ReadonlyMap<string, number>): Map<string, TopicPartition[]> {
  const out = emptyAssignment(members);
  let next = 0;
  for (const tp of subscribedPartitions(members, partitionCounts)) {
    // Some member subscribes to tp.topic (that is how it got into the list), so this ends.
    for (;;) {
      const m = members[next % members.length];
      next = (next + 1) % members.length;
      if (m?.topicSet.has(tp.topic) === true) {
        out.get(m.memberId)?.push(tp);
        break;
      }
    }
  }
  return out;
}

/**
 * StickyAssignor-lite.
 * 1. Shares: with P partitions over n members that can read something, every member may hold
 *    floor(P/n), and P % n of them one more ("extra slots").
 * 2. Keep: each member keeps its still-valid previous partitions (topic still subscribed,
 *    partition still exists, not claimed by an earlier member) up to floor; extra slots go to
 *    the members with the most valid previous partitions (ties: memberId).
 * 3. Fill: each unplaced partition, in order, goes to the member `fresh` gives it to if that
 *    member has room, else to the least-loaded subscribed member with room, else (only
 *    possible with mixed subscriptions) to the least-loaded subscribed member.
 * 4. Even out: members with the same subscription end within one partition of each other.
 * With one subscription for all, step 3 never overflows, so every member ends at its share.
 */
function stickyAssign(
  members: readonly Member[],
  partitionCounts: ReadonlyMap<string, number>,
  fresh: ReadonlyMap<string, readonly TopicPartition[]>,
  previous: ReadonlyMap<string, readonly TopicPartition[]>,
): Map<string, TopicPartition[]> {
  const out = emptyAssignment(members);
  const all = subscribedPartitions(members, partitionCounts);
  const readers = members.filter((m) => m.topics.length > 0);
  if (readers.length === 0) return out;
  const floor = Math.floor(all.length / readers.length);
  let extraSlots = all.length % readers.length;

  const placed = new Set<string>();
  const kept = new Map<string, Set<string>>();
  // Step 2: keep.
  const valid = readers.map((m) => {
    const list: TopicPartition[] = [];
    for (const tp of [...(previous.get(m.memberId) ?? [])].sort(compareTopicPartitions)) {
      const key = tpKey(tp);
      const count = partitionCounts.get(tp.topic) ?? 0;
      if (!m.topicSet.has(tp.topic) || !Number.isInteger(tp.partition) || tp.partition < 0 || tp.partition >= count || placed.has(key)) continue;
      placed.add(key);
      list.push({ topic: tp.topic, partition: tp.partition });
    }
    kept.set(m.memberId, new Set(list.map(tpKey)));
    return { member: m, list };
  });
  placed.clear();
  const byClaim = [...valid].sort((a, b) => b.list.length - a.list.length || compareStrings(a.member.memberId, b.member.memberId));
  for (const { member, list } of byClaim) {
    let share = floor;
    if (list.length > floor && extraSlots > 0) {
      share++;
      extraSlots--;
    }
    const mine = out.get(member.memberId) ?? [];
    for (const tp of list.slice(0, share)) {
      mine.push(tp);
      placed.add(tpKey(tp));
    }
  }

  // Step 3: fill.
  const freshOwner = new Map<string, string>();
  for (const [memberId, list] of fresh) for (const tp of list) freshOwner.set(tpKey(tp), memberId);
  const count = (m: Member): number => out.get(m.memberId)?.length ?? 0;
  const hasRoom = (m: Member): boolean => count(m) < floor || (count(m) === floor && extraSlots > 0);
  const leastLoaded = (ms: readonly Member[]): Member | undefined =>
    ms.reduce<Member | undefined>((best, m) => (best === undefined || count(m) < count(best) ? m : best), undefined);
  for (const tp of all) {
    const key = tpKey(tp);
    if (placed.has(key)) continue;
    const candidates = readers.filter((m) => m.topicSet.has(tp.topic));
    const preferred = readers.find((m) => m.memberId === freshOwner.get(key));
    const pick =
      (preferred !== undefined && hasRoom(preferred) ? preferred : undefined) ??
      leastLoaded(candidates.filter(hasRoom)) ??
      leastLoaded(candidates);
    if (pick === undefined) throw new Error(`assign: no subscriber for ${tp.topic}-${tp.partition}`); // bug: tp came from a subscription
    if (count(pick) === floor && extraSlots > 0) extraSlots--;
    out.get(pick.memberId)?.push(tp);
    placed.add(key);
  }

  // Step 4: even out members with the same subscription (moves happen only after overflow).
  const classes = new Map<string, Member[]>();
  for (const m of readers) {
    const k = m.topics.join('\u0000');
    classes.set(k, [...(classes.get(k) ?? []), m]);
  }
  for (const cls of classes.values()) {
    for (;;) {
      const byLoad = [...cls].sort((a, b) => count(a) - count(b) || compareStrings(a.memberId, b.memberId));
      const low = byLoad[0];
      const high = byLoad.reduce<Member | undefined>((best, m) => (best === undefined || count(m) > count(best) ? m : best), undefined);
      if (low === undefined || high === undefined || count(high) - count(low) <= 1) break;
      const from = out.get(high.memberId) ?? [];
      const wasKept = kept.get(high.memberId) ?? new Set<string>();
      // Move a partition the member did not have before, if it has one: that costs no stickiness.
      let idx = from.findLastIndex((tp) => !wasKept.has(tpKey(tp)));
      if (idx < 0) idx = from.length - 1;
      const [moved] = from.splice(idx, 1);
      if (moved !== undefined) out.get(low.memberId)?.push(moved);
    }
  }
  return out;
}
