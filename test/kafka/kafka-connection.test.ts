import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnelError } from '../../src/errors.ts';
import { kafkaApiTable } from '../../src/kafka/kafka-apis.ts';
import type { KafkaApi, KafkaApiTable } from '../../src/kafka/kafka-connection.ts';
import { KafkaListener } from '../../src/kafka/kafka-listener.ts';
import { decodeResponse, encodeRequest, loadApiSpecs } from '../../src/kafka/protocol/frames.ts';
import type { MessageValue } from '../../src/kafka/protocol/message-codec.ts';
import { MetadataImage } from '../../src/metadata/image.ts';
import { RecordType } from '../../src/metadata/records.ts';
import type { ClassicGroupService, FetchService, KafkaGroupService, MetadataService, PartitionAdminService, ProduceBudget, ProduceService, ProducerIdService, QuorumService } from '../../src/services/front-door-services.ts';
import { pollUntil } from '../support/poll.ts';
import { freePorts } from '../support/process-cluster.ts';
import { sizePrefixed } from '../support/kafka-call.ts';

const metadataSpecs = loadApiSpecs('Metadata');
const apiVersionsSpecs = loadApiSpecs('ApiVersions');
const silent = pino({ level: 'silent' });
const listeners: KafkaListener[] = [];

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

async function listen(apis: KafkaApiTable, inflightMax = 16): Promise<number> {
  const [port = 0] = await freePorts(1);
  const l = new KafkaListener({ host: '127.0.0.1', port, apis, logger: silent, inflightMax });
  await l.start();
  listeners.push(l);
  return port;
}


/** A client socket that collects whole response frames (without their sizes). */
function client(port: number): { socket: Socket; frames: Buffer[] } {
  const socket = connect(port, '127.0.0.1');
  const frames: Buffer[] = [];
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      frames.push(pending.subarray(4, 4 + pending.readInt32BE(0)));
      pending = pending.subarray(4 + pending.readInt32BE(0));
    }
  });
  return { socket, frames };
}

/** A Metadata API whose answers the test releases one correlation id at a time. */
function gatedTable(): { apis: KafkaApiTable; started: number[]; release: (cid: number) => void } {
  const gates = new Map<number, () => void>();
  const started: number[] = [];
  const api: KafkaApi = {
    specs: metadataSpecs,
    minVersion: 0,
    maxVersion: 12,
    handle: (req) => {
      started.push(req.correlationId);
      return new Promise<MessageValue>((resolve) => gates.set(req.correlationId, () => resolve({ brokers: [], topics: [] })));
    },
  };
  return {
    apis: { get: (k) => (k === 3 ? api : undefined), unsupportedApiVersions: () => Buffer.alloc(0) },
    started,
    release: (cid) => gates.get(cid)?.(),
  };
}

const metadataRequest = (cid: number): Buffer => sizePrefixed(encodeRequest(metadataSpecs, 1, cid, 'test', { topics: null }));

