import { randomUUID } from 'node:crypto';
import type { PartitionClient } from '../../broker/partition-client.ts';
import { invalid, RunnelError } from '../../errors.ts';
import type { GroupClient } from '../../groups/group-client.ts';
import type { Logger } from '../../logger.ts';
import type { MetadataImage } from '../../metadata/image.ts';
import type { PeerCaller } from '../../rpc/rpc-method.ts';
import { ConsumerInstance } from './consumer-instance.ts';
import type { InstanceOp } from './instance-ops.ts';
import { CONSUMER_RPC } from './instance-ops.ts';

export interface RegistryDeps {
  readonly nodeId: number;
  readonly baseUrl: string;
  readonly groups: GroupClient;
  readonly partitions: PartitionClient;
  readonly image: () => MetadataImage;
  readonly sessionTimeoutMs: number;
  /** The groups' session bounds (groups.min/max_session_timeout_ms): an instance's member asks for a session within them. */
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  /** This node's host, shown as its instances' client host. */
  readonly host: string;
  /** Reaches instances that live on other nodes. */
  readonly peers: PeerCaller;
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
}

/** How often instances unused for INSTANCE_IDLE_TIMEOUT_MS are looked for. */
const IDLE_CHECK_INTERVAL_MS = 30_000;
/** How often instances whose client went silent past its session are looked for. */
const SILENCE_CHECK_INTERVAL_MS = 100;
/** Bound on instances per node (no unbounded maps keyed by client input). */
const MAX_INSTANCES = 10_000;
/** The REST Proxy's consumer.instance.timeout.ms: an instance unused this long is closed. */
const INSTANCE_IDLE_TIMEOUT_MS = 5 * 60_000;
const NAME = /^[a-zA-Z0-9._-]{1,200}$/;

