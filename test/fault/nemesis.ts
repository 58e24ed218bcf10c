import type { Prng } from '../sim/prng.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';

export type FaultKind = 'kill' | 'pause' | 'cut-pair' | 'isolate' | 'isr-churn';

export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'pause', 'cut-pair', 'isolate', 'isr-churn'];

/**
 * replica_lag_time_max_ms of the fault suite's cluster. The isr-churn fault pauses a follower
 * just past it (and under the 2000 ms broker session timeout, so the follower is not fenced).
 */
export const ISR_CHURN_LAG_MS = 1000;

/** One line of the fault log: a fault begins or ends, or something the nemesis noticed. */
export interface FaultEvent {
  /** Milliseconds since the run started. */
  readonly atMs: number;
  readonly kind: FaultKind | 'note';
  readonly phase: 'begin' | 'end' | 'note';
  readonly nodes: readonly number[];
  readonly detail: string;
}

export interface NemesisOptions {
  readonly cluster: ProcessCluster;
  readonly topic: string;
  readonly rng: Prng;
  /** Time origin shared with the workload. */
  readonly t0: number;
  /** No new fault starts after this many ms since t0; the one in progress is healed. */
  readonly durationMs: number;
  /** The fault kinds drawn from (all of them by default). */
  readonly kinds?: readonly FaultKind[];
}

export interface NemesisResult {
  readonly events: FaultEvent[];
  readonly counts: Record<FaultKind, number>;
  /** Single injections (a kill, a pause, a cut...): an isr-churn fault is several. */
  readonly injected: number;
  /** Set when the cluster did not answer /healthz again after a fault (no more faults followed). */
  readonly stuck?: string;
}

const QUERY_TIMEOUT_MS = 2000;

async function getJson(c: ProcessCluster, id: number, path: string): Promise<unknown> {
  const res = await fetch(c.url(id, path), { signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
  if (res.status !== 200) throw new Error(`GET ${path} on node ${id}: ${res.status}`);
  return res.json();
}

/** POST /_test/links on one node; retried briefly (a node just resumed may be slow to answer). */
export async function cutLinks(c: ProcessCluster, id: number, cut: readonly number[]): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 10; i++) {
    try {
      const res = await fetch(c.url(id, '/_test/links'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cut }),
        signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
      });
      if (res.status === 200) return;
      last = new Error(`POST /_test/links on node ${id}: ${res.status} ${await res.text()}`);
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw last instanceof Error ? last : new Error(String(last));
}

