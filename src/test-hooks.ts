/**
 * Fault-test hooks: served or applied only when RUNNEL_TEST_HOOKS=1 is in a node's
 * environment. Never in production.
 */
export const TEST_HOOKS_ENV = 'RUNNEL_TEST_HOOKS';

export function testHooksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[TEST_HOOKS_ENV] === '1';
}

/** RUNNEL_TEST_ALTER_PARTITION_DELAY_MS: how long a leader holds each AlterPartition before sending it (0: not at all). */
export function testAlterPartitionDelayMs(env: NodeJS.ProcessEnv = process.env): number {
  if (!testHooksEnabled(env)) return 0;
  const ms = Number(env['RUNNEL_TEST_ALTER_PARTITION_DELAY_MS'] ?? 0);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}
