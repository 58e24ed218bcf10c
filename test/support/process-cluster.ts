import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { pollUntil } from './poll.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** Ports the OS reports free right now (bound to port 0, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === 'string') throw new Error('no port');
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * Timings for tests: quick elections, fencing and ISR shrinking (cluster.yaml sections).
 * `replicaLagTimeMaxMs` below the broker session timeout lets a paused follower leave the ISR
 * (and rejoin it) without being fenced.
 */
export function fastTimings(o: { replicaLagTimeMaxMs?: number; groupSessionTimeoutMs?: number } = {}): string {
  return [
    'raft: {election_timeout_ms: 1000, heartbeat_interval_ms: 100, tick_ms: 50}',
    `broker: {heartbeat_interval_ms: 200, session_timeout_ms: 2000, replica_lag_time_max_ms: ${o.replicaLagTimeMaxMs ?? 2000}, leader_rebalance_interval_ms: 1000}`,
    'log: {retention_check_interval_ms: 500}',
    // Groups: a short initial rebalance delay (Kafka's 3 s would slow every first join), and
    // sessions down to 1 s allowed so that tests may expire members quickly.
    `groups: {initial_rebalance_delay_ms: 100, min_session_timeout_ms: 1000${o.groupSessionTimeoutMs === undefined ? '' : `, session_timeout_ms: ${o.groupSessionTimeoutMs}`}}`,
  ].join('\n');
}

export const FAST_TIMINGS = fastTimings();

export interface HttpResult {
  readonly status: number;
  readonly body: unknown;
}

export interface ProcessClusterOptions {
  readonly size?: number;
  /** Extra cluster.yaml sections (YAML text), e.g. fast broker session timeouts. */
  readonly extraYaml?: string;
  /** Extra environment of every node, e.g. { RUNNEL_TEST_HOOKS: '1' } for fault tests. */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra node flags of every node, e.g. ['--cpu-prof', '--cpu-prof-dir=DIR'] (not allowed in NODE_OPTIONS). */
  readonly nodeArgs?: readonly string[];
}

/**
 * A real runnel cluster for tests: one child process per node (`runnel node`), random free
 * ports, a temp data dir. Each child leads its own process group and is killed with it;
 * stop() kills whatever is left, also after a failed test.
 */
export class ProcessCluster {
  readonly dir: string;
  readonly configPath: string;
  readonly clusterId = 'runnel-test';
  private readonly children = new Map<number, ChildProcess>();
  readonly ids: number[];

  private env: Readonly<Record<string, string>> = {};
  private nodeArgs: readonly string[] = [];
  /** Set by destroy(): a test body still running after a timeout cannot start nodes again. */
  private destroyed = false;

  private constructor(
    dir: string,
    readonly httpPorts: Map<number, number>,
    /** Each node's kafka_port (the Kafka listener on 127.0.0.1). */
    readonly kafkaPorts: Map<number, number>,
    ids: number[],
  ) {
    this.dir = dir;
    this.configPath = join(dir, 'cluster.yaml');
    this.ids = ids;
  }

