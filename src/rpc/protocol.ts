// The frames two runnel nodes exchange. A connection carries traffic one way: the node that
// opened it sends hello, one-way messages and requests; the accepting node sends its hello
// answer and the responses to those requests.

/** Bumped on any incompatible change of the frames below; a hello with another version is refused. */
export const PROTOCOL_VERSION = 1;

export interface HelloFrame {
  readonly type: 'hello';
  readonly v: number;
  readonly clusterId: string;
  readonly nodeId: number;
}

/** Fire-and-forget (Raft messages). */
export interface MessageFrame {
  readonly type: 'msg';
  readonly channel: string;
  readonly payload: unknown;
}

export interface RequestFrame {
  readonly type: 'req';
  /** Unique among the sender's requests in flight on this connection. */
  readonly id: number;
  readonly method: string;
  readonly payload: unknown;
}

export type ResponseFrame =
  | { readonly type: 'res'; readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly type: 'res'; readonly id: number; readonly ok: false; readonly error: WireError };

/** RunnelError.toWire(): errors cross nodes as values. */
export interface WireError {
  readonly errorName: string;
  readonly message: string;
}

export type Frame = HelloFrame | MessageFrame | RequestFrame | ResponseFrame;

/** Checks a decoded value's shape; throws naming what is wrong (the caller drops the connection). */
export function toFrame(value: unknown): Frame {
  if (typeof value !== 'object' || value === null) throw new Error('malformed rpc frame: not a map');
  const f = value as Record<string, unknown>;
  switch (f['type']) {
    case 'hello':
      if (typeof f['v'] !== 'number' || typeof f['clusterId'] !== 'string' || !isId(f['nodeId'])) {
        throw new Error('malformed rpc hello frame');
      }
      return { type: 'hello', v: f['v'], clusterId: f['clusterId'], nodeId: f['nodeId'] };
    case 'msg':
      if (typeof f['channel'] !== 'string') throw new Error('malformed rpc message frame');
      return { type: 'msg', channel: f['channel'], payload: f['payload'] };
    case 'req':
      if (!isId(f['id']) || typeof f['method'] !== 'string') throw new Error('malformed rpc request frame');
      return { type: 'req', id: f['id'], method: f['method'], payload: f['payload'] };
    case 'res': {
      const id = f['id'];
      if (!isId(id)) throw new Error('malformed rpc response frame');
      if (f['ok'] === true) return { type: 'res', id, ok: true, result: f['result'] };
      const e = f['error'] as Record<string, unknown> | null | undefined;
      if (f['ok'] !== false || typeof e !== 'object' || e === null || typeof e['errorName'] !== 'string' || typeof e['message'] !== 'string') {
        throw new Error('malformed rpc response frame');
      }
      return { type: 'res', id, ok: false, error: { errorName: e['errorName'], message: e['message'] } };
    }
    default:
      throw new Error(`unknown rpc frame type ${JSON.stringify(f['type'])}`);
  }
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
