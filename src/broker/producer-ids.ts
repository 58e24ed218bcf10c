import { RunnelError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { ProducerIdBlock } from '../metadata/controller.ts';

/** Ask for the next block once this fraction of the current one is used (Kafka's PidPrefetchThreshold). */
const PREFETCH_THRESHOLD = 0.9;
/** Blocks taken in one next() before giving up (Kafka's ProducerIdManager.IterationLimit). */
const ITERATION_LIMIT = 3;

export interface ProducerIdAllocatorDeps {
  readonly brokerId: number;
  /** This broker's registration: the controller hands blocks only to the current, unfenced one. */
  readonly incarnationId: string;
  /** The controller's allocateProducerIds (ControllerClient), which retries while the controller moves, within timeoutMs. */
  readonly allocate: (brokerId: number, incarnationId: string, timeoutMs: number) => Promise<ProducerIdBlock>;
  /** How long one request for a block may take, retries included. */
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
}

interface Block {
  readonly first: number;
  readonly end: number;
  /** Invariant: first <= next <= end. */
  next: number;
}

/**
 * Hands out this broker's producer ids from blocks the controller allocates (Kafka's
 * RPCProducerIdManager): ids come from the current block; once 90% of it is used the next
 * block is requested in the background, so a busy broker rarely waits. With no block at hand
 * next() waits for one request (at most requestTimeoutMs, the controller client retrying
 * meanwhile), then fails with COORDINATOR_LOAD_IN_PROGRESS, what Kafka answers InitProducerId
 * while its block is exhausted and clients retry. At most one block request is in flight.
 * Blocks live in memory only: a restart wastes the rest of its block, never reuses it.
 */
export class ProducerIdAllocator {
  private current: Block | undefined;
  /** The block fetched ahead, taken once `current` runs out. */
  private prefetched: ProducerIdBlock | undefined;
  private inflight: Promise<void> | undefined;
  /** The last block request's failure, the cause reported until one succeeds. */
  private lastError: unknown;
  private closed = false;

  constructor(private readonly deps: ProducerIdAllocatorDeps) {}

  /** A producer id no other broker (or earlier incarnation of this one) has handed out. */
  async next(): Promise<bigint> {
    for (let iteration = 0; iteration < ITERATION_LIMIT; iteration++) {
      const id = this.claim();
      if (id !== undefined) return BigInt(id);
      if (this.prefetched !== undefined) {
        this.install(this.prefetched);
        this.prefetched = undefined;
        continue;
      }
      await this.requestBlock();
    }
    throw new RunnelError('COORDINATOR_LOAD_IN_PROGRESS', `no producer id block for broker ${this.deps.brokerId}: ${describe(this.lastError)}`);
  }

  /** Stops asking for blocks; resolves once a request in flight has ended. */
  async close(): Promise<void> {
    this.closed = true;
    await this.inflight;
  }

  private claim(): number | undefined {
    const b = this.current;
    if (b === undefined || b.next >= b.end) return undefined;
    const id = b.next++;
    if (id === b.first + Math.floor((b.end - b.first) * PREFETCH_THRESHOLD) && this.prefetched === undefined) {
      // Background prefetch: its failure is logged and retried by whoever finds the block empty.
      this.requestBlock().catch(() => undefined);
    }
    return id;
  }

  private install(block: ProducerIdBlock): void {
    this.current = { first: block.firstProducerId, end: block.firstProducerId + block.size, next: block.firstProducerId };
  }

  /** One request for the next block, shared by everyone waiting; resolves when it has ended (either way). */
  private requestBlock(): Promise<void> {
    if (this.closed) return Promise.reject(new RunnelError('BROKER_NOT_AVAILABLE', 'the broker is shutting down'));
    this.inflight ??= this.fetchBlock().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchBlock(): Promise<void> {
    const { brokerId, incarnationId, requestTimeoutMs, logger } = this.deps;
    try {
      const block = await this.deps.allocate(brokerId, incarnationId, requestTimeoutMs);
      const floor = this.prefetched?.firstProducerId ?? this.current?.end ?? 0;
      if (block.brokerId !== brokerId || block.size <= 0 || block.firstProducerId < floor) {
        // The controller's records make blocks grow; anything else is a bug, and using it could hand an id out twice.
        throw new RunnelError('UNKNOWN_SERVER_ERROR', `producer id block ${JSON.stringify(block)} does not follow ${floor}`);
      }
      logger.info({ firstProducerId: block.firstProducerId, size: block.size }, 'got a producer id block');
      if (this.current === undefined || this.current.next >= this.current.end) this.install(block);
      else this.prefetched = block;
      this.lastError = undefined;
    } catch (err) {
      this.lastError = err;
      logger.warn({ err }, 'producer id block request failed');
    }
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : 'the block ran out while others took it';
}
