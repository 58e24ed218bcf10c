import type { Socket } from 'node:net';
import { RunnelError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { kafkaErrorCode } from './kafka-error-codes.ts';
import type { ApiSpecs, DecodedRequest } from './protocol/frames.ts';
import { API_VERSIONS_KEY, decodeRequest, encodeResponse, readRequestPrefix } from './protocol/frames.ts';
import { MalformedFrameError } from './protocol/malformed-frame-error.ts';
import type { MessageValue } from './protocol/message-codec.ts';

/** Kafka's socket.request.max.bytes default (100 MiB): a larger frame closes the connection. */
export const SOCKET_REQUEST_MAX_BYTES = 104_857_600;
/** Requests of one connection in flight before it stops reading its socket (librdkafka pipelines up to 5). */
export const CONNECTION_INFLIGHT_MAX = 16;

/** Who sent a request. Plain TCP without SASL: everybody is ANONYMOUS, as on Kafka's PLAINTEXT listener. */
export interface Principal {
  readonly name: string;
}

export interface RequestContext {
  readonly principal: Principal;
  readonly clientId: string | null;
  /** The client's address as Kafka shows it (Java's InetAddress.toString: "/127.0.0.1"), e.g. in DescribeGroups. */
  readonly clientHost: string;
  readonly apiVersion: number;
}

/** Kafka's form of a peer address: "/" and the IP, an IPv4-mapped IPv6 address as its IPv4 one. */
export function kafkaClientHost(remoteAddress: string | undefined): string {
  const ip = remoteAddress ?? '';
  return '/' + (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice('::ffff:'.length) : ip);
}

/** One served API: the range it advertises (identically on every node) and its handler. */
export interface KafkaApi {
  readonly specs: ApiSpecs;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** The response body, or null for no response at all (Produce with acks=0). */
  handle(req: DecodedRequest, ctx: RequestContext): Promise<MessageValue | null>;
  /**
   * The answer when `handle` failed with an expected error (a RunnelError): `errorCode` on
   * every topic or partition of the request, as Kafka's AbstractRequest.getErrorResponse.
   * Without it, such a failure closes the connection.
   */
  errorResponse?(req: DecodedRequest, errorCode: number): MessageValue;
}

export interface KafkaApiTable {
  get(apiKey: number): KafkaApi | undefined;
  /** The ApiVersions answer to a version it does not serve (KIP-511): v0-encoded UNSUPPORTED_VERSION with the ranges. */
  unsupportedApiVersions(correlationId: number): Buffer;
}

/** Told of every answered request (metrics): its API's Kafka name (Fetch, Produce, ...), handling time and response body (null: none sent). */
export interface RequestObserver {
  answered(api: string, elapsedMs: number, body: MessageValue | null): void;
}

export interface ConnectionOptions {
  readonly apis: KafkaApiTable;
  readonly maxRequestBytes: number;
  readonly inflightMax: number;
  readonly logger: Logger;
  readonly observer?: RequestObserver;
}

/** A response slot, in request order. Invariant: slots are written to the socket only from the head, once done. */
interface Slot {
  done: boolean;
  bytes: Buffer | null;
}

/**
 * One client connection: 4-byte size framing, request decoding, authentication (a no-op step
 * until SASL), the handler, and the answers written back in request order although handlers
 * finish in any order (protocol.html "Network"). Anything malformed closes the socket, as Kafka
 * does; the node loses nothing else. With `inflightMax` requests unanswered it stops reading.
 */
export class KafkaConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly slots: Slot[] = [];
  private inflight = 0;
  private closed = false;
  private readonly log: Logger;
  private readonly clientHost: string;

  constructor(
    private readonly socket: Socket,
    private readonly opts: ConnectionOptions,
  ) {
    this.log = opts.logger.child({ remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}` });
    this.clientHost = kafkaClientHost(socket.remoteAddress);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err }, 'kafka connection error'));
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** Resolves once the socket is closed (by either side). */
  closedPromise(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  destroy(why: string, err?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.log.debug({ err, why }, 'closing kafka connection');
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.drain();
  }

  /** Serves the buffered frames, but no more than `inflightMax` at once: the rest wait, and so does the socket. */
  private drain(): void {
    while (!this.closed && this.inflight < this.opts.inflightMax && this.buffered >= 4) {
      const size = this.peekSize();
      if (size < 0 || size > this.opts.maxRequestBytes) return this.destroy(`frame size ${size} outside 0..${this.opts.maxRequestBytes}`);
      if (this.buffered < 4 + size) return;
      const frame = this.take(4 + size).subarray(4);
      this.onFrame(frame);
    }
  }

  private peekSize(): number {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= 4) return first.readInt32BE(0);
    this.chunks = [Buffer.concat(this.chunks)];
    return (this.chunks[0] as Buffer).readInt32BE(0);
  }

  /** The next `n` buffered bytes, copied into one Buffer only when they span chunks. */
  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length === 0 ? [] : [rest];
    this.buffered -= n;
    return out;
  }

  private onFrame(frame: Buffer): void {
    let req: DecodedRequest;
    let api: KafkaApi;
    try {
      const prefix = readRequestPrefix(frame);
      const found = this.opts.apis.get(prefix.apiKey);
      if (found === undefined) throw new MalformedFrameError(`unknown api key ${prefix.apiKey}`);
      if (prefix.apiVersion < found.minVersion || prefix.apiVersion > found.maxVersion) {
        if (prefix.apiKey === API_VERSIONS_KEY) {
          // KIP-511: the body of a newer ApiVersions is not parsed; the answer lists the ranges.
          this.enqueue(Promise.resolve(this.opts.apis.unsupportedApiVersions(prefix.correlationId)));
          return;
        }
        throw new MalformedFrameError(`api key ${prefix.apiKey} version ${prefix.apiVersion} is not served`);
      }
      api = found;
      req = decodeRequest(frame, api.specs, prefix.apiVersion);
    } catch (err) {
      if (err instanceof MalformedFrameError) return this.destroy('malformed request', err);
      throw err;
    }
    this.enqueue(this.serve(api, req));
  }

  /** Authentication is a step every request passes through; PLAINTEXT without SASL accepts all. */
  private authenticate(_req: DecodedRequest): Principal {
    return { name: 'ANONYMOUS' };
  }

  private async serve(api: KafkaApi, req: DecodedRequest): Promise<Buffer | null> {
    const ctx: RequestContext = { principal: this.authenticate(req), clientId: req.clientId, clientHost: this.clientHost, apiVersion: req.apiVersion };
    const started = performance.now();
    let body: MessageValue | null;
    try {
      body = await api.handle(req, ctx);
    } catch (err) {
      // An expected failure answers with its Kafka code where the API can carry one; anything
      // else is a bug in the handler: enqueue's rejection path logs it and closes.
      if (!(err instanceof RunnelError) || api.errorResponse === undefined) throw err;
      this.log.info({ err, apiKey: req.apiKey, apiVersion: req.apiVersion }, 'kafka request failed; answering its error code');
      body = api.errorResponse(req, kafkaErrorCode(err));
    }
    this.opts.observer?.answered(api.specs.request.name.slice(0, -'Request'.length), performance.now() - started, body);
    return body === null ? null : encodeResponse(api.specs, req.apiVersion, req.correlationId, body);
  }

  private enqueue(answer: Promise<Buffer | null>): void {
    const slot: Slot = { done: false, bytes: null };
    this.slots.push(slot);
    this.inflight++;
    if (this.inflight >= this.opts.inflightMax) this.socket.pause();
    answer.then(
      (bytes) => {
        slot.done = true;
        slot.bytes = bytes;
        this.flush();
      },
      (err: unknown) => {
        // A handler that fails outright (not an error code in its answer) leaves the client
        // nothing to match: close, as Kafka does on an unexpected exception.
        this.log.error({ err }, 'kafka request failed unexpectedly; closing the connection');
        this.destroy('handler failed', err);
      },
    );
  }

  private flush(): void {
    while (this.slots[0]?.done === true) {
      const slot = this.slots.shift() as Slot;
      this.inflight--;
      if (slot.bytes !== null && !this.closed) this.socket.write(slot.bytes);
    }
    if (this.closed || this.inflight >= this.opts.inflightMax) return;
    this.drain();
    if (this.inflight < this.opts.inflightMax && this.socket.isPaused()) this.socket.resume();
  }
}
