import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { NotLeaderError, ProposalDroppedError, ProposalOutcomeUnknownError, RaftNode } from '../../raft/node.ts';
import { NONE } from '../../raft/types.ts';
import type { Message } from '../../raft/types.ts';
import { MetadataStore } from '../../storage/metadata-store.ts';
import { PartitionLog } from '../../storage/partition-log/partition-log.ts';
import { openRaftStore } from '../../storage/raft-store.ts';
import type { LevelRaftStore } from '../../storage/raft-store.ts';
import { BrokerLifecycle } from '../broker/broker-lifecycle.ts';
import { ByteBudget } from '../broker/byte-budget.ts';
import { FETCH_RPC } from '../broker/fetch-rpc.ts';
import { PartitionClient } from '../broker/partition-client.ts';
import { ProducerIdAllocator } from '../broker/producer-ids.ts';
import { ReplicaManager } from '../broker/replica-manager.ts';
import type { ClusterConfig, NodeConfig } from '../config/load-config.ts';
import { findNode } from '../config/load-config.ts';
import { RunnelError } from '../errors.ts';
import { GroupAdmin } from '../groups/group-admin.ts';
import { GroupClient } from '../groups/group-client.ts';
import { GROUP_MAX_SIZE, GroupCoordinator } from '../groups/group-coordinator.ts';
import { buildHttpApp } from '../http/app.ts';
import { kafkaApiTable } from '../kafka/kafka-apis.ts';
import { KafkaListener } from '../kafka/kafka-listener.ts';
import { testAlterPartitionDelayMs, testGroupLoadDelayMs, testProduceAnswerDelayMs } from '../test-hooks.ts';
import { ConsumerRegistry } from '../http/consumers/consumer-registry.ts';
import type { Logger } from '../logger.ts';
import { componentLogger } from '../logger.ts';
import { Controller } from '../metadata/controller.ts';
import { ControllerClient } from '../metadata/controller-client.ts';
import type { MetadataImage } from '../metadata/image.ts';
import { MetadataMachine } from '../metadata/metadata-machine.ts';
import { MetadataView } from '../metadata/metadata-view.ts';
import { QuorumView } from '../metadata/quorum-status.ts';
import { encodeRecords } from '../metadata/records.ts';
import { topicConfigDefaults, topicConfigValue } from '../metadata/topic-configs.ts';
import { IsrChangeCounter } from '../metrics/isr-change-counter.ts';
import { NodeMetrics } from '../metrics/node-metrics.ts';
import { registerStateGauges } from '../metrics/state-gauges.ts';
import { peerCaller } from '../rpc/rpc-method.ts';
import { RpcNode, rpcNodeOptions } from '../rpc/rpc-node.ts';
import { openUnlocked } from './data-dir-lock.ts';
import { registerRpcRoutes } from './rpc-routes.ts';

/** In-flight HTTP requests get this long to finish when the node stops. */
const HTTP_DRAIN_GRACE_MS = 1000;
/** Exit status when raft storage or the state machine fails: EX_SOFTWARE (sysexits.h), so a supervisor restarts the node. */
const EXIT_RAFT_FATAL = 70;

/**
 * One runnel process, as a composition root (Kafka's BrokerServer, etcd's etcdserver): a voter
 * of the metadata quorum (raft on LevelDB, the metadata image, the controller while it leads),
 * a broker (replicas, partition and group clients, its lifecycle with the controller), and the
 * front doors (HTTP and Kafka) handed the services they use. start() builds and starts the parts
 * bottom-up; close() takes them down top-down and awaits each. It does nothing else.
 */
export class RunnelNode {
  readonly incarnationId = randomUUID();
  readonly self: NodeConfig;
  private readonly log: Logger;
  private readonly metrics: NodeMetrics;
  private readonly rpc: RpcNode;
  private readonly topicDefaults: Readonly<Record<string, string>>;
  private raftStore: LevelRaftStore | undefined;
  private metaStore: MetadataStore | undefined;
  private machine: MetadataMachine | undefined;
  private raft: RaftNode | undefined;
  private readonly controller: Controller;
  private http: FastifyInstance | undefined;
  private kafka: KafkaListener | undefined;
  private replicaManager: ReplicaManager | undefined;
  private groupCoordinator: GroupCoordinator | undefined;
  private consumerRegistry: ConsumerRegistry | undefined;
  private lifecycle: BrokerLifecycle | undefined;
  private producerIds: ProducerIdAllocator | undefined;
  private closed = false;

