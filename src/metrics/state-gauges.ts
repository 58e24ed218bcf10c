import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { RaftStatus } from '../../raft/types.ts';
import type { Logger } from '../logger.ts';
import type { MetadataImage, PartitionState, TopicState } from '../metadata/image.ts';

/** What the gauges read of a local partition replica (PartitionReplica). */
export interface ReplicaView {
  readonly role: 'leader' | 'follower';
  readonly log: { readonly highWatermark: number; readonly logEndOffset: number };
  /** Leader only: the follower's log end offset as its last fetch told us; undefined before it fetched. */
  followerLogEndOffset(brokerId: number): number | undefined;
}

/** One consumer group as its coordinator holds it. */
export interface GroupView {
  readonly group: string;
  readonly members: number;
  /** "topic:partition" -> committed offset (the next offset to read). */
  readonly offsets: ReadonlyMap<string, { readonly offset: number }>;
}

/**
 * The node state the scrape-time gauges read (RunnelNode). Reading must be cheap and
 * synchronous, except remoteHighWatermark, used only for a committed partition this node
 * holds no replica of.
 */
export interface MetricsSource {
  readonly nodeId: number;
  image(): MetadataImage;
  /** Throws while the node is starting. */
  raftStatus(): RaftStatus;
  localReplica(topicId: string, partition: number): ReplicaView | undefined;
  /** The groups this node coordinates. */
  coordinatedGroups(): readonly GroupView[];
  remoteHighWatermark(topicId: string, partition: number, timeoutMs: number): Promise<number>;
}

/** Bound on the wait for a remote leader's high watermark during a scrape. */
const REMOTE_HW_TIMEOUT_MS = 500;

/**
 * Gauges that mirror state the node already keeps, computed in prom-client collect()
 * callbacks when /metrics is scraped: nothing on the produce or fetch path. Each is O(number
 * of partitions) per scrape (one pass over the metadata image).
 */
