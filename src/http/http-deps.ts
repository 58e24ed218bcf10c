import { RunnelError } from '../errors.ts';
import type { NodeMetrics } from '../metrics/node-metrics.ts';
import type { AdminService, FetchService, GroupService, MetadataService, ProduceBudget, ProduceService, QuorumService } from '../services/front-door-services.ts';
import type { ConsumerRegistry } from './consumers/consumer-registry.ts';
import type { TestHooks } from './test-hook-routes.ts';

/** Which cluster and node this HTTP API speaks for. */
export interface ClusterIdentity {
  readonly clusterId: string;
  readonly nodeId: number;
}

/**
 * Everything the routes use, handed over by the composition root (src/node/runnel-node.ts).
 * Each route file takes only the members it needs (a Pick of this).
 */
export interface HttpDeps {
  readonly cluster: ClusterIdentity;
  readonly metadata: MetadataService;
  readonly admin: AdminService;
  readonly quorum: QuorumService;
  readonly produce: ProduceService;
  readonly produceBudget: ProduceBudget;
  readonly fetch: FetchService;
  readonly groups: GroupService;
  /** The REST v2 consumer instances (an HTTP-protocol concern, src/http/consumers/). */
  readonly consumers: Pick<ConsumerRegistry, 'create' | 'call'>;
  readonly metrics: NodeMetrics;
  /** Fault-injection hooks, served only with RUNNEL_TEST_HOOKS=1. */
  readonly testHooks: TestHooks;
}

/** The `{cid}` of a v3 path must name this cluster (404 CLUSTER_NOT_FOUND otherwise). */
export function checkCluster(cluster: ClusterIdentity, cid: string | undefined): void {
  if (cid !== cluster.clusterId) throw new RunnelError('CLUSTER_NOT_FOUND', `cluster "${cid ?? ''}" not found; this is cluster "${cluster.clusterId}"`);
}
