import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ProducerIdAllocator } from '../../src/broker/producer-ids.ts';
import { RunnelError } from '../../src/errors.ts';
import type { ProducerIdBlock } from '../../src/metadata/controller.ts';
import { PRODUCER_ID_BLOCK_SIZE } from '../../src/metadata/controller.ts';
import { MetadataImage } from '../../src/metadata/image.ts';
import type { MetadataRecord } from '../../src/metadata/records.ts';
import { RecordType } from '../../src/metadata/records.ts';
import { replayingController } from '../support/replaying-controller.ts';

const silent = pino({ level: 'silent' });

function replayed(log: readonly MetadataRecord[][]): MetadataImage {
  const image = new MetadataImage();
  for (const batch of log) for (const r of batch) image.replay(r);
  return image;
}

const registered = (log: MetadataRecord[][], brokers: readonly number[]) => replayingController({ log, brokers });
const controllerOver = (log: MetadataRecord[][], image: MetadataImage) => replayingController({ log, image });

const failure = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'no error',
    (e: unknown) => (e instanceof RunnelError ? `${e.errorName}: ${e.message}` : String(e)),
  );

describe('controller: producer id blocks', () => {
  it('hands out consecutive blocks of 1000 to the asking brokers, recorded as ProducerIds records', async () => {
    const log: MetadataRecord[][] = [];
    const { controller, image } = await registered(log, [1, 2]);
    expect(await controller.allocateProducerIds(1, 'i1')).toEqual({ brokerId: 1, firstProducerId: 0, size: PRODUCER_ID_BLOCK_SIZE });
    expect(await controller.allocateProducerIds(2, 'i2')).toEqual({ brokerId: 2, firstProducerId: 1000, size: PRODUCER_ID_BLOCK_SIZE });
    expect(await controller.allocateProducerIds(1, 'i1')).toEqual({ brokerId: 1, firstProducerId: 2000, size: PRODUCER_ID_BLOCK_SIZE });
    expect(image.nextProducerId()).toBe(3000);
    expect(log.at(-1)).toEqual([{ type: RecordType.ProducerIds, v: 1, brokerId: 1, incarnationId: 'i1', nextProducerId: 3000 }]);
  });

  it('continues after the last recorded block on a new controller, from the replayed log or from a checkpoint', async () => {
    const log: MetadataRecord[][] = [];
    const first = await registered(log, [1, 2, 3]);
    await first.controller.allocateProducerIds(1, 'i1');
    await first.controller.allocateProducerIds(2, 'i2');
    first.controller.deactivate();
    // Failover: the new leader's image is the replay of the same committed log.
    const next = await controllerOver(log, replayed(log));
    expect((await next.controller.allocateProducerIds(3, 'i3')).firstProducerId).toBe(2000);
    // A restart from a checkpoint of the image, then the log's tail.
    const restored = await controllerOver(log, MetadataImage.decode(next.image.encode()));
    expect((await restored.controller.allocateProducerIds(1, 'i1')).firstProducerId).toBe(3000);
  });

  it('refuses an unknown broker, a replaced incarnation and a fenced broker, and commits nothing for them', async () => {
    const log: MetadataRecord[][] = [];
    const { controller } = await registered(log, [1]);
    await controller.registerBroker({ brokerId: 2, incarnationId: 'i2', host: 'h', httpPort: 1, rpcPort: 2 }); // never heartbeats: fenced
    const before = log.length;
    expect(await failure(controller.allocateProducerIds(9, 'i9'))).toBe('BROKER_NOT_AVAILABLE: broker 9 is not registered: no producer ids for it');
    expect(await failure(controller.allocateProducerIds(1, 'old'))).toMatch(/^BROKER_NOT_AVAILABLE: broker 1 registered a newer incarnation/);
    expect(await failure(controller.allocateProducerIds(2, 'i2'))).toMatch(/^BROKER_NOT_AVAILABLE: broker 2 is fenced/);
    expect(log.length).toBe(before);
  });
});

/** An allocator over a real controller; `down` makes the controller unreachable. */
async function allocatorSetup() {
  const log: MetadataRecord[][] = [];
  const { controller } = await registered(log, [1]);
  const state = { down: false, calls: 0 };
  const allocator = new ProducerIdAllocator({
    brokerId: 1,
    incarnationId: 'i1',
    allocate: (brokerId, incarnationId): Promise<ProducerIdBlock> => {
      state.calls++;
      if (state.down) return Promise.reject(new RunnelError('REQUEST_TIMED_OUT', 'no active controller answered'));
      return controller.allocateProducerIds(brokerId, incarnationId);
    },
    requestTimeoutMs: 1_000,
    logger: silent,
  });
  return { controller, allocator, state, log };
}

describe('ProducerIdAllocator', () => {
  it('hands out every id of its blocks once, in order, asking for the next block when 90% of one is used', async () => {
    const { allocator, state } = await allocatorSetup();
    const ids: bigint[] = [];
    for (let i = 0; i < 900; i++) ids.push(await allocator.next());
    expect(state.calls).toBe(1);
    ids.push(await allocator.next()); // id 900: the prefetch starts
    expect(state.calls).toBe(2);
    for (let i = 0; i < 1100; i++) ids.push(await allocator.next());
    expect(ids).toEqual(Array.from({ length: 2001 }, (_, i) => BigInt(i)));
    expect(state.calls).toBe(3); // the third block was prefetched at id 1900
    await allocator.close();
  });

  it('shares one block request among concurrent callers', async () => {
    const { allocator, state } = await allocatorSetup();
    const ids = await Promise.all(Array.from({ length: 50 }, () => allocator.next()));
    expect(new Set(ids).size).toBe(50);
    expect(state.calls).toBe(1);
    await allocator.close();
  });

  it('answers COORDINATOR_LOAD_IN_PROGRESS with the cause while no block can be had, and recovers once one can', async () => {
    const { allocator, state } = await allocatorSetup();
    state.down = true;
    expect(await failure(allocator.next())).toBe('COORDINATOR_LOAD_IN_PROGRESS: no producer id block for broker 1: no active controller answered');
    state.down = false;
    expect(await allocator.next()).toBe(0n);
    await allocator.close();
  });

  it('ends its block when the current one runs out while the controller is down, and never reuses ids', async () => {
    const { allocator, state } = await allocatorSetup();
    expect(await allocator.next()).toBe(0n);
    state.down = true;
    // The prefetch at 900 fails; the rest of the block is still served.
    for (let i = 1; i < 1000; i++) expect(await allocator.next()).toBe(BigInt(i));
    expect(await failure(allocator.next())).toMatch(/^COORDINATOR_LOAD_IN_PROGRESS/);
    state.down = false;
    expect(await allocator.next()).toBe(1000n);
    await allocator.close();
  });
});
