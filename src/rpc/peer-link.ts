import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { RunnelError } from '../errors.ts';
import { FrameDecoder, encodeFrame } from './frame-codec.ts';
import { PROTOCOL_VERSION, toFrame } from './protocol.ts';
import type { Frame, HelloFrame } from './protocol.ts';

export interface PeerAddress {
  readonly id: number;
  readonly host: string;
  readonly rpcPort: number;
}

/** What a link needs from the RpcNode that owns it. */
export interface LinkContext {
  readonly selfId: number;
  readonly clusterId: string;
  readonly maxFrameBytes: number;
  readonly connectBackoffBaseMs: number;
  readonly connectBackoffMaxMs: number;
  readonly handshakeTimeoutMs: number;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly maxPendingRequests: number;
  readonly maxWriteBufferBytes: number;
  /** The test-only fault hook: false drops the traffic from -> to. */
  readonly allowed: (from: number, to: number) => boolean;
}

interface PendingRequest {
  readonly method: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
  /** Written to a socket (its answer can only come back on that socket). */
  written: boolean;
}

interface QueuedFrame {
  readonly frame: Buffer;
  /** Set for a request (never dropped for space: bounded by maxPendingRequests instead). */
  readonly requestId: number | undefined;
}

/**
 * idle: no socket (never used, or quiet since the last failure) -> the next frame connects.
 * connecting: socket opening, our hello sent, the peer's not yet received: frames queue.
 * ready: both hellos exchanged; frames are written straight to the socket.
 * backoff: the last attempt failed or the connection dropped; a timer reconnects. One-way
 *   messages queue (bounded, oldest dropped); requests fail fast with BROKER_NOT_AVAILABLE.
 */
type LinkState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

/** The one outbound connection from this node to one peer, with its queue and its requests. */
export class PeerLink {
  private state: LinkState = 'idle';
  private socket: Socket | undefined;
  private closedSocket: Promise<void> = Promise.resolve();
  /** Consecutive attempts that did not reach `ready`; drives the backoff. */
  private failures = 0;
  /** Why the last connection attempt or connection ended, for errors and logs. */
  private lastError = 'not connected yet';
  /** What went wrong during the current attempt, if anything was seen. */
  private attemptError: string | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** Invariant: empty while ready. */
  private queue: QueuedFrame[] = [];
  private queuedMessages = 0;
  private queuedBytes = 0;
  private droppedMessages = 0;
  private readonly pending = new Map<number, PendingRequest>();
  private nextRequestId = 1;

  constructor(
    private address: PeerAddress,
    private readonly ctx: LinkContext,
    private readonly log: Logger,
  ) {}

