import type { RaftNode } from '../../raft/node.ts';
import type { Message } from '../../raft/types.ts';
import { FETCH_RPC } from '../broker/fetch-rpc.ts';
import { CONSUME_RPC, END_OFFSET_FOR_EPOCH_RPC, OFFSET_FOR_TIMESTAMP_RPC, OFFSETS_RPC, PRODUCE_RPC } from '../broker/partition-client.ts';
import type { PartitionClient } from '../broker/partition-client.ts';
import type { ReplicaManager } from '../broker/replica-manager.ts';
import { GROUP_RPC } from '../groups/group-calls.ts';
import type { GroupCoordinator } from '../groups/group-coordinator.ts';
import type { ConsumerRegistry } from '../http/consumers/consumer-registry.ts';
import { CONSUMER_RPC } from '../http/consumers/instance-ops.ts';
import type { Logger } from '../logger.ts';
import type { Controller } from '../metadata/controller.ts';
import { CONTROLLER_RPC, runControllerCall } from '../metadata/controller-calls.ts';
import { METADATA_APPLIED_RPC } from '../metadata/metadata-view.ts';
import type { MetadataView } from '../metadata/metadata-view.ts';
import type { QuorumView } from '../metadata/quorum-status.ts';
import { QUORUM_STATUS_RPC } from '../metadata/quorum-status.ts';
import { route } from '../rpc/rpc-method.ts';
import type { RpcNode } from '../rpc/rpc-node.ts';

export interface RpcRouteServices {
  readonly nodeId: number;
  readonly raft: RaftNode;
  readonly controller: Controller;
  readonly quorum: QuorumView;
  readonly metadata: MetadataView;
  readonly replicas: ReplicaManager;
  readonly partitions: PartitionClient;
  readonly coordinator: GroupCoordinator;
  readonly consumers: ConsumerRegistry;
  readonly logger: Logger;
}

/**
 * The inter-node methods this node answers (Kafka's inter-broker APIs in KafkaApis), one line
 * each: every payload is parsed by its method's descriptor before the service sees it.
 */
export function registerRpcRoutes(rpc: RpcNode, s: RpcRouteServices): void {
  const table = [
    // Data plane: followers replicate; any node reaches a partition's leader.
    route(FETCH_RPC, (req) => s.replicas.handleFetch(req)),
    route(PRODUCE_RPC, (c) => s.partitions.answerProduce(c)),
    route(CONSUME_RPC, (c) => s.partitions.answerConsume(c)),
    route(OFFSETS_RPC, (c) => s.partitions.answerOffsets(c)),
    route(OFFSET_FOR_TIMESTAMP_RPC, (c) => s.partitions.answerOffsetForTimestamp(c)),
    route(END_OFFSET_FOR_EPOCH_RPC, (c) => s.partitions.answerEndOffsetForEpoch(c)),
    // Groups: a group's coordinator; REST consumer instances living here.
    route(GROUP_RPC, (call) => s.coordinator.handle(call)),
    route(CONSUMER_RPC, (c) => s.consumers.execute(c.group, c.instance, c.op)),
    // Metadata: the active controller, and this node's view of the quorum.
    route(CONTROLLER_RPC, async (call) => {
      const result = await runControllerCall(s.controller, call);
      // The caller waits until it has applied this far, so its own reads see the change.
      return { result, appliedIndex: s.raft.status().applied };
    }),
    route(QUORUM_STATUS_RPC, () => s.quorum.local()),
    route(METADATA_APPLIED_RPC, (req) => s.metadata.answerApplied(req)),
  ];
  for (const r of table) r.register(rpc);
  rpc.onMessage('raft', (payload, from) => {
    const m = payload as Message | null;
    // The rpc layer authenticated the peer; refuse a message that claims to be someone else.
    if (typeof m !== 'object' || m === null || typeof m.type !== 'string' || m.from !== from || m.to !== s.nodeId) {
      s.logger.warn({ from }, 'dropping malformed raft message');
      return;
    }
    s.raft.receive(m);
  });
}
