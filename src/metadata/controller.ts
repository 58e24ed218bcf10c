import type { Logger } from 'pino';
import { invalid, RunnelError } from '../errors.ts';
import type { MetadataImage, PartitionState, TopicState } from './image.ts';
import { NO_LEADER } from './image.ts';
import { placeReplicas } from './placement.ts';
import type { MetadataRecord, PartitionChangeRecord } from './records.ts';
import { RecordType } from './records.ts';
import type { CreatePartitionsRequest, CreateTopicRequest, TopicDefaults } from './topic-checks.ts';
import { checkAlterTopicConfigs, checkCreatePartitions, checkCreateTopic } from './topic-checks.ts';

export interface ControllerDeps {
  /** The image as applied on this node. */
  readonly image: () => MetadataImage;
  /** Commit a record batch through raft; resolves once it is applied on this node. */
  readonly propose: (records: MetadataRecord[]) => Promise<void>;
  readonly now: () => number;
  readonly newTopicId: () => string;
  readonly sessionTimeoutMs: number;
  /** Brokers heartbeat this often; one silent for twice as long and unreachable is fenced early. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Whether this node holds an open connection to the broker. A broker whose process died is
   * refused at once by its host, so it need not wait out the whole session timeout.
   */
  readonly peerReachable?: (brokerId: number) => boolean;
  /** A topic config value (topic setting, else cluster default). */
  readonly topicConfig?: (t: TopicState, name: string) => string;
  readonly topicDefaults: TopicDefaults;
  /**
   * The active controller's periodic duties (Kafka's QuorumController schedules them on its
   * event queue): fence brokers whose sessions lapsed, and move leaderships back to preferred
   * replicas (0: never). Left out, nothing runs on a timer: the caller (a test) drives them.
   */
  readonly duties?: { readonly sessionCheckIntervalMs: number; readonly leaderRebalanceIntervalMs: number };
  readonly logger: Logger;
}

export interface RegisterBrokerRequest {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly host: string;
  readonly httpPort: number;
  readonly rpcPort: number;
  readonly kafkaPort?: number;
}

/** What one command decided: records to commit, and the answer once they are applied. */
interface ControllerResult<T> {
  readonly records: MetadataRecord[];
  readonly response: () => T;
}

export interface AlterPartitionRequest {
  readonly topicId: string;
  readonly partition: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly number[];
}

/** Producer ids per block handed to a broker (Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE). */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

/** A block of producer ids [firstProducerId, firstProducerId + size) that one broker owns. */
export interface ProducerIdBlock {
  readonly brokerId: number;
  readonly firstProducerId: number;
  readonly size: number;
}

/**
 * The active controller (KRaft's QuorumController), running on the raft leader. Each command
 * reads the applied image and turns into records (command -> {records, response}); state
 * changes only when the records are replayed into the image, on every node alike. Commands
 * run one at a time, so each sees the effects of the one before it.
 *
 * Broker liveness lives only here, in memory: a broker that has not heartbeated for
 * sessionTimeoutMs is fenced, removed from every ISR, and replaced as leader by another
 * in-sync replica. A new controller gives every broker a full session timeout of grace
 * before fencing it (it has no heartbeat history).
 */
export class Controller {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly lastHeartbeatMs = new Map<number, number>();
  /** Brokers (by incarnation) in controlled shutdown: their heartbeats must not unfence them. */
  private readonly shuttingDown = new Map<number, string>();
  private activeSinceMs = 0;
  private active = false;
  /** Timers of the periodic duties; set only while active. */
  private dutyTimers: NodeJS.Timeout[] = [];

  constructor(private readonly deps: ControllerDeps) {}

  /** This node became the raft leader; `ready` resolves once it has applied the log before its term. */
  activate(ready: Promise<void>): void {
    this.active = true;
    this.activeSinceMs = this.deps.now();
    this.lastHeartbeatMs.clear();
    this.queue = this.queue.then(() => ready).catch(() => undefined);
    this.deps.logger.info('controller active');
    this.startDuties();
  }

  /** This node stopped leading (or is closing): no more commands, no more periodic duties. */
  deactivate(): void {
    if (this.active) this.deps.logger.info('controller inactive');
    this.active = false;
    for (const t of this.dutyTimers) clearInterval(t);
    this.dutyTimers = [];
  }