describe('Kafka connection', () => {
  it('answers in request order although handlers finish out of order', async () => {
    const g = gatedTable();
    const c = client(await listen(g.apis));
    c.socket.write(Buffer.concat([1, 2, 3].map(metadataRequest)));
    await pollUntil('three requests started', () => g.started.length === 3);
    g.release(3);
    g.release(1);
    await pollUntil('the first answer', () => c.frames.length === 1);
    g.release(2);
    await pollUntil('all answers', () => c.frames.length === 3);
    expect(c.frames.map((f) => decodeResponse(f, metadataSpecs, 1).correlationId)).toEqual([1, 2, 3]);
    c.socket.destroy();
  });

  it('serves no more than inflightMax requests of one connection at once', async () => {
    const g = gatedTable();
    const c = client(await listen(g.apis, 2));
    c.socket.write(Buffer.concat([1, 2, 3, 4, 5].map(metadataRequest)));
    await pollUntil('two requests started', () => g.started.length === 2);
    // Give the node every chance to start more: the socket has all five frames.
    await pollUntil('the client has flushed its writes', () => c.socket.writableLength === 0);
    expect(g.started).toEqual([1, 2]);
    g.release(1);
    await pollUntil('a third request started', () => g.started.length === 3);
    expect(g.started).toEqual([1, 2, 3]);
    for (const cid of [2, 3, 4, 5]) {
      await pollUntil(`request ${cid} started`, () => g.started.includes(cid));
      g.release(cid);
    }
    await pollUntil('all answers', () => c.frames.length === 5);
    c.socket.destroy();
  });

  it('answers a handler\'s expected error with its Kafka code and keeps the connection; closes on an unexpected one', async () => {
    const failing = (err: Error): KafkaApi => ({
      specs: metadataSpecs,
      minVersion: 0,
      maxVersion: 12,
      handle: () => Promise.reject(err),
      errorResponse: (_req, errorCode) => ({ brokers: [], topics: [{ errorCode, name: 'orders', partitions: [] }] }),
    });
    let api = failing(new RunnelError('NOT_LEADER_OR_FOLLOWER', 'moved'));
    const port = await listen({ get: (k) => (k === 3 ? api : undefined), unsupportedApiVersions: () => Buffer.alloc(0) });
    const c = client(port);
    c.socket.write(Buffer.concat([metadataRequest(1), metadataRequest(2)]));
    await pollUntil('two answers', () => c.frames.length === 2);
    expect(c.frames.map((f) => decodeResponse(f, metadataSpecs, 1).body['topics'])).toEqual([
      [expect.objectContaining({ errorCode: 6, name: 'orders' })],
      [expect.objectContaining({ errorCode: 6, name: 'orders' })],
    ]);
    api = failing(new Error('a bug'));
    const closed = new Promise<void>((resolve) => c.socket.once('close', () => resolve()));
    c.socket.write(metadataRequest(3));
    await closed;
    expect(c.frames).toHaveLength(2);
  });

  describe('with the real API table', () => {
    const image = new MetadataImage();
    image.replay({ type: RecordType.RegisterBroker, v: 1, brokerId: 1, incarnationId: 'i', host: '127.0.0.1', httpPort: 1, rpcPort: 2 });
    image.replay({ type: RecordType.UnfenceBroker, v: 1, brokerId: 1 });
    const metadata = { image: () => image, findTopic: (name: string) => Promise.resolve(image.topic(name)) } as unknown as MetadataService;
    const quorum = { controllerId: () => 1 } as unknown as QuorumService;
    // Produce and Fetch are not called here (the cluster tests run them for real).
    const notCalled = new Proxy({}, { get: () => { throw new Error('not called in these tests'); } });
    const table = (): KafkaApiTable =>
      kafkaApiTable({
        clusterId: 'c1',
        nodeId: 1,
        metadata,
        quorum,
        produce: notCalled as ProduceService,
        produceBudget: notCalled as ProduceBudget,
        fetch: notCalled as FetchService,
        kafkaAddress: () => ({ host: '127.0.0.1', port: 9092 }),
        admin: notCalled as PartitionAdminService,
        topicDefaults: { partitions: 1, replicationFactor: 1, minInsyncReplicas: 1 },
        producerIds: notCalled as ProducerIdService,
        topicConfigDefaults: {},
        autoCreateTopicsEnable: false,
        groups: notCalled as KafkaGroupService,
        classicGroups: notCalled as ClassicGroupService,
      });

    it('answers an ApiVersions version it does not serve with a v0 UNSUPPORTED_VERSION listing its range (KIP-511)', async () => {
      const c = client(await listen(table()));
      const v9 = Buffer.from([0, 18, 0, 9, 0, 0, 0, 5, 0, 0, 0xde, 0xad]); // a body no one can parse: it is not read
      c.socket.write(sizePrefixed(v9));
      await pollUntil('an answer', () => c.frames.length === 1);
      const { correlationId, body } = decodeResponse(c.frames[0] as Buffer, apiVersionsSpecs, 0);
      expect(correlationId).toBe(5);
      expect(body).toMatchObject({ errorCode: 35, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 3 }] });
      c.socket.destroy();
    });

    it('answers Metadata v0 without a prior ApiVersions, and advertises exactly the APIs it serves', async () => {
      const c = client(await listen(table()));
      c.socket.write(sizePrefixed(encodeRequest(metadataSpecs, 0, 7, null, { topics: [] })));
      c.socket.write(sizePrefixed(encodeRequest(apiVersionsSpecs, 3, 8, 'x', { clientSoftwareName: 'kcat', clientSoftwareVersion: '1.7.1' })));
      await pollUntil('two answers', () => c.frames.length === 2);
      const md = decodeResponse(c.frames[0] as Buffer, metadataSpecs, 0);
      expect(md.body['brokers']).toEqual([{ nodeId: 1, host: '127.0.0.1', port: 9092, rack: null }]);
      const av = decodeResponse(c.frames[1] as Buffer, apiVersionsSpecs, 3);
      expect(av.body['apiKeys']).toEqual([
        { apiKey: 18, minVersion: 0, maxVersion: 3 },
        { apiKey: 3, minVersion: 0, maxVersion: 12 },
        { apiKey: 0, minVersion: 0, maxVersion: 9 },
        { apiKey: 1, minVersion: 4, maxVersion: 13 },
        { apiKey: 19, minVersion: 0, maxVersion: 7 },
        { apiKey: 20, minVersion: 0, maxVersion: 6 },
        { apiKey: 60, minVersion: 0, maxVersion: 1 },
        { apiKey: 2, minVersion: 0, maxVersion: 7 },
        { apiKey: 23, minVersion: 2, maxVersion: 4 },
        { apiKey: 22, minVersion: 0, maxVersion: 4 },
        { apiKey: 37, minVersion: 0, maxVersion: 3 },
        { apiKey: 32, minVersion: 0, maxVersion: 4 },
        { apiKey: 33, minVersion: 0, maxVersion: 2 },
        { apiKey: 44, minVersion: 0, maxVersion: 1 },
        { apiKey: 10, minVersion: 0, maxVersion: 4 },
        { apiKey: 8, minVersion: 0, maxVersion: 8 },
        { apiKey: 9, minVersion: 0, maxVersion: 8 },
        { apiKey: 16, minVersion: 0, maxVersion: 4 },
        { apiKey: 15, minVersion: 0, maxVersion: 5 },
        { apiKey: 11, minVersion: 0, maxVersion: 7 },
        { apiKey: 14, minVersion: 0, maxVersion: 5 },
        { apiKey: 12, minVersion: 0, maxVersion: 4 },
        { apiKey: 13, minVersion: 0, maxVersion: 4 },
        { apiKey: 42, minVersion: 0, maxVersion: 2 },
        { apiKey: 47, minVersion: 0, maxVersion: 0 },
      ]);
      c.socket.destroy();
    });
  });
});
