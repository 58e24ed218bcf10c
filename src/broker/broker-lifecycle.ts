import type { Logger } from '../logger.ts';
import { controlledShutdown } from './controlled-shutdown.ts';
import type { ControllerClient } from '../metadata/controller-client.ts';
import type { MetadataImage } from '../metadata/image.ts';


export interface BrokerLifecycleDeps {
  readonly nodeId: number;
  /** This process's incarnation: a restarted broker registers anew. */
  readonly incarnationId: string;
  /** Where other nodes and clients reach this broker (its registration). */
  readonly self: { readonly host: string; readonly httpPort: number; readonly rpcPort: number; readonly kafkaPort?: number | undefined };
  readonly heartbeatIntervalMs: number;
  /** broker.controlled_shutdown_timeout_ms: the whole of a controlled shutdown. */
  readonly controlledShutdownTimeoutMs: number;
  /** broker.controlled_shutdown_no_controller_ms: how long it waits with no controller to ask. */
  readonly controlledShutdownNoControllerMs: number;
  /** Whether the metadata quorum has a leader this node can reach: itself, or a connected peer. */
  readonly controllerReachable: () => boolean;
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
   * this broker and move its leaderships to other in-sync replicas, and wait (bounded, see
   * controlled-shutdown.ts) until this node's image shows it leads nothing. Requests already in
   * flight are retried by their nodes on the new leaders; the caller then drains HTTP and
   * stops everything. Never throws.
   */
  async controlledShutdown(): Promise<void> {
    this.stop();
    const { nodeId, incarnationId, logger } = this.deps;
    await controlledShutdown({
      askController: (timeoutMs) => this.deps.controller.controlledShutdown(nodeId, incarnationId, timeoutMs),
      leaderships: () => this.deps.image().leaderships(nodeId),
      otherLiveBrokers: () => this.deps.image().allBrokers().filter((b) => b.id !== nodeId && !b.fenced).length,
      controllerReachable: this.deps.controllerReachable,
      timeoutMs: this.deps.controlledShutdownTimeoutMs,
      noControllerMs: this.deps.controlledShutdownNoControllerMs,
      log: logger,
    });
  }

  /** Broker heartbeat to the active controller; registers first when it does not know us. */
  private async heartbeat(): Promise<void> {
    if (this.heartbeating || this.stopped) return;
    this.heartbeating = true;
    const { nodeId, incarnationId, self, logger } = this.deps;
    try {
      const r = await this.deps.controller.heartbeat(nodeId, incarnationId, this.deps.heartbeatIntervalMs * 2);
      if (!r.registered) {
        const kafka = self.kafkaPort === undefined ? {} : { kafkaPort: self.kafkaPort };
        await this.deps.controller.call({ method: 'register', brokerId: nodeId, incarnationId, host: self.host, httpPort: self.httpPort, rpcPort: self.rpcPort, ...kafka });
        logger.info({ incarnationId }, 'registered with the controller');
      }
    } catch (err) {
      logger.debug({ err }, 'broker heartbeat failed; will retry');
    } finally {
      this.heartbeating = false;
    }
  }
}
