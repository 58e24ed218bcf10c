// The CLI's way to the cluster: a list of broker URLs (any node serves the whole API and
// forwards what another node leads, API.md), tried in turn when one is unreachable, and the
// server's `{error_code, message}` turned into an Error carrying that message.

/** The server answered with an error status; `message` is the server's own. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    /** REST-Proxy-style code (40401 topic not found, ...); status * 100 when the body had none. */
    readonly errorCode: number,
    message: string,
    readonly method: string,
    readonly path: string,
    /** The parsed answer (a produce's per-record `offsets` come with its error status). */
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** No broker of the list answered (connection refused, unknown host, timed out). */
export class UnreachableError extends Error {
  constructor(
    readonly urls: readonly string[],
    cause: unknown,
  ) {
    const why = cause instanceof Error ? ` (${networkCode(cause) ?? cause.message})` : '';
    super(`cannot reach any broker (${urls.join(', ')})${why}: is the cluster running? start it with \`npm start\`, or name the brokers with --brokers URL,URL`, { cause });
    this.name = 'UnreachableError';
  }
}

export interface RequestOptions {
  readonly method?: string;
  /** Path and query, e.g. `/topics/orders/partitions/0/records?offset=0`. */
  readonly path: string;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly accept?: string;
  readonly timeoutMs?: number;
  /**
   * Safe to send twice (reads; admin writes that answer 409/404 on a repeat). Such a request
   * also moves to the next broker after a timeout or a broken connection, and is retried on
   * 503 (no leader, not coordinator: an election in progress) for up to RETRY_503_MS. A
   * produce is not: it only moves on when the connection was never made.
   */
  readonly idempotent?: boolean;
  /** Aborts the request (Ctrl-C, --count reached). */
  readonly signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const RETRY_503_MS = 5000;
const RETRY_503_EVERY_MS = 100;

/** Errors that prove the request never reached the server. */
const NOT_CONNECTED = new Set(['bad port', 'ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** The socket-level reason a request failed (ECONNREFUSED, 'timed out', ...), if there is one. */
export function networkCode(err: Error): string | undefined {
  let e: unknown = err;
  // fetch wraps the socket error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }).
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (e.name === 'TimeoutError') return 'timed out';
    if (e.message === 'bad port') return 'bad port'; // fetch refuses ports such as 1 or 25 (WHATWG "bad port")
    e = e.cause;
  }
  return undefined;
}

/** The URL as given, without a trailing slash; a bare host:port gets http://. */
export function normalizeBrokerUrl(raw: string): string {
  const s = raw.trim().replace(/\/+$/, '');
  const withScheme = /^[a-z]+:\/\//i.test(s) ? s : `http://${s}`;
  const u = new URL(withScheme); // throws TypeError for junk: the caller turns it into a usage error
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`${raw}: only http:// and https:// brokers`);
  return withScheme;
}

export interface ClusterEntry {
  readonly cluster_id: string;
  readonly controller_id: number | null;
}

export class BrokerClient {
  /** Index of the broker that answered last: tried first next time. */
  private preferred = 0;
  private clusterCache: ClusterEntry | undefined;

  constructor(readonly urls: readonly string[]) {
    if (urls.length === 0) throw new Error('BrokerClient needs at least one broker URL');
  }

  /** The JSON answer (undefined for 204); HttpError for a status >= 400. */
  async request<T = unknown>(opts: RequestOptions): Promise<T> {
    const deadline = Date.now() + RETRY_503_MS;
    for (;;) {
      try {
        return await this.once<T>(opts);
      } catch (err) {
        const retry = opts.idempotent === true && err instanceof HttpError && err.status === 503 && Date.now() + RETRY_503_EVERY_MS < deadline;
        if (!retry) throw err;
      }
      await sleep(RETRY_503_EVERY_MS, opts.signal);
    }
  }

  /** Shorthand for an idempotent GET. */
  get<T = unknown>(path: string, opts: Omit<RequestOptions, 'path' | 'method'> = {}): Promise<T> {
    return this.request<T>({ ...opts, path, method: 'GET', idempotent: true });
  }

  /** The cluster (GET /v3/clusters), fetched once. */
  async cluster(): Promise<ClusterEntry> {
    if (this.clusterCache !== undefined) return this.clusterCache;
    const r = await this.get<{ data: ClusterEntry[] }>('/v3/clusters');
    const c = r.data[0];
    if (c === undefined) throw new Error('GET /v3/clusters named no cluster');
    this.clusterCache = c;
    return c;
  }

  async clusterId(): Promise<string> {
    return (await this.cluster()).cluster_id;
  }

  /** `/v3/clusters/{cid}` + path. */
  async v3(path: string): Promise<string> {
    return `/v3/clusters/${encodeURIComponent(await this.clusterId())}${path}`;
  }

  /** One request to one given node, no failover (cluster status asks every node). */
  async at<T = unknown>(baseUrl: string, path: string, timeoutMs = 3000): Promise<{ status: number; body: T }> {
    const res = await fetch(baseUrl + path, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return { status: res.status, body: parse(text) as T };
  }

  private async once<T>(opts: RequestOptions): Promise<T> {
    const method = opts.method ?? 'GET';
    let lastErr: unknown;
    for (let k = 0; k < this.urls.length; k++) {
      const i = (this.preferred + k) % this.urls.length;
      const base = this.urls[i] ?? '';
      let res: Response;
      try {
        const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
        const headers: Record<string, string> = {};
        if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
        if (opts.accept !== undefined) headers['accept'] = opts.accept;
        res = await fetch(base + opts.path, {
          method,
          headers,
          ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
          signal: opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal]),
        });
      } catch (err) {
        if (opts.signal?.aborted === true) throw err;
        const code = err instanceof Error ? networkCode(err) : undefined;
        const neverSent = code !== undefined && NOT_CONNECTED.has(code);
        if (!neverSent && opts.idempotent !== true) {
          throw new Error(`${method} ${base}${opts.path} failed (${code ?? String(err)}); the request may or may not have been applied`, { cause: err });
        }
        lastErr = err;
        continue;
      }
      this.preferred = i;
      const text = await res.text();
      const body = parse(text);
      if (res.status >= 400) {
        const b = body as { error_code?: unknown; message?: unknown } | undefined;
        const message = typeof b?.message === 'string' ? b.message : `${method} ${opts.path}: HTTP ${res.status}${text === '' ? '' : ` ${text.slice(0, 200)}`}`;
        const code = typeof b?.error_code === 'number' ? b.error_code : res.status * 100;
        throw new HttpError(res.status, code, message, method, opts.path, body);
      }
      return body as T;
    }
    throw new UnreachableError(this.urls, lastErr);
  }
}

function parse(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
