import { describe, expect, it } from 'vitest';
import { totalViolations } from './checker.ts';
import { runScenario } from './scenario.ts';

// The CI profile of the fault suite: a few seeds, each on its own fresh 3-node cluster, with
// ~20 s of faults each. FAULT_SEEDS=7,8 picks the seeds (e.g. to replay a failure),
// FAULT_SECONDS the length of each run.
const seeds = (process.env.FAULT_SEEDS ?? '1,2,3').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n));
const seconds = Number(process.env.FAULT_SECONDS ?? 20);

describe('acks=all records under crashes, pauses and network cuts (real 3-node cluster)', () => {
  for (const seed of seeds) {
    it(`seed ${seed}: loses, reorders and forks no acknowledged record, and every replica ends identical`, async () => {
      const r = await runScenario({ seed, seconds, partitions: 4, producers: 6 });
      expect(r.report.violations.map((v) => `${v.kind}: ${v.message}`), `${r.summary}\n${r.faultLog}`).toEqual([]);
      expect(totalViolations(r.report)).toBe(0);
      expect(r.faultCount, r.faultLog).toBeGreaterThanOrEqual(2);
      expect(r.report.ackedRecords, r.summary).toBeGreaterThan(100);
      expect(r.report.checkedRecords).toBeGreaterThanOrEqual(r.report.ackedRecords);
      // Normally ~10 s beyond `seconds`; the margin covers a run that fails on liveness (heal,
      // final writes and convergence each wait out their own deadline) so it still reports.
    }, seconds * 1000 + 200_000);
  }
});
