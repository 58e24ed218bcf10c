import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import type { CommitAttempt, ConsumerHistory, Delivery } from './consumer-workload.ts';
import type { Attempt } from './workload.ts';

/** One node's own replica of one partition, read through GET /_test/replicas. */
export interface ReplicaView {
  readonly node: number;
  readonly partition: number;
  readonly role: string;
  readonly leaderEpoch: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly highWatermark: number;
  readonly records: readonly { readonly offset: number; readonly value: string | null; readonly epoch: number }[];
}

export type ViolationKind =
  | 'lost' // an acked record is missing or another value is at its offset
  | 'gap' // offsets below the HW are not contiguous from the log start
  | 'order' // a producer's later ack has a lower offset on the same partition
  | 'divergent' // replicas differ below the HW
  | 'duplicate' // a value is at two offsets though its only request was acked
  | 'phantom' // a value in the log that no request sent
  | 'bad-ack' // a 200 answer that does not make sense (wrong partition, missing offsets)
  | 'epoch-order' // leader epochs go down along a log
  | 'liveness' // the cluster did not heal / converge in time
  | 'skipped' // an offset below the group's final committed offset was never delivered to any member
  | 'redelivered-below-commit' // a record delivered again though a commit past it had already succeeded
  | 'consumed-mismatch' // a member got a value the final log does not have at that offset
  | 'commit-lost'; // the group's final committed offset is below what its successful commits guarantee

export interface Violation {
  readonly kind: ViolationKind;
  readonly message: string;
}

export interface PartitionSummary {
  readonly partition: number;
  readonly leader: number | undefined;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  /** Leader epochs found in the log, in order. */
  readonly epochs: readonly number[];
}

export interface CheckReport {
  readonly requests: { readonly ok: number; readonly failed: number; readonly unknown: number };
  readonly ackedRecords: number;
  /** Records below the HW on every partition's reference replica (each compared on every node). */
  readonly checkedRecords: number;
  /** Values of requests that were not acked that still made it into the log (allowed). */
  readonly unackedInLog: number;
  /** Values at more than one offset, each written by a retried request that was not acked (allowed). */
  readonly duplicates: number;
  readonly partitions: readonly PartitionSummary[];
  readonly violations: readonly Violation[];
  /** Every violation counted by kind; `violations` lists at most MAX_LISTED of each. */
  readonly violationCounts: Partial<Record<ViolationKind, number>>;
}

const MAX_LISTED = 20;
const REPLICA_TIMEOUT_MS = 10_000;

/** The stored bytes are the JSON of the value (json format): decode back to the string sent. */
export function decodeValue(raw: string | null): string | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as unknown;
    return typeof v === 'string' ? v : raw;
  } catch {
    return raw;
  }
}

interface ReplicaPage {
  role: string;
  leaderEpoch: number;
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  records: { offset: number; value: string | null; epoch: number }[];
}

async function replicaPage(c: ProcessCluster, id: number, topic: string, p: number, offset?: number): Promise<ReplicaPage> {
  const q = offset === undefined ? '' : `?offset=${offset}`;
  const res = await fetch(c.url(id, `/_test/replicas/${topic}/${p}${q}`), { signal: AbortSignal.timeout(REPLICA_TIMEOUT_MS) });
  if (res.status !== 200) throw new Error(`replica ${topic}-${p} on node ${id}${q}: ${res.status} ${await res.text()}`);
  return (await res.json()) as ReplicaPage;
}

/** A node's whole replica, paging through it (each page is at most 4 MiB of batches). */
export async function readReplica(c: ProcessCluster, id: number, topic: string, p: number): Promise<ReplicaView> {
  const first = await replicaPage(c, id, topic, p);
  const records = first.records.map((r) => ({ ...r, value: decodeValue(r.value) }));
  let last = first;
  while (last.records.length > 0) {
    const next = (records.at(-1)?.offset ?? last.logStartOffset) + 1;
    if (next >= last.logEndOffset) break;
    last = await replicaPage(c, id, topic, p, next);
    records.push(...last.records.map((r) => ({ ...r, value: decodeValue(r.value) })));
  }
  return { node: id, partition: p, role: first.role, leaderEpoch: first.leaderEpoch, logStartOffset: first.logStartOffset, logEndOffset: last.logEndOffset, highWatermark: last.highWatermark, records };
}

