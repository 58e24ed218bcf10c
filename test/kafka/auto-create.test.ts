import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { metadataApi } from '../../src/kafka/handlers/metadata.ts';
import { produceApi } from '../../src/kafka/handlers/produce.ts';
import { decodeRequest, encodeRequest, loadApiSpecs } from '../../src/kafka/protocol/frames.ts';
import type { MessageValue } from '../../src/kafka/protocol/message-codec.ts';
import { ZERO_UUID } from '../../src/kafka/protocol/message-codec.ts';
import { Controller } from '../../src/metadata/controller.ts';
import { MetadataImage } from '../../src/metadata/image.ts';
import type { MetadataService, ProduceBudget, ProduceService, QuorumService } from '../../src/services/front-door-services.ts';

const metadataSpecs = loadApiSpecs('Metadata');
const produceSpecs = loadApiSpecs('Produce');

/**
 * The Metadata and Produce handlers over a real controller and image (one broker, committed at
 * once), with auto.create.topics.enable as given: what each request creates, and answers.
 */
async function setup(autoCreateTopicsEnable: boolean) {
  const image = new MetadataImage();
  let ids = 0;
  const controller = new Controller({
    image: () => image,
    propose: (records) => {
      for (const r of records) image.replay(r);
      return Promise.resolve();
    },
    now: () => 0,
    newTopicId: () => `00000000-0000-0000-0000-00000000000${++ids}`,
    sessionTimeoutMs: 6_000,
    topicDefaults: { partitions: 2, replicationFactor: 1, minInsyncReplicas: 1 },
    logger: pino({ level: 'silent' }),
  });
  controller.activate(Promise.resolve());
  await controller.registerBroker({ brokerId: 1, incarnationId: 'i', host: '127.0.0.1', httpPort: 1, rpcPort: 2 });
  await controller.heartbeat(1, 'i');
  const metadata = { image: () => image, findTopic: (n: string) => Promise.resolve(image.topic(n)), appliedOnLiveBrokers: () => Promise.resolve(true) } as unknown as MetadataService;
  const deps = {
    clusterId: 'c1',
    nodeId: 1,
    metadata,
    quorum: { controllerId: () => 1 } as unknown as QuorumService,
    kafkaAddress: () => ({ host: '127.0.0.1', port: 9092 }),
    admin: { createTopic: (req: Parameters<Controller['createTopic']>[0]) => controller.createTopic(req), deleteTopic: () => Promise.resolve(), alterTopicConfigs: () => Promise.resolve() },
    autoCreateTopicsEnable,
    produce: { produce: () => Promise.resolve(0) } as unknown as ProduceService,
    produceBudget: { acquire: () => () => undefined } as ProduceBudget,
  };
  const md = metadataApi(metadataSpecs, { min: 0, max: 12 }, deps);
  const pr = produceApi(produceSpecs, { min: 0, max: 9 }, deps);
  const ctx = { principal: { name: 'ANONYMOUS' }, clientId: null, clientHost: '/127.0.0.1', apiVersion: 0 };
  const ask = async (version: number, names: string[], allow = true): Promise<[unknown, unknown][]> => {
    const body = { topics: names.map((name) => ({ name, topicId: ZERO_UUID })), allowAutoTopicCreation: allow };
    const r = (await md.handle(decodeRequest(encodeRequest(metadataSpecs, version, 1, null, body), metadataSpecs, version), { ...ctx, apiVersion: version })) as MessageValue;
    return (r['topics'] as MessageValue[]).map((t) => [t['name'], t['errorCode']]);
  };
  const produce = async (name: string): Promise<unknown> => {
    const body = { acks: -1, timeoutMs: 1000, topicData: [{ name, partitionData: [{ index: 0, records: Buffer.from([1]) }] }] };
    const r = (await pr.handle(decodeRequest(encodeRequest(produceSpecs, 9, 1, null, body), produceSpecs, 9), { ...ctx, apiVersion: 9 })) as MessageValue;
    return ((r['responses'] as MessageValue[])[0]?.['partitionResponses'] as MessageValue[])[0]?.['errorCode'];
  };
  return { image, ask, produce };
}

describe('automatic topic creation (Metadata, Produce)', () => {
  it('creates a missing topic with the cluster defaults when the request allows it (v4+) or always (v0-3)', async () => {
    const { image, ask, produce } = await setup(true);
    expect(await ask(12, ['a', 'b'])).toEqual([['a', 0], ['b', 0]]);
    expect(image.topic('a')?.partitions.map((p) => p.leader)).toEqual([1, 1]);
    expect(await ask(12, ['not-allowed'], false)).toEqual([['not-allowed', 3]]);
    expect(await ask(1, ['old-client'], false)).toEqual([['old-client', 0]]);
    expect(await produce('by-produce')).toBe(0);
    expect(image.allTopics().map((t) => t.name).sort()).toEqual(['a', 'b', 'by-produce', 'old-client']);
  });

  it('refuses an illegal name with INVALID_TOPIC_EXCEPTION and never creates internal ("__") names', async () => {
    const { image, ask, produce } = await setup(true);
    expect(await ask(12, ['bad name!', '__consumer_offsets', '.'])).toEqual([['bad name!', 17], ['__consumer_offsets', 3], ['.', 17]]);
    expect(await produce('no/slashes')).toBe(17);
    expect(image.allTopics()).toEqual([]);
  });

  it('with auto.create.topics.enable off answers UNKNOWN_TOPIC_OR_PARTITION and creates nothing', async () => {
    const { image, ask, produce } = await setup(false);
    expect(await ask(12, ['x'])).toEqual([['x', 3]]);
    expect(await ask(0, ['y'])).toEqual([['y', 3]]);
    expect(await produce('z')).toBe(3);
    expect(image.allTopics()).toEqual([]);
  });
});
