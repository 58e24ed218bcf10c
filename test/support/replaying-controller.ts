import { pino } from 'pino';
import { Controller } from '../../src/metadata/controller.ts';
import { MetadataImage } from '../../src/metadata/image.ts';
import type { MetadataRecord } from '../../src/metadata/records.ts';

/**
 * An active controller whose "raft" appends each batch to `log` and replays it into `image` at
 * once (a real Controller and a real image, no quorum). Brokers `brokers` are registered as
 * incarnation `i<id>` and unfenced.
 */
export async function replayingController(o: { log?: MetadataRecord[][]; image?: MetadataImage; brokers?: readonly number[] } = {}): Promise<{ controller: Controller; image: MetadataImage }> {
  const image = o.image ?? new MetadataImage();
  const controller = new Controller({
    image: () => image,
    propose: (records) => {
      o.log?.push(records);
      for (const r of records) image.replay(r);
      return Promise.resolve();
    },
    now: () => 0,
    newTopicId: () => 't',
    sessionTimeoutMs: 6_000,
    topicDefaults: { partitions: 1, replicationFactor: 1, minInsyncReplicas: 1 },
    logger: pino({ level: 'silent' }),
  });
  controller.activate(Promise.resolve());
  for (const id of o.brokers ?? []) {
    await controller.registerBroker({ brokerId: id, incarnationId: `i${id}`, host: 'h', httpPort: 1, rpcPort: 2 });
    await controller.heartbeat(id, `i${id}`);
  }
  return { controller, image };
}
