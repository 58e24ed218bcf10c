import { invalid } from '../errors.ts';
import type { AlterPartitionRequest, Controller } from '../metadata/controller.ts';

/** Controller commands that any node may send to the active controller over rpc. */
export type ControllerCall =
  | { readonly method: 'register'; readonly brokerId: number; readonly incarnationId: string; readonly host: string; readonly httpPort: number; readonly rpcPort: number }
  | { readonly method: 'heartbeat'; readonly brokerId: number; readonly incarnationId: string }
  | { readonly method: 'createTopic'; readonly name: string; readonly partitions?: number; readonly replicationFactor?: number; readonly configs: Readonly<Record<string, string>> }
  | { readonly method: 'deleteTopic'; readonly name: string }
  | { readonly method: 'alterTopicConfigs'; readonly name: string; readonly changes: Readonly<Record<string, string | null>> }
  | ({ readonly method: 'alterPartition' } & AlterPartitionRequest)
  | { readonly method: 'controlledShutdown'; readonly brokerId: number; readonly incarnationId: string };

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
  }
}

const METHODS = new Set(['register', 'heartbeat', 'createTopic', 'deleteTopic', 'alterTopicConfigs', 'alterPartition', 'controlledShutdown']);

/** A call that arrived over rpc: check its shape before it reaches the controller. */
export function parseControllerCall(payload: unknown): ControllerCall {
  if (typeof payload !== 'object' || payload === null) throw invalid('call', 'must be an object');
  const p = payload as Record<string, unknown>;
  if (typeof p['method'] !== 'string' || !METHODS.has(p['method'])) throw invalid('method', `unknown controller method ${String(p['method'])}`);
  const needString = (k: string): void => {
    if (typeof p[k] !== 'string') throw invalid(k, 'must be a string');
  };
  if (p['method'] === 'register' || p['method'] === 'heartbeat' || p['method'] === 'controlledShutdown') {
    if (!Number.isInteger(p['brokerId'])) throw invalid('brokerId', 'must be an integer');
    needString('incarnationId');
  } else if (p['method'] === 'alterPartition') {
    needString('topicId');
    for (const k of ['partition', 'leaderId', 'leaderEpoch', 'partitionEpoch']) if (!Number.isInteger(p[k])) throw invalid(k, 'must be an integer');
    if (!Array.isArray(p['isr']) || !p['isr'].every((b) => Number.isInteger(b))) throw invalid('isr', 'must be a list of broker ids');
  } else {
    needString('name');
  }
  return p as unknown as ControllerCall;
}
