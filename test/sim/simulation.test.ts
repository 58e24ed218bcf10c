import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSimulation } from './simulation.ts';
import type { SimBug, SimResult, SimStats } from './simulation.ts';

// `SEED=<n> npm test` replays one seed with its event trace; `SIM_SEEDS=<n>` runs more seeds.
const replaySeed = process.env.SEED === undefined ? undefined : Number(process.env.SEED);
const seedCount = Number(process.env.SIM_SEEDS ?? 300);
const FIRST_SEED = 1;
const FAULT_TICKS = 1000;

function report(result: SimResult, bug?: SimBug): string {
  // Failures replay deterministically: run the seed again with tracing on.
  const traced = runSimulation({ seed: result.seed, faultTicks: FAULT_TICKS, trace: true, ...(bug ? { bug } : {}) });
  const file = join(tmpdir(), `runnel-sim-seed-${result.seed}.trace.txt`);
  writeFileSync(file, traced.trace.join('\n') + '\n');
  return [
    `seed ${result.seed}: ${result.violation ?? 'ok'}`,
    `replay: SEED=${result.seed} npm test   (full trace in ${file})`,
    '--- last events ---',
    ...traced.trace.slice(-40),
  ].join('\n');
}

describe('deterministic raft simulation', () => {
  it(`keeps every safety invariant and recovers after faults heal, over ${replaySeed === undefined ? seedCount : 1} seed(s)`, () => {
    const seeds = replaySeed === undefined ? Array.from({ length: seedCount }, (_, i) => FIRST_SEED + i) : [replaySeed];
    const started = performance.now();
    const total: Partial<Record<keyof SimStats, number>> = {};
    for (const seed of seeds) {
      const result = runSimulation({ seed, faultTicks: FAULT_TICKS, trace: replaySeed !== undefined });
      if (replaySeed !== undefined) console.log(result.trace.join('\n'));
      if (result.violation !== undefined) expect.fail(report(result));
      for (const [k, v] of Object.entries(result.stats) as [keyof SimStats, number][]) total[k] = (total[k] ?? 0) + v;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`raft simulation: ${seeds.length} seeds in ${seconds.toFixed(1)} s`, total);
    expect(total.committed).toBeGreaterThan(0);
    expect(total.snapshotsInstalled).toBeGreaterThan(0);
  });

  // The simulator must bite: each deliberate bug is found within the seeds a normal run covers.
  it.each<[SimBug, string]>([
    ['vote-before-sync', 'a vote answered before it is synced'],
    ['send-before-sync', 'messages sent before their Ready is synced'],
  ])('finds a violation when the driver has the bug %s (%s)', (bug) => {
    for (let seed = FIRST_SEED; seed < FIRST_SEED + seedCount; seed++) {
      const result = runSimulation({ seed, faultTicks: FAULT_TICKS, bug });
      if (result.violation !== undefined) {
        console.log(`bug ${bug}: found at seed ${seed} (${seed - FIRST_SEED + 1} seeds): ${result.violation}`);
        return;
      }
    }
    expect.fail(`bug ${bug} went unnoticed over ${seedCount} seeds`);
  });
});