  get peerId(): number {
    return this.address.id;
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  /** One-way messages dropped so far because the queue or the socket buffer was full. */
  get dropped(): number {
    return this.droppedMessages;
  }

  /** Takes effect at the next connection attempt. */
  setAddress(address: PeerAddress): void {
    this.address = address;
  }

  /** Queue or write an encoded one-way frame. Best effort, like the network under it. */
  send(frame: Buffer): void {
    if (this.state === 'closed') return;
    this.write({ frame, requestId: undefined });
  }

  /** Runs synchronously up to the write, so requests and messages leave in call order. */
  async request(method: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    const peer = this.address.id;
    if (this.state === 'closed') throw new RunnelError('BROKER_NOT_AVAILABLE', `rpc to node ${peer}: this node's rpc is closed`);
    if (this.state === 'backoff') throw new RunnelError('BROKER_NOT_AVAILABLE', `node ${peer} is unreachable (${this.lastError}); retrying`);
    if (this.pending.size >= this.ctx.maxPendingRequests) {
      throw new RunnelError('BROKER_NOT_AVAILABLE', `${this.pending.size} requests already in flight to node ${peer}`);
    }
    const id = this.nextRequestId++;
    const frame = encodeFrame({ type: 'req', id, method, payload }, this.ctx.maxFrameBytes);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RunnelError('REQUEST_TIMED_OUT', `rpc ${method} to node ${peer} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { method, resolve, reject, timer, written: false });
      // A cut link loses the request on the wire: the caller sees a timeout, as in a partition.
      if (this.ctx.allowed(this.ctx.selfId, peer)) this.write({ frame, requestId: id });
    });
  }

  /** Rejects every request, drops the queue, ends the socket; resolves once it is closed. */
  close(): Promise<void> {
    if (this.state !== 'closed') {
      this.state = 'closed';
      clearTimeout(this.backoffTimer);
      clearTimeout(this.handshakeTimer);
      this.dropQueue();
      this.failPending(() => new RunnelError('BROKER_NOT_AVAILABLE', `rpc to node ${this.address.id}: this node's rpc is closing`));
      if (this.socket !== undefined) endSocket(this.socket);
    }
    return this.closedSocket;
  }

  private write(item: QueuedFrame): void {
    switch (this.state) {
      case 'ready':
        this.writeNow(item);
        return;
      case 'idle':
        this.connect();
        this.enqueue(item);
        return;
      case 'connecting':
      case 'backoff':
        this.enqueue(item);
        return;
      case 'closed':
        return;
    }
  }

  private writeNow(item: QueuedFrame): void {
    const socket = this.socket;
    if (socket === undefined) throw new Error('PeerLink invariant: ready without a socket');
    if (socket.writableLength > this.ctx.maxWriteBufferBytes) {
      // The peer reads slower than we write: shed rather than buffer without bound.
      if (item.requestId === undefined) this.droppedMessages++;
      else this.settle(item.requestId, new RunnelError('BROKER_NOT_AVAILABLE', `send buffer to node ${this.address.id} is full`));
      return;
    }
    if (item.requestId !== undefined) {
      const p = this.pending.get(item.requestId);
      if (p === undefined) return; // timed out while queued
      p.written = true;
    }
    socket.write(item.frame);
  }

  private enqueue(item: QueuedFrame): void {
    this.queue.push(item);
    if (item.requestId !== undefined) return;
    this.queuedMessages++;
    this.queuedBytes += item.frame.length;
    while (this.queuedMessages > this.ctx.maxQueuedMessages || this.queuedBytes > this.ctx.maxQueuedBytes) {
      const oldest = this.queue.findIndex((q) => q.requestId === undefined);
      const [gone] = this.queue.splice(oldest, 1);
      if (gone === undefined) break;
      this.queuedMessages--;
      this.queuedBytes -= gone.frame.length;
      this.droppedMessages++;
    }
  }

  private dropQueue(): void {
    this.queue = [];
    this.queuedMessages = 0;
    this.queuedBytes = 0;
  }

  private connect(): void {
    const { host, rpcPort, id } = this.address;
    this.state = 'connecting';
    this.attemptError = undefined;
    const socket = connect({ host, port: rpcPort });
    this.socket = socket;
    this.closedSocket = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    const hello: HelloFrame = { type: 'hello', v: PROTOCOL_VERSION, clusterId: this.ctx.clusterId, nodeId: this.ctx.selfId };
    socket.write(encodeFrame(hello, this.ctx.maxFrameBytes));
    this.handshakeTimer = setTimeout(() => {
      this.attemptError = `no hello answer within ${this.ctx.handshakeTimeoutMs} ms`;
      socket.destroy();
    }, this.ctx.handshakeTimeoutMs);
    const decoder = new FrameDecoder(this.ctx.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const value of decoder.push(chunk)) {
          if (socket.destroyed) return;
          this.onFrame(socket, toFrame(value));
        }
      } catch (err) {
        this.log.warn({ err, peer: id }, 'dropping rpc connection: bad frame from peer');
        socket.destroy();
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.attemptError ??= err.code ?? err.message;
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onFrame(socket: Socket, frame: Frame): void {
    const peer = this.address.id;
    if (this.state === 'connecting') {
      if (frame.type !== 'hello' || frame.v !== PROTOCOL_VERSION || frame.clusterId !== this.ctx.clusterId || frame.nodeId !== peer) {
        this.log.warn({ peer, answer: frame }, 'dropping rpc connection: the peer did not answer with our cluster id and its node id');
        this.attemptError = 'bad hello answer';
        socket.destroy();
        return;
      }
      clearTimeout(this.handshakeTimer);
      this.state = 'ready';
      this.failures = 0;
      this.log.info({ peer, queued: this.queue.length }, 'rpc connected to peer');
      const queued = this.queue;
      this.dropQueue();
      for (const item of queued) this.writeNow(item);
      return;
    }
    if (frame.type !== 'res') {
      this.log.warn({ peer, type: frame.type }, 'dropping rpc connection: unexpected frame on an outbound connection');
      socket.destroy();
      return;
    }
    if (!this.ctx.allowed(peer, this.ctx.selfId)) return;
    if (frame.ok) this.settle(frame.id, undefined, frame.result);
    else this.settle(frame.id, RunnelError.fromWire(frame.error));
  }

  private settle(id: number, err: Error | undefined, result?: unknown): void {
    const p = this.pending.get(id);
    if (p === undefined) {
      this.log.debug({ peer: this.address.id, id }, 'rpc answer after its request timed out');
      return;
    }
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err === undefined) p.resolve(result);
    else p.reject(err);
  }

  private failPending(why: (p: PendingRequest) => Error): void {
    for (const [id, p] of this.pending) this.settle(id, why(p));
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    clearTimeout(this.handshakeTimer);
    if (this.state === 'closed') return;
    const peer = this.address.id;
    const wasReady = this.state === 'ready';
    this.lastError =
      this.attemptError ??
      (wasReady ? 'connection closed' : 'closed before the hello answer: does the peer know our cluster_id and node id?');
    // Answers come back only on the connection that carried the request, so every request
    // still pending is lost: fail it now (retriable) rather than let it wait for its timeout.
    this.failPending((p) =>
      p.written
        ? new RunnelError('NETWORK_EXCEPTION', `connection to node ${peer} closed before the answer to ${p.method} arrived`)
        : new RunnelError('BROKER_NOT_AVAILABLE', `cannot connect to node ${peer} (${this.lastError})`),
    );
    // Requests that never left are failed above; only one-way messages wait for the next try.
    this.queue = this.queue.filter((q) => q.requestId === undefined);
    this.failures = wasReady ? 1 : this.failures + 1;
    const delayMs = backoffDelayMs(this.failures, this.ctx.connectBackoffBaseMs, this.ctx.connectBackoffMaxMs, Math.random);
    if (wasReady) this.log.warn({ peer, error: this.lastError }, 'rpc connection to peer lost');
    else if (this.failures === 1) this.log.warn({ peer, error: this.lastError }, 'cannot connect to peer; retrying with backoff');
    else this.log.debug({ peer, error: this.lastError, failures: this.failures, delayMs }, 'rpc connect attempt failed');
    this.state = 'backoff';
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.state !== 'backoff') return;
      // Lazy: reconnect only if something waits to go out; otherwise the next frame connects.
      if (this.queue.length > 0) {
        this.connect();
      } else {
        this.state = 'idle';
      }
    }, delayMs);
  }
}

/**
 * Delay before reconnect attempt number `failures` (>= 1): exponential from `baseMs`, capped
 * at `maxMs`, with "equal jitter" (half fixed, half random) so peers that lost the same node
 * do not all redial it in the same instant.
 */
export function backoffDelayMs(failures: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** End gracefully (flushing what was written); destroy if the peer does not close within graceMs. */
export function endSocket(socket: Socket, graceMs = 1000): void {
  if (socket.destroyed) return;
  socket.end();
  const timer = setTimeout(() => socket.destroy(), graceMs);
  socket.once('close', () => clearTimeout(timer));
}
