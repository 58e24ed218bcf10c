import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KAFKA_ERROR } from '../../src/kafka/kafka-error-codes.ts';
import type { MessageValue } from '../../src/kafka/protocol/message-codec.ts';
import { kafkaCall } from '../support/kafka-call.ts';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';

/** Each new coordinator waits this long before reading its offsets partition (test hook). */
const LOAD_DELAY_MS = 2500;

/**
 * COORDINATOR_LOAD_IN_PROGRESS (Redpanda keeps a compatibility test for this path): while a
 * broker that just became a group's coordinator reads its offsets partition, group requests
 * get the retriable code, and real clients wait it out.
 */
describe('a group coordinator that is still loading its offsets partition', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster), { RUNNEL_TEST_HOOKS: '1', RUNNEL_TEST_GROUP_LOAD_DELAY_MS: String(LOAD_DELAY_MS) });
  const port = (id: number): number => c.kafkaPorts.get(id) ?? 0;
  const coordinatorOf = (group: string): Promise<number> =>
    pollUntil(`a coordinator for ${group}`, async () => {
      const r = await kafkaCall(port(1), 'FindCoordinator', 4, { keyType: 0, coordinatorKeys: [group] });
      const found = (r['coordinators'] as MessageValue[])[0];
      return found?.['errorCode'] === 0 ? (found['nodeId'] as number) : undefined;
    }, 20_000, 100);
  const join = (node: number, group: string): Promise<MessageValue> =>
    kafkaCall(port(node), 'JoinGroup', 7, {
      groupId: group,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 0, 255, 255, 255, 255]) }],
    });

  it('answers COORDINATOR_LOAD_IN_PROGRESS until it has loaded, then serves the group', async () => {
    const node = await coordinatorOf('g-loading');
    const first = await join(node, 'g-loading');
    expect(first['errorCode']).toBe(KAFKA_ERROR.COORDINATOR_LOAD_IN_PROGRESS);
    const offsets = await kafkaCall(port(node), 'OffsetFetch', 8, { groups: [{ groupId: 'g-loading', topics: null }], requireStable: false });
    expect((offsets['groups'] as MessageValue[])[0]?.['errorCode']).toBe(KAFKA_ERROR.COORDINATOR_LOAD_IN_PROGRESS);
    // Loaded: a JoinGroup v4+ without member id now gets its id (KIP-394).
    const loaded = await pollUntil('the coordinator to finish loading', async () => {
      const r = await join(node, 'g-loading');
      return r['errorCode'] === KAFKA_ERROR.COORDINATOR_LOAD_IN_PROGRESS ? undefined : r;
    }, 20_000, 200);
    expect(loaded['errorCode']).toBe(KAFKA_ERROR.MEMBER_ID_REQUIRED);
    expect(loaded['memberId']).toMatch(/^runnel-test-/);
  });

  it('a kafkajs consumer group waits out the load and reads', async () => {
    // A group on another offsets partition than the first test's, so its coordinator loads afresh.
    await kafkaCall(port(1), 'CreateTopics', 5, { topics: [{ name: 'load-t', numPartitions: 1, replicationFactor: 3, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    const kafka = new Kafka({ clientId: 'load-kjs', brokers: c.ids.map((id) => `127.0.0.1:${port(id)}`), logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'load-t', acks: -1, messages: [{ value: 'one' }, { value: 'two' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'g-load-other', sessionTimeout: 10_000 });
    const got: string[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: 'load-t', fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => {
          got.push(message.value?.toString() ?? '');
          return Promise.resolve();
        },
      });
      await pollUntil('kafkajs to read both records', () => Promise.resolve(got.length >= 2 ? true : undefined), 30_000, 100);
      expect(got).toEqual(['one', 'two']);
    } finally {
      await consumer.disconnect();
    }
  });
});
