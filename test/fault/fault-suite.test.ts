import { describe, expect, it } from 'vitest';
import { totalViolations } from './checker.ts';
import { FAULT_KINDS } from './nemesis.ts';
import type { FaultKind } from './nemesis.ts';
import { runScenario } from './scenario.ts';

// The CI profile of the fault suite: a few seeds, each on its own fresh 3-node cluster, with
// ~15 s of faults each, acks=all producers and a consumer group running throughout: 3 HTTP
// members and a kafkajs member (FAULT_KAFKA_CONSUMERS=n for more or none).
// FAULT_SEEDS=7,8 picks the seeds (e.g. to replay a failure), FAULT_SECONDS the length of each run.
const seeds = (process.env.FAULT_SEEDS ?? '1,2,3').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n));
const seconds = Number(process.env.FAULT_SECONDS ?? 15);
const kafkaConsumers = Number(process.env.FAULT_KAFKA_CONSUMERS ?? 1);
// FAULT_KINDS=isr-churn,kill narrows the nemesis to those faults (all of them by default).
const kinds = process.env.FAULT_KINDS?.split(',').map((k) => k.trim()).filter((k): k is FaultKind => (FAULT_KINDS as readonly string[]).includes(k));

describe('acks=all records and a consumer group under crashes, pauses and network cuts (real 3-node cluster)', () => {
  for (const seed of seeds) {
    it(`seed ${seed}: loses, reorders and forks no acknowledged record, every replica ends identical, and the group skips nothing and re-reads nothing below a commit`, async () => {
      const r = await runScenario({ seed, seconds, partitions: 4, producers: 6, consumers: 3, kafkaConsumers, ...(kinds === undefined || kinds.length === 0 ? {} : { kinds }) });
      expect(r.report.violations.map((v) => `${v.kind}: ${v.message}`), `${r.summary}\n${r.faultLog}`).toEqual([]);
      expect(totalViolations(r.report)).toBe(0);
      expect(r.faultCount, r.faultLog).toBeGreaterThanOrEqual(2);
      expect(r.report.ackedRecords, r.summary).toBeGreaterThan(100);
      expect(r.report.checkedRecords).toBeGreaterThanOrEqual(r.report.ackedRecords);
      // The group read the whole log (the check above includes catching up to every HW).
      expect(r.consumerReport?.distinct, r.summary).toBe(r.report.checkedRecords);
      // The Kafka members took part: they were given records and committed some.
      if (kafkaConsumers > 0) {
        expect(r.consumerReport?.kafka?.delivered, r.summary).toBeGreaterThan(0);
        expect(r.consumerReport?.kafka?.commits.ok, r.summary).toBeGreaterThan(0);
      }
      // Normally ~10 s beyond `seconds`; the margin covers a run that fails on liveness (heal,
      // final writes, convergence and the consumers' catch-up each wait out their own deadline)
      // so it still reports.
    }, seconds * 1000 + 250_000);
  }
});
