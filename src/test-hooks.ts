/**
 * Fault-test hooks: served or applied only when RUNNEL_TEST_HOOKS=1 is in a node's
 * environment. Never in production.
 */
export const TEST_HOOKS_ENV = 'RUNNEL_TEST_HOOKS';

export function testHooksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[TEST_HOOKS_ENV] === '1';
}

function delayMs(env: NodeJS.ProcessEnv, name: string): number {
  if (!testHooksEnabled(env)) return 0;
  const ms = Number(env[name] ?? 0);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** RUNNEL_TEST_ALTER_PARTITION_DELAY_MS: how long a leader holds each AlterPartition before sending it (0: not at all). */
export function testAlterPartitionDelayMs(env: NodeJS.ProcessEnv = process.env): number {
  return delayMs(env, 'RUNNEL_TEST_ALTER_PARTITION_DELAY_MS');
}

/** RUNNEL_TEST_PRODUCE_ANSWER_DELAY_MS: how long a leader holds each produce answer once it is decided (0: not at all). */
export function testProduceAnswerDelayMs(env: NodeJS.ProcessEnv = process.env): number {
  return delayMs(env, 'RUNNEL_TEST_PRODUCE_ANSWER_DELAY_MS');
}

/** RUNNEL_TEST_GROUP_LOAD_DELAY_MS: how long a new group coordinator waits before reading its offsets partition (0: not at all). */
export function testGroupLoadDelayMs(env: NodeJS.ProcessEnv = process.env): number {
  return delayMs(env, 'RUNNEL_TEST_GROUP_LOAD_DELAY_MS');
}