  constructor(
    readonly config: ClusterConfig,
    readonly nodeId: number,
    private readonly root: Logger,
  ) {
    this.self = findNode(config, nodeId);
    this.topicDefaults = topicConfigDefaults(config);
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
      topicConfig: (t, name) => topicConfigValue(t, name, this.topicDefaults),
      topicDefaults: {
        partitions: config.topicDefaults.partitions,
        replicationFactor: config.topicDefaults.replicationFactor,
        minInsyncReplicas: config.topicDefaults.minInsyncReplicas,
      },
      duties: { sessionCheckIntervalMs: config.broker.heartbeatIntervalMs, leaderRebalanceIntervalMs: config.broker.leaderRebalanceIntervalMs },
      logger: componentLogger(root, 'controller'),
    });
  }

  async start(): Promise<void> {
    const { config, nodeId, root, rpc } = this;
    const voters = config.nodes.map((n) => n.id);
    const peers = peerCaller(rpc);
    const image = (): MetadataImage => this.image();

    // Metadata: raft log and image on LevelDB, then the raft node that drives them.
    const lock = { nodeId, dataDir: this.self.dataDir, waitMs: config.process.dataDirLockWaitMs, log: this.log };
    this.raftStore = await openUnlocked(lock, () => openRaftStore({ dir: join(this.self.dataDir, 'raft'), voters }));
    this.metaStore = await openUnlocked(lock, () => MetadataStore.open(join(this.self.dataDir, 'metadata')));
    const machine = (this.machine = new MetadataMachine(this.metaStore));
    const applied = await machine.open();
    const isrChanges = new IsrChangeCounter(nodeId, machine.image(), (kind) => this.metrics.countIsrChange(kind));
    machine.onChange((img, records) => isrChanges.onMetadata(img, records));
    const raft = (this.raft = new RaftNode({
      id: nodeId,
      voters,
      storage: this.raftStore,
      transport: { send: (m: Message) => rpc.send(m.to, 'raft', m) },
      stateMachine: machine,
      tickMs: config.raft.tickMs,
      electionTicks: config.raft.electionTicks,
      heartbeatTicks: config.raft.heartbeatTicks,
      snapshotEntries: config.raft.snapshotEntries,
      applied,
      logger: componentLogger(root, 'raft'),
      onSoftState: (soft) => {
        this.metrics.noteRaftLeader(soft.leaderId);
        this.onRaftRole(soft.role === 'leader');
      },
      onFatal: (err) => {
        this.log.fatal({ err }, 'raft storage or state machine failed; exiting');
        process.exit(EXIT_RAFT_FATAL);
      },
    }));
    const quorum = new QuorumView({ nodeId, incarnationId: this.incarnationId, voters, tickMs: config.raft.tickMs, raft, image: () => machine.image(), peers, logger: this.log });
    const metadata = new MetadataView({ nodeId, image, raft, quorum, peers, topicDefaults: this.topicDefaults, logger: this.log });
    const controllerClient = new ControllerClient({ nodeId, raft, controller: this.controller, peers, requestTimeoutMs: config.rpc.requestTimeoutMs, closed: () => this.closed });
    // Idempotent producers' ids, from blocks the controller records in the metadata log.
    const producerIds = (this.producerIds = new ProducerIdAllocator({
      brokerId: nodeId,
      incarnationId: this.incarnationId,
      allocate: (brokerId, incarnationId, timeoutMs) => controllerClient.allocateProducerIds(brokerId, incarnationId, timeoutMs),
      requestTimeoutMs: config.rpc.requestTimeoutMs,
      logger: componentLogger(root, 'producer-ids'),
    }));

    // Broker: replicas of the partitions this node holds, and the way to any partition's leader.
    const replicaLog = componentLogger(root, 'replica');
    const rm = (this.replicaManager = new ReplicaManager({
      brokerId: nodeId,
      dataDir: this.self.dataDir,
      openLog: (o) => PartitionLog.open({ ...o, logger: replicaLog }),
      fetchRpc: (leader, req, timeoutMs) => peers.call(leader, FETCH_RPC, req, timeoutMs),
      alterIsr: (req) => controllerClient.alterPartition(req),
      topicConfig: (t, name) => metadata.topicConfig(t, name),
      replicaLagTimeMaxMs: config.broker.replicaLagTimeMaxMs,
      retentionCheckIntervalMs: config.log.retentionCheckIntervalMs,
      requestTimeoutMs: config.rpc.requestTimeoutMs,
      flush: config.log.flush,
      logger: replicaLog,
      alterIsrDelayMs: testAlterPartitionDelayMs(),
      produceAnswerDelayMs: testProduceAnswerDelayMs(),
    }));
    const partitions = new PartitionClient(nodeId, image, rm, peers);

    // Groups: the coordinator of the groups whose offsets partitions this node leads, and the way to any group's coordinator.
    const groupLog = componentLogger(root, 'groups');
    const coordinator = (this.groupCoordinator = new GroupCoordinator({ brokerId: nodeId, image, replicas: rm, partitions,
      classic: { minSessionTimeoutMs: config.groups.minSessionTimeoutMs, maxSessionTimeoutMs: config.groups.maxSessionTimeoutMs, initialRebalanceDelayMs: config.groups.initialRebalanceDelayMs, maxSize: GROUP_MAX_SIZE },
      loadDelayMs: testGroupLoadDelayMs(),
      logger: groupLog,
    }));
    registerStateGauges(
      this.metrics.registry,
      {
        nodeId,
        image,
        raftStatus: () => raft.status(),
        localReplica: (topicId, partition) => rm.replica(topicId, partition),
        coordinatedGroups: () => coordinator.coordinatedGroups(),
        remoteHighWatermark: async (topicId, partition, timeoutMs) => (await partitions.offsets(topicId, partition, timeoutMs)).highWatermark,
      },
      componentLogger(root, 'metrics'),
    );
    const groups = new GroupClient({ brokerId: nodeId, image, coordinator, peers, controller: controllerClient, offsetsTopicPartitions: config.groups.offsetsTopicPartitions, logger: groupLog });
    const consumers = (this.consumerRegistry = new ConsumerRegistry({
      nodeId,
      baseUrl: `http://${this.self.host}:${this.self.httpPort}`,
      groups,
      partitions,
      image,
      sessionTimeoutMs: config.groups.sessionTimeoutMs,
      minSessionTimeoutMs: config.groups.minSessionTimeoutMs,
      maxSessionTimeoutMs: config.groups.maxSessionTimeoutMs,
      host: this.self.host,
      peers,
      requestTimeoutMs: config.rpc.requestTimeoutMs,
      logger: groupLog,
    }));
    coordinator.start();
    consumers.start();
    machine.onChange((img) => rm.onImage(img));
    rm.onImage(machine.image());
    rm.start();

    registerRpcRoutes(rpc, { nodeId, raft, controller: this.controller, quorum, metadata, replicas: rm, partitions, coordinator, consumers, logger: this.log });
    await rpc.start();
    await raft.start();
    // One produce budget per node, shared by both front doors.
    const produceBudget = new ByteBudget(config.broker.produceInflightBytesMax);
    this.http = buildHttpApp({
      services: {
        cluster: { clusterId: config.clusterId, nodeId },
        metadata,
        admin: controllerClient,
        quorum,
        produce: partitions,
        produceBudget,
        fetch: partitions,
        groups: new GroupAdmin({ groups, partitions, image, nodeIds: voters }),
        consumers,
        metrics: this.metrics,
        testHooks: { cutLinks: (cut) => this.cutLinks(cut), localReplica: (topicId, partition) => rm.replica(topicId, partition) },
      },
      logger: componentLogger(root, 'http'),
    });
    await this.http.listen({ host: this.self.host, port: this.self.httpPort });
    // The Kafka front door: the same services as HTTP, over the Kafka wire protocol.
    if (this.self.kafkaPort !== undefined) {
      const kafkaAddresses = new Map(config.nodes.flatMap((n) => (n.kafkaPort === undefined ? [] : [[n.id, { host: n.host, port: n.kafkaPort }] as const])));
      this.kafka = new KafkaListener({
        host: this.self.host,
        port: this.self.kafkaPort,
        apis: kafkaApiTable({
          clusterId: config.clusterId,
          nodeId,
          metadata,
          quorum,
          produce: partitions,
          produceBudget,
          fetch: partitions,
          // As the broker registered itself (a node joining later is in no other node's file);
          // cluster.yaml for a registration written before registrations carried the port.
          kafkaAddress: (id) => {
            const b = metadata.image().broker(id);
            return b?.kafkaPort === undefined ? kafkaAddresses.get(id) : { host: b.host, port: b.kafkaPort };
          },
          admin: controllerClient,
          topicDefaults: config.topicDefaults,
          producerIds,
          topicConfigDefaults: this.topicDefaults,
          autoCreateTopicsEnable: config.topicDefaults.autoCreate === 'true',
          groups,
          classicGroups: groups,
        }),
        logger: componentLogger(root, 'kafka'),
        observer: this.metrics.kafka,
      });
      await this.kafka.start();
    }
    this.lifecycle = new BrokerLifecycle({
      nodeId,
      incarnationId: this.incarnationId,
      self: this.self,
      heartbeatIntervalMs: config.broker.heartbeatIntervalMs,
      controlledShutdownTimeoutMs: config.broker.controlledShutdownTimeoutMs,
      controlledShutdownNoControllerMs: config.broker.controlledShutdownNoControllerMs,
      controllerReachable: () => {
        const leader = raft.status().leaderId;
        return leader !== NONE && (leader === nodeId || rpc.isConnected(leader));
      },
      controller: controllerClient,
      image,
      logger: componentLogger(root, 'broker'),
    });
    this.lifecycle.start();
    this.log.info({ httpPort: this.self.httpPort, rpcPort: this.self.rpcPort, kafkaPort: this.self.kafkaPort, incarnationId: this.incarnationId }, 'node started');
  }

  /**
   * Kafka's controlled shutdown, for SIGTERM (BrokerLifecycle.controlledShutdown: leaderships
   * move to other in-sync replicas first); then close() drains HTTP and stops everything.
   */
  async shutdown(): Promise<void> {
    await this.lifecycle?.controlledShutdown();
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lifecycle?.stop();
    this.controller.deactivate();
    await this.kafka?.close();
    await this.producerIds?.close();
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

  private image(): MetadataImage {
    if (this.machine === undefined) throw new RunnelError('BROKER_NOT_AVAILABLE', 'node is starting');
    return this.machine.image();
  }

  private requireRaft(): RaftNode {
    if (this.raft === undefined) throw new RunnelError('BROKER_NOT_AVAILABLE', 'node is starting');
    return this.raft;
  }

  /** FOR FAULT TESTS ONLY: drop all rpc traffic with these peers (empty list heals). */
  private cutLinks(peers: readonly number[]): void {
    const cut = new Set(peers);
    this.rpc.setLinkFilter(cut.size === 0 ? undefined : (from, to) => !cut.has(from) && !cut.has(to));
    this.log.warn({ cut: [...cut] }, 'test hook: rpc links cut');
  }

  /** The controller acts, and runs its periodic duties, only while this node leads the quorum. */
  private onRaftRole(leader: boolean): void {
    if (this.closed) return;
    if (leader) {
      // The controller acts only on an image that includes every entry before its term.
      const raft = this.requireRaft();
      this.controller.activate(raft.whenApplied(raft.status().lastIndex));
    } else {
      this.controller.deactivate();
    }
  }
}
