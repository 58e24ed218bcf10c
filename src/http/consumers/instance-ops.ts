// Operations on a REST consumer instance, as a route asks for them or a node forwards them to
// the node the instance lives on (rpc `consumer`), with their checks at the receiving handler.

import { invalid } from '../../errors.ts';
import type { TopicPartition } from '../../groups/assignor.ts';
import { parseTopicPartition } from '../../groups/group-calls.ts';
import type { RpcMethod } from '../../rpc/rpc-method.ts';
import type { Fields } from '../../rpc/wire-shape.ts';
import { fields, int, listOf, str, strings } from '../../rpc/wire-shape.ts';

type PartitionOffset = { topic: string; partition: number; offset: number };

export type InstanceOp =
  | { readonly op: 'subscribe'; readonly topics?: readonly string[]; readonly pattern?: string }
  | { readonly op: 'subscription' }
  | { readonly op: 'unsubscribe' }
  | { readonly op: 'assignments' }
  | { readonly op: 'poll'; readonly timeoutMs: number; readonly maxBytes: number }
  | { readonly op: 'commit'; readonly offsets?: readonly PartitionOffset[] }
  | { readonly op: 'committed'; readonly partitions?: readonly TopicPartition[] }
  | { readonly op: 'seek'; readonly offsets: readonly PartitionOffset[] }
  | { readonly op: 'seekTo'; readonly where: 'beginning' | 'end'; readonly partitions: readonly TopicPartition[] }
  | { readonly op: 'delete' };

/** One forwarded operation: the instance it is for, and the operation. */
export interface InstanceCall {
  readonly group: string;
  readonly instance: string;
  readonly op: InstanceOp;
}

function partitionOffset(v: unknown, what: string): PartitionOffset {
  const o = fields(v, what);
  return { ...parseTopicPartition(o, what), offset: int(o, 'offset') };
}

const has = (o: Fields, k: string): boolean => o[k] !== undefined;

function parseInstanceOp(v: unknown): InstanceOp {
  const o = fields(v, 'op');
  const op = o['op'];
  switch (op) {
    case 'subscription':
    case 'unsubscribe':
    case 'assignments':
    case 'delete':
      return { op };
    case 'subscribe':
      return {
        op,
        ...(has(o, 'topics') ? { topics: strings(o, 'topics') } : {}),
        ...(has(o, 'pattern') ? { pattern: str(o, 'pattern') } : {}),
      };
    case 'poll':
      return { op, timeoutMs: int(o, 'timeoutMs'), maxBytes: int(o, 'maxBytes') };
    case 'commit':
      return has(o, 'offsets') ? { op, offsets: listOf(o, 'offsets', partitionOffset) } : { op };
    case 'committed':
      return has(o, 'partitions') ? { op, partitions: listOf(o, 'partitions', parseTopicPartition) } : { op };
    case 'seek':
      return { op, offsets: listOf(o, 'offsets', partitionOffset) };
    case 'seekTo': {
      const where = o['where'];
      if (where !== 'beginning' && where !== 'end') throw invalid('where', 'must be "beginning" or "end"');
      return { op, where, partitions: listOf(o, 'partitions', parseTopicPartition) };
    }
    default:
      throw invalid('op', `unknown consumer instance operation ${String(op)}`);
  }
}

/**
 * rpc `consumer`: runs an operation on an instance living on the answering node. The answer is
 * the HTTP body the route sends back as it is (the front door's own format), so it is not read.
 */
export const CONSUMER_RPC: RpcMethod<InstanceCall, unknown> = {
  name: 'consumer',
  parseRequest: (payload) => {
    const o = fields(payload, 'consumer call');
    return { group: str(o, 'group'), instance: str(o, 'instance'), op: parseInstanceOp(o['op']) };
  },
  parseResponse: (payload) => payload,
};