/** Heals every link, resumes every node, starts every stopped node: the cluster whole again. */
export async function healAll(c: ProcessCluster): Promise<void> {
  for (const id of c.ids) {
    if (c.running(id)) c.resume(id);
    else c.start(id);
  }
  await c.waitHealthy(c.ids, 30_000);
  await Promise.all(c.ids.map((id) => cutLinks(c, id, [])));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A seeded fault schedule (Jepsen's nemesis): quiet, one fault, heal, wait until the cluster
 * answers again, repeat. Faults: SIGKILL + restart, SIGSTOP + SIGCONT, cut the rpc links of a
 * pair, isolate one node from both others. At most one node is down, paused or isolated at any
 * moment, so a majority (and with min.insync.replicas 2 an ISR) can always form.
 */
export async function runNemesis(opts: NemesisOptions): Promise<NemesisResult> {
  const { cluster: c, rng } = opts;
  const events: FaultEvent[] = [];
  const counts: Record<FaultKind, number> = { kill: 0, pause: 0, 'cut-pair': 0, isolate: 0, 'isr-churn': 0 };
  let injected = 0;
  const now = (): number => performance.now() - opts.t0;
  const log = (kind: FaultEvent['kind'], phase: FaultEvent['phase'], nodes: readonly number[], detail: string): void => {
    events.push({ atMs: now(), kind, phase, nodes, detail });
  };

  /** A victim: the raft leader, a leader of one of the topic's partitions, or any node. */
  const pickVictim = async (): Promise<{ id: number; why: string }> => {
    const how = rng.pick(['raft-leader', 'partition-leader', 'random'] as const);
    const asked = rng.pick(c.ids);
    try {
      if (how === 'raft-leader') {
        const r = (await getJson(c, asked, c.v3('/raft'))) as { leader_id: number | null };
        if (r.leader_id !== null && c.ids.includes(r.leader_id)) return { id: r.leader_id, why: 'raft leader' };
      } else if (how === 'partition-leader') {
        const ps = ((await getJson(c, asked, c.v3(`/topics/${opts.topic}/partitions`))) as { data: { partition_id: number; leader_id: number | null }[] }).data;
        const p = ps.length > 0 ? rng.pick(ps) : undefined;
        if (p?.leader_id !== null && p?.leader_id !== undefined && c.ids.includes(p.leader_id)) return { id: p.leader_id, why: `leader of partition ${p.partition_id}` };
      }
    } catch (err) {
      log('note', 'note', [asked], `could not ask for the ${how}: ${(err as Error).message}; picking at random`);
    }
    return { id: rng.pick(c.ids), why: 'random' };
  };

  /**
   * ISR churn (the window KIP-497 closes): a follower of one partition is paused just past the
   * lag limit, so its leader drops it from the ISR, then resumed, so it catches up and the
   * leader asks to add it back; repeated. Once, the follower is frozen again just after a
   * resume (its expansion likely in flight) and the partition leader is killed meanwhile, so
   * the follower may be elected: a high watermark that ran past it loses acknowledged records.
   */
  const isrChurn = async (): Promise<void> => {
    const asked = rng.pick(c.ids);
    let ps: { partition_id: number; leader_id: number | null; replicas: number[] }[];
    try {
      ps = ((await getJson(c, asked, c.v3(`/topics/${opts.topic}/partitions`))) as { data: typeof ps }).data;
    } catch (err) {
      log('note', 'note', [asked], `isr-churn: could not read the partitions: ${(err as Error).message}`);
      return;
    }
    const p = ps.length > 0 ? rng.pick(ps) : undefined;
    const leader = p?.leader_id ?? null;
    if (p === undefined || leader === null || !c.ids.includes(leader)) return;
    const follower = rng.pick(p.replicas.filter((id) => id !== leader && c.ids.includes(id)));
    const rounds = 2 + rng.int(3);
    const killAfter = rng.int(rounds);
    log('isr-churn', 'begin', [follower, leader], `partition ${p.partition_id}: pause follower ${follower} past the lag limit ${rounds} times; kill leader ${leader} after resume ${killAfter + 1}`);
    let killed = false;
    for (let i = 0; i < rounds; i++) {
      const pauseMs = ISR_CHURN_LAG_MS + 150 + rng.int(400);
      c.pause(follower);
      injected++;
      await sleep(pauseMs);
      c.resume(follower);
      log('note', 'note', [follower], `isr-churn: follower ${follower} paused ${pauseMs} ms, resumed`);
      if (i !== killAfter) {
        await sleep(300 + rng.int(900));
        continue;
      }
      // The follower is catching up and its leader will soon ask to add it back: freeze it
      // mid-rejoin, so records can be acknowledged past it while the request is in flight,
      // and kill the leader before the lag limit drops it again. The cluster has no majority
      // until the follower resumes; then a new leader is elected from the ISR.
      await sleep(rng.int(500));
      c.pause(follower);
      await sleep(200 + rng.int(400));
      log('note', 'note', [leader, follower], `isr-churn: follower ${follower} frozen mid-rejoin; SIGKILL leader ${leader}`);
      await c.kill(leader);
      injected++;
      await sleep(100 + rng.int(300));
      c.resume(follower);
      killed = true;
      await sleep(500 + rng.int(1500));
      c.start(leader);
      log('note', 'note', [leader], `isr-churn: restarted node ${leader}`);
      // One fault at a time: the restarted leader answers again before the next pause.
      await c.waitHealthy(c.ids, 30_000);
    }
    log('isr-churn', 'end', [follower, leader], `partition ${p.partition_id}: churn over${killed ? '' : ' (no kill)'}`);
  };

  while (now() < opts.durationMs) {
    await sleep(500 + rng.int(2000));
    if (now() >= opts.durationMs) break;
    const kind = rng.pick(opts.kinds ?? FAULT_KINDS);
    const holdMs = 1000 + rng.int(3000);
    counts[kind]++;
    if (kind !== 'isr-churn') injected++;
    switch (kind) {
      case 'kill': {
        const v = await pickVictim();
        log(kind, 'begin', [v.id], `SIGKILL node ${v.id} (${v.why}); restart in ${holdMs} ms`);
        await c.kill(v.id);
        await sleep(holdMs);
        c.start(v.id);
        log(kind, 'end', [v.id], `restarted node ${v.id}`);
        break;
      }
      case 'pause': {
        const v = await pickVictim();
        log(kind, 'begin', [v.id], `SIGSTOP node ${v.id} (${v.why}) for ${holdMs} ms`);
        c.pause(v.id);
        await sleep(holdMs);
        c.resume(v.id);
        log(kind, 'end', [v.id], `SIGCONT node ${v.id}`);
        break;
      }
      case 'cut-pair': {
        const a = rng.pick(c.ids);
        const b = rng.pick(c.ids.filter((id) => id !== a));
        log(kind, 'begin', [a, b], `cut rpc links ${a}<->${b} for ${holdMs} ms`);
        await Promise.all([cutLinks(c, a, [b]), cutLinks(c, b, [a])]);
        await sleep(holdMs);
        await Promise.all([cutLinks(c, a, []), cutLinks(c, b, [])]);
        log(kind, 'end', [a, b], `healed links ${a}<->${b}`);
        break;
      }
      case 'isolate': {
        const v = await pickVictim();
        const others = c.ids.filter((id) => id !== v.id);
        log(kind, 'begin', [v.id], `isolate node ${v.id} (${v.why}) from ${others.join(',')} for ${holdMs} ms`);
        await Promise.all([cutLinks(c, v.id, others), ...others.map((o) => cutLinks(c, o, [v.id]))]);
        await sleep(holdMs);
        await Promise.all([v.id, ...others].map((id) => cutLinks(c, id, [])));
        log(kind, 'end', [v.id], `healed node ${v.id}'s links`);
        break;
      }
      case 'isr-churn':
        await isrChurn();
        break;
    }
    // One fault at a time: the next waits until every node answers /healthz again.
    const t = now();
    try {
      await c.waitHealthy(c.ids, 30_000);
      log('note', 'note', [], `all nodes healthy after ${(now() - t).toFixed(0)} ms`);
    } catch (err) {
      const stuck = `not healthy again 30 s after healing: ${(err as Error).message}`;
      log('note', 'note', [], stuck);
      return { events, counts, injected, stuck };
    }
  }
  return { events, counts, injected };
}

export function formatFaultLog(events: readonly FaultEvent[]): string {
  return events.map((e) => `  +${(e.atMs / 1000).toFixed(3)}s ${e.phase === 'note' ? '  ' : e.phase === 'begin' ? '>>' : '<<'} ${e.kind} ${e.detail}`).join('\n');
}
