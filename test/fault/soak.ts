import { parseArgs } from 'node:util';
import { totalViolations } from './checker.ts';
import { runScenario } from './scenario.ts';

// `npm run soak -- --minutes N --seed S [--round-seconds 120] [--partitions 4] [--producers 6] [--kafka-consumers 1]`
// Runs fault scenarios (seed S, S+1, ...) each on a fresh cluster until N minutes have passed;
// prints each round's summary and exits 1 at the first round with a violation.

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      'round-seconds': { type: 'string', default: '120' },
      partitions: { type: 'string', default: '4' },
      producers: { type: 'string', default: '6' },
      'kafka-consumers': { type: 'string', default: '1' },
    },
  });
  const minutes = Number(values.minutes);
  const firstSeed = Number(values.seed);
  const roundSeconds = Number(values['round-seconds']);
  const partitions = Number(values.partitions);
  const producers = Number(values.producers);
  const kafkaConsumers = Number(values['kafka-consumers']);
  if (!Number.isInteger(kafkaConsumers) || kafkaConsumers < 0) throw new Error('--kafka-consumers must be a whole number');
  if (![minutes, firstSeed, roundSeconds, partitions, producers].every((n) => Number.isFinite(n) && n > 0)) {
    throw new Error('--minutes, --seed, --round-seconds, --partitions and --producers must be positive numbers');
  }
  const end = performance.now() + minutes * 60_000;
  let acked = 0;
  let rounds = 0;
  for (let seed = firstSeed; rounds === 0 || performance.now() < end; seed++) {
    // The last round is shortened so the soak ends near the time asked for (at least 10 s of faults).
    const left = (end - performance.now()) / 1000;
    const seconds = Math.max(10, Math.min(roundSeconds, Math.floor(left - 30)));
    const r = await runScenario({ seed, seconds, partitions, producers, kafkaConsumers });
    rounds++;
    acked += r.report.ackedRecords;
    if (totalViolations(r.report) > 0) {
      console.log(`[soak] FAILED at seed ${seed} after ${rounds} round(s); rerun that seed with: FAULT_SEEDS=${seed} FAULT_SECONDS=${seconds}${kafkaConsumers === 1 ? '' : ` FAULT_KAFKA_CONSUMERS=${kafkaConsumers}`} npx vitest run test/fault/fault-suite.test.ts`);
      process.exitCode = 1;
      return;
    }
  }
  console.log(`[soak] ok: ${rounds} round(s) from seed ${firstSeed}, ${acked} acked records checked, no violations`);
}

await main();