  private startDuties(): void {
    for (const t of this.dutyTimers) clearInterval(t);
    this.dutyTimers = [];
    const d = this.deps.duties;
    if (d === undefined) return;
    const log = this.deps.logger;
    this.dutyTimers.push(
      setInterval(() => {
        this.checkSessions().catch((err: unknown) => log.warn({ err }, 'session check failed'));
      }, d.sessionCheckIntervalMs),
    );
    if (d.leaderRebalanceIntervalMs > 0) {
      this.dutyTimers.push(
        setInterval(() => {
          this.rebalanceLeaders().catch((err: unknown) => log.warn({ err }, 'leader rebalance failed'));
        }, d.leaderRebalanceIntervalMs),
      );
    }
  }

  isActive(): boolean {
    return this.active;
  }

  /** Run one command after the ones before it; commit its records; answer from the new image. */
  private run<T>(command: () => ControllerResult<T>): Promise<T> {
    const result = this.queue.then(async () => {
      if (!this.active) throw new RunnelError('NOT_CONTROLLER', 'this node is not the active controller');
      const r = command();
      if (r.records.length > 0) await this.deps.propose(r.records);
      return r.response();
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  // ---- brokers --------------------------------------------------------------------------

  registerBroker(req: RegisterBrokerRequest): Promise<void> {
    this.lastHeartbeatMs.set(req.brokerId, this.deps.now());
    return this.run(() => {
      const b = this.deps.image().broker(req.brokerId);
      const same =
        b !== undefined &&
        b.incarnationId === req.incarnationId &&
        b.host === req.host &&
        b.httpPort === req.httpPort &&
        b.rpcPort === req.rpcPort &&
        b.kafkaPort === req.kafkaPort;
      const records: MetadataRecord[] = same ? [] : [{ type: RecordType.RegisterBroker, v: 1, ...req }];
      return { records, response: () => undefined };
    });
  }

  /**
   * A broker is alive. Unfences it if it was fenced (and its registration is current), and
   * gives it back leadership of partitions left leaderless with it as the last ISR member.
   * Answers whether the broker is registered with this incarnation (else it must re-register).
   */
  heartbeat(brokerId: number, incarnationId: string): Promise<{ registered: boolean; fenced: boolean }> {
    if (!this.active) return Promise.reject(new RunnelError('NOT_CONTROLLER', 'this node is not the active controller'));
    this.lastHeartbeatMs.set(brokerId, this.deps.now());
    const b = this.deps.image().broker(brokerId);
    if (b === undefined || b.incarnationId !== incarnationId) return Promise.resolve({ registered: false, fenced: true });
    if (!b.fenced) return Promise.resolve({ registered: true, fenced: false });
    if (this.shuttingDown.get(brokerId) === incarnationId) return Promise.resolve({ registered: true, fenced: true });
    return this.run(() => {
      const img = this.deps.image();
      const cur = img.broker(brokerId);
      if (cur === undefined || cur.incarnationId !== incarnationId || !cur.fenced) {
        return { records: [], response: () => ({ registered: cur?.incarnationId === incarnationId, fenced: cur?.fenced ?? true }) };
      }
      const records: MetadataRecord[] = [{ type: RecordType.UnfenceBroker, v: 1, brokerId }];
      for (const t of img.allTopics()) {
        for (const p of t.partitions) {
          if (p.leader === NO_LEADER && p.isr.includes(brokerId)) {
            records.push({ type: RecordType.PartitionChange, v: 1, topicId: t.id, partition: p.partition, leader: brokerId });
          }
        }
      }
      this.deps.logger.info({ brokerId }, 'unfencing broker');
      return { records, response: () => ({ registered: true, fenced: false }) };
    });
  }

  /**
   * Fence every unfenced broker silent for longer than the session timeout, or silent for two
   * heartbeat intervals while its connection is down (a dead process, not a slow one); then
   * run unclean elections where topics allow them.
   */
  checkSessions(): Promise<void> {
    if (!this.active) return Promise.resolve();
    return this.run(() => {
      const now = this.deps.now();
      const img = this.deps.image();
      const records: MetadataRecord[] = [];
      const expired: number[] = [];
      const fastAfterMs = 2 * (this.deps.heartbeatIntervalMs ?? this.deps.sessionTimeoutMs);
      for (const b of img.allBrokers()) {
        if (b.fenced) continue;
        const silentMs = now - Math.max(this.lastHeartbeatMs.get(b.id) ?? 0, this.activeSinceMs);
        const unreachable = this.deps.peerReachable?.(b.id) === false;
        if (silentMs <= this.deps.sessionTimeoutMs && !(unreachable && silentMs > fastAfterMs)) continue;
        this.deps.logger.warn({ brokerId: b.id, silentMs, unreachable }, unreachable ? 'fencing broker: unreachable and silent' : 'fencing broker: session expired');
        records.push({ type: RecordType.FenceBroker, v: 1, brokerId: b.id });
        expired.push(b.id);
      }
      if (expired.length > 0) records.push(...this.moveAwayFrom(img, new Set(expired)));
      records.push(...this.uncleanElections(img, new Set(expired)));
      return { records, response: () => undefined };
    });
  }

  /**
   * Kafka's controlled shutdown: a broker about to stop asks to be fenced now, so that every
   * partition it leads moves to another in-sync replica before it goes, and no acks=all
   * request waits on a leader that is leaving. Its heartbeats no longer unfence this
   * incarnation; a restart registers a new one.
   */
  controlledShutdown(brokerId: number, incarnationId: string): Promise<{ leaderships: number }> {
    this.shuttingDown.set(brokerId, incarnationId);
    return this.run(() => {
      const img = this.deps.image();
      const b = img.broker(brokerId);
      const records: MetadataRecord[] = [];
      if (b !== undefined && b.incarnationId === incarnationId && !b.fenced) {
        this.deps.logger.info({ brokerId }, 'controlled shutdown: fencing broker and moving its leaderships');
        records.push({ type: RecordType.FenceBroker, v: 1, brokerId }, ...this.moveAwayFrom(img, new Set([brokerId])));
      }
      return {
        records,
        response: () => ({ leaderships: this.deps.image().leaderships(brokerId) }),
      };
    });
  }

  /**
   * Kafka's auto leader rebalance: give each partition back to its preferred replica (the
   * first in its replica list) when that replica is in the ISR and live, so leadership ends
   * balanced again after restarts.
   */
  rebalanceLeaders(): Promise<number> {
    if (!this.active) return Promise.resolve(0);
    return this.run(() => {
      const img = this.deps.image();
      const records: MetadataRecord[] = [];
      for (const t of img.allTopics()) {
        for (const p of t.partitions) {
          const preferred = p.replicas[0];
          if (preferred === undefined || preferred === p.leader || !p.isr.includes(preferred) || img.broker(preferred)?.fenced !== false) continue;
          records.push({ type: RecordType.PartitionChange, v: 1, topicId: t.id, partition: p.partition, leader: preferred });
        }
      }
      if (records.length > 0) this.deps.logger.info({ partitions: records.length }, 'moving leadership back to preferred replicas');
      return { records, response: () => records.length };
    });
  }

  /** Offline partitions of topics with unclean.leader.election.enable=true get any live replica as leader. */
  private uncleanElections(img: MetadataImage, gone: ReadonlySet<number>): PartitionChangeRecord[] {
    const topicConfig = this.deps.topicConfig;
    if (topicConfig === undefined) return [];
    const out: PartitionChangeRecord[] = [];
    for (const t of img.allTopics()) {
      if (topicConfig(t, 'unclean.leader.election.enable') !== 'true') continue;
      for (const p of t.partitions) {
        const lastIsrGone = p.isr.every((b) => gone.has(b) || img.broker(b)?.fenced !== false);
        if (!lastIsrGone || (p.leader !== NO_LEADER && !gone.has(p.leader))) continue;
        const live = p.replicas.find((b) => !gone.has(b) && img.broker(b)?.fenced === false);
        if (live === undefined) continue;
        this.deps.logger.warn({ topic: t.name, partition: p.partition, leader: live }, 'unclean leader election: records not on this replica may be lost');
        out.push({ type: RecordType.PartitionChange, v: 1, topicId: t.id, partition: p.partition, leader: live, isr: [live] });
      }
    }
    return out;
  }

  /**
   * ISR/leader changes for brokers going away: each leaves every ISR; a partition it led gets
   * the first other in-sync replica (in replica order) that is not going away. The last ISR
   * member stays in the ISR with no leader (offline) so that it, and only it, can lead again
   * without losing data (no unclean election).
   */
  private moveAwayFrom(img: MetadataImage, gone: ReadonlySet<number>): PartitionChangeRecord[] {
    const out: PartitionChangeRecord[] = [];
    for (const t of img.allTopics()) {
      for (const p of t.partitions) {
        const change = partitionChangeWithout(img, t, p, gone);
        if (change !== undefined) out.push(change);
      }
    }
    return out;
  }

  // ---- producer ids ---------------------------------------------------------------------

  /**
   * Kafka's AllocateProducerIds (ProducerIdControlManager.generateNextProducerId): hands the
   * broker the next block of PRODUCER_ID_BLOCK_SIZE ids, as a replayed ProducerIds record, so
   * no block is handed out twice whichever controller answers, before or after restarts.
   * Only the current, unfenced registration of a broker gets one (Kafka checks the broker
   * epoch): a fenced or replaced incarnation must not serve producers.
   */
  allocateProducerIds(brokerId: number, incarnationId: string): Promise<ProducerIdBlock> {
    return this.run(() => {
      const img = this.deps.image();
      const b = img.broker(brokerId);
      if (b === undefined || b.incarnationId !== incarnationId || b.fenced) {
        const why = b === undefined ? 'is not registered' : b.incarnationId !== incarnationId ? 'registered a newer incarnation' : 'is fenced';
        throw new RunnelError('BROKER_NOT_AVAILABLE', `broker ${brokerId} ${why}: no producer ids for it`);
      }
      const firstProducerId = img.nextProducerId();
      const nextProducerId = firstProducerId + PRODUCER_ID_BLOCK_SIZE;
      if (!Number.isSafeInteger(nextProducerId)) throw new RunnelError('UNKNOWN_SERVER_ERROR', 'producer ids are exhausted');
      this.deps.logger.info({ brokerId, firstProducerId }, 'allocating a producer id block');
      return {
        records: [{ type: RecordType.ProducerIds, v: 1, brokerId, incarnationId, nextProducerId }],
        response: () => ({ brokerId, firstProducerId, size: PRODUCER_ID_BLOCK_SIZE }),
      };
    });
  }

  // ---- partitions -----------------------------------------------------------------------

  /**
   * A partition leader asks to shrink or expand its ISR (Kafka's AlterPartition). Refused
   * unless it is still the leader at the epoch it believes, and the partition epoch it saw is
   * the current one (a stale view must re-read the metadata first). New members must be live
   * (unfenced) replicas (KIP-841); the leader stays in the ISR.
   */
  alterPartition(req: AlterPartitionRequest): Promise<PartitionState> {
    return this.run(() => {
      const t = this.deps.image().topicById(req.topicId);
      const p = t?.partitions[req.partition];
      if (t === undefined || p === undefined) {
        throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${req.partition} of topic id ${req.topicId}`);
      }
      if (p.leader !== req.leaderId || p.leaderEpoch !== req.leaderEpoch) {
        throw new RunnelError('FENCED_LEADER_EPOCH', `${t.name}-${p.partition}: leader is ${p.leader} at epoch ${p.leaderEpoch}, not ${req.leaderId} at ${req.leaderEpoch}`);
      }
      if (p.partitionEpoch !== req.partitionEpoch) {
        throw new RunnelError('INVALID_UPDATE_VERSION', `${t.name}-${p.partition}: partition epoch is ${p.partitionEpoch}, request saw ${req.partitionEpoch}`);
      }
      const isr = [...new Set(req.isr)];
      if (!isr.includes(req.leaderId)) throw invalid('isr', 'must include the leader');
      const img = this.deps.image();
      for (const b of isr) {
        if (!p.replicas.includes(b)) throw invalid('isr', `${b} is not a replica of ${t.name}-${p.partition}`);
        if (!p.isr.includes(b) && img.broker(b)?.fenced !== false) throw invalid('isr', `${b} is fenced and cannot join the ISR`);
      }
      const same = isr.length === p.isr.length && isr.every((b) => p.isr.includes(b));
      const records: MetadataRecord[] = same ? [] : [{ type: RecordType.PartitionChange, v: 1, topicId: t.id, partition: p.partition, isr }];
      if (!same) this.deps.logger.info({ topic: t.name, partition: p.partition, from: p.isr, to: isr }, 'ISR change');
      return { records, response: () => this.deps.image().topicById(t.id)?.partitions[p.partition] ?? p };
    });
  }

  // ---- topics ---------------------------------------------------------------------------

  createTopic(req: CreateTopicRequest): Promise<TopicState> {
    return this.run(() => {
      const img = this.deps.image();
      const { partitions, rf, live } = checkCreateTopic(req, img, this.deps.topicDefaults);
      const leaderCount = new Map<number, number>();
      for (const t of img.allTopics()) for (const p of t.partitions) leaderCount.set(p.leader, (leaderCount.get(p.leader) ?? 0) + 1);
      const topicId = this.deps.newTopicId();
      const records: MetadataRecord[] = [{ type: RecordType.CreateTopic, v: 1, name: req.name, topicId, configs: { ...req.configs } }];
      placeReplicas(live, partitions, rf, leaderCount).forEach((replicas, partition) => {
        const leader = replicas[0] ?? NO_LEADER;
        records.push({ type: RecordType.Partition, v: 1, topicId, partition, replicas, isr: replicas, leader, leaderEpoch: 0, partitionEpoch: 0 });
      });
      this.deps.logger.info({ topic: req.name, partitions, replicationFactor: rf }, 'creating topic');
      return {
        records,
        response: () => {
          const t = this.deps.image().topicById(topicId);
          if (t === undefined) throw new RunnelError('UNKNOWN_SERVER_ERROR', `topic ${req.name} vanished after creation`);
          return t;
        },
      };
    });
  }

  deleteTopic(name: string): Promise<void> {
    return this.run(() => {
      const t = this.deps.image().topic(name);
      if (t === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${name}" does not exist`);
      this.deps.logger.info({ topic: name }, 'deleting topic');
      return { records: [{ type: RecordType.DeleteTopic, v: 1, topicId: t.id }], response: () => undefined };
    });
  }

  /** Set (string) or reset to default (null) topic configs, all or nothing. */
  alterTopicConfigs(name: string, changes: Readonly<Record<string, string | null>>): Promise<TopicState> {
    return this.run(() => {
      const t = this.deps.image().topic(name);
      if (t === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${name}" does not exist`);
      checkAlterTopicConfigs(t, changes);
      const records: MetadataRecord[] = Object.entries(changes).map(([k, v]) => ({
        type: RecordType.ConfigChange,
        v: 1,
        topicId: t.id,
        name: k,
        value: v,
      }));
      return {
        records,
        response: () => this.deps.image().topicById(t.id) ?? t,
      };
    });
  }

  // ---- partition increase (Kafka's CreatePartitions) -------------------------------------

  /**
   * Raise a topic's partition count to `count`: the new partitions are placed as CreateTopics
   * places them (or on the brokers `assignments` names, one list per new partition) and
   * committed as PartitionRecords, leader first replica, epochs 0 (ReplicationControlManager
   * .createPartitions).
   */
  createPartitions(req: CreatePartitionsRequest): Promise<TopicState> {
    return this.run(() => {
      const img = this.deps.image();
      const { topic, placement } = checkCreatePartitions(req, img);
      const records: MetadataRecord[] = placement.map((replicas, i) => {
        const isr = replicas.filter((b) => img.broker(b)?.fenced === false);
        return { type: RecordType.Partition, v: 1, topicId: topic.id, partition: topic.partitions.length + i, replicas, isr, leader: isr[0] ?? NO_LEADER, leaderEpoch: 0, partitionEpoch: 0 };
      });
      this.deps.logger.info({ topic: topic.name, from: topic.partitions.length, to: req.count }, 'adding partitions');
      return { records, response: () => this.deps.image().topicById(topic.id) ?? topic };
    });
  }
}

/** The change that takes `gone` brokers out of one partition's ISR and leadership, if any. */
export function partitionChangeWithout(
  img: MetadataImage,
  t: TopicState,
  p: PartitionState,
  gone: ReadonlySet<number>,
): PartitionChangeRecord | undefined {
  if (!p.isr.some((b) => gone.has(b))) return undefined;
  const remaining = p.isr.filter((b) => !gone.has(b));
  if (remaining.length === 0) {
    // Keep the last in-sync replica recorded; the partition is offline until it returns.
    return p.leader === NO_LEADER ? undefined : { type: RecordType.PartitionChange, v: 1, topicId: t.id, partition: p.partition, leader: NO_LEADER };
  }
  const base = { type: RecordType.PartitionChange, v: 1, topicId: t.id, partition: p.partition, isr: remaining } as const;
  if (p.leader !== NO_LEADER && !gone.has(p.leader)) return base;
  const leader = p.replicas.find((b) => remaining.includes(b) && img.broker(b)?.fenced === false) ?? remaining[0] ?? NO_LEADER;
  return { ...base, leader };
}
