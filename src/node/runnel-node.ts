import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { NotLeaderError, ProposalDroppedError, ProposalOutcomeUnknownError, RaftNode } from '../../raft/node.ts';
import type { Message, RaftStatus } from '../../raft/types.ts';
import { NONE } from '../../raft/types.ts';
import { MetadataStore } from '../../storage/metadata-store.ts';
import { openRaftStore } from '../../storage/raft-store.ts';
import type { LevelRaftStore } from '../../storage/raft-store.ts';
import type { ClusterConfig, NodeConfig } from '../config/load-config.ts';
import { findNode } from '../config/load-config.ts';
import { RunnelError } from '../errors.ts';
import { buildHttpApp } from '../http/app.ts';
import { testAlterPartitionDelayMs } from '../test-hooks.ts';
import type { Logger } from '../logger.ts';
import { componentLogger } from '../logger.ts';
import { Controller } from '../metadata/controller.ts';
import type { MetadataImage } from '../metadata/image.ts';
import { MetadataMachine } from '../metadata/metadata-machine.ts';
import { encodeRecords } from '../metadata/records.ts';
import { RpcNode, rpcNodeOptions } from '../rpc/rpc-node.ts';
import { ByteBudget } from '../broker/byte-budget.ts';
import { PartitionClient } from '../broker/partition-client.ts';
import type { FetchRequest, FetchResponse } from '../broker/replica-fetcher.ts';
import { ReplicaManager } from '../broker/replica-manager.ts';
import type { PartitionReplica } from '../broker/partition-replica.ts';
import { ConsumerRegistry } from '../groups/consumer-registry.ts';
import type { InstanceOp } from '../groups/consumer-registry.ts';
import { GroupClient } from '../groups/group-client.ts';
import { GroupCoordinator } from '../groups/group-coordinator.ts';
import type { GroupCall } from '../groups/group-coordinator.ts';
import { OFFSETS_TOPIC, offsetsPartitionFor } from '../groups/offsets-topic.ts';
import type { PartitionState, TopicState } from '../metadata/image.ts';
import { PartitionLog } from '../../storage/partition-log/partition-log.ts';
import { IsrChangeCounter } from '../metrics/isr-change-counter.ts';
import { NodeMetrics } from '../metrics/node-metrics.ts';
import { registerStateGauges } from '../metrics/state-gauges.ts';
import type { ControllerCall } from './controller-calls.ts';
import { controlledShutdown } from './controlled-shutdown.ts';
import { openUnlocked } from './data-dir-lock.ts';
import { parseControllerCall, runControllerCall } from './controller-calls.ts';

/** Errors worth retrying against the controller: it moved, or is being elected. */
const RETRIABLE = new Set(['NOT_CONTROLLER', 'NETWORK_EXCEPTION', 'BROKER_NOT_AVAILABLE', 'REQUEST_TIMED_OUT', 'LEADER_NOT_AVAILABLE']);
const CONTROLLER_RETRY_MS = 50;
/** In-flight HTTP requests get this long to finish when the node stops. */
const HTTP_DRAIN_GRACE_MS = 1000;
/** Bound on the read barrier of findTopic. */
const METADATA_BARRIER_TIMEOUT_MS = 2000;

export interface VoterStatus {
  readonly nodeId: number;
  readonly matchIndex: number | null;
  readonly lastContactMs: number | null;
}

export interface QuorumStatus {
  readonly leaderId: number | null;
  readonly term: number;
  readonly commitIndex: number;
  readonly voters: readonly VoterStatus[];
}

/**
 * One runnel process: a voter of the metadata quorum (raft on LevelDB, the metadata image,
 * the controller while it leads), a broker that registers and heartbeats with the active
 * controller, and the HTTP API. start() brings the parts up bottom-up; close() takes them
 * down top-down and awaits each.
 */