export function registerStateGauges(registry: Registry, source: MetricsSource, logger: Logger): void {
  const registers = [registry];
  const self = source.nodeId;
  /** A collect() that fails leaves its gauge empty for this scrape instead of failing the scrape. */
  const guarded = (name: string, fill: () => void | Promise<void>) => async (): Promise<void> => {
    try {
      await fill();
    } catch (err) {
      logger.debug({ err, metric: name }, 'metric not collected');
    }
  };
  const ledHere = function* (): Generator<{ t: TopicState; p: PartitionState; r: ReplicaView }> {
    for (const t of source.image().allTopics()) {
      for (const p of t.partitions) {
        if (p.leader !== self) continue;
        const r = source.localReplica(t.id, p.partition);
        if (r?.role === 'leader') yield { t, p, r };
      }
    }
  };

  /** A count of the partitions in this node's image that `counts`. */
  const partitionCount = (name: string, help: string, counts: (p: PartitionState) => boolean): void => {
    const g: Gauge = new Gauge({
      name,
      help,
      registers,
      collect: guarded(name, () => {
        let n = 0;
        for (const t of source.image().allTopics()) for (const p of t.partitions) if (counts(p)) n++;
        g.set(n);
      }),
    });
  };
  partitionCount(
    'runnel_partitions_under_replicated',
    'Partitions this node leads (in its metadata image) whose ISR is smaller than their replica set; sum over nodes for the cluster',
    (p) => p.leader === self && p.isr.length < p.replicas.length,
  );
  partitionCount('runnel_partitions_offline', "Partitions in the cluster with no leader, as this node's metadata image has them (every node reports the cluster-wide count)", (p) => p.leader < 0);

  /** One series per partition this node leads, read from its replica. */
  const ledGauge = (name: string, help: string, read: (r: ReplicaView) => number): void => {
    const g: Gauge<'topic' | 'partition'> = new Gauge({
      name,
      help,
      labelNames: ['topic', 'partition'],
      registers,
      collect: guarded(name, () => {
        g.reset();
        for (const { t, p, r } of ledHere()) g.set({ topic: t.name, partition: String(p.partition) }, read(r));
      }),
    });
  };
  ledGauge('runnel_partition_high_watermark', 'High watermark of each partition this node leads', (r) => r.log.highWatermark);
  ledGauge('runnel_partition_log_end_offset', 'Log end offset of each partition this node leads', (r) => r.log.logEndOffset);

  const lag: Gauge<'topic' | 'partition' | 'follower'> = new Gauge({
    name: 'runnel_replica_lag_records',
    help: 'Per follower of each partition this node leads: leader log end offset minus the follower\'s, as its last fetch told the leader (absent until it fetched from this leader)',
    labelNames: ['topic', 'partition', 'follower'],
    registers,
    collect: guarded('runnel_replica_lag_records', () => {
      lag.reset();
      for (const { t, p, r } of ledHere()) {
        for (const f of p.replicas) {
          const at = f === self ? undefined : r.followerLogEndOffset(f);
          if (at !== undefined) lag.set({ topic: t.name, partition: String(p.partition), follower: String(f) }, Math.max(0, r.log.logEndOffset - at));
        }
      }
    }),
  });

  const raftGauge = (name: string, help: string, read: (st: RaftStatus) => number): void => {
    const g: Gauge = new Gauge({ name, help, registers, collect: guarded(name, () => g.set(read(source.raftStatus()))) });
  };
  raftGauge('runnel_raft_term', 'Current term of this node in the metadata quorum', (st) => st.term);
  raftGauge('runnel_raft_commit_index', 'Highest raft log index this node knows committed', (st) => st.commit);
  raftGauge('runnel_raft_applied_index', 'Highest raft log index applied to this node\'s metadata image', (st) => st.applied);
  raftGauge('runnel_raft_is_leader', '1 if this node is the raft leader (the active controller), else 0', (st) => (st.role === 'leader' ? 1 : 0));

  const members: Gauge<'group'> = new Gauge({
    name: 'runnel_consumer_group_members',
    help: 'Members of each consumer group this node coordinates',
    labelNames: ['group'],
    registers,
    collect: guarded('runnel_consumer_group_members', () => {
      members.reset();
      for (const g of source.coordinatedGroups()) members.set({ group: g.group }, g.members);
    }),
  });
  const groupLag: Gauge<'group' | 'topic' | 'partition'> = new Gauge({
    name: 'runnel_consumer_group_lag',
    help: 'Per committed partition of each consumer group this node coordinates: high watermark minus committed offset',
    labelNames: ['group', 'topic', 'partition'],
    registers,
    collect: guarded('runnel_consumer_group_lag', async () => {
      const image = source.image();
      type Labels = { group: string; topic: string; partition: string };
      const local: [Labels, number][] = [];
      // Partitions without a replica here: one request to the leader per partition, however
      // many groups committed on it; their samples wait for the answers.
      const remote = new Map<string, { hw: Promise<number | undefined>; samples: [Labels, number][] }>();
      for (const g of source.coordinatedGroups()) {
        for (const [k, { offset }] of g.offsets) {
          const at = k.lastIndexOf(':');
          const topic = k.slice(0, at);
          const partition = Number(k.slice(at + 1));
          const t = image.topic(topic);
          if (t === undefined || t.partitions[partition] === undefined || offset < 0) continue;
          const labels = { group: g.group, topic, partition: String(partition) };
          // The local replica's high watermark: exact on the leader, as of its last fetch on a follower.
          const r = source.localReplica(t.id, partition);
          if (r !== undefined) {
            local.push([labels, Math.max(0, r.log.highWatermark - offset)]);
            continue;
          }
          let q = remote.get(k);
          if (q === undefined) {
            q = { hw: source.remoteHighWatermark(t.id, partition, REMOTE_HW_TIMEOUT_MS).catch(() => undefined), samples: [] };
            remote.set(k, q);
          }
          q.samples.push([labels, offset]);
        }
      }
      const answered = await Promise.all([...remote.values()].map(async (q) => ({ hw: await q.hw, samples: q.samples })));
      groupLag.reset();
      for (const [labels, lag] of local) groupLag.set(labels, lag);
      for (const { hw: end, samples } of answered) {
        if (end === undefined) continue;
        for (const [labels, offset] of samples) groupLag.set(labels, Math.max(0, end - offset));
      }
    }),
  });
}