interface PartitionListing {
  partition_id: number;
  leader_id: number | null;
  isr: number[];
}

/**
 * Waits until every partition has all nodes in its ISR, and every replica's log end offset and
 * high watermark equal the leader's high watermark (nothing left to replicate or commit).
 * Returns undefined once converged, else the last state seen.
 */
export async function waitConverged(c: ProcessCluster, topic: string, partitions: number, timeoutMs: number): Promise<string | undefined> {
  let state = '';
  const guesses = new Map<string, number>();
  try {
    await pollUntil('replicas to converge', async () => {
      const listing = ((await c.get(c.ids[0] ?? 1, c.v3(`/topics/${topic}/partitions`))) as { data: PartitionListing[] }).data;
      const lines: string[] = [];
      let done = true;
      for (let p = 0; p < partitions; p++) {
        const l = listing.find((x) => x.partition_id === p);
        const views = await Promise.all(c.ids.map(async (id) => {
          const key = `${id}:${p}`;
          // Ask from the last known end (an empty answer) to keep polls cheap; from the start if that is out of range.
          const page = await replicaPage(c, id, topic, p, guesses.get(key)).catch(() => replicaPage(c, id, topic, p));
          guesses.set(key, page.logEndOffset);
          return { id, ...page };
        }));
        const leader = views.find((v) => v.id === l?.leader_id);
        const hw = leader?.highWatermark ?? -1;
        const ok = l !== undefined && l.isr.length === c.ids.length && leader !== undefined && leader.role === 'leader' &&
          views.every((v) => v.logEndOffset === hw && v.highWatermark === hw);
        if (!ok) done = false;
        lines.push(`p${p} leader=${l?.leader_id ?? 'none'} isr=[${l?.isr.join(',') ?? ''}] ${views.map((v) => `n${v.id}:${v.role}/e${v.leaderEpoch} leo=${v.logEndOffset} hw=${v.highWatermark}`).join(' ')}`);
      }
      state = lines.join('; ');
      return done;
    }, timeoutMs, 250);
    return undefined;
  } catch (err) {
    return `${(err as Error).message}; last state: ${state}`;
  }
}

export async function readAllReplicas(c: ProcessCluster, topic: string, partitions: number): Promise<ReplicaView[]> {
  const views: ReplicaView[] = [];
  for (let p = 0; p < partitions; p++) {
    for (const id of c.ids) views.push(await readReplica(c, id, topic, p));
  }
  return views;
}

/**
 * Checks the history (every produce attempt) against every replica of every partition:
 * (a) each acked record is at exactly the partition and offset its ack reported, on every
 * replica; (b) offsets are contiguous from the log start to the HW; (c) each producer's acked
 * offsets per partition increase in the order the acks arrived; (d) replicas are identical up
 * to the HW (offsets, values, epochs); (e) a value is at two offsets only if a request carrying
 * it was not acked. Pure: no I/O.
 */
