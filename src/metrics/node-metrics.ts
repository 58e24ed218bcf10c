import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { NONE } from '../../raft/types.ts';
import { KafkaRequestMetrics } from './kafka-request-metrics.ts';

/**
 * Request latency buckets (seconds): sub-millisecond acks=1 produces up to the default 1 s
 * consume long poll and a little past it. Modest on purpose: every bucket is a series per topic.
 */
const DURATION_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The series of one request kind (produce or fetch), per existing topic. */
export interface RequestSeries {
  readonly requests: Counter<'topic' | 'status'>;
  readonly duration: Histogram<'topic'>;
  readonly records: Counter<'topic'>;
  readonly bytes: Counter<'topic'>;
}

export type IsrChangeKind = 'shrink' | 'expand';

/**
 * The Prometheus registry of one node (one per process): process_* and nodejs_* default
 * metrics plus runnel_*, every sample labelled node_id. Counters here are bumped by HTTP
 * hooks (per request, never per record) and by one-line hooks in the node; the gauges that
 * mirror existing state are read at scrape time (state-gauges.ts). The metric names are
 * documented in the README's metrics reference.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly produce: RequestSeries;
  readonly fetch: RequestSeries;
  /** Per Kafka API: requests, error codes, latency (the Kafka listener's observer). */
  readonly kafka: KafkaRequestMetrics;
  private readonly isrShrinks: Counter;
  private readonly isrExpands: Counter;
  private readonly raftLeaderChanges: Counter;
  /** The raft leader this node last knew (NONE between leaders), as its soft state said. */
  private lastRaftLeader = NONE;

  constructor(readonly nodeId: number) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node_id: String(nodeId) });
    collectDefaultMetrics({ register: this.registry });
    this.produce = {
      requests: new Counter({ name: 'runnel_produce_requests_total', help: 'Produce requests answered by this node, by topic and HTTP status', labelNames: ['topic', 'status'], registers }),
      duration: new Histogram({ name: 'runnel_produce_request_duration_seconds', help: 'Time to answer a produce request, by topic', labelNames: ['topic'], buckets: DURATION_BUCKETS_SECONDS, registers }),
      records: new Counter({ name: 'runnel_produce_records_total', help: 'Records in produce requests answered 2xx, by topic', labelNames: ['topic'], registers }),
      bytes: new Counter({ name: 'runnel_produce_bytes_total', help: 'Bytes in: produce request bodies (Content-Length), by topic', labelNames: ['topic'], registers }),
    };
    this.fetch = {
      requests: new Counter({ name: 'runnel_fetch_requests_total', help: 'Consume (fetch) requests answered by this node, by topic and HTTP status', labelNames: ['topic', 'status'], registers }),
      duration: new Histogram({ name: 'runnel_fetch_request_duration_seconds', help: 'Time to answer a consume request (long polls included), by topic', labelNames: ['topic'], buckets: DURATION_BUCKETS_SECONDS, registers }),
      records: new Counter({ name: 'runnel_fetch_records_total', help: 'Records returned by consume requests, by topic', labelNames: ['topic'], registers }),
      bytes: new Counter({ name: 'runnel_fetch_bytes_total', help: 'Bytes out: consume response bodies, by topic', labelNames: ['topic'], registers }),
    };
    this.kafka = new KafkaRequestMetrics(this.registry);
    this.isrShrinks = new Counter({ name: 'runnel_isr_shrinks_total', help: 'ISR shrinks of partitions this node leads after the change (each change counted once in the cluster)', registers });
    this.isrExpands = new Counter({ name: 'runnel_isr_expands_total', help: 'ISR expansions of partitions this node leads after the change (each change counted once in the cluster)', registers });
    this.raftLeaderChanges = new Counter({ name: 'runnel_raft_leader_changes_total', help: 'Times this node saw a new metadata quorum (raft) leader', registers });
    // Present from the first scrape, before the first change.
    this.isrShrinks.inc(0);
    this.isrExpands.inc(0);
    this.raftLeaderChanges.inc(0);
  }

  /** One ISR change of a partition this node leads (IsrChangeCounter). */
  countIsrChange(kind: IsrChangeKind): void {
    (kind === 'shrink' ? this.isrShrinks : this.isrExpands).inc();
  }

  /**
   * The raft soft state changed (role or leader). As etcd's leader_changes_seen_total: count
   * when a leader is known and differs from the one before (which may be none, so a leader
   * re-elected after an election gap counts again).
   */
  noteRaftLeader(leaderId: number): void {
    if (leaderId !== NONE && leaderId !== this.lastRaftLeader) this.raftLeaderChanges.inc();
    this.lastRaftLeader = leaderId;
  }

  /** The Prometheus text exposition format 0.0.4 of every metric. */
  async scrape(): Promise<string> {
    // prom-client 15 writes NaN as "Nan" (e.g. nodejs_eventloop_lag_mean_seconds before the
    // loop-delay histogram has a sample); Prometheus' ParseFloat takes it, strict parsers do
    // not. Values end their line, and label values cannot hold a raw newline.
    return (await this.registry.metrics()).replaceAll(' Nan\n', ' NaN\n');
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
