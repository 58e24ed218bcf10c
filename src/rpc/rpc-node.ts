import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../config/load-config.ts';
import { RunnelError, invalid } from '../errors.ts';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encodeFrame } from './frame-codec.ts';
import { PeerLink, endSocket } from './peer-link.ts';
import type { LinkContext, PeerAddress } from './peer-link.ts';
import { PROTOCOL_VERSION, toFrame } from './protocol.ts';
import type { Frame, HelloFrame, RequestFrame, ResponseFrame } from './protocol.ts';

export type { PeerAddress } from './peer-link.ts';

export type RequestHandler = (payload: unknown, fromNodeId: number) => unknown;
export type MessageHandler = (payload: unknown, fromNodeId: number) => void;
/** Fault hook: return false to drop traffic from node `from` to node `to`. */
export type LinkFilter = (from: number, to: number) => boolean;

export interface RpcNodeOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  /** Where to listen. */
  readonly host: string;
  /** 0 picks a free port; read it from `port` after start(). */
  readonly rpcPort: number;
  /** The other nodes (an entry for this node itself is ignored). Only they may connect. */
  readonly peers: readonly PeerAddress[];
  /** Pass the component logger: componentLogger(root, 'rpc'). */
  readonly logger: Logger;
  /** Default deadline of request(); cluster.yaml rpc.request_timeout_ms. */
  readonly requestTimeoutMs?: number;
  /** cluster.yaml rpc.connect_backoff_max_ms. */
  readonly connectBackoffMaxMs?: number;
  /** First reconnect delay; doubles per failed attempt up to connectBackoffMaxMs. */
  readonly connectBackoffBaseMs?: number;
  /** cluster.yaml rpc.max_frame_bytes. */
  readonly maxFrameBytes?: number;
  /** A connection must complete its hello exchange within this. Defaults to requestTimeoutMs. */
  readonly handshakeTimeoutMs?: number;
  /** One-way messages held per peer while it is not connected; the oldest go first. */
  readonly maxQueuedMessages?: number;
  readonly maxQueuedBytes?: number;
  /** Requests in flight per peer; beyond it request() fails fast. */
  readonly maxPendingRequests?: number;
  /** Requests from one peer being handled at once; beyond it they are refused. */
  readonly maxInflightInbound?: number;
  /** Bytes buffered in a socket beyond which messages are dropped and requests refused. */
  readonly maxWriteBufferBytes?: number;
}

/** RpcNode options for node `nodeId` of a cluster.yaml. */
export function rpcNodeOptions(cfg: ClusterConfig, nodeId: number, logger: Logger): RpcNodeOptions {
  const self = cfg.nodes.find((n) => n.id === nodeId);
  if (self === undefined) throw invalid('nodeId', `${nodeId} is not a node of cluster ${cfg.clusterId}`, 'INVALID_CONFIG');
  return {
    nodeId,
    clusterId: cfg.clusterId,
    host: self.host,
    rpcPort: self.rpcPort,
    peers: cfg.nodes.filter((n) => n.id !== nodeId).map((n) => ({ id: n.id, host: n.host, rpcPort: n.rpcPort })),
    logger,
    requestTimeoutMs: cfg.rpc.requestTimeoutMs,
    connectBackoffMaxMs: cfg.rpc.connectBackoffMaxMs,
    maxFrameBytes: cfg.rpc.maxFrameBytes,
  };
}

/** An accepted connection: the peer's requests and messages in, our answers out. */
interface InboundConn {
  readonly socket: Socket;
  /** Set once the peer's hello checked out. */
  peerId: number | undefined;
  inflight: number;
  readonly handshakeTimer: NodeJS.Timeout;
}

/**
 * Node-to-node transport: length-prefixed msgpackr frames over TCP. Each node opens at most one
 * connection to each peer (lazily; see PeerLink) for its own messages and requests; answers
 * return on the connection the request came in on. Both ends prove cluster id and node id in
 * a hello exchange before anything else is accepted.
 */
