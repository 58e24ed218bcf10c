import type { Prng } from '../sim/prng.ts';
import { startKafkaMember } from './kafka-member.ts';
import type { KafkaMemberStats } from './kafka-member.ts';

const JSON_V2 = 'application/vnd.kafka.json.v2+json';

/** One record as a member's poll returned it. */
export interface Delivery {
  readonly partition: number;
  readonly offset: number;
  /** The record's value as sent (the producers send strings); null for a null value. */
  readonly value: string | null;
  /** The consumer instance (member) that received it: m<i>-<n> over HTTP, k<i>-<n> a Kafka member. */
  readonly member: string;
  /**
   * When the poll that returned it was sent and answered (ms since the run started). A Kafka
   * member's pollStartMs is when its current assignment began (see startKafkaMember): its
   * positions come from the committed offsets read after that, not at each fetch.
   */
  readonly pollStartMs: number;
  readonly pollEndMs: number;
}

/**
 * One partition's part of an explicit commit. `offset` is the last processed record (the
 * group's committed offset becomes offset + 1). `ok` = 204: applied. `failed` = refused before
 * anything was written (409 COMMIT_FAILED after a rebalance, 404 instance gone): not applied.
 * `unknown` = timeout, connection error or 5xx: it may have been applied, possibly later.
 */
export interface CommitAttempt {
  readonly member: string;
  readonly partition: number;
  readonly offset: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: 'ok' | 'failed' | 'unknown';
  readonly detail: string;
}

/** A poll that did not answer 200: an error status, a connection error or a client-side timeout. */
export interface PollFailure {
  readonly member: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly detail: string;
}

export interface ConsumerHistory {
  readonly deliveries: readonly Delivery[];
  readonly commits: readonly CommitAttempt[];
  /** Poll requests answered 200. */
  readonly polls: number;
  readonly pollFailures: readonly PollFailure[];
  /** Commits not sent because the group's committed offset was already past what the member would commit (it lost the partition meanwhile). */
  readonly staleCommitsSkipped: number;
  /** Times a member gave up its instance (gone or unreachable) and created a new one. */
  readonly recreations: number;
  /** Every instance name created, in order. */
  readonly instances: readonly string[];
  /** The Kafka-protocol members' counts, summed over them. */
  readonly kafka: KafkaMemberStats & { readonly members: number };
}

export interface ConsumerWorkloadOptions {
  /** Base URL of each node's HTTP API. */
  readonly urls: ReadonlyMap<number, string>;
  readonly topic: string;
  readonly group: string;
  readonly members: number;
  /** Kafka-protocol members (kafkajs) in the same group, next to the HTTP ones (0 by default). */
  readonly kafkaMembers?: number;
  /** host:port of each node's Kafka listener, for the Kafka members. */
  readonly kafkaBrokers?: readonly string[];
  /** consumer.session.timeout.ms of every instance (and the Kafka members' session timeout). */
  readonly sessionTimeoutMs: number;
  readonly rng: Prng;
  /** Time origin shared with the nemesis log and the producers. */
  readonly t0: number;
}

export interface ConsumerWorkload {
  /**
   * Waits until the group's committed offsets (as the v3 group view reports them) reach
   * `highWatermarks` on every partition (the producers have stopped, so the log no longer
   * moves). Undefined once there, else what is missing.
   */
  waitCaughtUp(clusterId: string, highWatermarks: ReadonlyMap<number, number>, timeoutMs: number): Promise<string | undefined>;
  /** Stops every member after its in-flight request, commits what it still holds, deletes every instance (a Kafka member leaves the group). */
  stop(): Promise<ConsumerHistory>;
}

/** Server-side long-poll wait of each GET .../records. */
const POLL_TIMEOUT_MS = 500;
/** Client-side deadline of one poll: a heartbeat may wait out a coordinator failover (GroupClient retries ~10 s). */
const POLL_HTTP_TIMEOUT_MS = 4000;
/** Client-side deadline of a commit (the coordinator writes it acks=all). */
const COMMIT_HTTP_TIMEOUT_MS = 8000;
const ADMIN_HTTP_TIMEOUT_MS = 4000;
/** A node that refused a connection or timed out is not picked for a new instance for this long. */
const AVOID_MS = 3000;

type Answer =
  | { readonly kind: 'answer'; readonly status: number; readonly body: unknown; readonly text: string }
  | { readonly kind: 'timeout'; readonly detail: string }
  | { readonly kind: 'unreachable'; readonly detail: string };

