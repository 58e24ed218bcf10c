import type { FastifyInstance } from 'fastify';
import { batches, decodeRecords } from '../../storage/record-batch.ts';
import { invalid, RunnelError } from '../errors.ts';
import type { PartitionReplica } from '../broker/partition-replica.ts';
import type { MetadataService } from '../services/front-door-services.ts';

/** What the fault-test routes reach into: the rpc links and this node's own replicas. */
export interface TestHooks {
  /** Drop all rpc traffic with these peers (empty list heals). */
  cutLinks(peers: readonly number[]): void;
  /** This node's own replica of a partition, if it holds one. */
  localReplica(topicId: string, partition: number): PartitionReplica | undefined;
}

/**
 * FOR FAULT TESTS ONLY: registered only when RUNNEL_TEST_HOOKS=1 (src/test-hooks.ts).
 * - POST /_test/links {"cut":[2,3]}: drop all rpc traffic between this node and those peers
 *   (both directions, at this node); {"cut":[]} heals.
 * - GET /_test/replicas/{topic}/{p}?offset=N: this node's own replica of a partition (not
 *   the leader's), records from N with their offsets, plus its log end offset and high
 *   watermark, so a checker can compare every replica.
 */
export function registerTestHookRoutes(app: FastifyInstance, deps: { readonly metadata: MetadataService; readonly testHooks: TestHooks }): void {
  const { metadata, testHooks } = deps;
  // Kept out of the OpenAPI document: not part of the API.
  const hidden = { schema: { hide: true } };
  app.post('/_test/links', hidden, (req) => {
    const cut = (req.body as { cut?: unknown } | null)?.cut;
    if (!Array.isArray(cut) || !cut.every((x) => Number.isInteger(x))) throw invalid('cut', 'must be a list of node ids');
    testHooks.cutLinks(cut as number[]);
    return { cut };
  });

  app.get<{ Params: Record<string, string>; Querystring: Record<string, string> }>('/_test/replicas/:t/:p', hidden, async (req) => {
    const t = await metadata.findTopic(req.params['t'] ?? '');
    if (t === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${req.params['t']} not found`);
    const r = testHooks.localReplica(t.id, Number(req.params['p']));
    if (r === undefined) throw new RunnelError('UNKNOWN_PARTITION', `no local replica of ${t.name}-${req.params['p']}`);
    const offset = Number(req.query['offset'] ?? r.log.logStartOffset);
    const { records } = await r.log.read(offset, 4 * 1024 * 1024, r.log.logEndOffset);
    const out: { offset: number; value: string | null; epoch: number }[] = [];
    for (const { at, header } of batches(records)) {
      for (const rec of decodeRecords(records, at)) {
        if (rec.offset >= offset) out.push({ offset: rec.offset, value: rec.value?.toString('utf8') ?? null, epoch: header.partitionLeaderEpoch });
      }
    }
    return { role: r.role, leaderEpoch: r.leaderEpoch, logStartOffset: r.log.logStartOffset, logEndOffset: r.log.logEndOffset, highWatermark: r.log.highWatermark, records: out };
  });
}
