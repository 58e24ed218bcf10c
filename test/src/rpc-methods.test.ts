import { describe, expect, it } from 'vitest';
import { FETCH_RPC } from '../../src/broker/fetch-rpc.ts';
import { CONSUME_RPC, END_OFFSET_FOR_EPOCH_RPC, OFFSET_FOR_TIMESTAMP_RPC, OFFSETS_RPC, PRODUCE_RPC } from '../../src/broker/partition-client.ts';
import { retryUntil } from '../../src/deadline.ts';
import { RunnelError } from '../../src/errors.ts';
import { GROUP_RPC, parseGroupSnapshot, parseJoinAnswer, parseSyncAnswer } from '../../src/groups/group-calls.ts';
import { CONSUMER_RPC } from '../../src/http/consumers/instance-ops.ts';
import { CONTROLLER_RPC, parseTopicState } from '../../src/metadata/controller-calls.ts';
import { QUORUM_STATUS_RPC } from '../../src/metadata/quorum-status.ts';
import { encodeFrame, FrameDecoder } from '../../src/rpc/frame-codec.ts';

/** What the peer's handler receives: the value as the wire carries it (msgpack frames). */
function overTheWire(value: unknown): unknown {
  const [decoded] = new FrameDecoder().push(encodeFrame(value));
  return decoded;
}

const tp = { topic: 'orders', partition: 2 };

const JOIN = {
  group: 'g',
  join: { group: 'g', memberId: '', groupInstanceId: null, clientId: 'rest-c1', clientHost: '/127.0.0.1', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: new Uint8Array([0, 0, 0, 1]) }], requireKnownMemberId: true, proposedMemberId: 'c1' },
};

/** One request per method as its caller sends it, and one answer as its handler gives it. */
const CASES = [
  { m: PRODUCE_RPC, req: { topicId: 't1', partition: 0, batch: new Uint8Array([1, 2, 3]), acks: -1, timeoutMs: 500 }, res: { baseOffset: 7 } },
  { m: CONSUME_RPC, req: { topicId: 't1', partition: 0, offset: 3, maxBytes: 1024, timeoutMs: 100, currentLeaderEpoch: 2 }, res: { records: new Uint8Array([9]), highWatermark: 4, logStartOffset: 1 } },
  { m: OFFSETS_RPC, req: { topicId: 't1', partition: 1 }, res: { logStartOffset: 0, highWatermark: 4, logEndOffset: 5 } },
  {
    m: FETCH_RPC,
    req: { replicaId: 2, maxWaitMs: 500, maxBytes: 1 << 20, sessionId: 0, sessionEpoch: 0, partitions: [{ topicId: 't1', partition: 0, leaderEpoch: 3, fetchOffset: 10, lastFetchedEpoch: 2 }], forgotten: [] },
    res: { partitions: [{ topicId: 't1', partition: 0, records: new Uint8Array([1]), highWatermark: 10, logStartOffset: 0, divergingEpoch: { epoch: 2, endOffset: 8 } }], sessionId: 5 },
  },
  { m: GROUP_RPC, req: { op: 'memberHeartbeat', group: 'g', hb: { group: 'g', memberId: 'm', groupInstanceId: null, generation: 2 } }, res: { error: null } },
  { m: GROUP_RPC, req: { op: 'alterOffsets', group: 'g', offsets: [{ ...tp, offset: 5, metadata: '' }] }, res: { ok: true } },
  { m: CONSUMER_RPC, req: { group: 'g', instance: 'i', op: { op: 'seekTo', where: 'end', partitions: [tp] } }, res: null },
  { m: CONTROLLER_RPC, req: { method: 'alterPartition', topicId: 't1', partition: 0, leaderId: 1, leaderEpoch: 2, partitionEpoch: 3, isr: [1, 2] }, res: { result: null, appliedIndex: 42 } },
  { m: CONTROLLER_RPC, req: { method: 'createTopic', name: 'orders', partitions: 3, configs: { 'retention.ms': '1000' } }, res: { result: { id: 'x' }, appliedIndex: 1 } },
  { m: CONTROLLER_RPC, req: { method: 'allocateProducerIds', brokerId: 2, incarnationId: 'i2' }, res: { result: { brokerId: 2, firstProducerId: 3000, size: 1000 }, appliedIndex: 7 } },
  { m: QUORUM_STATUS_RPC, req: null, res: { leaderId: 1, term: 4, commitIndex: 9, voters: [{ nodeId: 1, matchIndex: 9, lastContactMs: null }] } },
  { m: OFFSET_FOR_TIMESTAMP_RPC, req: { topicId: 't1', partition: 1, timestamp: -3, currentLeaderEpoch: -1 }, res: { offset: 3, timestamp: 1_700_000_000_000, leaderEpoch: 5 } },
  { m: END_OFFSET_FOR_EPOCH_RPC, req: { topicId: 't1', partition: 1, leaderEpoch: 4, currentLeaderEpoch: 6 }, res: { epoch: -1, endOffset: -1 } },
  {
    m: GROUP_RPC,
    req: { op: 'join', ...JOIN },
    res: { error: null, generation: 1, protocolType: 'consumer', protocolName: 'range', leader: 'c1', memberId: 'c1', members: [] },
  },
  { m: GROUP_RPC, req: { op: 'sync', group: 'g', sync: { group: 'g', memberId: 'c1', groupInstanceId: 'i-1', generation: 1, protocolType: null, protocolName: 'range', assignments: [{ memberId: 'c1', assignment: new Uint8Array([7]) }] } }, res: { ok: true } },
  { m: GROUP_RPC, req: { op: 'memberCommit', group: 'g', member: { memberId: 'c1', groupInstanceId: null, generation: 3 }, offsets: [{ ...tp, offset: 5, metadata: '' }] }, res: { error: 'ILLEGAL_GENERATION' } },
] as const;

