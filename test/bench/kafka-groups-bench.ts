// Rebalance times of Kafka-protocol group members, and the commit rate of one member, on a
// real 3-node cluster (test timings, initial rebalance delay 100 ms):
//   npx tsx test/bench/kafka-groups-bench.ts [ROUNDS]
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
import { ProcessCluster } from '../support/process-cluster.ts';

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

const rounds = Number(process.argv[2] ?? 5);
// FAST_TIMINGS: initial rebalance delay 100 ms, sessions down to 1 s allowed.
const c = await ProcessCluster.started();
try {
  const brokers = c.ids.map((id) => `127.0.0.1:${c.kafkaPorts.get(id)}`);
  const r = await c.http(1, 'POST', c.v3('/topics'), { topic_name: 'kgbench', partitions_count: 6, replication_factor: 3 });
  if (r.status !== 201) throw new Error(`topic: ${r.status}`);
  const clients = { kafkajs: kafkajsMember, kcat: kcatMember } as const;
  for (const [name, make] of Object.entries(clients)) {
    for (const [what, signal] of [['leaves (LeaveGroup)', 'SIGTERM'], [`dies (SIGKILL, session ${SESSION_MS} ms)`, 'SIGKILL']] as const) {
      const runs: number[] = [];
      for (let i = 0; i < rounds; i++) runs.push(await rebalanceMs((g) => make(brokers.join(','), g, 'kgbench'), `kg-${name}-${signal}-${i}`, signal));
      process.stdout.write(`${name}: member ${what} -> survivor assigned all 6: median ${median(runs).toFixed(0)} ms (runs ${runs.map((x) => x.toFixed(0)).join(', ')})\n`);
    }
  }
  const commits = await commitsPerSec(brokers);
  process.stdout.write(`kafkajs: one member's commits, one at a time: ${commits.perSec.toFixed(0)} commits/s (OffsetCommit round trip median ${commits.roundTripMs} ms)\n`);
} finally {
  await c.destroy();
}
