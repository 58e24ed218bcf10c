import { cp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../sim/prng.ts';
import { pollUntil } from '../support/poll.ts';
import { fastTimings, ProcessCluster } from '../support/process-cluster.ts';
import { checkConsumerHistory, checkHistory, readAllReplicas, totalViolations, waitConverged } from './checker.ts';
import type { CheckReport, ConsumerCheckReport, Violation, ViolationKind } from './checker.ts';
import { readCommittedOffsets, startConsumerWorkload } from './consumer-workload.ts';
import type { ConsumerHistory, ConsumerWorkload } from './consumer-workload.ts';
import { FAULT_KINDS, formatFaultLog, healAll, ISR_CHURN_LAG_MS, runNemesis } from './nemesis.ts';
import type { FaultKind, NemesisResult } from './nemesis.ts';
import { produceOnce, startWorkload } from './workload.ts';
import type { Attempt } from './workload.ts';

export interface ScenarioOptions {
  readonly seed: number;
  /** How long the workload and the nemesis run together. */
  readonly seconds: number;
  readonly partitions: number;
  readonly producers: number;
  readonly recordsPerRequest?: number;
  /** HTTP (REST v2) members of the consumer group reading the topic meanwhile (3 by default). */
  readonly consumers?: number;
  /** Kafka-protocol (kafkajs) members of the same group (1 by default; with no HTTP member, none: no consumer workload). */
  readonly kafkaConsumers?: number;
  /** The nemesis's fault kinds (all by default). */
  readonly kinds?: readonly FaultKind[];
}

export interface ScenarioResult {
  readonly seed: number;
  /** Both workloads' violations (the consumer group's included). */
  readonly report: CheckReport;
  /** The consumer group's part, when it ran. */
  readonly consumerReport?: ConsumerCheckReport;
  readonly faults: NemesisResult;
  /** Faults injected (an isr-churn fault counts each pause and kill). */
  readonly faultCount: number;
  readonly durationMs: number;
  /** The one-line summary, as printed. */
  readonly summary: string;
  readonly faultLog: string;
  /** Where the cluster's logs and data were copied when a violation was found. */
  readonly keptDir?: string;
}

const PRODUCE_TIMEOUT_MS = 3000;
/** How long every leader holds an AlterPartition before sending it (RUNNEL_TEST_ALTER_PARTITION_DELAY_MS). */
const ALTER_PARTITION_DELAY_MS = 300;
const HTTP_TIMEOUT_MS = 5000;
const CONVERGE_TIMEOUT_MS = 60_000;
const FINAL_WRITE_TIMEOUT_MS = 30_000;
/** consumer.session.timeout.ms of the consumer group's members. */
const CONSUMER_SESSION_TIMEOUT_MS = 3000;
/** After healing, how long the consumers have to commit up to every partition's high watermark. */
const CONSUMER_CATCH_UP_TIMEOUT_MS = 30_000;

function withViolations(r: CheckReport, extra: readonly Violation[], extraCounts?: Partial<Record<ViolationKind, number>>): CheckReport {
  if (extra.length === 0) return r;
  const counts: Partial<Record<ViolationKind, number>> = { ...r.violationCounts };
  if (extraCounts === undefined) for (const v of extra) counts[v.kind] = (counts[v.kind] ?? 0) + 1;
  else for (const [k, n] of Object.entries(extraCounts) as [ViolationKind, number][]) counts[k] = (counts[k] ?? 0) + n;
  return { ...r, violations: [...extra, ...r.violations], violationCounts: counts };
}

export function summaryLine(seed: number, faults: NemesisResult, r: CheckReport, durationMs: number, cr?: ConsumerCheckReport, catchUpMs = 0): string {
  const kinds = FAULT_KINDS.map((k) => `${k}=${faults.counts[k]}`).join(' ');
  const hws = r.partitions.map((p) => `p${p.partition}=${p.highWatermark}`).join(' ');
  const bad = totalViolations(r);
  const byKind = Object.entries(r.violationCounts).map(([k, n]) => `${k}=${n}`).join(' ');
  const group = cr === undefined
    ? ''
    : `group{polls=${cr.polls} delivered=${cr.delivered} distinct=${cr.distinct} redelivered=${cr.redelivered} ` +
      `commits{ok=${cr.commits.ok} failed=${cr.commits.failed} unknown=${cr.commits.unknown}} poll-failures=${cr.pollFailures} recreated=${cr.recreations} ` +
      (cr.kafka === undefined || cr.kafka.members === 0 ? '' : `kafka{members=${cr.kafka.members} batches=${cr.kafka.batches} delivered=${cr.kafka.delivered} joins=${cr.kafka.joins} crashes=${cr.kafka.crashes} recreated=${cr.kafka.recreations} ` +
        `commits{ok=${cr.kafka.commits.ok} failed=${cr.kafka.commits.failed} unknown=${cr.kafka.commits.unknown}}} `) +
      `committed{${cr.partitions.map((p) => `p${p.partition}=${p.committed ?? 'none'}`).join(' ')}} caught-up-in=${(catchUpMs / 1000).toFixed(1)}s} `;
  return `[fault] seed=${seed} faults{${kinds}} requests{ok=${r.requests.ok} failed=${r.requests.failed} unknown=${r.requests.unknown}} ` +
    `records{acked=${r.ackedRecords} checked=${r.checkedRecords} unacked-in-log=${r.unackedInLog} duplicates=${r.duplicates}} hw{${hws}} ${group}` +
    `violations=${bad}${bad > 0 ? `{${byKind}}` : ''} ${(durationMs / 1000).toFixed(1)}s`;
}

/**
 * One Jepsen-style run on a fresh real 3-node cluster: acks=all producers, a consumer group
 * reading the same topic (HTTP members created, lost and re-created on the nodes the nemesis
 * hits, and kafkajs members over the Kafka protocol bootstrapped with every node) and a seeded nemesis together for `seconds`, then heal, one acknowledged write per partition
 * (the cluster must be available again), wait for every replica to converge, read every
 * replica of every partition and check the produce history against them; then let the
 * consumers catch up and commit up to every high watermark, stop them, read the group's
 * committed offsets and check the consumer history against the log and those offsets. The
 * cluster is destroyed whatever happens; on a violation its logs and data are kept under the
 * OS temp dir first.
 */
export async function runScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const started = performance.now();
  const rng = new Prng(opts.seed);
  const topic = `fault-${opts.seed}`;
  // The groups' default session timeout is also how long a new coordinator holds back grants
  // after a failover: as short as the members' sessions, so the consumers resume quickly.
  // A lag limit under the broker session timeout: the isr-churn fault pauses a follower just
  // past it, so the follower leaves the ISR and rejoins it without being fenced.
  const extraYaml = fastTimings({ replicaLagTimeMaxMs: ISR_CHURN_LAG_MS, groupSessionTimeoutMs: CONSUMER_SESSION_TIMEOUT_MS });
  // Leaders hold each AlterPartition a while, as a slow controller would: ISR changes stay in
  // flight long enough for the nemesis's faults to land in the middle of them.
  const c = await ProcessCluster.create({ extraYaml, env: { RUNNEL_TEST_HOOKS: '1', RUNNEL_TEST_ALTER_PARTITION_DELAY_MS: String(ALTER_PARTITION_DELAY_MS) } });
  let consumers: ConsumerWorkload | undefined;
  try {
    c.startAll();
    await c.waitHealthy(c.ids, 30_000);
    const created = await c.http(c.ids[0] ?? 1, 'POST', c.v3('/topics'), {
      topic_name: topic,
      partitions_count: opts.partitions,
      replication_factor: 3,
      configs: [{ name: 'min.insync.replicas', value: '2' }],
    });
    if (created.status !== 201) throw new Error(`create topic ${topic}: ${created.status} ${JSON.stringify(created.body)}`);
    await pollUntil('every node to see every partition led with a full ISR', async () => {
      const all = await Promise.all(c.ids.map(async (id) => ((await c.get(id, c.v3(`/topics/${topic}/partitions`))) as { data: { leader_id: number | null; isr: number[] }[] }).data));
      return all.every((ps) => ps.length === opts.partitions && ps.every((p) => p.leader_id !== null && p.isr.length === c.ids.length));
    }, 20_000, 50);

    const urls = new Map(c.ids.map((id) => [id, c.url(id, '')]));
    // Forked in this order so the producers and the nemesis draw what they drew before the consumers existed.
    const produceRng = rng.fork();
    const nemesisRng = rng.fork();
    const consumerRng = rng.fork();
    const group = `fault-group-${opts.seed}`;
    const t0 = performance.now();
    const members = opts.consumers ?? 3;
    const kafkaMembers = members > 0 ? (opts.kafkaConsumers ?? 1) : 0;
    const kafkaBrokers = c.ids.map((id) => `127.0.0.1:${c.kafkaPorts.get(id) ?? 0}`);
    consumers = members > 0
      ? startConsumerWorkload({ urls, topic, group, members, kafkaMembers, kafkaBrokers, sessionTimeoutMs: CONSUMER_SESSION_TIMEOUT_MS, rng: consumerRng, t0 })
      : undefined;
    const workload = startWorkload({
      urls,
      topic,
      partitions: opts.partitions,
      producers: opts.producers,
      recordsPerRequest: opts.recordsPerRequest ?? 3,
      produceTimeoutMs: PRODUCE_TIMEOUT_MS,
      httpTimeoutMs: HTTP_TIMEOUT_MS,
      maxRetries: 2,
      rng: produceRng,
      t0,
    });
    // Stop the producers even when the nemesis failed: their attempts are the history.
    const outcome = await runNemesis({ cluster: c, topic, rng: nemesisRng, t0, durationMs: opts.seconds * 1000, ...(opts.kinds === undefined ? {} : { kinds: opts.kinds }) }).then(
      (faults) => ({ faults }),
      (err: unknown) => ({ err }),
    );
    const attempts: Attempt[] = await workload.stop();
    if ('err' in outcome) throw outcome.err;
    const { faults } = outcome;
    const extra: Violation[] = [];
    if (faults.stuck !== undefined) extra.push({ kind: 'liveness', message: `after a fault: ${faults.stuck}` });

    await healAll(c);
    // After healing, the cluster must take an acknowledged write on every partition again.
    let seq = 0;
    const deadline = performance.now() + FINAL_WRITE_TIMEOUT_MS;
    for (let p = 0; p < opts.partitions; p++) {
      const values = [`final-p${p}`];
      for (;;) {
        const node = c.ids[seq % c.ids.length] ?? 1;
        const startMs = performance.now() - t0;
        const r = await produceOnce(urls.get(node) ?? '', topic, p, values, PRODUCE_TIMEOUT_MS, HTTP_TIMEOUT_MS);
        attempts.push({ producer: opts.producers, seq: seq++, node, partition: p, values, startMs, endMs: performance.now() - t0, ...r });
        if (r.outcome === 'ok') break;
        if (performance.now() > deadline) {
          extra.push({ kind: 'liveness', message: `partition ${p}: no acks=all write acknowledged within ${FINAL_WRITE_TIMEOUT_MS} ms of healing (last: ${r.detail})` });
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    const stuck = await waitConverged(c, topic, opts.partitions, CONVERGE_TIMEOUT_MS);
    if (stuck !== undefined) extra.push({ kind: 'liveness', message: `replicas did not converge after healing: ${stuck}` });
    const replicas = await readAllReplicas(c, topic, opts.partitions);
    let report = withViolations(checkHistory(attempts, replicas, opts.partitions), extra);

    // The consumers have been chasing the log all along; now it stands still. They must read
    // and commit all of it, then the group's committed offsets are checked against what they got.
    let consumerReport: ConsumerCheckReport | undefined;
    let catchUpMs = 0;
    if (consumers !== undefined) {
      const cw = consumers;
      const consumerExtra: Violation[] = [];
      const hws = new Map(report.partitions.map((p) => [p.partition, p.highWatermark]));
      const catchUpStart = performance.now();
      const behind = await cw.waitCaughtUp(c.clusterId, hws, CONSUMER_CATCH_UP_TIMEOUT_MS);
      catchUpMs = performance.now() - catchUpStart;
      if (behind !== undefined) consumerExtra.push({ kind: 'liveness', message: behind });
      consumers = undefined;
      const history: ConsumerHistory = await cw.stop();
      const finalCommitted = await readCommittedOffsets(urls, c.clusterId, group, topic, 15_000).catch((err: unknown) => {
        consumerExtra.push({ kind: 'liveness', message: `could not read the group's committed offsets: ${(err as Error).message}` });
        return new Map<number, number | null>();
      });
      consumerReport = checkConsumerHistory(history, finalCommitted, replicas, opts.partitions);
      report = withViolations(report, consumerExtra);
      report = withViolations(report, consumerReport.violations, consumerReport.violationCounts);
    }

    const durationMs = performance.now() - started;
    const summary = summaryLine(opts.seed, faults, report, durationMs, consumerReport, catchUpMs);
    const faultLog = formatFaultLog(faults.events);
    console.log(`${summary}\n${faultLog}`);
    let keptDir: string | undefined;
    if (totalViolations(report) > 0) {
      keptDir = join(tmpdir(), `runnel-fault-seed-${opts.seed}-${Date.now()}`);
      await cp(c.dir, keptDir, { recursive: true }).catch(() => undefined);
      await writeFile(join(keptDir, 'violations.txt'), report.violations.map((v) => `${v.kind}: ${v.message}`).join('\n') + '\n').catch(() => undefined);
      console.log(`[fault] seed=${opts.seed} VIOLATIONS (cluster logs and data kept in ${keptDir}):\n${report.violations.map((v) => `  ${v.kind}: ${v.message}`).join('\n')}`);
    }
    const faultCount = faults.injected;
    return {
      seed: opts.seed, report, faults, faultCount, durationMs, summary, faultLog,
      ...(consumerReport === undefined ? {} : { consumerReport }),
      ...(keptDir === undefined ? {} : { keptDir }),
    };
  } finally {
    // After a failure part-way: stop the consumer loops before the cluster goes.
    await consumers?.stop();
    await c.destroy();
  }
}
