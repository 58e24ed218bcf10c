import type { RaftNode } from '../../raft/node.ts';
import { NONE } from '../../raft/types.ts';
import { retryUntil, waitAtMost, withDeadline } from '../deadline.ts';
import { RunnelError } from '../errors.ts';
import type { PeerCaller } from '../rpc/rpc-method.ts';
import { bool, fields, int } from '../rpc/wire-shape.ts';
import type { Controller, ProducerIdBlock } from './controller.ts';
import type { ControllerCall } from './controller-calls.ts';
import { CONTROLLER_RPC, parsePartitionState, parseProducerIdBlock, parseTopicState, runControllerCall } from './controller-calls.ts';
import type { PartitionState, TopicState } from './image.ts';

/** Errors worth retrying against the controller: it moved, or is being elected. */
const RETRIABLE = new Set(['NOT_CONTROLLER', 'NETWORK_EXCEPTION', 'BROKER_NOT_AVAILABLE', 'REQUEST_TIMED_OUT', 'LEADER_NOT_AVAILABLE']);

export interface ControllerClientDeps {
  readonly nodeId: number;
  /** Who leads the metadata quorum (the active controller), and when this node has applied an index. */
  readonly raft: Pick<RaftNode, 'status' | 'whenApplied'>;
  /** This node's controller, used while this node leads. */
  readonly controller: Controller;
  readonly peers: PeerCaller;
  readonly requestTimeoutMs: number;
  /** The node is closing: stop retrying. */
  readonly closed: () => boolean;
}

/**
 * Runs controller commands on the active controller, wherever it is: here, or over rpc on the
 * raft leader (Kafka's NodeToControllerChannelManager). Retries while the controller is moving,
 * and answers only once this node's image includes the change (read-your-writes).
 */
export class ControllerClient {
  constructor(private readonly deps: ControllerClientDeps) {}

  /** One command, within `timeoutMs` (the rpc request timeout by default). */
  async call(call: ControllerCall, timeoutMs = this.deps.requestTimeoutMs): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    try {
      return await retryUntil(deadline, { retriable: RETRIABLE, stop: this.deps.closed }, async (leftMs) => {
        const leader = this.deps.raft.status().leaderId;
        if (leader === NONE) throw new RunnelError('NOT_CONTROLLER', 'no controller is elected yet');
        if (leader === this.deps.nodeId) {
          return await withDeadline(runControllerCall(this.deps.controller, call), deadline, () => new RunnelError('REQUEST_TIMED_OUT', 'the controller did not answer in time'));
        }
        const r = await this.deps.peers.call(leader, CONTROLLER_RPC, call, leftMs);
        await waitAtMost(this.deps.raft.whenApplied(r.appliedIndex), Math.max(1, deadline - Date.now()));
        return r.result;
      });
    } catch (err) {
      if (!(err instanceof RunnelError) || !RETRIABLE.has(err.errorName)) throw err;
      throw new RunnelError('REQUEST_TIMED_OUT', `no active controller answered within ${timeoutMs} ms (${err.message})`);
    }
  }

  /** Creates a topic; answers it as the controller stored it. */
  async createTopic(req: Omit<Extract<ControllerCall, { method: 'createTopic' }>, 'method'>): Promise<TopicState> {
    return parseTopicState(await this.call({ method: 'createTopic', ...req }));
  }

  async deleteTopic(name: string): Promise<void> {
    await this.call({ method: 'deleteTopic', name });
  }

  async alterTopicConfigs(name: string, changes: Readonly<Record<string, string | null>>): Promise<void> {
    await this.call({ method: 'alterTopicConfigs', name, changes });
  }

  /** Raises a topic's partition count (Kafka CreatePartitions); answers the topic as it now stands. */
  async createPartitions(req: Omit<Extract<ControllerCall, { method: 'createPartitions' }>, 'method'>): Promise<TopicState> {
    return parseTopicState(await this.call({ method: 'createPartitions', ...req }));
  }

  /** AlterPartition (a leader's ISR change); answers the partition as it now stands. */
  async alterPartition(req: Omit<Extract<ControllerCall, { method: 'alterPartition' }>, 'method'>): Promise<PartitionState> {
    return parsePartitionState(await this.call({ method: 'alterPartition', ...req }));
  }

  /** Controlled shutdown of a broker; answers how many leaderships it still holds (none had another in-sync live replica). */
  async controlledShutdown(brokerId: number, incarnationId: string, timeoutMs: number): Promise<{ leaderships: number }> {
    const r = fields(await this.call({ method: 'controlledShutdown', brokerId, incarnationId }, timeoutMs), 'controlled shutdown answer');
    return { leaderships: int(r, 'leaderships') };
  }

  /** A broker heartbeat; `registered` false means the controller does not know this incarnation. */
  async heartbeat(brokerId: number, incarnationId: string, timeoutMs: number): Promise<{ registered: boolean }> {
    const r = fields(await this.call({ method: 'heartbeat', brokerId, incarnationId }, timeoutMs), 'heartbeat answer');
    return { registered: bool(r, 'registered') };
  }

  /** The next block of producer ids for this broker's incarnation (Kafka's AllocateProducerIds). */
  async allocateProducerIds(brokerId: number, incarnationId: string, timeoutMs: number): Promise<ProducerIdBlock> {
    return parseProducerIdBlock(await this.call({ method: 'allocateProducerIds', brokerId, incarnationId }, timeoutMs));
  }
}