function str(body: Record<string, unknown>, k: string): string | undefined {
  const v = body[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw invalid(k, 'must be a string');
  return String(v);
}

/** The consumer instances living on this node. */
export class ConsumerRegistry {
  private readonly instances = new Map<string, ConsumerInstance>();
  private idleTimer: NodeJS.Timeout | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RegistryDeps) {}

  start(): void {
    this.idleTimer = setInterval(() => void this.closeIdle(), IDLE_CHECK_INTERVAL_MS);
    this.silenceTimer = setInterval(() => this.lapseSilent(), SILENCE_CHECK_INTERVAL_MS);
  }

  async close(): Promise<void> {
    clearInterval(this.idleTimer);
    clearInterval(this.silenceTimer);
    await Promise.all([...this.instances.values()].map((i) => i.close().catch((err: unknown) => this.deps.logger.debug({ err, instance: i.cfg.name }, 'consumer instance close failed'))));
    this.instances.clear();
  }

  /** POST /consumers/{g}: validates the body, claims the name with the coordinator (409 if taken), creates the instance here. */
  async create(group: string, body: unknown): Promise<{ instance_id: string; base_uri: string }> {
    if (!NAME.test(group)) throw invalid('group', 'must be 1-200 characters of a-z A-Z 0-9 . _ -');
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) throw invalid('body', 'must be a JSON object');
    const b = (body ?? {}) as Record<string, unknown>;
    const known = new Set(['name', 'format', 'auto.offset.reset', 'auto.commit.enable', 'auto.commit.interval.ms', 'consumer.session.timeout.ms', 'partition.assignment.strategy', 'consumer.request.timeout.ms', 'fetch.min.bytes']);
    for (const k of Object.keys(b)) if (!known.has(k)) throw invalid(k, `unknown field; known: ${[...known].join(', ')}`);
    const name = str(b, 'name') ?? `rest-consumer-${randomUUID()}`;
    if (!NAME.test(name)) throw invalid('name', 'must be 1-200 characters of a-z A-Z 0-9 . _ -');
    const format = str(b, 'format') ?? 'binary';
    if (format !== 'json' && format !== 'binary') throw invalid('format', `must be "json" or "binary", not "${format}"`);
    const reset = str(b, 'auto.offset.reset') ?? 'latest';
    if (reset !== 'earliest' && reset !== 'latest' && reset !== 'none') throw invalid('auto.offset.reset', `must be "earliest", "latest" or "none", not "${reset}"`);
    const autoCommit = str(b, 'auto.commit.enable') ?? 'true';
    if (autoCommit !== 'true' && autoCommit !== 'false') throw invalid('auto.commit.enable', `must be "true" or "false", not "${autoCommit}"`);
    const interval = Number(str(b, 'auto.commit.interval.ms') ?? '5000');
    if (!Number.isInteger(interval) || interval < 1) throw invalid('auto.commit.interval.ms', 'must be an integer >= 1');
    const session = Number(str(b, 'consumer.session.timeout.ms') ?? String(this.deps.sessionTimeoutMs));
    if (!Number.isInteger(session) || session < 100 || session > 3_600_000) throw invalid('consumer.session.timeout.ms', 'must be an integer 100..3600000');
    // Accepted as the REST Proxy accepts it; the group's assignor is the one all its members
    // support, chosen by the coordinator (an HTTP member offers range and roundrobin).
    const strategyRaw = str(b, 'partition.assignment.strategy') ?? 'range';
    const strategy = strategyRaw.toLowerCase().replace(/[^a-z]/g, '').replace(/assignor$/, '');
    if (strategy !== 'range' && strategy !== 'roundrobin') throw invalid('partition.assignment.strategy', `must be "range" or "roundrobin", not "${strategyRaw}"`);
    const groupSession = Math.min(Math.max(session, this.deps.minSessionTimeoutMs), this.deps.maxSessionTimeoutMs);
    if (this.instances.size >= MAX_INSTANCES) throw new RunnelError('INVALID_REQUEST', `this node holds the maximum of ${MAX_INSTANCES} consumer instances`);
    if (this.instances.has(`${group}/${name}`)) throw new RunnelError('CONSUMER_INSTANCE_EXISTS', `name: consumer instance "${name}" already exists in group "${group}"`);
    await this.deps.groups.call({ op: 'register', group, instance: name, nodeId: this.deps.nodeId });
    const instance = new ConsumerInstance(
      {
        group,
        name,
        nodeId: this.deps.nodeId,
        clientHost: this.deps.host,
        format,
        autoOffsetReset: reset,
        autoCommitEnable: autoCommit === 'true',
        autoCommitIntervalMs: interval,
        sessionTimeoutMs: session,
        groupSessionTimeoutMs: groupSession,
        // Kafka's default is 3 s against a 45 s session; a REST member heartbeats faster so that a
        // rebalance started by another member is joined within a fraction of its session.
        heartbeatIntervalMs: Math.min(3000, Math.max(100, Math.floor(groupSession / 10))),
      },
      this.deps.groups,
      this.deps.partitions,
      this.deps.image,
      this.deps.logger,
    );
    this.instances.set(`${group}/${name}`, instance);
    return { instance_id: name, base_uri: `${this.deps.baseUrl}/consumers/${group}/instances/${name}` };
  }

  /** An operation on a consumer instance, here or on the node it lives on (found through its group's coordinator). */
  async call(group: string, instance: string, op: InstanceOp): Promise<unknown> {
    if (this.instances.has(`${group}/${instance}`)) return this.execute(group, instance, op);
    const nodeId = await this.deps.groups.locate(group, instance);
    if (nodeId === this.deps.nodeId) throw new RunnelError('UNKNOWN_CONSUMER_INSTANCE', `consumer instance "${instance}" of group "${group}" not found`);
    const timeoutMs = (op.op === 'poll' ? op.timeoutMs : 0) + this.deps.requestTimeoutMs;
    return this.deps.peers.call(nodeId, CONSUMER_RPC, { group, instance, op }, timeoutMs);
  }

  /** Runs one operation on an instance that lives here (rpc `consumer` forwards them from other nodes). */
  execute(group: string, name: string, op: InstanceOp): Promise<unknown> {
    const i = this.instances.get(`${group}/${name}`);
    if (i === undefined) throw new RunnelError('UNKNOWN_CONSUMER_INSTANCE', `consumer instance "${name}" of group "${group}" not found`);
    return i.run(async () => {
      switch (op.op) {
        case 'subscribe':
          i.subscribe(op.topics, op.pattern);
          await i.join();
          return null;
        case 'subscription':
          return i.subscription();
        case 'unsubscribe':
          await i.unsubscribe();
          return null;
        case 'assignments':
          return { partitions: i.assignments() };
        case 'poll':
          return i.poll(op.timeoutMs, op.maxBytes);
        case 'commit':
          await i.commit(op.offsets);
          return null;
        case 'committed':
          return { offsets: await i.committed(op.partitions) };
        case 'seek':
          i.seek(op.offsets);
          return null;
        case 'seekTo':
          await i.seekTo(op.where, op.partitions);
          return null;
        case 'delete':
          this.instances.delete(`${group}/${name}`);
          await i.close();
          return null;
      }
    });
  }

  /** Instances whose client made no request for its session timeout leave their group (their next poll rejoins). */
  private lapseSilent(): void {
    const now = Date.now();
    for (const i of this.instances.values()) {
      if (!i.silentPastSession(now)) continue;
      void i.run(() => i.lapse()).catch((err: unknown) => this.deps.logger.debug({ err, instance: i.cfg.name }, 'leaving the group after a lapse failed'));
    }
  }

  private async closeIdle(): Promise<void> {
    const now = Date.now();
    for (const [k, i] of this.instances) {
      if (now - i.lastUsedMs < INSTANCE_IDLE_TIMEOUT_MS) continue;
      this.instances.delete(k);
      this.deps.logger.info({ instance: k }, 'closing idle consumer instance');
      await i.close().catch((err: unknown) => this.deps.logger.debug({ err, instance: k }, 'idle consumer instance close failed'));
    }
  }
}