export function checkHistory(attempts: readonly Attempt[], replicas: readonly ReplicaView[], partitions: number): CheckReport {
  const violations: Violation[] = [];
  const violationCounts: Partial<Record<ViolationKind, number>> = {};
  const violate = (kind: ViolationKind, message: string): void => {
    const n = (violationCounts[kind] ?? 0) + 1;
    violationCounts[kind] = n;
    if (n <= MAX_LISTED) violations.push({ kind, message });
  };

  // Every value sent, and whether any request carrying it was not acked.
  const sent = new Map<string, { partition: number; unacked: boolean }>();
  for (const a of attempts) {
    for (const v of a.values) {
      const s = sent.get(v) ?? { partition: a.partition, unacked: false };
      if (a.outcome !== 'ok') s.unacked = true;
      sent.set(v, s);
    }
  }

  // (c) and sanity of each ack.
  const acked: { value: string; partition: number; offset: number; attempt: Attempt }[] = [];
  const byProducer = new Map<number, Attempt[]>();
  for (const a of attempts) {
    const list = byProducer.get(a.producer) ?? [];
    list.push(a);
    byProducer.set(a.producer, list);
  }
  for (const [w, list] of byProducer) {
    const lastOffset = new Map<number, { offset: number; seq: number }>();
    for (const a of [...list].sort((x, y) => x.seq - y.seq)) {
      if (a.outcome !== 'ok') continue;
      if (a.badAnswer !== undefined || a.offsets === undefined) {
        violate('bad-ack', `producer ${w} request #${a.seq} to node ${a.node}, partition ${a.partition}: ${a.badAnswer ?? 'no offsets'}`);
        continue;
      }
      const offs = a.offsets;
      if (offs.some((o, i) => i > 0 && o !== (offs[i - 1] ?? 0) + 1)) {
        violate('bad-ack', `producer ${w} request #${a.seq}: offsets of one batch not consecutive: ${offs.join(',')}`);
      }
      const prev = lastOffset.get(a.partition);
      const first = Math.min(...offs);
      if (prev !== undefined && first <= prev.offset) {
        violate('order', `producer ${w}: request #${a.seq} (acked at +${a.endMs.toFixed(0)} ms) got offset ${first} on partition ${a.partition}, not after offset ${prev.offset} acked earlier to request #${prev.seq}`);
      }
      lastOffset.set(a.partition, { offset: Math.max(...offs, prev?.offset ?? -1), seq: a.seq });
      a.values.forEach((value, i) => acked.push({ value, partition: a.partition, offset: offs[i] ?? -1, attempt: a }));
    }
  }

  const ackOf = new Map(acked.map((a) => [a.value, a]));
  const summaries: PartitionSummary[] = [];
  let checkedRecords = 0;
  let unackedInLog = 0;
  let duplicates = 0;
  for (let p = 0; p < partitions; p++) {
    const views = replicas.filter((r) => r.partition === p);
    const ref = views.find((v) => v.role === 'leader') ?? views[0];
    if (ref === undefined) {
      violate('liveness', `partition ${p}: no replica could be read`);
      continue;
    }
    const below = (v: ReplicaView): ReplicaView['records'] => v.records.filter((r) => r.offset < v.highWatermark);

    // (b) contiguous offsets and (epoch order) on every replica.
    for (const v of views) {
      const rs = below(v);
      const missing = v.highWatermark - v.logStartOffset - rs.length;
      const firstBad = rs.findIndex((r, i) => r.offset !== v.logStartOffset + i);
      if (firstBad >= 0 || missing !== 0) {
        const at = firstBad >= 0 ? `offset ${rs[firstBad]?.offset} where ${v.logStartOffset + firstBad} belongs` : `${missing} records missing at the end`;
        violate('gap', `partition ${p} node ${v.node}: ${rs.length} records below HW ${v.highWatermark} from log start ${v.logStartOffset}; ${at}`);
      }
      const down = v.records.findIndex((r, i) => i > 0 && r.epoch < (v.records[i - 1]?.epoch ?? 0));
      if (down > 0) violate('epoch-order', `partition ${p} node ${v.node}: epoch ${v.records[down]?.epoch} at offset ${v.records[down]?.offset} after epoch ${v.records[down - 1]?.epoch}`);
    }

    // (d) every replica equals the reference up to the HW.
    for (const v of views) {
      if (v === ref) continue;
      if (v.highWatermark !== ref.highWatermark || v.logStartOffset !== ref.logStartOffset) {
        violate('divergent', `partition ${p}: node ${v.node} has log start ${v.logStartOffset} / HW ${v.highWatermark}, node ${ref.node} (${ref.role}) ${ref.logStartOffset} / ${ref.highWatermark}`);
      }
      const mine = new Map(below(v).map((r) => [r.offset, r]));
      const upTo = Math.min(v.highWatermark, ref.highWatermark);
      for (const r of below(ref)) {
        if (r.offset >= upTo) break;
        const o = mine.get(r.offset);
        if (o === undefined || o.value !== r.value || o.epoch !== r.epoch) {
          violate('divergent', `partition ${p} offset ${r.offset}: node ${ref.node} has ${JSON.stringify(r.value)}@e${r.epoch}, node ${v.node} has ${o === undefined ? 'nothing' : `${JSON.stringify(o.value)}@e${o.epoch}`}`);
          break;
        }
      }
    }

    // (e) duplicates and phantoms, on the reference replica.
    const at = new Map<string, number[]>();
    for (const r of below(ref)) {
      checkedRecords++;
      const value = r.value ?? '(null)';
      const offsets = at.get(value) ?? [];
      offsets.push(r.offset);
      at.set(value, offsets);
    }
    for (const [value, offsets] of at) {
      const s = sent.get(value);
      if (s === undefined || s.partition !== p) {
        violate('phantom', `partition ${p} offsets ${offsets.join(',')}: value ${JSON.stringify(value)} was never sent${s === undefined ? '' : ` to this partition (sent to ${s.partition})`}`);
        continue;
      }
      if (s.unacked) unackedInLog++;
      if (offsets.length > 1) {
        if (s.unacked) duplicates++;
        else {
          const a = ackOf.get(value);
          const how = a === undefined ? '' : ` (producer ${a.attempt.producer} request #${a.attempt.seq} via node ${a.attempt.node}, sent +${a.attempt.startMs.toFixed(0)} ms, acked at offset ${a.offset} +${a.attempt.endMs.toFixed(0)} ms)`;
          const epochs = offsets.map((o) => `e${below(ref).find((r) => r.offset === o)?.epoch ?? '?'}`).join(',');
          violate('duplicate', `partition ${p}: value ${value} at offsets ${offsets.join(',')} (epochs ${epochs}), but its only request was acked${how}`);
        }
      }
    }

    const epochs: number[] = [];
    for (const r of ref.records) if (epochs.at(-1) !== r.epoch) epochs.push(r.epoch);
    summaries.push({ partition: p, leader: ref.role === 'leader' ? ref.node : undefined, logStartOffset: ref.logStartOffset, highWatermark: ref.highWatermark, epochs });
  }

  // (a) every acked record where its ack said, on every replica.
  const index = new Map(replicas.map((v) => [`${v.node}:${v.partition}`, new Map(v.records.filter((r) => r.offset < v.highWatermark).map((r) => [r.offset, r.value]))]));
  for (const a of acked) {
    for (const v of replicas.filter((r) => r.partition === a.partition)) {
      const got = index.get(`${v.node}:${v.partition}`)?.get(a.offset);
      if (got !== a.value) {
        violate('lost', `acked ${a.value} (producer ${a.attempt.producer} request #${a.attempt.seq} via node ${a.attempt.node}, acked at +${a.attempt.endMs.toFixed(0)} ms) at partition ${a.partition} offset ${a.offset}: node ${v.node} has ${got === undefined ? `nothing below HW ${v.highWatermark}` : JSON.stringify(got)}`);
      }
    }
  }

  const count = (o: Attempt['outcome']): number => attempts.filter((a) => a.outcome === o).length;
  return {
    requests: { ok: count('ok'), failed: count('failed'), unknown: count('unknown') },
    ackedRecords: acked.length,
    checkedRecords,
    unackedInLog,
    duplicates,
    partitions: summaries,
    violations,
    violationCounts,
  };
}