describe('inter-node rpc methods', () => {
  it.each(CASES.map((c) => [`${c.m.name} ${JSON.stringify(c.req).slice(0, 40)}`, c] as const))('%s: request and answer pass their checks unchanged after the wire', (_name, c) => {
    expect(c.m.parseRequest(overTheWire(c.req))).toEqual(overTheWire(c.req));
    expect(c.m.parseResponse(overTheWire(c.res))).toEqual(overTheWire(c.res));
  });

  it('the classic join and sync answers pass their checks unchanged after the wire', () => {
    const join = { error: 'MEMBER_ID_REQUIRED', generation: -1, protocolType: 'consumer', protocolName: null, leader: '', memberId: 'c1', members: [{ memberId: 'c1', groupInstanceId: null, metadata: new Uint8Array([0, 1]) }] };
    expect(parseJoinAnswer(overTheWire(join))).toEqual(overTheWire(join));
    const sync = { error: null, protocolType: 'consumer', protocolName: 'range', assignment: new Uint8Array([0, 0, 1]) };
    expect(parseSyncAnswer(overTheWire(sync))).toEqual(overTheWire(sync));
  });

  it.each([
    ['produce with acks 2', () => PRODUCE_RPC.parseRequest({ topicId: 't', partition: 0, batch: new Uint8Array(), acks: 2, timeoutMs: 1 }), 'acks: must be 0, 1 or -1'],
    ['offsetForTimestamp with a string timestamp', () => OFFSET_FOR_TIMESTAMP_RPC.parseRequest({ topicId: 't', partition: 0, timestamp: '5' }), 'timestamp: must be an integer'],
    ['an endOffsetForEpoch answer without its end offset', () => END_OFFSET_FOR_EPOCH_RPC.parseResponse({ epoch: 3 }), 'endOffset: must be an integer'],
    ['an offsetForTimestamp answer without its timestamp', () => OFFSET_FOR_TIMESTAMP_RPC.parseResponse({ offset: 3 }), 'timestamp: must be an integer'],
    ['produce with a string batch', () => PRODUCE_RPC.parseRequest({ topicId: 't', partition: 0, batch: 'x', acks: 1, timeoutMs: 1 }), 'batch: must be bytes'],
    ['fetch with a partition missing its epoch', () => FETCH_RPC.parseRequest({ ...CASES[3].req, partitions: [{ topicId: 't', partition: 0, fetchOffset: 0, lastFetchedEpoch: -1 }] }), 'leaderEpoch: must be an integer'],
    ['a group call of an unknown op', () => GROUP_RPC.parseRequest({ op: 'explode', group: 'g' }), 'op: unknown group call explode'],
    ['a join routed to another group than it names', () => GROUP_RPC.parseRequest({ op: 'join', group: 'other', join: { ...JOIN.join } }), 'join.group: must be the group the call is routed to'],
    ['a member heartbeat without its generation', () => GROUP_RPC.parseRequest({ op: 'memberHeartbeat', group: 'g', hb: { memberId: 'm', groupInstanceId: null } }), 'generation: must be an integer'],
    ['a controller call of an unknown method', () => CONTROLLER_RPC.parseRequest({ method: 'format' }), 'method: unknown controller method format'],
    ['createTopic with a numeric config', () => CONTROLLER_RPC.parseRequest({ method: 'createTopic', name: 'x', configs: { 'retention.ms': 5 } }), 'configs.retention.ms: must be a string'],
    ['alterPartition with a non-integer ISR', () => CONTROLLER_RPC.parseRequest({ ...CASES[7].req, isr: [1, 'two'] }), 'isr: must be a list of integers'],
    ['a consumer op seeking to the middle', () => CONSUMER_RPC.parseRequest({ group: 'g', instance: 'i', op: { op: 'seekTo', where: 'middle', partitions: [] } }), 'where: must be "beginning" or "end"'],
    ['a quorum status without a term', () => QUORUM_STATUS_RPC.parseResponse({ leaderId: null, commitIndex: 0, voters: [] }), 'term: must be an integer'],
    ['a join answer with an error Kafka does not have', () => parseJoinAnswer({ error: 'OOPS', generation: 1, protocolType: null, protocolName: null, leader: '', memberId: 'm', members: [] }), 'error: must be a group protocol error name or null'],
    ['a sync answer whose assignment is not bytes', () => parseSyncAnswer({ error: null, protocolType: 'consumer', protocolName: 'range', assignment: 'AAEC' }), 'assignment: must be bytes'],
    ['a group description in an unknown state', () => parseGroupSnapshot({ state: 'Rebalancing', generation: 0, protocolType: null, protocol: null, leader: null, members: [], offsets: [] }), 'state: must be a group state'],
    ['a topic whose partition has no leader field', () => parseTopicState({ id: 'x', name: 'o', configs: {}, partitions: [{ partition: 0, replicas: [1], isr: [1], leaderEpoch: 0, partitionEpoch: 0 }] }), 'leader: must be an integer'],
  ])('refuses %s, naming the field', (_name, parse, message) => {
    expect(parse).toThrow(new RunnelError('INVALID_REQUEST', message));
  });
});

