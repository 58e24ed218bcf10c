// Rebalance times of Kafka-protocol group members, and the commit rate of one member, on a
// real 3-node cluster (test timings, initial rebalance delay 100 ms):
//   npm run bench -- --suite kafka-groups
// Two members over 6 partitions, for kafkajs and for kcat (librdkafka): from one member
// leaving (kafkajs disconnect / kcat SIGTERM: LeaveGroup) or dying (SIGKILL: its 3 s session
// expires) until the survivor is assigned all 6 (its GroupJoin event / kcat's rebalance log).
// Then one kafkajs member commits as fast as it can, one commit at a time, for 5 s (each an
// acks=all write to the offsets topic).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { FAST_KAFKAJS, KcatMember } from '../support/group-members.ts';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';

const SESSION_MS = 3000;
const MEMBER = fileURLToPath(new URL('./kafkajs-member.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

interface Member {
  /** Partitions of its latest assignment. */
  assigned(): number;
  stop(signal: NodeJS.Signals): Promise<void>;
}

function kafkajsMember(brokers: string, group: string, topic: string): Member {
  const child: ChildProcess = spawn(process.execPath, ['--import', TSX, MEMBER, brokers, group, topic, String(SESSION_MS)], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let assigned = 0;
  let buf = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) assigned = (JSON.parse(l) as { partitions: number }).partitions;
  });
  return {
    assigned: () => assigned,
    stop: async (signal) => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(-child.pid, signal);
      await exited;
    },
  };
}