export function totalViolations(r: CheckReport): number {
  return Object.values(r.violationCounts).reduce((a, b) => a + b, 0);
}

/** What the consumer-group workload saw, checked against the final log and committed offsets. */
export interface ConsumerCheckReport {
  readonly polls: number;
  readonly delivered: number;
  /** Distinct (partition, offset) pairs delivered. */
  readonly distinct: number;
  /** Deliveries of a (partition, offset) delivered before. */
  readonly redelivered: number;
  readonly commits: { readonly ok: number; readonly failed: number; readonly unknown: number };
  readonly pollFailures: number;
  readonly recreations: number;
  /** The Kafka-protocol members' counts, as the history has them. */
  readonly kafka?: ConsumerHistory['kafka'];
  /** Per partition: the group's final committed offset (null: none) and the log it is checked against. */
  readonly partitions: readonly { readonly partition: number; readonly logStartOffset: number; readonly highWatermark: number; readonly committed: number | null }[];
  readonly violations: readonly Violation[];
  readonly violationCounts: Partial<Record<ViolationKind, number>>;
}

/**
 * The lowest the partition's committed offset can have been at `t`, from the commits' own
 * outcomes and times, or undefined when no commit had surely succeeded by then. The committed
 * offset at t is the one of the last commit applied before t. A commit that succeeded (ok)
 * was applied within [startMs, endMs]; one of unknown outcome may have been applied at any
 * time after its start (a timed-out acks=all write can land later); a refused one never was.
 * A commit is surely not the last one applied before t if another commit that succeeded
 * before t was sent after it had succeeded. Any other commit started before t may be.
 */
