// Typed inter-node rpc. Every method is declared once, next to the service that answers it, as
// an RpcMethod: its name and how each side checks what crosses the wire (a peer is authenticated,
// but its bytes are still input). src/node/rpc-routes.ts registers the handlers from one table.

import type { RpcNode } from './rpc-node.ts';

/** One rpc method: the request a handler accepts and the answer a caller gets back. */
export interface RpcMethod<Req, Res> {
  readonly name: string;
  /** Checks a request that arrived from a peer; throws INVALID_REQUEST naming the field. */
  readonly parseRequest: (payload: unknown) => Req;
  /** Checks the answer a peer sent back. */
  readonly parseResponse: (payload: unknown) => Res;
}

/** How a service calls a method on another node (the rpc layer; a test may stand in). */
export interface PeerCaller {
  call<Req, Res>(peerId: number, method: RpcMethod<Req, Res>, req: Req, timeoutMs: number): Promise<Res>;
}

/** A method with its handler, as the route table lists them. */
export interface RpcRoute {
  readonly register: (rpc: RpcNode) => void;
}

/** `handler` serves `method`: requests are parsed before it sees them. */
export function route<Req, Res>(method: RpcMethod<Req, Res>, handler: (req: Req, fromNodeId: number) => Promise<Res> | Res): RpcRoute {
  return { register: (rpc) => rpc.handle(method.name, (payload, from) => handler(method.parseRequest(payload), from)) };
}

/** The PeerCaller of a node's rpc layer: answers are parsed before the caller sees them. */
export function peerCaller(rpc: RpcNode): PeerCaller {
  return {
    async call(peerId, method, req, timeoutMs) {
      return method.parseResponse(await rpc.request(peerId, method.name, req, { timeoutMs }));
    },
  };
}