function kcatMember(brokers: string, group: string, topic: string): Member {
  const m = new KcatMember(brokers, group, topic, ['-X', `session.timeout.ms=${SESSION_MS}`, '-X', 'heartbeat.interval.ms=300']);
  return { assigned: () => m.assigned().length, stop: (signal) => m.stop(signal) };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function rebalanceMs(make: (group: string) => Member, group: string, signal: NodeJS.Signals): Promise<number> {
  const a = make(group);
  const b = make(group);
  try {
    await pollUntil('an even split', () => a.assigned() === 3 && b.assigned() === 3, 60_000, 5);
    const t0 = performance.now();
    await a.stop(signal);
    await pollUntil('the survivor assigned all 6', () => b.assigned() === 6, 60_000, 5);
    return performance.now() - t0;
  } finally {
    await Promise.all([a.stop('SIGKILL'), b.stop('SIGKILL')]);
  }
}

/** Commits/s of one member, and the median OffsetCommit round trip kafkajs measured (its REQUEST events). */
async function commitsPerSec(brokers: string[]): Promise<{ perSec: number; roundTripMs: number }> {
  const kafka = new Kafka({ clientId: 'commit-bench', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: 'kg-commits', ...FAST_KAFKAJS });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  const roundTrips: number[] = [];
  consumer.on(consumer.events.REQUEST, (e) => {
    if (e.payload.apiName === 'OffsetCommit') roundTrips.push(e.payload.duration);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: 'kgbench', fromBeginning: true });
    await consumer.run({ autoCommit: false, eachMessage: () => Promise.resolve() });
    await pollUntil('the member to join', () => joined, 30_000, 10);
    let n = 0;
    const end = performance.now() + 5000;
    while (performance.now() < end) {
      n++;
      await consumer.commitOffsets([{ topic: 'kgbench', partition: n % 6, offset: String(n) }]);
    }
    return { perSec: n / 5, roundTripMs: median(roundTrips) };
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Group failover: from SIGKILL of the node coordinating the group until its kafkajs member's
 * next OffsetCommit sent after the kill succeeds (the member found the new coordinator, which
 * loaded the group). The member commits every 50 ms meanwhile. The node is restarted after.
 */
async function failoverMs(c: ProcessCluster, brokers: string[], group: string): Promise<number> {
  const kafka = new Kafka({ clientId: 'failover-bench', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: group, ...FAST_KAFKAJS });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  await consumer.connect();
  let stop = false;
  let killedAt = Number.POSITIVE_INFINITY;
  let recoveredAt = Number.NaN;
  try {
    await consumer.subscribe({ topic: 'kgbench', fromBeginning: true });
    await consumer.run({ autoCommit: false, eachMessage: () => Promise.resolve() });
    await pollUntil('the member to join', () => joined, 30_000, 10);
    const committer = (async () => {
      for (let n = 0; !stop; n++) {
        const sent = performance.now();
        try {
          await consumer.commitOffsets([{ topic: 'kgbench', partition: 0, offset: String(n) }]);
          if (sent > killedAt && Number.isNaN(recoveredAt)) recoveredAt = performance.now();
        } catch {
          // The coordinator is moving: kafkajs finds the new one on the next commit.
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const view = (await c.get(1, c.v3(`/consumer-groups/${group}`))) as { coordinator_id: number };
    killedAt = performance.now();
    await c.kill(view.coordinator_id);
    await pollUntil('a commit after the kill to succeed', () => !Number.isNaN(recoveredAt), 60_000, 10);
    stop = true;
    await committer;
    c.start(view.coordinator_id);
    await c.waitHealthy();
    return recoveredAt - killedAt;
  } finally {
    stop = true;
    await consumer.disconnect();
  }
}

/**
 * Group failover with librdkafka: a `kcat -G` member (auto-commit every 100 ms) reads a
 * partition that a producer writes every 50 ms; from SIGKILL of the group's coordinator until
 * the group's committed offset (as the v3 view on a live node shows it) passes the partition's
 * end at the kill, i.e. a record written after the kill was read and its commit stored by the
 * new coordinator. The partition is one the killed node does not lead, so that only the group
 * fails over. The node is restarted after.
 */
async function kcatFailoverMs(c: ProcessCluster, brokers: string[], group: string): Promise<number> {
  const member = new KcatMember(brokers.join(','), group, 'kgbench', ['-X', `session.timeout.ms=${SESSION_MS}`, '-X', 'heartbeat.interval.ms=300']);
  let producing = true;
  try {
    await pollUntil('the kcat member to be assigned all 6', () => member.assigned().length === 6, 60_000, 10);
    const coordinator = ((await c.get(1, c.v3(`/consumer-groups/${group}`))) as { coordinator_id: number }).coordinator_id;
    const live = c.ids.find((id) => id !== coordinator) ?? 1;
    const parts = ((await c.get(live, c.v3('/topics/kgbench/partitions'))) as { data: { partition_id: number; leader_id: number | null }[] }).data;
    const p = parts.find((x) => x.leader_id !== coordinator)?.partition_id ?? 0;
    const producer = (async () => {
      while (producing) {
        await c.http(live, 'POST', `/topics/kgbench/partitions/${p}`, { records: [{ value: 'tick' }] }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const committed = async (): Promise<number> => {
      const g = (await c.get(live, c.v3(`/consumer-groups/${group}`))) as { partitions: { partition: number; committed_offset: number | null }[] };
      return g.partitions.find((x) => x.partition === p)?.committed_offset ?? -1;
    };
    await pollUntil('commits to flow', async () => (await committed()) > 0, 30_000, 50);
    const end = ((await c.get(live, `/topics/kgbench/partitions/${p}/offsets`)) as { end_offset: number }).end_offset;
    const killedAt = performance.now();
    await c.kill(coordinator);
    await pollUntil('a commit past the end at the kill', async () => (await committed().catch(() => -1)) > end, 60_000, 20);
    const ms = performance.now() - killedAt;
    producing = false;
    await producer;
    c.start(coordinator);
    await c.waitHealthy();
    return ms;
  } finally {
    producing = false;
    await member.stop('SIGKILL');
  }
}

export interface KafkaGroupsResult {
  readonly sessionTimeoutMs: number;
  /** client -> 'leave' | 'death' -> rebalance times of each round, ms. */
  readonly rebalanceMs: Record<string, { leave: number[]; death: number[] }>;
  readonly commitsPerSec: number;
  readonly commitRoundTripMs: number;
  /** Coordinator SIGKILL -> the kafkajs member's next commit succeeds, each round (test timings: brokers fenced after 2 s). */
  readonly failoverMs: number[];
  /** Coordinator SIGKILL -> a record written after the kill is read and committed by a kcat member, each round. */
  readonly kcatFailoverMs: number[];
}

/**
 * The Kafka-protocol group figures on a started cluster (FAST_TIMINGS: initial rebalance delay
 * 100 ms, sessions down to 1 s allowed), printed as they come.
 */
export async function kafkaGroupsBench(c: ProcessCluster, rounds: number): Promise<KafkaGroupsResult> {
  const brokers = c.ids.map((id) => `127.0.0.1:${c.kafkaPorts.get(id)}`);
  const r = await c.http(1, 'POST', c.v3('/topics'), { topic_name: 'kgbench', partitions_count: 6, replication_factor: 3 });
  if (r.status !== 201) throw new Error(`topic: ${r.status}`);
  const clients = { kafkajs: kafkajsMember, kcat: kcatMember } as const;
  const rebalance: Record<string, { leave: number[]; death: number[] }> = {};
  for (const [name, make] of Object.entries(clients)) {
    const entry = { leave: [] as number[], death: [] as number[] };
    rebalance[name] = entry;
    for (const [what, signal, runs] of [['leaves (LeaveGroup)', 'SIGTERM', entry.leave], [`dies (SIGKILL, session ${SESSION_MS} ms)`, 'SIGKILL', entry.death]] as const) {
      for (let i = 0; i < rounds; i++) runs.push(await rebalanceMs((g) => make(brokers.join(','), g, 'kgbench'), `kg-${name}-${signal}-${i}`, signal));
      process.stdout.write(`${name}: member ${what} -> survivor assigned all 6: median ${median(runs).toFixed(0)} ms (runs ${runs.map((x) => x.toFixed(0)).join(', ')})\n`);
    }
  }
  const commits = await commitsPerSec(brokers);
  process.stdout.write(`kafkajs: one member's commits, one at a time: ${commits.perSec.toFixed(0)} commits/s (OffsetCommit round trip median ${commits.roundTripMs} ms)\n`);
  const failovers: number[] = [];
  for (let i = 0; i < rounds; i++) failovers.push(await failoverMs(c, brokers, `kg-failover-${i}`));
  process.stdout.write(`kafkajs: coordinator SIGKILLed -> the member commits again: median ${median(failovers).toFixed(0)} ms (runs ${failovers.map((x) => x.toFixed(0)).join(', ')}; brokers fenced after 2 s)\n`);
  const kcatFailovers: number[] = [];
  for (let i = 0; i < rounds; i++) kcatFailovers.push(await kcatFailoverMs(c, brokers, `kg-kcat-failover-${i}`));
  process.stdout.write(`kcat: coordinator SIGKILLed -> a record written after it is read and committed: median ${median(kcatFailovers).toFixed(0)} ms (runs ${kcatFailovers.map((x) => x.toFixed(0)).join(', ')})\n`);
  return { sessionTimeoutMs: SESSION_MS, rebalanceMs: rebalance, commitsPerSec: commits.perSec, commitRoundTripMs: commits.roundTripMs, failoverMs: failovers, kcatFailoverMs: kcatFailovers };
}
