import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ProducerIdAllocator } from '../../src/broker/producer-ids.ts';
import { RunnelError } from '../../src/errors.ts';
import { initProducerIdApi } from '../../src/kafka/handlers/init-producer-id.ts';
import { SERVED_VERSIONS } from '../../src/kafka/kafka-apis.ts';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, loadApiSpecs } from '../../src/kafka/protocol/frames.ts';
import type { MessageValue } from '../../src/kafka/protocol/message-codec.ts';
import { replayingController } from '../support/replaying-controller.ts';

const specs = loadApiSpecs('InitProducerId');
const silent = pino({ level: 'silent' });

/** The handler over a real allocator and a real controller (whose raft is an in-memory replay). */
async function handlerSetup() {
  const { controller } = await replayingController({ brokers: [1] });
  const state = { down: false };
  const allocator = new ProducerIdAllocator({
    brokerId: 1,
    incarnationId: 'i1',
    allocate: (b, i) => (state.down ? Promise.reject(new RunnelError('REQUEST_TIMED_OUT', 'no controller')) : controller.allocateProducerIds(b, i)),
    requestTimeoutMs: 1_000,
    logger: silent,
  });
  const api = initProducerIdApi(specs, SERVED_VERSIONS.InitProducerId, { producerIds: allocator });
  /** One request through the codec and the handler, and its response back through the codec. */
  const call = async (version: number, body: MessageValue): Promise<MessageValue> => {
    const req = decodeRequest(encodeRequest(specs, version, 1, 'test', body), specs, version);
    const res = await api.handle(req, { principal: { name: 'ANONYMOUS' }, clientId: 'test', clientHost: '/127.0.0.1', apiVersion: version });
    if (res === null) throw new Error('InitProducerId always answers');
    return decodeResponse(encodeResponse(specs, version, 1, res).subarray(4), specs, version).body;
  };
  return { call, state, allocator };
}

const idempotent = { transactionalId: null, transactionTimeoutMs: 60_000 };

describe('Kafka InitProducerId', () => {
  it('gives an idempotent producer a fresh id with epoch 0 at every served version', async () => {
    const { call, allocator } = await handlerSetup();
    const got: MessageValue[] = [];
    for (let v = SERVED_VERSIONS.InitProducerId.min; v <= SERVED_VERSIONS.InitProducerId.max; v++) got.push(await call(v, idempotent));
    expect(got).toEqual([0n, 1n, 2n, 3n, 4n].map((producerId) => ({ throttleTimeMs: 0, errorCode: 0, producerId, producerEpoch: 0 })));
    await allocator.close();
  });

  it('answers a v3+ request carrying its old id and epoch (KIP-360) with a new id, as Kafka does without a transactional id', async () => {
    const { call, allocator } = await handlerSetup();
    expect(await call(4, { ...idempotent, producerId: 0n, producerEpoch: 0 })).toMatchObject({ errorCode: 0, producerId: 0n, producerEpoch: 0 });
    expect(await call(4, { ...idempotent, producerId: 0n, producerEpoch: 5 })).toMatchObject({ errorCode: 0, producerId: 1n, producerEpoch: 0 });
    await allocator.close();
  });

  it('answers INVALID_REQUEST when only one of producer id and epoch is given, as KafkaApis does', async () => {
    const { call, allocator } = await handlerSetup();
    expect(await call(3, { ...idempotent, producerId: -1n, producerEpoch: 2 })).toEqual({ throttleTimeMs: 0, errorCode: 42, producerId: -1n, producerEpoch: -1 });
    expect(await call(3, { ...idempotent, producerId: 7n, producerEpoch: -1 })).toMatchObject({ errorCode: 42, producerId: -1n });
    // Nothing was allocated for them.
    expect(await call(3, idempotent)).toMatchObject({ errorCode: 0, producerId: 0n });
    await allocator.close();
  });

  it('refuses a transactional id with TRANSACTIONAL_ID_AUTHORIZATION_FAILED: runnel has no transactions', async () => {
    const { call, allocator } = await handlerSetup();
    for (const transactionalId of ['tx-1', '']) {
      expect(await call(1, { transactionalId, transactionTimeoutMs: 60_000 })).toEqual({ throttleTimeMs: 0, errorCode: 53, producerId: -1n, producerEpoch: -1 });
    }
    await allocator.close();
  });

  it('answers COORDINATOR_LOAD_IN_PROGRESS (retriable) while no id block can be had', async () => {
    const { call, state, allocator } = await handlerSetup();
    state.down = true;
    expect(await call(0, idempotent)).toEqual({ throttleTimeMs: 0, errorCode: 14, producerId: -1n, producerEpoch: -1 });
    state.down = false;
    expect(await call(0, idempotent)).toMatchObject({ errorCode: 0, producerId: 0n });
    await allocator.close();
  });

  it('reads and writes InitProducerId v4 bytes as the specs lay them out (golden bytes, checked by hand)', () => {
    const frame = Buffer.from([
      0x00, 0x16, 0x00, 0x04, 0x00, 0x00, 0x00, 0x09, // api key 22, version 4, correlation id 9
      0x00, 0x02, ...Buffer.from('p1'), 0x00, // ClientId (int16 length in header v2), no header tags
      0x00, // TransactionalId: compact nullable string, null
      0x00, 0x00, 0xea, 0x60, // TransactionTimeoutMs 60000
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // ProducerId -1
      0xff, 0xff, // ProducerEpoch -1
      0x00, // no body tags
    ]);
    expect(decodeRequest(frame, specs, 4)).toEqual({
      apiKey: 22, apiVersion: 4, correlationId: 9, clientId: 'p1',
      body: { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 },
    });
    expect([...encodeResponse(specs, 4, 9, { throttleTimeMs: 0, errorCode: 0, producerId: 1001n, producerEpoch: 0 })]).toEqual([
      0x00, 0x00, 0x00, 0x16, // size 22
      0x00, 0x00, 0x00, 0x09, 0x00, // correlation id, no header tags (response header v1)
      0x00, 0x00, 0x00, 0x00, // ThrottleTimeMs
      0x00, 0x00, // ErrorCode
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe9, // ProducerId 1001
      0x00, 0x00, // ProducerEpoch 0
      0x00, // no body tags
    ]);
  });
});