async function request(url: string, method: string, body: unknown, timeoutMs: number): Promise<Answer> {
  try {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': JSON_V2 },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      parsed = undefined;
    }
    return { kind: 'answer', status: res.status, body: parsed, text };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError') return { kind: 'timeout', detail: 'client timeout' };
    return { kind: 'unreachable', detail: `${e.cause?.code ?? e.name}: ${e.message}` };
  }
}

const errorCode = (a: Answer): number | undefined => {
  if (a.kind !== 'answer' || typeof a.body !== 'object' || a.body === null) return undefined;
  const c = (a.body as { error_code?: unknown }).error_code;
  return typeof c === 'number' ? c : undefined;
};

const describe = (a: Answer): string => (a.kind === 'answer' ? `${a.status} ${a.text.slice(0, 160)}` : a.detail);

interface Instance {
  readonly name: string;
  readonly node: number;
  readonly base: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * M members of one consumer group, each a loop over REST v2 consumer instances: create an
 * instance on a node the seeded RNG picks (auto-commit off, earliest), subscribe, then poll,
 * recording every record returned, and every few polls commit explicitly the last offset
 * received of each partition since the previous commit. A member whose instance is gone (404,
 * e.g. its node restarted) or whose node does not answer (refused, reset or timed out: killed,
 * paused or cut off) creates a new instance under a fresh name on another node (a new group
 * member), deleting the old one in the background in case its node comes back.
 *
 * Two client-side rules keep the members honest, as a Kafka consumer's would be:
 * - A poll whose answer was lost (timeout, connection reset) may have moved the instance's
 *   positions past records the member never saw; committing past them later would skip them.
 *   So the member does not use that instance again: its replacement starts at the committed offset.
 * - The REST API does not tell a member that a partition was revoked (and maybe given back at the
 *   group's committed offset). Before committing, the member reads the committed offsets and
 *   drops a partition whose committed offset is already past what it would commit: it lost the
 *   partition meanwhile, and committing would move the group's offset backwards.
 *
 * Next to them, `kafkaMembers` kafkajs consumers join the same group over the Kafka protocol
 * (startKafkaMember), their deliveries and commits recorded in the same history.
 */
export function startConsumerWorkload(opts: ConsumerWorkloadOptions): ConsumerWorkload {
  const deliveries: Delivery[] = [];
  const commits: CommitAttempt[] = [];
  const pollFailures: PollFailure[] = [];
  const instances: string[] = [];
  const background: Promise<unknown>[] = [];
  const live = new Set<Instance>();
  let polls = 0;
  let staleCommitsSkipped = 0;
  let recreations = 0;
  let running = true;
  const ids = [...opts.urls.keys()];
  const avoidUntil = new Map<number, number>();
  const now = (): number => performance.now() - opts.t0;
  const url = (node: number, path: string): string => `${opts.urls.get(node) ?? ''}${path}`;

  /** Best effort, in the background: an abandoned instance on a paused node would rejoin the group when it wakes. */
  const abandon = (inst: Instance): void => {
    live.delete(inst);
    background.push((async () => {
      for (let i = 0; i < 5; i++) {
        const r = await request(url(inst.node, inst.base), 'DELETE', undefined, 2000);
        if (r.kind === 'answer') return;
        await sleep(1000);
      }
    })());
  };

  const loops = Array.from({ length: opts.members }, (_, m) => {
    const rng = opts.rng.fork();
    let incarnation = 0;

    const create = async (): Promise<Instance | undefined> => {
      const t = performance.now();
      const usable = ids.filter((id) => (avoidUntil.get(id) ?? 0) <= t);
      const node = rng.pick(usable.length > 0 ? usable : ids);
      const name = `m${m}-${incarnation++}`;
      const created = await request(url(node, `/consumers/${opts.group}`), 'POST', {
        name,
        format: 'json',
        'auto.offset.reset': 'earliest',
        'auto.commit.enable': 'false',
        'consumer.session.timeout.ms': String(opts.sessionTimeoutMs),
      }, ADMIN_HTTP_TIMEOUT_MS);
      if (created.kind !== 'answer' || created.status !== 200) {
        if (created.kind !== 'answer') avoidUntil.set(node, performance.now() + AVOID_MS);
        return undefined;
      }
      const inst: Instance = { name, node, base: `/consumers/${opts.group}/instances/${name}` };
      instances.push(name);
      live.add(inst);
      const sub = await request(url(node, `${inst.base}/subscription`), 'POST', { topics: [opts.topic] }, ADMIN_HTTP_TIMEOUT_MS);
      if (sub.kind !== 'answer' || sub.status !== 204) {
        if (sub.kind !== 'answer') avoidUntil.set(node, performance.now() + AVOID_MS);
        abandon(inst);
        return undefined;
      }
      return inst;
    };

    /** Commits `pending`; on 409 (one of them is no longer ours) each partition alone. Returns whether the instance is still usable. */
    const commit = async (inst: Instance, pending: Map<number, number>): Promise<boolean> => {
      const send = async (parts: readonly [number, number][]): Promise<Answer> => {
        const startMs = now();
        const r = await request(url(inst.node, `${inst.base}/offsets`), 'POST', {
          offsets: parts.map(([partition, offset]) => ({ topic: opts.topic, partition, offset })),
        }, COMMIT_HTTP_TIMEOUT_MS);
        const endMs = now();
        const refused = r.kind === 'answer' && (r.status === 409 || r.status === 404);
        const outcome = r.kind === 'answer' && r.status === 204 ? 'ok' : refused ? 'failed' : 'unknown';
        for (const [partition, offset] of parts) {
          commits.push({ member: inst.name, partition, offset, startMs, endMs, outcome, detail: describe(r) });
          // Only a commit that landed settles the partition: after a refusal (say, right after a
          // coordinator failover) the member retries later if the partition is still its own; the
          // stale check below drops it once another member has committed past it.
          if (outcome === 'ok') pending.delete(partition);
        }
        return r;
      };
      // Drop what the group has already committed past (see the class comment).
      const query = [...pending.keys()].map((p) => `partition=${encodeURIComponent(`${opts.topic}:${p}`)}`).join('&');
      const current = await request(url(inst.node, `${inst.base}/offsets?${query}`), 'GET', undefined, ADMIN_HTTP_TIMEOUT_MS);
      if (current.kind !== 'answer' || current.status !== 200) return !(current.kind === 'answer' && current.status === 404);
      for (const o of (current.body as { offsets?: { partition?: unknown; offset?: unknown }[] } | undefined)?.offsets ?? []) {
        if (typeof o.partition !== 'number' || typeof o.offset !== 'number') continue;
        const mine = pending.get(o.partition);
        if (mine !== undefined && o.offset > mine + 1) {
          pending.delete(o.partition);
          staleCommitsSkipped++;
        }
      }
      const all = [...pending];
      if (all.length === 0) return true;
      const r = await send(all);
      if (r.kind === 'answer' && r.status === 409 && all.length > 1) {
        // None of them was applied; the ones still ours are worth committing alone.
        for (const part of all) {
          const one = await send([part]);
          if (one.kind === 'answer' && one.status === 404) return false;
        }
      }
      if (r.kind === 'answer' && r.status === 404 && errorCode(r) === 40403) return false;
      return true;
    };

    return (async () => {
      let inst: Instance | undefined;
      let pollsSinceCommit = 0;
      let commitEvery = 2 + rng.int(3);
      const pending = new Map<number, number>();
      const drop = (why: 'gone' | 'unreachable'): void => {
        if (inst === undefined) return;
        if (why === 'unreachable') avoidUntil.set(inst.node, performance.now() + AVOID_MS);
        abandon(inst);
        inst = undefined;
        recreations++;
        pending.clear();
      };
      while (running) {
        if (inst === undefined) {
          inst = await create();
          if (inst === undefined) {
            await sleep(200 + rng.int(200));
            continue;
          }
        }
        const pollStartMs = now();
        const r = await request(url(inst.node, `${inst.base}/records?timeout=${POLL_TIMEOUT_MS}`), 'GET', undefined, POLL_HTTP_TIMEOUT_MS);
        const pollEndMs = now();
        if (r.kind === 'answer' && r.status === 200 && Array.isArray(r.body)) {
          polls++;
          for (const rec of r.body as { topic?: unknown; partition?: unknown; offset?: unknown; value?: unknown }[]) {
            if (typeof rec.partition !== 'number' || typeof rec.offset !== 'number') continue;
            const value = rec.value === null || rec.value === undefined ? null : typeof rec.value === 'string' ? rec.value : JSON.stringify(rec.value);
            deliveries.push({ partition: rec.partition, offset: rec.offset, value, member: inst.name, pollStartMs, pollEndMs });
            pending.set(rec.partition, rec.offset);
          }
          if (++pollsSinceCommit >= commitEvery && pending.size > 0) {
            pollsSinceCommit = 0;
            commitEvery = 2 + rng.int(3);
            if (!(await commit(inst, pending))) drop('gone');
          }
          continue;
        }
        pollFailures.push({ member: inst.name, startMs: pollStartMs, endMs: pollEndMs, detail: describe(r) });
        if (r.kind === 'answer' && r.status === 404) drop('gone');
        else if (r.kind !== 'answer') drop('unreachable');
        else await sleep(100 + rng.int(100));
      }
      // Stopping: commit what this member still holds, then leave.
      if (inst !== undefined) {
        if (pending.size > 0) await commit(inst, pending);
        live.delete(inst);
        await request(url(inst.node, inst.base), 'DELETE', undefined, ADMIN_HTTP_TIMEOUT_MS);
      }
    })();
  });

  // Forked after the HTTP members' generators: they draw what they drew before Kafka members existed.
  const kafkaMembers = Array.from({ length: opts.kafkaMembers ?? 0 }, (_, index) => startKafkaMember({
    brokers: opts.kafkaBrokers ?? [],
    topic: opts.topic,
    group: opts.group,
    index,
    sessionTimeoutMs: opts.sessionTimeoutMs,
    rng: opts.rng.fork(),
    t0: opts.t0,
    deliveries,
    commits,
  }));

  return {
    async waitCaughtUp(clusterId, highWatermarks, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      let behind = ['not read yet'];
      while (performance.now() < deadline) {
        const committed = await readCommittedOffsets(opts.urls, clusterId, opts.group, opts.topic, 2000).catch(() => undefined);
        if (committed !== undefined) {
          behind = [...highWatermarks].filter(([p, hw]) => (committed.get(p) ?? -1) < hw).map(([p, hw]) => `p${p} committed=${committed.get(p) ?? 'none'} hw=${hw}`);
          if (behind.length === 0) return undefined;
        }
        await sleep(250);
      }
      const kafka = kafkaMembers.length === 0 ? '' : `; Kafka members: ${kafkaMembers.map((k) => k.describe()).join('; ')}`;
      return `consumers did not commit up to the high watermarks within ${timeoutMs} ms: ${behind.join(', ')}; live instances ${[...live].map((i) => `${i.name}@n${i.node}`).join(',') || 'none'}${kafka}`;
    },
    async stop() {
      running = false;
      await Promise.all([...loops, ...kafkaMembers.map((k) => k.stop())]);
      await Promise.all(background);
      const stats = kafkaMembers.map((k) => k.stats());
      const sum = (f: (s: KafkaMemberStats) => number): number => stats.reduce((n, s) => n + f(s), 0);
      const kafka = {
        members: stats.length, batches: sum((s) => s.batches), delivered: sum((s) => s.delivered), joins: sum((s) => s.joins), crashes: sum((s) => s.crashes), recreations: sum((s) => s.recreations),
        commits: { ok: sum((s) => s.commits.ok), failed: sum((s) => s.commits.failed), unknown: sum((s) => s.commits.unknown) },
      };
      return { deliveries, commits, polls, pollFailures, staleCommitsSkipped, recreations, instances, kafka };
    },
  };
}

/** Per partition of `topic`: the group's committed offset (next to read) as the v3 group view reports it, null if none. */
export async function readCommittedOffsets(
  urls: ReadonlyMap<number, string>,
  clusterId: string,
  group: string,
  topic: string,
  timeoutMs: number,
): Promise<Map<number, number | null>> {
  const deadline = performance.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const ids = [...urls.keys()];
    const node = ids[i % ids.length] ?? 1;
    const r = await request(`${urls.get(node) ?? ''}/v3/clusters/${clusterId}/consumer-groups/${group}`, 'GET', undefined, ADMIN_HTTP_TIMEOUT_MS);
    if (r.kind === 'answer' && r.status === 200) {
      const body = r.body as { partitions?: { topic?: unknown; partition?: unknown; committed_offset?: unknown }[] };
      const out = new Map<number, number | null>();
      for (const p of body.partitions ?? []) {
        if (p.topic !== topic || typeof p.partition !== 'number') continue;
        out.set(p.partition, typeof p.committed_offset === 'number' ? p.committed_offset : null);
      }
      return out;
    }
    if (performance.now() > deadline) throw new Error(`GET consumer group ${group}: node ${node}: ${describe(r)}`);
    await sleep(200);
  }
}
