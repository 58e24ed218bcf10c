import type { Logger } from '../logger.ts';
import type { ControllerClient } from '../metadata/controller-client.ts';
import type { MetadataImage } from '../metadata/image.ts';

/** Bound on waiting for the controller to move this broker's leaderships away on SIGTERM. */
const CONTROLLED_SHUTDOWN_TIMEOUT_MS = 5_000;
/** How often controlled shutdown looks at the image for leaderships still held here. */
const LEADERSHIP_POLL_MS = 20;

export interface BrokerLifecycleDeps {
  readonly nodeId: number;
  /** This process's incarnation: a restarted broker registers anew. */
  readonly incarnationId: string;
  /** Where other nodes and clients reach this broker (its registration). */
  readonly self: { readonly host: string; readonly httpPort: number; readonly rpcPort: number };
  readonly heartbeatIntervalMs: number;
  readonly controller: ControllerClient;
  readonly image: () => MetadataImage;
  readonly logger: Logger;
}

/**
 * This broker's standing with the active controller (Kafka's BrokerLifecycleManager): it
 * registers, heartbeats so the controller keeps it unfenced, and on SIGTERM asks to be fenced
 * and to have its leaderships moved first (controlled shutdown).
 */
export class BrokerLifecycle {
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeating = false;
  private stopped = false;

  constructor(private readonly deps: BrokerLifecycleDeps) {}

  start(): void {
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.deps.heartbeatIntervalMs);
  }

  /** Stops heartbeating (the controller fences this broker when its session lapses). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
  }

  /**
   * Kafka's controlled shutdown, for SIGTERM: stop heartbeating, have the controller fence
   * this broker and move its leaderships to other in-sync replicas, and wait (bounded) until
   * this node's image shows it leads nothing. Requests already in flight are retried by
   * their nodes on the new leaders; the caller then drains HTTP and stops everything.
   */
  async controlledShutdown(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    const { nodeId, incarnationId, logger } = this.deps;
    const deadline = Date.now() + CONTROLLED_SHUTDOWN_TIMEOUT_MS;
    const others = this.deps.image().allBrokers().filter((b) => b.id !== nodeId && !b.fenced);
    if (others.length === 0) {
      // The last broker standing: there is nowhere to move leadership to (and maybe no quorum).
      logger.info('controlled shutdown skipped: no other live broker');
      return;
    }
    try {
      await this.deps.controller.call({ method: 'controlledShutdown', brokerId: nodeId, incarnationId }, CONTROLLED_SHUTDOWN_TIMEOUT_MS);
      while (Date.now() < deadline && this.leaderships() > 0) await new Promise((r) => setTimeout(r, LEADERSHIP_POLL_MS));
      logger.info({ leaderships: this.leaderships() }, 'controlled shutdown: leaderships moved');
    } catch (err) {
      logger.warn({ err }, 'controlled shutdown failed; stopping anyway');
    }
  }

  private leaderships(): number {
    return this.deps.image().leaderships(this.deps.nodeId);
  }

  /** Broker heartbeat to the active controller; registers first when it does not know us. */
  private async heartbeat(): Promise<void> {
    if (this.heartbeating || this.stopped) return;
    this.heartbeating = true;
    const { nodeId, incarnationId, self, logger } = this.deps;
    try {
      const r = await this.deps.controller.heartbeat(nodeId, incarnationId, this.deps.heartbeatIntervalMs * 2);
      if (!r.registered) {
        await this.deps.controller.call({ method: 'register', brokerId: nodeId, incarnationId, host: self.host, httpPort: self.httpPort, rpcPort: self.rpcPort });
        logger.info({ incarnationId }, 'registered with the controller');
      }
    } catch (err) {
      logger.debug({ err }, 'broker heartbeat failed; will retry');
    } finally {
      this.heartbeating = false;
    }
  }
}
