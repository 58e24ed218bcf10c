import { createServer } from 'node:net';
import type { Server } from 'node:net';
import type { Logger } from '../logger.ts';
import { CONNECTION_INFLIGHT_MAX, KafkaConnection, SOCKET_REQUEST_MAX_BYTES } from './kafka-connection.ts';
import type { KafkaApiTable, RequestObserver } from './kafka-connection.ts';

export interface KafkaListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly apis: KafkaApiTable;
  readonly logger: Logger;
  readonly maxRequestBytes?: number;
  readonly inflightMax?: number;
  /** Told of every answered request (KafkaRequestMetrics). */
  readonly observer?: RequestObserver;
}

/** The Kafka front door of a node: a TCP server whose connections speak the Kafka protocol. */
export class KafkaListener {
  private server: Server | undefined;
  private readonly connections = new Set<KafkaConnection>();

  constructor(private readonly opts: KafkaListenerOptions) {}

  async start(): Promise<void> {
    const { opts } = this;
    const server = (this.server = createServer({ noDelay: true }, (socket) => {
      const conn = new KafkaConnection(socket, {
        apis: opts.apis,
        maxRequestBytes: opts.maxRequestBytes ?? SOCKET_REQUEST_MAX_BYTES,
        inflightMax: opts.inflightMax ?? CONNECTION_INFLIGHT_MAX,
        logger: opts.logger,
        ...(opts.observer === undefined ? {} : { observer: opts.observer }),
      });
      this.connections.add(conn);
      void conn.closedPromise().then(() => this.connections.delete(conn));
    }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => opts.logger.error({ err }, 'kafka listener error'));
    opts.logger.info({ host: opts.host, port: opts.port }, 'kafka listener started');
  }

  /** Stops accepting, closes every connection (clients reconnect elsewhere) and waits for them. */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    const conns = [...this.connections];
    for (const c of conns) c.destroy('listener closing');
    await Promise.all(conns.map((c) => c.closedPromise()));
    await stopped;
  }
}