export function committedLowerBound(commits: readonly CommitAttempt[], t: number): { offset: number; by: CommitAttempt } | undefined {
  let latestOkStart = Number.NEGATIVE_INFINITY;
  let latestOk: CommitAttempt | undefined;
  for (const c of commits) {
    if (c.outcome === 'ok' && c.endMs < t && c.startMs > latestOkStart) {
      latestOkStart = c.startMs;
      latestOk = c;
    }
  }
  if (latestOk === undefined) return undefined;
  let low = Number.POSITIVE_INFINITY;
  for (const c of commits) {
    if (c.outcome === 'failed' || c.startMs >= t) continue;
    if (c.outcome === 'ok' && c.endMs < latestOkStart) continue; // surely superseded
    low = Math.min(low, c.offset + 1);
  }
  return { offset: low, by: latestOk };
}

const fmtMs = (ms: number): string => `+${ms.toFixed(0)} ms`;

/**
 * Checks what the members of one consumer group were given and what they committed:
 * (1) `skipped`: every offset in [log start, final committed offset) of every partition was
 * delivered to some member at least once (a committed offset beyond the log end skips the
 * offsets that do not exist); (2) `redelivered-below-commit`: a record delivered again is at
 * or above the partition's committed offset as it stood when the poll that returned it again
 * was sent (the surest lower bound, see committedLowerBound); (3) `consumed-mismatch`: each
 * delivered record is in the final log, below its high watermark, with the same value. The
 * reference log of each partition is its leader's replica (the replicas were checked to be
 * identical); (4) `commit-lost`: the final committed offset is not below what the successful
 * commits guarantee (committedLowerBound after the last of them). Pure: no I/O.
 */
