import { invalid } from '../errors.ts';
import type { RpcMethod } from '../rpc/rpc-method.ts';
import { fields, int, ints, listOf, str, stringMap } from '../rpc/wire-shape.ts';
import type { AlterPartitionRequest, Controller, ProducerIdBlock } from './controller.ts';
import type { CreatePartitionsRequest } from './topic-checks.ts';
import type { PartitionState, TopicState } from './image.ts';

/** Controller commands that any node may send to the active controller over rpc. */
export type ControllerCall =
  | { readonly method: 'register'; readonly brokerId: number; readonly incarnationId: string; readonly host: string; readonly httpPort: number; readonly rpcPort: number; readonly kafkaPort?: number }
  | { readonly method: 'heartbeat'; readonly brokerId: number; readonly incarnationId: string }
  | { readonly method: 'createTopic'; readonly name: string; readonly partitions?: number; readonly replicationFactor?: number; readonly configs: Readonly<Record<string, string>> }
  | { readonly method: 'deleteTopic'; readonly name: string }
  | { readonly method: 'alterTopicConfigs'; readonly name: string; readonly changes: Readonly<Record<string, string | null>> }
  | ({ readonly method: 'alterPartition' } & AlterPartitionRequest)
  | { readonly method: 'controlledShutdown'; readonly brokerId: number; readonly incarnationId: string }
  | { readonly method: 'allocateProducerIds'; readonly brokerId: number; readonly incarnationId: string }
  | ({ readonly method: 'createPartitions' } & CreatePartitionsRequest);

/** Runs one call on this node's controller (which refuses with NOT_CONTROLLER unless active). */
export function runControllerCall(controller: Controller, call: ControllerCall): Promise<unknown> {
  switch (call.method) {
    case 'register':
      return controller.registerBroker({
        brokerId: call.brokerId,
        incarnationId: call.incarnationId,
        host: call.host,
        httpPort: call.httpPort,
        rpcPort: call.rpcPort,
        ...(call.kafkaPort === undefined ? {} : { kafkaPort: call.kafkaPort }),
      });
    case 'heartbeat':
      return controller.heartbeat(call.brokerId, call.incarnationId);
    case 'createTopic':
      return controller.createTopic({
        name: call.name,
        configs: call.configs,
        ...(call.partitions !== undefined ? { partitions: call.partitions } : {}),
        ...(call.replicationFactor !== undefined ? { replicationFactor: call.replicationFactor } : {}),
      });
    case 'deleteTopic':
      return controller.deleteTopic(call.name);
    case 'alterTopicConfigs':
      return controller.alterTopicConfigs(call.name, call.changes);
    case 'alterPartition':
      return controller.alterPartition(call);
    case 'controlledShutdown':
      return controller.controlledShutdown(call.brokerId, call.incarnationId);
    case 'allocateProducerIds':
      return controller.allocateProducerIds(call.brokerId, call.incarnationId);
    case 'createPartitions':
      return controller.createPartitions(call);
  }
}

/** A call that arrived over rpc: check its shape before it reaches the controller. */
export function parseControllerCall(payload: unknown): ControllerCall {
  const p = fields(payload, 'call');
  const method = p['method'];
  switch (method) {
    case 'register':
      return {
        method,
        brokerId: int(p, 'brokerId'),
        incarnationId: str(p, 'incarnationId'),
        host: str(p, 'host'),
        httpPort: int(p, 'httpPort'),
        rpcPort: int(p, 'rpcPort'),
        ...(p['kafkaPort'] === undefined || p['kafkaPort'] === null ? {} : { kafkaPort: int(p, 'kafkaPort') }),
      };
    case 'heartbeat':
    case 'controlledShutdown':
    case 'allocateProducerIds':
      return { method, brokerId: int(p, 'brokerId'), incarnationId: str(p, 'incarnationId') };
    case 'createTopic':
      return {
        method,
        name: str(p, 'name'),
        configs: stringMap(p, 'configs'),
        ...(p['partitions'] !== undefined ? { partitions: int(p, 'partitions') } : {}),
        ...(p['replicationFactor'] !== undefined ? { replicationFactor: int(p, 'replicationFactor') } : {}),
      };
    case 'deleteTopic':
      return { method, name: str(p, 'name') };
    case 'alterTopicConfigs':
      return { method, name: str(p, 'name'), changes: stringMap(p, 'changes', true) };
    case 'alterPartition':
      return {
        method,
        topicId: str(p, 'topicId'),
        partition: int(p, 'partition'),
        leaderId: int(p, 'leaderId'),
        leaderEpoch: int(p, 'leaderEpoch'),
        partitionEpoch: int(p, 'partitionEpoch'),
        isr: ints(p, 'isr'),
      };
    case 'createPartitions':
      return {
        method,
        name: str(p, 'name'),
        count: int(p, 'count'),
        ...(p['assignments'] !== undefined ? { assignments: listOf(p, 'assignments', (v, what) => ints({ [what]: v }, what)) } : {}),
      };
    default:
      throw invalid('method', `unknown controller method ${String(method)}`);
  }
}

/** A topic as the controller answers createTopic and alterTopicConfigs. */
export function parseTopicState(payload: unknown): TopicState {
  const o = fields(payload, 'topic');
  return {
    id: str(o, 'id'),
    name: str(o, 'name'),
    configs: stringMap(o, 'configs'),
    partitions: listOf(o, 'partitions', parsePartitionState),
  };
}

/** A partition as the controller answers alterPartition (and inside a topic). */
export function parsePartitionState(payload: unknown, what = 'partition'): PartitionState {
  const e = fields(payload, what);
  return { partition: int(e, 'partition'), replicas: ints(e, 'replicas'), isr: ints(e, 'isr'), leader: int(e, 'leader'), leaderEpoch: int(e, 'leaderEpoch'), partitionEpoch: int(e, 'partitionEpoch') };
}

/** A producer id block as the controller answers allocateProducerIds. */
export function parseProducerIdBlock(payload: unknown): ProducerIdBlock {
  const o = fields(payload, 'producer id block');
  return { brokerId: int(o, 'brokerId'), firstProducerId: int(o, 'firstProducerId'), size: int(o, 'size') };
}

/** What the active controller answers a call: its result, and the raft index the caller must apply to read its own write. */
export interface ControllerAnswer {
  readonly result: unknown;
  readonly appliedIndex: number;
}

/** rpc `controller`: runs a ControllerCall on the active controller. */
export const CONTROLLER_RPC: RpcMethod<ControllerCall, ControllerAnswer> = {
  name: 'controller',
  parseRequest: parseControllerCall,
  parseResponse: (payload) => {
    const o = fields(payload, 'controller answer');
    return { result: o['result'], appliedIndex: int(o, 'appliedIndex') };
  },
};
