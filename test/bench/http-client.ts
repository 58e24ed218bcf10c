import { Agent, request } from 'node:http';

// The benchmarks' HTTP client: node:http with keep-alive connections. fetch (undici) costs
// about 1 ms of client CPU per request on the 2-core bench machine, CPU the three nodes share
// with the client, and twice the latency of a plain keep-alive request: a latency-minded
// user of runnel would not measure through it, so the benchmarks do not either.

const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });

export interface BenchResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export class BenchHttpError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** One request; rejects with BenchHttpError (code = the socket error's, or 'TIMEOUT'). */
export function httpRequest(url: string, o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {}): Promise<BenchResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: o.method ?? 'GET', headers: o.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (err: NodeJS.ErrnoException) => reject(new BenchHttpError(err.message, err.code ?? 'ERROR')));
    });
    req.on('error', (err: NodeJS.ErrnoException) => reject(err instanceof BenchHttpError ? err : new BenchHttpError(err.message, err.code ?? 'ERROR')));
    if (o.timeoutMs !== undefined) req.setTimeout(o.timeoutMs, () => req.destroy(new BenchHttpError(`no answer in ${o.timeoutMs} ms`, 'TIMEOUT')));
    req.end(o.body);
  });
}
