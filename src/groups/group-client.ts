import { RunnelError } from '../errors.ts';
import type { MetadataImage } from '../metadata/image.ts';
import type { GroupCall, GroupCoordinator } from './group-coordinator.ts';
import { OFFSETS_TOPIC, offsetsPartitionFor } from './offsets-topic.ts';

/** While the coordinator moves or loads, calls are retried inside their deadline. */
const RETRIABLE = new Set([
  'NOT_COORDINATOR',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_OR_FOLLOWER',
  'BROKER_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
  'NOT_ENOUGH_REPLICAS',
]);
const RETRY_MS = 50;

export interface GroupClientDeps {
  readonly brokerId: number;
  readonly image: () => MetadataImage;
  readonly coordinator: GroupCoordinator;
  readonly request: (peerId: number, method: string, payload: unknown, timeoutMs: number) => Promise<unknown>;
  /** Creates the offsets topic through the controller (409 when it exists is fine). */
  readonly createOffsetsTopic: () => Promise<void>;
}

/** Reaches a group's coordinator (the leader of its offsets partition) from any node. */
export class GroupClient {
  constructor(private readonly deps: GroupClientDeps) {}

  async call(call: Exclude<GroupCall, { op: 'list' }>, timeoutMs = 10_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let lastErr: unknown;
      try {
        const t = this.deps.image().topic(OFFSETS_TOPIC);
        if (t === undefined) {
          await this.deps.createOffsetsTopic();
          throw new RunnelError('NOT_COORDINATOR', 'the offsets topic is being created');
        }
        const p = t.partitions[offsetsPartitionFor(call.group, t.partitions.length)];
        if (p === undefined || p.leader < 0) throw new RunnelError('NOT_COORDINATOR', `the offsets partition of group "${call.group}" has no leader`);
        if (p.leader === this.deps.brokerId) return await this.deps.coordinator.handle(call);
        return await this.deps.request(p.leader, 'group', call, Math.max(1, deadline - Date.now()));
      } catch (err) {
        if (!(err instanceof RunnelError) || !RETRIABLE.has(err.errorName)) throw err;
        lastErr = err;
      }
      if (Date.now() + RETRY_MS >= deadline) throw lastErr;
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  /** Group ids coordinated anywhere in the cluster. */
  async list(peers: readonly number[]): Promise<string[]> {
    const all = await Promise.all(
      peers.map(async (id) => {
        try {
          return (id === this.deps.brokerId ? await this.deps.coordinator.handle({ op: 'list' }) : await this.deps.request(id, 'group', { op: 'list' }, 2000)) as string[];
        } catch {
          return [];
        }
      }),
    );
    return [...new Set(all.flat())].sort();
  }
}