export class RunnelNode {
  readonly incarnationId = randomUUID();
  /** Backpressure on produce requests taken by this node (broker.produce_inflight_bytes_max). */
  readonly produceBudget: ByteBudget;
  readonly self: NodeConfig;
  /** Prometheus registry of this node, served at GET /metrics. */
  readonly metrics: NodeMetrics;
  private readonly log: Logger;
  private readonly rpc: RpcNode;
  private raftStore: LevelRaftStore | undefined;
  private metaStore: MetadataStore | undefined;
  private machine: MetadataMachine | undefined;
  private raft: RaftNode | undefined;
  private readonly controller: Controller;
  private http: FastifyInstance | undefined;
  private replicaManager: ReplicaManager | undefined;
  private partitionClient: PartitionClient | undefined;
  private groupCoordinator: GroupCoordinator | undefined;
  private groupClient: GroupClient | undefined;
  private consumerRegistry: ConsumerRegistry | undefined;
  private readonly topicDefaults: Readonly<Record<string, string>>;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private sessionTimer: NodeJS.Timeout | undefined;
  private rebalanceTimer: NodeJS.Timeout | undefined;
  private heartbeating = false;
  private closed = false;

  constructor(
    readonly config: ClusterConfig,
    readonly nodeId: number,
    private readonly root: Logger,
  ) {
    this.self = findNode(config, nodeId);
    this.produceBudget = new ByteBudget(config.broker.produceInflightBytesMax);
    this.topicDefaults = {
      'min.insync.replicas': String(config.topicDefaults.minInsyncReplicas),
      'retention.ms': String(config.log.retentionMs),
      'retention.bytes': String(config.log.retentionBytes),
      'segment.bytes': String(config.log.segmentBytes),
      'cleanup.policy': 'delete',
      'max.message.bytes': String(config.log.maxMessageBytes),
      'unclean.leader.election.enable': 'false',
    };
    this.log = componentLogger(root, 'node');
    this.metrics = new NodeMetrics(nodeId);
    this.rpc = new RpcNode(rpcNodeOptions(config, nodeId, componentLogger(root, 'rpc')));
    this.controller = new Controller({
      image: () => this.image(),
      propose: async (records) => {
        const raft = this.requireRaft();
        try {
          const { index } = await raft.propose(encodeRecords(records));
          await raft.whenApplied(index);
        } catch (err) {
          // Leadership moved under the command: the caller retries on the new controller.
          if (err instanceof NotLeaderError || err instanceof ProposalDroppedError || err instanceof ProposalOutcomeUnknownError) {
            throw new RunnelError('NOT_CONTROLLER', err.message);
          }
          throw err;
        }
      },
      now: () => Date.now(),
      newTopicId: () => randomUUID(),
      sessionTimeoutMs: config.broker.sessionTimeoutMs,
      heartbeatIntervalMs: config.broker.heartbeatIntervalMs,
      peerReachable: (brokerId) => brokerId === nodeId || this.rpc.isConnected(brokerId),
      topicConfig: (t, name) => this.topicConfig(t, name),
      topicDefaults: {
        partitions: config.topicDefaults.partitions,
        replicationFactor: config.topicDefaults.replicationFactor,
        minInsyncReplicas: config.topicDefaults.minInsyncReplicas,
      },
      logger: componentLogger(root, 'controller'),
    });
  }