export function checkConsumerHistory(
  history: Pick<ConsumerHistory, 'deliveries' | 'commits' | 'polls' | 'recreations'> & Partial<Pick<ConsumerHistory, 'pollFailures' | 'kafka'>>,
  finalCommitted: ReadonlyMap<number, number | null>,
  replicas: readonly ReplicaView[],
  partitions: number,
): ConsumerCheckReport {
  const violations: Violation[] = [];
  const violationCounts: Partial<Record<ViolationKind, number>> = {};
  const listed: Partial<Record<ViolationKind, number>> = {};
  const violate = (kind: ViolationKind, message: string, n = 1): void => {
    violationCounts[kind] = (violationCounts[kind] ?? 0) + n;
    const l = (listed[kind] ?? 0) + 1;
    listed[kind] = l;
    if (l <= MAX_LISTED) violations.push({ kind, message });
  };

  const summaries: { partition: number; logStartOffset: number; highWatermark: number; committed: number | null }[] = [];
  let distinct = 0;
  let redelivered = 0;
  for (let p = 0; p < partitions; p++) {
    const views = replicas.filter((r) => r.partition === p);
    const ref = views.find((v) => v.role === 'leader') ?? views[0];
    const committed = finalCommitted.get(p) ?? null;
    const mine = history.deliveries.filter((d) => d.partition === p);
    const commits = history.commits.filter((c) => c.partition === p);
    if (ref === undefined) {
      if (mine.length > 0) violate('liveness', `partition ${p}: no replica to check ${mine.length} deliveries against`);
      continue;
    }
    summaries.push({ partition: p, logStartOffset: ref.logStartOffset, highWatermark: ref.highWatermark, committed });
    const log = new Map(ref.records.filter((r) => r.offset < ref.highWatermark).map((r) => [r.offset, r.value]));

    // Deliveries of each offset, in the order they reached their members.
    const byOffset = new Map<number, Delivery[]>();
    for (const d of [...mine].sort((a, b) => a.pollEndMs - b.pollEndMs)) {
      const list = byOffset.get(d.offset) ?? [];
      list.push(d);
      byOffset.set(d.offset, list);
    }
    distinct += byOffset.size;

    // (3) every delivered record is the log's.
    for (const [offset, list] of byOffset) {
      const want = log.get(offset);
      for (const d of list) {
        if (want === undefined || d.value !== want) {
          violate('consumed-mismatch', `partition ${p} offset ${offset}: ${d.member} got ${JSON.stringify(d.value)} (poll ${fmtMs(d.pollStartMs)}..${fmtMs(d.pollEndMs)}), the final log has ${want === undefined ? `no record there (log start ${ref.logStartOffset}, HW ${ref.highWatermark})` : JSON.stringify(want)}`);
          break;
        }
      }
    }

    // (1) nothing below the final committed offset was skipped.
    if (committed !== null) {
      let from: number | undefined;
      const flush = (to: number): void => {
        if (from === undefined) return;
        const beyond = to > ref.highWatermark ? ` (offsets from ${Math.max(from, ref.highWatermark)} are beyond the log's HW ${ref.highWatermark})` : '';
        // Evidence: who read just before and just after the gap, and their failed polls in between.
        const before = byOffset.get(from - 1)?.at(-1);
        const after = byOffset.get(to)?.[0];
        const around = [before, after].filter((d) => d !== undefined);
        const failures = (history.pollFailures ?? []).filter((f) => around.some((d) => d.member === f.member) && f.startMs >= (before?.pollStartMs ?? 0) && f.startMs <= (after?.pollEndMs ?? Number.POSITIVE_INFINITY));
        const context = around.length === 0 ? '' : `; offset ${from - 1} went to ${before === undefined ? 'nobody' : `${before.member} (poll ${fmtMs(before.pollStartMs)})`}, offset ${to} to ${after === undefined ? 'nobody' : `${after.member} (poll ${fmtMs(after.pollStartMs)})`}` +
          (failures.length === 0 ? ', no failed poll of theirs in between' : `, their failed polls in between: ${failures.slice(0, 5).map((f) => `${f.member} ${fmtMs(f.startMs)}..${fmtMs(f.endMs)} ${f.detail.slice(0, 100)}`).join('; ')}`);
        violate('skipped', `partition ${p}: offsets ${from}..${to - 1} (${to - from} records) are below the group's final committed offset ${committed} but were never delivered to any member${beyond}${context}`, to - from);
        from = undefined;
      };
      for (let o = ref.logStartOffset; o < committed; o++) {
        if (byOffset.has(o)) flush(o);
        else from ??= o;
      }
      flush(committed);
    }

    // (4) what the successful commits guarantee is still there.
    const guaranteed = committedLowerBound(commits, Number.POSITIVE_INFINITY);
    if (guaranteed !== undefined && (committed ?? -1) < guaranteed.offset) {
      violate('commit-lost', `partition ${p}: the group's final committed offset is ${committed ?? 'none'}, but the commits guarantee at least ${guaranteed.offset} (${guaranteed.by.member} committed offset ${guaranteed.by.offset} ok at ${fmtMs(guaranteed.by.endMs)}, and no commit that could have followed it is lower)`);
    }

    // (2) a record is delivered again only at or above the committed offset of that moment.
    for (const [offset, list] of byOffset) {
      for (const d of list.slice(1)) {
        redelivered++;
        const low = committedLowerBound(commits, d.pollStartMs);
        if (low !== undefined && offset < low.offset) {
          const first = list[0];
          violate('redelivered-below-commit', `partition ${p} offset ${offset}: delivered again to ${d.member} by a poll sent ${fmtMs(d.pollStartMs)}, when the committed offset was already at least ${low.offset} (${low.by.member} committed offset ${low.by.offset} ok at ${fmtMs(low.by.endMs)}); first delivered to ${first?.member ?? '?'} at ${fmtMs(first?.pollEndMs ?? 0)}`);
        }
      }
    }
  }

  const count = (o: CommitAttempt['outcome']): number => history.commits.filter((c) => c.outcome === o).length;
  return {
    polls: history.polls,
    delivered: history.deliveries.length,
    distinct,
    redelivered,
    commits: { ok: count('ok'), failed: count('failed'), unknown: count('unknown') },
    pollFailures: history.pollFailures?.length ?? 0,
    recreations: history.recreations,
    ...(history.kafka === undefined ? {} : { kafka: history.kafka }),
    partitions: summaries,
    violations,
    violationCounts,
  };
}