  static async create(opts: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    const size = opts.size ?? 3;
    const dir = await mkdtemp(join(tmpdir(), 'runnel-cluster-'));
    const ports = await freePorts(size * 3);
    const ids = Array.from({ length: size }, (_, i) => i + 1);
    const http = new Map(ids.map((id, i) => [id, ports[i] ?? 0]));
    const kafka = new Map(ids.map((id, i) => [id, ports[2 * size + i] ?? 0]));
    const lines = ids.map(
      (id, i) => `  - {id: ${id}, host: 127.0.0.1, http_port: ${ports[i]}, rpc_port: ${ports[size + i]}, kafka_port: ${ports[2 * size + i]}, data_dir: node-${id}}`,
    );
    const yaml = [
      'cluster_id: runnel-test',
      'nodes:',
      ...lines,
      `topic_defaults: {partitions: 3, replication_factor: ${Math.min(3, size)}, min_insync_replicas: ${Math.min(2, size)}}`,
      opts.extraYaml ?? '',
    ].join('\n');
    const c = new ProcessCluster(dir, http, kafka, ids);
    c.env = opts.env ?? {};
    // RUNNEL_NODE_ARGS: extra node flags for every cluster (`npm run bench -- --cpu-prof DIR` sets it).
    c.nodeArgs = opts.nodeArgs ?? (process.env.RUNNEL_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    await writeFile(c.configPath, yaml + '\n');
    return c;
  }

  start(id: number): void {
    if (this.destroyed) throw new Error('cluster destroyed: not starting node ' + String(id));
    if (this.children.has(id)) throw new Error(`node ${id} is already running`);
    const log = createWriteStream(join(this.dir, `node-${id}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [...this.nodeArgs, '--import', TSX, MAIN, 'node', '--config', this.configPath, '--id', String(id)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, RUNNEL_LOG_LEVEL: process.env.RUNNEL_LOG_LEVEL ?? 'info', ...this.env },
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.children.set(id, child);
    child.once('exit', () => {
      if (this.children.get(id) === child) this.children.delete(id);
    });
  }

  /** A cluster with FAST_TIMINGS, every node started (with `env`) and healthy. */
  static async started(env?: Readonly<Record<string, string>>): Promise<ProcessCluster> {
    const c = await ProcessCluster.create({ extraYaml: FAST_TIMINGS, ...(env === undefined ? {} : { env }) });
    c.startAll();
    try {
      await c.waitHealthy();
    } catch (err) {
      // Nobody else holds the cluster yet: stop its nodes, or they outlive the test run.
      await c.destroy();
      throw err;
    }
    return c;
  }

  startAll(): void {
    for (const id of this.ids) this.start(id);
  }

  pid(id: number): number | undefined {
    return this.children.get(id)?.pid;
  }

  running(id: number): boolean {
    return this.children.has(id);
  }

  /** SIGKILL (or another signal) to the node's whole process group; resolves once it exited. */
  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.children.get(id);
    if (child?.pid === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
    await exited;
    this.children.delete(id);
  }

  /** SIGSTOP / SIGCONT the node's process group: it freezes (sockets stay open) and resumes. */
  pause(id: number): void {
    this.signal(id, 'SIGSTOP');
  }

  resume(id: number): void {
    this.signal(id, 'SIGCONT');
  }

  private signal(id: number, signal: NodeJS.Signals): void {
    const pid = this.children.get(id)?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  /** Stops every node (SIGTERM, then SIGKILL after a grace) and removes the data. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    // A paused node cannot handle SIGTERM: resume everything first.
    for (const id of this.children.keys()) this.resume(id);
    await Promise.all([...this.children.keys()].map(async (id) => {
      const stop = this.kill(id, 'SIGTERM');
      const timer = setTimeout(() => void this.kill(id, 'SIGKILL'), 5000);
      await stop;
      clearTimeout(timer);
    }));
    // KEEP_CLUSTER_DIR=1 keeps data and node logs for a post-mortem.
    if (process.env.KEEP_CLUSTER_DIR === '1') console.log(`cluster data and logs kept in ${this.dir}`);
    else await rm(this.dir, { recursive: true, force: true });
  }

  async logOf(id: number): Promise<string> {
    return readFile(join(this.dir, `node-${id}.log`), 'utf8').catch(() => '');
  }

  url(id: number, path: string): string {
    return `http://127.0.0.1:${this.httpPorts.get(id) ?? 0}${path}`;
  }

  async http(id: number, method: string, path: string, body?: unknown): Promise<HttpResult> {
    const res = await fetch(this.url(id, path), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  }

  async get(id: number, path: string): Promise<unknown> {
    const r = await this.http(id, 'GET', path);
    if (r.status !== 200) throw new Error(`GET ${path} on node ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  v3(path: string): string {
    return `/v3/clusters/${this.clusterId}${path}`;
  }

  /** Every given node answers /healthz with 200. */
  async waitHealthy(ids: readonly number[] = this.ids, timeoutMs = 15_000): Promise<void> {
    await pollUntil(
      `nodes ${ids.join(',')} healthy`,
      async () => {
        const rs = await Promise.all(ids.map((id) => this.http(id, 'GET', '/healthz').catch(() => undefined)));
        return rs.every((r) => r?.status === 200);
      },
      timeoutMs,
      50,
    );
  }

  /** The raft leader every given node names, once they all name the same live one. */
  async agreedLeader(ids: readonly number[] = this.ids, timeoutMs = 15_000, everyMs = 20): Promise<number> {
    return pollUntil(
      `nodes ${ids.join(',')} to agree on a raft leader`,
      async () => {
        const leaders = await Promise.all(
          ids.map(async (id) => ((await this.get(id, this.v3('/raft'))) as { leader_id: number | null }).leader_id),
        );
        const first = leaders[0];
        return first !== null && first !== undefined && ids.includes(first) && leaders.every((l) => l === first) ? first : undefined;
      },
      timeoutMs,
      everyMs,
    );
  }
}

/**
 * One cluster for a whole describe block: started (FAST_TIMINGS, healthy) before its tests,
 * destroyed after them, also when they fail. `set` receives it.
 */
export function withCluster(set: (c: ProcessCluster) => void, env?: Readonly<Record<string, string>>): void {
  let cluster: ProcessCluster | undefined;
  beforeAll(async () => {
    cluster = await ProcessCluster.started(env);
    set(cluster);
  }, 60_000);
  afterAll(async () => {
    await cluster?.destroy();
  });
}