export class RpcNode {
  private readonly log: Logger;
  private readonly links = new Map<number, PeerLink>();
  private readonly inbound = new Set<InboundConn>();
  /** Invariant: at most one authenticated inbound connection per peer (a newer one replaces it). */
  private readonly inboundByPeer = new Map<number, InboundConn>();
  private readonly requestHandlers = new Map<string, RequestHandler>();
  private readonly messageHandlers = new Map<string, MessageHandler>();
  private readonly inflightWork = new Set<Promise<void>>();
  private readonly requestTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly handshakeTimeoutMs: number;
  private readonly maxInflightInbound: number;
  private linkFilter: LinkFilter | undefined;
  private server: Server | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: RpcNodeOptions) {
    this.log = opts.logger;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5000;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? this.requestTimeoutMs;
    this.maxInflightInbound = opts.maxInflightInbound ?? 1024;
    const ctx: LinkContext = {
      selfId: opts.nodeId,
      clusterId: opts.clusterId,
      maxFrameBytes: this.maxFrameBytes,
      connectBackoffBaseMs: opts.connectBackoffBaseMs ?? 50,
      connectBackoffMaxMs: opts.connectBackoffMaxMs ?? 2000,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      maxQueuedMessages: opts.maxQueuedMessages ?? 1024,
      maxQueuedBytes: opts.maxQueuedBytes ?? 16 * 1024 * 1024,
      maxPendingRequests: opts.maxPendingRequests ?? 1024,
      maxWriteBufferBytes: opts.maxWriteBufferBytes ?? 64 * 1024 * 1024,
      allowed: (from, to) => this.linkFilter === undefined || this.linkFilter(from, to),
    };
    for (const peer of opts.peers) {
      if (peer.id === opts.nodeId) continue;
      if (this.links.has(peer.id)) throw invalid('peers', `node ${peer.id} is listed twice`);
      this.links.set(peer.id, new PeerLink(peer, ctx, this.log));
    }
  }

  get nodeId(): number {
    return this.opts.nodeId;
  }

  /** The port listened on (the real one when rpcPort was 0). Only after start(). */
  get port(): number {
    const addr = this.server?.address();
    if (addr === null || addr === undefined || typeof addr === 'string') throw new Error('RpcNode is not listening');
    return addr.port;
  }

  async start(): Promise<void> {
    if (this.server !== undefined || this.closing !== undefined) throw new Error('RpcNode.start() called twice');
    const server = createServer((socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.opts.host, port: this.opts.rpcPort }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err }, 'rpc server error'));
    this.log.info({ host: this.opts.host, port: this.port }, 'rpc listening');
  }

  /**
   * Stops listening, fails every pending request (BROKER_NOT_AVAILABLE), ends every socket,
   * clears every timer and waits for handlers still running.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const server = this.server;
    const serverClosed =
      server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    const linksClosed = [...this.links.values()].map((l) => l.close());
    for (const conn of this.inbound) {
      clearTimeout(conn.handshakeTimer);
      endSocket(conn.socket);
    }
    await Promise.all([serverClosed, ...linksClosed, ...this.inflightWork]);
  }

  /** Where a peer listens; takes effect at its next connection attempt. */
  setPeerAddress(peer: PeerAddress): void {
    const link = this.links.get(peer.id);
    if (link === undefined) throw invalid('peer.id', `node ${peer.id} is not a peer of node ${this.opts.nodeId}`);
    link.setAddress(peer);
  }

  /** Answer requests for `method`. A RunnelError thrown reaches the caller with its name. */
  handle(method: string, handler: RequestHandler): void {
    if (this.requestHandlers.has(method)) throw new Error(`rpc method ${method} already has a handler`);
    this.requestHandlers.set(method, handler);
  }

  /** Receive one-way messages on `channel`. */
  onMessage(channel: string, handler: MessageHandler): void {
    if (this.messageHandlers.has(channel)) throw new Error(`rpc channel ${channel} already has a handler`);
    this.messageHandlers.set(channel, handler);
  }

  /**
   * Fire-and-forget: may be dropped (peer down and queue full, link cut) and the caller never
   * learns of it, as with Raft messages on any network. Throws MESSAGE_TOO_LARGE synchronously.
   */
  send(peerId: number, channel: string, payload: unknown): void {
    const link = this.link(peerId);
    if (this.closing !== undefined || !this.allowed(this.opts.nodeId, peerId)) return;
    link.send(encodeFrame({ type: 'msg', channel, payload }, this.maxFrameBytes));
  }

  /**
   * Ask `peerId` to run `method`. Rejects with the handler's RunnelError, REQUEST_TIMED_OUT after
   * timeoutMs, BROKER_NOT_AVAILABLE at once while the peer is unreachable, NETWORK_EXCEPTION
   * when the connection drops before the answer. All of these may be retried.
   */
  async request(peerId: number, method: string, payload: unknown, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    return this.link(peerId).request(method, payload, opts.timeoutMs ?? this.requestTimeoutMs);
  }

  /** Whether the outbound connection to `peerId` has completed its hello exchange. */
  isConnected(peerId: number): boolean {
    return this.link(peerId).isReady;
  }

  /** One-way messages to `peerId` dropped for lack of space so far. */
  droppedMessages(peerId: number): number {
    return this.link(peerId).dropped;
  }

  /**
   * FOR FAULT TESTS ONLY (off by default). While set, traffic for which `filter(from, to)`
   * returns false is silently dropped at this node: its messages, requests and answers to a
   * cut peer are not sent, and those from it are ignored, so requests over a cut link time out.
   * Hello exchanges are not filtered. Pass undefined to heal every link.
   */
  setLinkFilter(filter: LinkFilter | undefined): void {
    this.linkFilter = filter;
  }

  private allowed(from: number, to: number): boolean {
    return this.linkFilter === undefined || this.linkFilter(from, to);
  }

  private link(peerId: number): PeerLink {
    const link = this.links.get(peerId);
    if (link === undefined) throw invalid('peerId', `node ${peerId} is not a peer of node ${this.opts.nodeId}`);
    return link;
  }

  private onConnection(socket: Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const handshakeTimer = setTimeout(() => {
      this.log.warn({ remote }, 'dropping rpc connection: no hello in time');
      socket.destroy();
    }, this.handshakeTimeoutMs);
    const conn: InboundConn = { socket, peerId: undefined, inflight: 0, handshakeTimer };
    this.inbound.add(conn);
    const decoder = new FrameDecoder(this.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const value of decoder.push(chunk)) {
          if (socket.destroyed) return;
          this.onInboundFrame(conn, toFrame(value), remote);
        }
      } catch (err) {
        this.log.warn({ err, remote, peer: conn.peerId }, 'dropping rpc connection: bad frame');
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.log.debug({ err, remote, peer: conn.peerId }, 'inbound rpc socket error'));
    socket.on('close', () => {
      clearTimeout(handshakeTimer);
      this.inbound.delete(conn);
      if (conn.peerId !== undefined && this.inboundByPeer.get(conn.peerId) === conn) this.inboundByPeer.delete(conn.peerId);
    });
  }

  private onInboundFrame(conn: InboundConn, frame: Frame, remote: string): void {
    if (this.closing !== undefined) return;
    if (conn.peerId === undefined) {
      this.acceptHello(conn, frame, remote);
      return;
    }
    const from = conn.peerId;
    switch (frame.type) {
      case 'msg':
        if (!this.allowed(from, this.opts.nodeId)) return;
        this.deliver(frame.channel, frame.payload, from);
        return;
      case 'req': {
        if (!this.allowed(from, this.opts.nodeId)) return;
        const work = this.serve(conn, frame);
        this.inflightWork.add(work);
        void work.finally(() => this.inflightWork.delete(work));
        return;
      }
      case 'hello':
      case 'res':
        this.log.warn({ peer: from, type: frame.type }, 'dropping rpc connection: unexpected frame on an inbound connection');
        conn.socket.destroy();
        return;
    }
  }

  private acceptHello(conn: InboundConn, frame: Frame, remote: string): void {
    const reject = (why: string, fields: object): void => {
      this.log.warn({ remote, ...fields }, `refused rpc connection: ${why}`);
      conn.socket.destroy();
    };
    if (frame.type !== 'hello') return reject('first frame is not hello', { type: frame.type });
    if (frame.v !== PROTOCOL_VERSION) return reject('unsupported protocol version', { version: frame.v });
    if (frame.clusterId !== this.opts.clusterId) {
      return reject('wrong cluster id', { remoteClusterId: frame.clusterId, remoteNodeId: frame.nodeId });
    }
    if (!this.links.has(frame.nodeId)) return reject('unknown node id', { remoteNodeId: frame.nodeId });
    clearTimeout(conn.handshakeTimer);
    conn.peerId = frame.nodeId;
    // A peer keeps one connection to us: a new one means the old one is dead (e.g. the peer
    // restarted before our side noticed), so drop the old one now instead of at its timeout.
    const old = this.inboundByPeer.get(frame.nodeId);
    if (old !== undefined) old.socket.destroy();
    this.inboundByPeer.set(frame.nodeId, conn);
    const answer: HelloFrame = { type: 'hello', v: PROTOCOL_VERSION, clusterId: this.opts.clusterId, nodeId: this.opts.nodeId };
    conn.socket.write(encodeFrame(answer, this.maxFrameBytes));
    this.log.debug({ peer: frame.nodeId, remote }, 'accepted rpc connection');
  }

  private deliver(channel: string, payload: unknown, from: number): void {
    const handler = this.messageHandlers.get(channel);
    if (handler === undefined) {
      this.log.debug({ channel, peer: from }, 'rpc message for a channel nobody handles');
      return;
    }
    try {
      handler(payload, from);
    } catch (err) {
      this.log.error({ err, channel, peer: from }, 'rpc message handler threw');
    }
  }

  private async serve(conn: InboundConn, req: RequestFrame): Promise<void> {
    const from = conn.peerId ?? -1;
    let res: ResponseFrame;
    if (conn.inflight >= this.maxInflightInbound) {
      const err = new RunnelError('BROKER_NOT_AVAILABLE', `node ${this.opts.nodeId} has ${conn.inflight} requests from node ${from} in progress`);
      res = { type: 'res', id: req.id, ok: false, error: err.toWire() };
    } else {
      conn.inflight++;
      try {
        const handler = this.requestHandlers.get(req.method);
        if (handler === undefined) throw new RunnelError('UNKNOWN_SERVER_ERROR', `node ${this.opts.nodeId} has no rpc method ${req.method}`);
        res = { type: 'res', id: req.id, ok: true, result: await handler(req.payload, from) };
      } catch (err) {
        res = { type: 'res', id: req.id, ok: false, error: this.toWireError(err, req.method, from) };
      } finally {
        conn.inflight--;
      }
    }
    if (conn.socket.destroyed || !this.allowed(this.opts.nodeId, from)) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(res, this.maxFrameBytes);
    } catch (err) {
      frame = encodeFrame({ type: 'res', id: req.id, ok: false, error: this.toWireError(err, req.method, from) }, this.maxFrameBytes);
    }
    conn.socket.write(frame);
  }

  private toWireError(err: unknown, method: string, from: number): { errorName: string; message: string } {
    if (err instanceof RunnelError) return err.toWire();
    // Not an expected condition: a bug in the handler. Log it here; the caller gets a 500-class error.
    this.log.error({ err, method, peer: from }, 'rpc handler failed');
    return { errorName: 'UNKNOWN_SERVER_ERROR', message: err instanceof Error ? err.message : String(err) };
  }
}