  async start(): Promise<void> {
    const voters = this.config.nodes.map((n) => n.id);
    const lock = { nodeId: this.nodeId, dataDir: this.self.dataDir, waitMs: this.config.process.dataDirLockWaitMs, log: this.log };
    this.raftStore = await openUnlocked(lock, () => openRaftStore({ dir: join(this.self.dataDir, 'raft'), voters }));
    this.metaStore = await openUnlocked(lock, () => MetadataStore.open(join(this.self.dataDir, 'metadata')));
    this.machine = new MetadataMachine(this.metaStore);
    const applied = await this.machine.open();
    const isrChanges = new IsrChangeCounter(this.nodeId, this.machine.image(), (kind) => this.metrics.countIsrChange(kind));
    this.machine.onChange((image, records) => isrChanges.onMetadata(image, records));
    const raftLog = componentLogger(this.root, 'raft');
    this.raft = new RaftNode({
      id: this.nodeId,
      voters,
      storage: this.raftStore,
      transport: { send: (m: Message) => this.rpc.send(m.to, 'raft', m) },
      stateMachine: this.machine,
      tickMs: this.config.raft.tickMs,
      electionTicks: this.config.raft.electionTicks,
      heartbeatTicks: this.config.raft.heartbeatTicks,
      snapshotEntries: this.config.raft.snapshotEntries,
      applied,
      logger: raftLog,
      onSoftState: (soft) => {
        this.metrics.noteRaftLeader(soft.leaderId);
        this.onRaftRole(soft.role === 'leader');
      },
      onFatal: (err) => {
        this.log.fatal({ err }, 'raft storage or state machine failed; exiting');
        process.exit(70);
      },
    });
    const replicaLog = componentLogger(this.root, 'replica');
    const rm = new ReplicaManager({
      brokerId: this.nodeId,
      dataDir: this.self.dataDir,
      openLog: (o) => PartitionLog.open({ ...o, logger: replicaLog }),
      fetchRpc: async (leader, req: FetchRequest, timeoutMs) => (await this.rpc.request(leader, 'fetch', req, { timeoutMs })) as FetchResponse,
      alterIsr: async (req) => (await this.callController({ method: 'alterPartition', ...req })) as PartitionState,
      topicConfig: (t, name) => this.topicConfig(t, name),
      replicaLagTimeMaxMs: this.config.broker.replicaLagTimeMaxMs,
      retentionCheckIntervalMs: this.config.log.retentionCheckIntervalMs,
      requestTimeoutMs: this.config.rpc.requestTimeoutMs,
      flush: this.config.log.flush,
      logger: replicaLog,
      alterIsrDelayMs: testAlterPartitionDelayMs(),
    });
    this.replicaManager = rm;
    this.partitionClient = new PartitionClient(this.nodeId, () => this.image(), rm, (peer, method, payload, timeoutMs) => this.rpc.request(peer, method, payload, { timeoutMs }));
    for (const [method, handler] of Object.entries(this.partitionClient.handlers())) this.rpc.handle(method, handler);
    this.rpc.handle('fetch', (payload) => rm.handleFetch(payload as FetchRequest));
    const groupLog = componentLogger(this.root, 'groups');
    this.groupCoordinator = new GroupCoordinator({ brokerId: this.nodeId, image: () => this.image(), replicas: rm, partitions: this.partitionClient, takeoverHoldMs: this.config.groups.sessionTimeoutMs, logger: groupLog });
    const coordinatorForMetrics = this.groupCoordinator;
    registerStateGauges(
      this.metrics.registry,
      {
        nodeId: this.nodeId,
        image: () => this.image(),
        raftStatus: () => this.raftStatus(),
        localReplica: (topicId, partition) => rm.replica(topicId, partition),
        coordinatedGroups: () => coordinatorForMetrics.coordinatedGroups(),
        remoteHighWatermark: async (topicId, partition, timeoutMs) => (await this.partitions.offsets(topicId, partition, timeoutMs)).highWatermark,
      },
      componentLogger(this.root, 'metrics'),
    );
    this.groupClient = new GroupClient({
      brokerId: this.nodeId,
      image: () => this.image(),
      coordinator: this.groupCoordinator,
      request: (peer, method, payload, timeoutMs) => this.rpc.request(peer, method, payload, { timeoutMs }),
      createOffsetsTopic: () => this.createOffsetsTopic(),
    });
    this.consumerRegistry = new ConsumerRegistry({
      nodeId: this.nodeId,
      baseUrl: `http://${this.self.host}:${this.self.httpPort}`,
      groups: this.groupClient,
      partitions: this.partitionClient,
      image: () => this.image(),
      sessionTimeoutMs: this.config.groups.sessionTimeoutMs,
      logger: groupLog,
    });
    const coordinator = this.groupCoordinator;
    const registry = this.consumerRegistry;
    this.rpc.handle('group', (payload) => coordinator.handle(payload as GroupCall));
    this.rpc.handle('consumer', (payload) => {
      const c = payload as { group: string; instance: string; op: InstanceOp };
      return registry.execute(c.group, c.instance, c.op);
    });
    coordinator.start();
    registry.start();
    this.machine.onChange((image) => rm.onImage(image));
    rm.onImage(this.machine.image());
    rm.start();
    this.rpc.onMessage('raft', (payload, from) => this.receiveRaft(payload, from));
    this.rpc.handle('controller', async (payload) => {
      const result = await runControllerCall(this.controller, parseControllerCall(payload));
      // The caller waits until it has applied this far, so its own reads see the change.
      return { result, appliedIndex: this.requireRaft().status().applied };
    });
    this.rpc.handle('quorum-status', () => this.localQuorumStatus());
    await this.rpc.start();
    await this.raft.start();
    this.http = buildHttpApp({ node: this, logger: componentLogger(this.root, 'http') });
    await this.http.listen({ host: this.self.host, port: this.self.httpPort });
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.config.broker.heartbeatIntervalMs);
    this.log.info({ httpPort: this.self.httpPort, rpcPort: this.self.rpcPort, incarnationId: this.incarnationId }, 'node started');
  }

  /**
   * Kafka's controlled shutdown, for SIGTERM: stop heartbeating, have the controller move this
   * broker's leaderships away (bounded, see controlled-shutdown.ts). Requests already in flight
   * are retried by their nodes on the new leaders; then close() drains HTTP and stops everything.
   */
  async shutdown(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    await controlledShutdown({
      askController: async (timeoutMs) => (await this.callController({ method: 'controlledShutdown', brokerId: this.nodeId, incarnationId: this.incarnationId }, timeoutMs)) as { leaderships: number },
      leaderships: () => this.leaderships(),
      otherLiveBrokers: () => this.image().allBrokers().filter((b) => b.id !== this.nodeId && !b.fenced).length,
      controllerReachable: () => {
        const leader = this.raft?.status().leaderId ?? NONE;
        return leader !== NONE && (leader === this.nodeId || this.rpc.isConnected(leader));
      },
      timeoutMs: this.config.broker.controlledShutdownTimeoutMs,
      noControllerMs: this.config.broker.controlledShutdownNoControllerMs,
      log: this.log,
    });
    await this.close();
  }

  private leaderships(): number {
    return this.image().leaderships(this.nodeId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.sessionTimer);
    clearInterval(this.rebalanceTimer);
    this.controller.deactivate();
    if (this.http !== undefined) {
      const server = this.http.server;
      // Keep-alive clients that keep sending would hold close() open forever: after a grace
      // for in-flight requests, cut them (they reconnect to another node).
      const cut = setTimeout(() => server.closeAllConnections(), HTTP_DRAIN_GRACE_MS);
      await this.http.close();
      clearTimeout(cut);
    }
    await this.consumerRegistry?.close();
    this.groupCoordinator?.close();
    await this.replicaManager?.close();
    await this.raft?.close();
    await this.rpc.close();
    await this.machine?.checkpoint();
    await this.metaStore?.close();
    await this.raftStore?.close();
    this.log.info('node stopped');
  }

  // ---- what the HTTP layer reads ------------------------------------------------------

  image(): MetadataImage {
    if (this.machine === undefined) throw new RunnelError('BROKER_NOT_AVAILABLE', 'node is starting');
    return this.machine.image();
  }

  /** Produce, consume and offsets on whichever node leads a partition. */
  get partitions(): PartitionClient {
    if (this.partitionClient === undefined) throw new RunnelError('BROKER_NOT_AVAILABLE', 'node is starting');
    return this.partitionClient;
  }

  // ---- consumer groups ------------------------------------------------------------------

  get consumers(): ConsumerRegistry {
    if (this.consumerRegistry === undefined) throw new RunnelError('BROKER_NOT_AVAILABLE', 'node is starting');
    return this.consumerRegistry;
  }

  private get groups(): GroupClient {
    if (this.groupClient === undefined) throw new RunnelError('BROKER_NOT_AVAILABLE', 'node is starting');
    return this.groupClient;
  }

  /** An operation on a consumer instance, here or on the node it lives on (found through its coordinator). */
  async instanceCall(group: string, instance: string, op: InstanceOp): Promise<unknown> {
    if (this.consumers.has(group, instance)) return this.consumers.execute(group, instance, op);
    const { nodeId } = (await this.groups.call({ op: 'locate', group, instance })) as { nodeId: number };
    if (nodeId === this.nodeId) throw new RunnelError('UNKNOWN_CONSUMER_INSTANCE', `consumer instance "${instance}" of group "${group}" not found`);
    const timeoutMs = (op.op === 'poll' ? op.timeoutMs : 0) + this.config.rpc.requestTimeoutMs;
    return this.rpc.request(nodeId, 'consumer', { group, instance, op }, { timeoutMs });
  }

  checkCluster(cid: string | undefined): void {
    if (cid !== this.config.clusterId) throw new RunnelError('CLUSTER_NOT_FOUND', `cluster "${cid ?? ''}" not found; this is cluster "${this.config.clusterId}"`);
  }

  groupIds(): Promise<string[]> {
    return this.groups.list(this.config.nodes.map((n) => n.id));
  }

  /** GET /v3/clusters/{cid}/consumer-groups/{g}: state, members and their partitions, committed offset, end offset and lag. */
  async describeGroup(group: string): Promise<Record<string, unknown>> {
    const d = (await this.groups.call({ op: 'describe', group })) as {
      state: string;
      generation: number;
      protocol: string | null;
      members: { memberId: string; nodeId: number; target: { topic: string; partition: number }[]; owned: { topic: string; partition: number }[] }[];
      offsets: { key: string; offset: number }[];
    };
    const owner = new Map<string, string>();
    for (const m of d.members) for (const tp of m.target) owner.set(`${tp.topic}:${tp.partition}`, m.memberId);
    const committed = new Map(d.offsets.map((o) => [o.key, o.offset]));
    const keys = [...new Set([...owner.keys(), ...committed.keys()])].sort();
    const partitions = await Promise.all(
      keys.map(async (k) => {
        const topic = k.slice(0, k.lastIndexOf(':'));
        const partition = Number(k.slice(k.lastIndexOf(':') + 1));
        const t = this.image().topic(topic);
        let end: number | null = null;
        if (t !== undefined) end = await this.partitions.offsets(t.id, partition, 1000).then((o) => o.highWatermark, () => null);
        const c = committed.get(k);
        return { topic, partition, consumer_id: owner.get(k) ?? null, committed_offset: c ?? null, end_offset: end, lag: end !== null && c !== undefined ? Math.max(0, end - c) : null };
      }),
    );
    const t = this.image().topic(OFFSETS_TOPIC);
    return {
      cluster_id: this.config.clusterId,
      consumer_group_id: group,
      state: d.state,
      generation: d.generation,
      partition_assignor: d.protocol,
      coordinator_id: t === undefined ? null : (t.partitions[offsetsPartitionFor(group, t.partitions.length)]?.leader ?? null),
      members: d.members.map((m) => ({ consumer_id: m.memberId, instance_id: m.memberId, node_id: m.nodeId, assignments: m.target })),
      partitions,
    };
  }

  /** POST /v3/clusters/{cid}/consumer-groups/{g}/offsets: sets the committed offsets of a group without members (NON_EMPTY_GROUP otherwise). */
  async alterGroupOffsets(group: string, offsets: readonly { topic: string; partition: number; offset: number }[]): Promise<void> {
    await this.groups.call({ op: 'alterOffsets', group, offsets: offsets.map((o) => ({ ...o, metadata: '' })) });
  }

  private async createOffsetsTopic(): Promise<void> {
    const live = this.image().allBrokers().filter((b) => !b.fenced).length;
    const rf = Math.max(1, Math.min(3, live));
    try {
      await this.callController({
        method: 'createTopic',
        name: OFFSETS_TOPIC,
        partitions: this.config.groups.offsetsTopicPartitions,
        replicationFactor: rf,
        configs: { 'min.insync.replicas': String(Math.min(2, rf)) },
      });
      this.log.info({ partitions: this.config.groups.offsetsTopicPartitions, replicationFactor: rf }, 'created the offsets topic');
    } catch (err) {
      if (!(err instanceof RunnelError && err.errorName === 'TOPIC_ALREADY_EXISTS')) throw err;
    }
  }

  /** FOR FAULT TESTS ONLY: drop all rpc traffic with these peers (empty list heals). */
  cutLinks(peers: readonly number[]): void {
    const cut = new Set(peers);
    this.rpc.setLinkFilter(cut.size === 0 ? undefined : (from, to) => !cut.has(from) && !cut.has(to));
    this.log.warn({ cut: [...cut] }, 'test hook: rpc links cut');
  }

  /** This node's own replica of a partition, if it holds one. */
  localReplica(topicId: string, partition: number): PartitionReplica | undefined {
    return this.replicaManager?.replica(topicId, partition);
  }

  /** A topic config: set on the topic, else cluster.yaml's default (API.md). */
  topicConfig(t: TopicState, name: string): string {
    return t.configs[name] ?? this.topicDefaults[name] ?? '';
  }

  /** Whether a config is set on the topic itself. */
  topicConfigIsDefault(t: TopicState, name: string): boolean {
    return t.configs[name] === undefined;
  }

  raftStatus(): RaftStatus {
    return this.requireRaft().status();
  }

  /**
   * The node has joined: it knows a raft leader, and the image it serves from holds this
   * process's broker registration, unfenced (the controller has heard its heartbeat).
   */
  joined(): boolean {
    const st = this.raft?.status();
    if (st === undefined || st.leaderId === NONE) return false;
    const b = this.machine?.image().broker(this.nodeId);
    return b?.incarnationId === this.incarnationId && !b.fenced;
  }

  /**
   * The topic, looked up again after catching up with the raft leader's commit index when it
   * is not in this node's image: a topic just created through another node is found here too
   * (a read barrier, paid only on a miss).
   */
  async findTopic(name: string): Promise<TopicState | undefined> {
    const t = this.image().topic(name);
    if (t !== undefined) return t;
    await this.catchUpWithLeader(METADATA_BARRIER_TIMEOUT_MS);
    return this.image().topic(name);
  }

  /** findTopic, or UNKNOWN_TOPIC_OR_PARTITION (404) naming it. */
  async requireTopic(name: string): Promise<TopicState> {
    const t = await this.findTopic(name);
    if (t === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${name}" not found`);
    return t;
  }

  /** Waits (bounded) until this node has applied everything the raft leader has committed. */
  private async catchUpWithLeader(timeoutMs: number): Promise<void> {
    const raft = this.requireRaft();
    const leader = raft.status().leaderId;
    if (leader === NONE || leader === this.nodeId) return;
    try {
      const q = (await this.rpc.request(leader, 'quorum-status', null, { timeoutMs })) as QuorumStatus;
      await this.whenAppliedWithin(q.commitIndex, timeoutMs);
    } catch (err) {
      this.log.debug({ err, leader }, 'metadata barrier failed; answering from the local image');
    }
  }

  /** The quorum as the leader sees it (with per-voter progress), else as this node does. */
  async quorumStatus(): Promise<QuorumStatus> {
    const leader = this.raftStatus().leaderId;
    if (leader !== NONE && leader !== this.nodeId) {
      try {
        return (await this.rpc.request(leader, 'quorum-status', null, { timeoutMs: 1000 })) as QuorumStatus;
      } catch (err) {
        this.log.debug({ err, leader }, 'quorum status from the leader failed; answering locally');
      }
    }
    return this.localQuorumStatus();
  }

  /**
   * Runs a controller command on the active controller, wherever it is: here, or over rpc on
   * the raft leader. Retries while the controller is moving, within the rpc request timeout.
   */
  async callController(call: ControllerCall, timeoutMs = this.config.rpc.requestTimeoutMs): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = this.raft?.status().leaderId ?? NONE;
      let lastErr: unknown = new RunnelError('NOT_CONTROLLER', 'no controller is elected yet');
      if (leader !== NONE) {
        try {
          if (leader === this.nodeId) return await withDeadline(runControllerCall(this.controller, call), deadline);
          const r = (await this.rpc.request(leader, 'controller', call, { timeoutMs: Math.max(1, deadline - Date.now()) })) as {
            result: unknown;
            appliedIndex: number;
          };
          await this.whenAppliedWithin(r.appliedIndex, Math.max(1, deadline - Date.now()));
          return r.result;
        } catch (err) {
          if (!(err instanceof RunnelError) || !RETRIABLE.has(err.errorName)) throw err;
          lastErr = err;
        }
      }
      if (this.closed || Date.now() + CONTROLLER_RETRY_MS > deadline) {
        const why = lastErr instanceof Error ? lastErr.message : String(lastErr);
        throw new RunnelError('REQUEST_TIMED_OUT', `no active controller answered within ${timeoutMs} ms (${why})`);
      }
      await new Promise((r) => setTimeout(r, CONTROLLER_RETRY_MS));
    }
  }

  // ---- internals ----------------------------------------------------------------------

  /** Read-your-writes: wait (bounded) until this node's image includes raft index `index`. */
  private async whenAppliedWithin(index: number, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await Promise.race([this.requireRaft().whenApplied(index), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private requireRaft(): RaftNode {
    if (this.raft === undefined) throw new RunnelError('BROKER_NOT_AVAILABLE', 'node is starting');
    return this.raft;
  }

  private localQuorumStatus(): QuorumStatus {
    const st = this.requireRaft().status();
    const tickMs = this.config.raft.tickMs;
    return {
      leaderId: st.leaderId === NONE ? null : st.leaderId,
      term: st.term,
      commitIndex: st.commit,
      voters: this.config.nodes.map((n) => {
        const pr = st.progress?.get(n.id);
        return { nodeId: n.id, matchIndex: pr?.match ?? null, lastContactMs: pr === undefined ? null : pr.ticksSinceContact * tickMs };
      }),
    };
  }

  private receiveRaft(payload: unknown, from: number): void {
    const m = payload as Message | null;
    // The rpc layer authenticated the peer; refuse a message that claims to be someone else.
    if (typeof m !== 'object' || m === null || typeof m.type !== 'string' || m.from !== from || m.to !== this.nodeId) {
      this.log.warn({ from }, 'dropping malformed raft message');
      return;
    }
    this.raft?.receive(m);
  }

  private onRaftRole(leader: boolean): void {
    if (this.closed) return;
    if (leader) {
      // The controller acts only on an image that includes every entry before its term.
      const raft = this.requireRaft();
      this.controller.activate(raft.whenApplied(raft.status().lastIndex));
      clearInterval(this.sessionTimer);
      this.sessionTimer = setInterval(() => {
        this.controller.checkSessions().catch((err: unknown) => this.log.warn({ err }, 'session check failed'));
      }, this.config.broker.heartbeatIntervalMs);
      clearInterval(this.rebalanceTimer);
      const every = this.config.broker.leaderRebalanceIntervalMs;
      if (every > 0) {
        this.rebalanceTimer = setInterval(() => {
          this.controller.rebalanceLeaders().catch((err: unknown) => this.log.warn({ err }, 'leader rebalance failed'));
        }, every);
      }
    } else {
      clearInterval(this.sessionTimer);
      clearInterval(this.rebalanceTimer);
      this.sessionTimer = undefined;
      this.rebalanceTimer = undefined;
      this.controller.deactivate();
    }
  }

  /** Broker heartbeat to the active controller; registers first when it does not know us. */
  private async heartbeat(): Promise<void> {
    if (this.heartbeating || this.closed) return;
    this.heartbeating = true;
    try {
      const beat = { method: 'heartbeat', brokerId: this.nodeId, incarnationId: this.incarnationId } as const;
      const r = (await this.callController(beat, this.config.broker.heartbeatIntervalMs * 2)) as { registered: boolean };
      if (!r.registered) {
        await this.callController({
          method: 'register',
          brokerId: this.nodeId,
          incarnationId: this.incarnationId,
          host: this.self.host,
          httpPort: this.self.httpPort,
          rpcPort: this.self.rpcPort,
        });
        this.log.info({ incarnationId: this.incarnationId }, 'registered with the controller');
      }
    } catch (err) {
      this.log.debug({ err }, 'broker heartbeat failed; will retry');
    } finally {
      this.heartbeating = false;
    }
  }
}

/** `p`, or REQUEST_TIMED_OUT once `deadline` (epoch ms) passes. */
async function withDeadline<T>(p: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RunnelError('REQUEST_TIMED_OUT', 'the controller did not answer in time')), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}
