import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { PartitionLog } from '../../storage/partition-log/partition-log.ts';
import { ReplicaManager } from '../../src/broker/replica-manager.ts';
import type { FetchRequest, FetchResponse } from '../../src/broker/replica-fetcher.ts';
import { RunnelError } from '../../src/errors.ts';
import { MetadataImage } from '../../src/metadata/image.ts';
import type { PartitionState, TopicState } from '../../src/metadata/image.ts';
import type { MetadataRecord } from '../../src/metadata/records.ts';

export interface AlterIsrCall {
  readonly from: number;
  readonly req: { topicId: string; partition: number; leaderId: number; leaderEpoch: number; partitionEpoch: number; isr: readonly number[] };
  readonly answer: (state: PartitionState) => void;
  readonly refuse: (err: RunnelError) => void;
}

/** Blocks a broker's fetches while closed: new requests wait, answers in flight are held. */
class Gate {
  private blocked: { promise: Promise<void>; open: () => void } | undefined;

  close(): void {
    if (this.blocked !== undefined) return;
    let open = (): void => undefined;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.blocked = { promise, open };
  }

  open(): void {
    this.blocked?.open();
    this.blocked = undefined;
  }

  async pass(): Promise<void> {
    while (this.blocked !== undefined) await this.blocked.promise;
  }
}

/**
 * Real ReplicaManagers (real partition logs on disk, real fetch sessions and fetchers) for
 * brokers 1..n in one process, wired by in-memory calls instead of rpc. The test plays the
 * controller: it hands each broker metadata images and answers (or holds) AlterPartition.
 */
export class ReplicaBrokers {
  readonly managers = new Map<number, ReplicaManager>();
  readonly alterIsrCalls: AlterIsrCall[] = [];
  private readonly gates = new Map<number, Gate>();
  private readonly dirs: string[] = [];
  private readonly records: MetadataRecord[] = [];
  image = new MetadataImage();

  static async start(ids: readonly number[], opts: { replicaLagTimeMaxMs: number }): Promise<ReplicaBrokers> {
    const b = new ReplicaBrokers();
    for (const id of ids) await b.addBroker(id, opts.replicaLagTimeMaxMs);
    return b;
  }

  private async addBroker(id: number, replicaLagTimeMaxMs: number): Promise<void> {
    const dataDir = await mkdtemp(join(tmpdir(), `runnel-replicas-${id}-`));
    this.dirs.push(dataDir);
    const gate = new Gate();
    this.gates.set(id, gate);
    const logger = pino({ level: 'silent' });
    const m = new ReplicaManager({
      brokerId: id,
      dataDir,
      openLog: (o) => PartitionLog.open(o),
      fetchRpc: (leader, req, timeoutMs) => this.fetch(id, leader, req, timeoutMs),
      alterIsr: (req) =>
        new Promise((resolve, reject) => {
          this.alterIsrCalls.push({ from: id, req, answer: resolve, refuse: reject });
        }),
      topicConfig: (t: TopicState, name: string) => t.configs[name] ?? DEFAULT_TOPIC_CONFIGS[name] ?? '',
      replicaLagTimeMaxMs,
      retentionCheckIntervalMs: 60_000,
      requestTimeoutMs: 5000,
      fetchMaxWaitMs: 50,
      flush: 'os',
      logger,
    });
    this.managers.set(id, m);
    m.start();
  }

  private async fetch(self: number, leader: number, req: FetchRequest, timeoutMs: number): Promise<FetchResponse> {
    const gate = this.gates.get(self);
    await gate?.pass();
    const m = this.managers.get(leader);
    if (m === undefined) throw new RunnelError('BROKER_NOT_AVAILABLE', `broker ${leader} is down`);
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new RunnelError('REQUEST_TIMED_OUT', 'fetch timed out')), timeoutMs).unref());
    const answer = await Promise.race([m.handleFetch(req), timer]);
    await gate?.pass();
    return answer;
  }

  manager(id: number): ReplicaManager {
    const m = this.managers.get(id);
    if (m === undefined) throw new Error(`broker ${id} is not running`);
    return m;
  }

  /** Broker `id`'s fetches stop reaching its leader (and answers in flight stop reaching it). */
  pauseFetches(id: number): void {
    this.gates.get(id)?.close();
  }

  resumeFetches(id: number): void {
    this.gates.get(id)?.open();
  }

  /** Appends metadata records, as the controller commits them, and hands the image to every running broker. */
  commit(...records: MetadataRecord[]): MetadataImage {
    this.records.push(...records);
    const img = new MetadataImage();
    for (const r of this.records) img.replay(r);
    this.image = img;
    for (const m of this.managers.values()) m.onImage(img);
    return img;
  }

  async settled(): Promise<void> {
    await Promise.all([...this.managers.values()].map((m) => m.settled()));
  }

  /** The broker dies: its manager closes and it receives nothing more. */
  async kill(id: number): Promise<void> {
    const m = this.managers.get(id);
    this.managers.delete(id);
    this.gates.get(id)?.open();
    await m?.close();
  }

  async close(): Promise<void> {
    for (const g of this.gates.values()) g.open();
    for (const c of this.alterIsrCalls) c.refuse(new RunnelError('REQUEST_TIMED_OUT', 'test over'));
    await Promise.all([...this.managers.values()].map((m) => m.close()));
    this.managers.clear();
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

const DEFAULT_TOPIC_CONFIGS: Readonly<Record<string, string>> = {
  'min.insync.replicas': '1',
  'segment.bytes': String(1 << 20),
  'retention.ms': '-1',
  'retention.bytes': '-1',
};