describe('retryUntil', () => {
  const retriable = new Set(['NOT_CONTROLLER']);

  it('retries a retriable error until the attempt succeeds', async () => {
    let n = 0;
    const r = await retryUntil(Date.now() + 5000, { retriable }, () => {
      n++;
      if (n < 3) throw new RunnelError('NOT_CONTROLLER', `try ${n}`);
      return Promise.resolve('done');
    });
    expect([r, n]).toEqual(['done', 3]);
  });

  it('throws any other error at once', async () => {
    let n = 0;
    const attempt = () => {
      n++;
      return Promise.reject(new RunnelError('TOPIC_ALREADY_EXISTS', 'exists'));
    };
    await expect(retryUntil(Date.now() + 5000, { retriable }, attempt)).rejects.toThrow('exists');
    expect(n).toBe(1);
  });

  it('throws the last retriable error once the deadline leaves no room for another try', async () => {
    let n = 0;
    const started = Date.now();
    const attempt = () => Promise.reject(new RunnelError('NOT_CONTROLLER', `try ${++n}`));
    await expect(retryUntil(started + 120, { retriable }, attempt)).rejects.toThrow(`try`);
    expect(n).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('stops before the deadline when the policy says so', async () => {
    let n = 0;
    const attempt = () => Promise.reject(new RunnelError('NOT_CONTROLLER', `try ${++n}`));
    await expect(retryUntil(Date.now() + 10_000, { retriable, stop: () => n >= 2 }, attempt)).rejects.toThrow('try 2');
    expect(n).toBe(2);
  });
});
