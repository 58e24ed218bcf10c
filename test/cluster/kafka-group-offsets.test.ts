import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { MessageValue } from '../../src/kafka/protocol/message-codec.ts';
import { kafkaCall } from '../support/kafka-call.ts';
import { pollUntil } from '../support/poll.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { withCluster } from '../support/process-cluster.ts';

const run = promisify(execFile);

interface HttpGroup {
  coordinator_id: number;
  partitions: { topic: string; partition: number; committed_offset: number | null }[];
}

describe('Kafka group offsets (assign-mode consumers) over the coordinator HTTP consumer groups use', () => {
  let c!: ProcessCluster;
  withCluster((cluster) => (c = cluster));

  const port = (id: number): number => c.kafkaPorts.get(id) ?? 0;
  const ok = async (node: number, method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await c.http(node, method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path} on node ${node}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const topic = async (name: string, records: number): Promise<void> => {
    await ok(1, 'POST', c.v3('/topics'), { topic_name: name, partitions_count: 1, replication_factor: 3 });
    await ok(2, 'POST', `/topics/${name}/partitions/0`, { records: Array.from({ length: records }, (_, i) => ({ value: `${name}-${i}` })) });
  };
  /** The group's coordinator as FindCoordinator v4 names it on `node`, once it has one. */
  const findCoordinator = (node: number, group: string): Promise<MessageValue> =>
    pollUntil(`node ${node} to name the coordinator of ${group}`, async () => {
      const r = await kafkaCall(port(node), 'FindCoordinator', 4, { keyType: 0, coordinatorKeys: [group] });
      const found = (r['coordinators'] as MessageValue[])[0];
      return found?.['errorCode'] === 0 ? found : undefined;
    }, 20_000, 100);
  const commit = async (node: number, group: string, t: string, offset: bigint, generation = -1): Promise<number> => {
    const r = await kafkaCall(port(node), 'OffsetCommit', 8, {
      groupId: group,
      generationIdOrMemberEpoch: generation,
      memberId: '',
      groupInstanceId: null,
      topics: [{ name: t, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: 'm' }] }],
    });
    return (((r['topics'] as MessageValue[])[0]?.['partitions'] as MessageValue[])[0]?.['errorCode'] as number | undefined) ?? -2;
  };

  it('FindCoordinator on every node, at every version, names the coordinator HTTP names, at its Kafka port', async () => {
    const found = await Promise.all(c.ids.map((id) => findCoordinator(id, 'g-find')));
    const http = (await c.get(1, c.v3('/consumer-groups/g-find'))) as HttpGroup;
    for (const f of found) expect(f).toMatchObject({ key: 'g-find', nodeId: http.coordinator_id, host: '127.0.0.1', port: port(http.coordinator_id), errorMessage: null });
    for (const v of [0, 1, 3]) {
      const r = await kafkaCall(port(2), 'FindCoordinator', v, { key: 'g-find', keyType: 0 });
      expect(r).toMatchObject({ errorCode: 0, nodeId: http.coordinator_id, port: port(http.coordinator_id) });
    }
    // No transactions: refused as InitProducerId refuses a transactional id.
    const txn = await kafkaCall(port(3), 'FindCoordinator', 4, { keyType: 1, coordinatorKeys: ['tx'] });
    expect((txn['coordinators'] as MessageValue[])[0]).toMatchObject({ key: 'tx', nodeId: -1, errorCode: 53 });
  }, 60_000);

  it('kcat in assign mode with a group.id starts at the offset committed over HTTP (-o stored: OffsetFetch on the coordinator)', async () => {
    await topic('kcat-stored', 5);
    expect((await c.http(1, 'POST', c.v3('/consumer-groups/g-kcat/offsets'), { offsets: [{ topic: 'kcat-stored', partition: 0, offset: 3 }] })).status).toBe(200);
    const { stdout } = await run('kcat', ['-C', '-b', `127.0.0.1:${port(3)}`, '-t', 'kcat-stored', '-p', '0', '-o', 'stored', '-e', '-X', 'group.id=g-kcat'], { timeout: 30_000 });
    expect(stdout.split('\n').filter((l) => l !== '')).toEqual(['"kcat-stored-3"', '"kcat-stored-4"']);
  }, 60_000);

  it('a commit over Kafka is read over HTTP, an HTTP member\'s commit by kafkajs; only the coordinator commits, only without members', async () => {
    await topic('both-doors', 4);
    const { nodeId } = (await findCoordinator(1, 'g-both')) as { nodeId: number };
    const other = c.ids.find((id) => id !== nodeId) ?? 1;
    expect(await commit(other, 'g-both', 'both-doors', 2n)).toBe(16); // NOT_COORDINATOR
    expect(await commit(nodeId, 'g-both', 'both-doors', 2n, 3)).toBe(25); // a generation, but no Kafka member: UNKNOWN_MEMBER_ID
    expect(await commit(nodeId, 'g-both', 'no-such-topic', 2n)).toBe(3);
    expect(await commit(nodeId, 'g-both', 'both-doors', 2n)).toBe(0);
    const viaHttp = (await c.get(other, c.v3('/consumer-groups/g-both'))) as HttpGroup;
    expect(viaHttp.partitions).toEqual([expect.objectContaining({ topic: 'both-doors', partition: 0, committed_offset: 2 })]);

    // An HTTP member reads and commits; kafkajs reads the commit back.
    const base = '/consumers/g-both/instances/h';
    await ok(2, 'POST', '/consumers/g-both', { name: 'h', format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' });
    await ok(2, 'POST', `${base}/subscription`, { topics: ['both-doors'] });
    await pollUntil('h to read', async () => ((await ok(2, 'GET', `${base}/records?timeout=500`)) as unknown[]).length > 0, 20_000, 10);
    await ok(2, 'POST', `${base}/offsets`, { offsets: [{ topic: 'both-doors', partition: 0, offset: 3 }] });
    const kafka = new Kafka({ clientId: 'runnel-group-test', brokers: [`127.0.0.1:${port(other)}`], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const fetched = await admin.fetchOffsets({ groupId: 'g-both', topics: ['both-doors'] });
      expect(fetched).toEqual([{ topic: 'both-doors', partitions: [{ partition: 0, offset: '4', metadata: null }] }]);
      const none = await admin.fetchOffsets({ groupId: 'g-never', topics: ['both-doors'] });
      expect(none).toEqual([{ topic: 'both-doors', partitions: [{ partition: 0, offset: '-1', metadata: null }] }]);
      // ListGroups (asked of every broker) and DescribeGroups show the HTTP group as a consumer group.
      const listed = (await admin.listGroups()).groups;
      expect(listed).toContainEqual({ groupId: 'g-both', protocolType: 'consumer' });
      expect(listed.map((g) => g.groupId)).not.toContain('g-never'); // neither members nor commits: no group for Kafka
      const described = await pollUntil('g-both to be Stable', async () => {
        const d = (await admin.describeGroups(['g-both'])).groups[0];
        return d?.state === 'Stable' ? d : undefined;
      }, 20_000, 100);
      expect(described).toMatchObject({ groupId: 'g-both', errorCode: 0, protocolType: 'consumer', protocol: 'range' });
      expect(described.members.map((m) => m.memberId)).toEqual(['h']);
      const m = described.members[0];
      if (m === undefined) throw new Error('no member');
      expect(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment).toEqual({ 'both-doors': [0] });
      expect(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.topics).toEqual(['both-doors']);
      // Per node, as in Kafka: the coordinator lists it (v4 with a states filter), another node does not.
      const stable = await kafkaCall(port(nodeId), 'ListGroups', 4, { statesFilter: ['stable'] });
      expect(stable['groups']).toContainEqual(expect.objectContaining({ groupId: 'g-both', protocolType: 'consumer', groupState: 'Stable' }));
      const empty = await kafkaCall(port(nodeId), 'ListGroups', 4, { statesFilter: ['Empty'] });
      expect((empty['groups'] as MessageValue[]).map((g) => g['groupId'])).not.toContain('g-both');
      const elsewhere = await kafkaCall(port(other), 'ListGroups', 0, {});
      expect((elsewhere['groups'] as MessageValue[]).map((g) => g['groupId'])).not.toContain('g-both');
    } finally {
      await admin.disconnect();
    }
    // The group has a member now: a commit without one is refused, as Kafka refuses it.
    expect(await commit(nodeId, 'g-both', 'both-doors', 1n)).toBe(25);
    await ok(2, 'DELETE', base);

    // v1 (the oldest with a generation) and OffsetFetch v8 with every committed partition (topics null).
    const all = await kafkaCall(port(nodeId), 'OffsetFetch', 8, { groups: [{ groupId: 'g-both', topics: null }], requireStable: false });
    expect(all['groups']).toEqual([
      { groupId: 'g-both', errorCode: 0, topics: [{ name: 'both-doors', partitions: [{ partitionIndex: 0, committedOffset: 4n, committedLeaderEpoch: -1, metadata: '', errorCode: 0 }] }] },
    ]);
    const v1 = await kafkaCall(port(other), 'OffsetFetch', 1, { groupId: 'g-both', topics: [{ name: 'both-doors', partitionIndexes: [0] }] });
    expect(v1['topics']).toEqual([{ name: 'both-doors', partitions: [expect.objectContaining({ partitionIndex: 0, committedOffset: -1n, errorCode: 16 })] }]);
  }, 90_000);
});
