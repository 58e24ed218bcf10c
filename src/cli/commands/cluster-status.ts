// `runnel cluster status`: every node's health, broker state and Raft view, the controller,
// and the partitions that are under-replicated (isr shorter than replicas) or offline (no leader).

import type { Command } from 'commander';
import { addGlobalOptions, runWithContext } from '../context.ts';
import { networkCode } from '../http-client.ts';
import type { CliContext } from '../context.ts';
import { renderTable } from '../table.ts';
import { getPartitions } from './topic.ts';
import type { TopicBody } from './topic.ts';

interface Broker {
  readonly broker_id: number;
  readonly host: string;
  readonly port: number;
  /** The Kafka listener's port from the broker's registration; null or absent: none. */
  readonly kafka_port?: number | null;
  readonly status: 'active' | 'fenced';
}

interface Raft {
  readonly leader_id: number | null;
  readonly term: number;
  readonly commit_index: number;
}

export interface NodeStatus {
  readonly id: number | null;
  readonly url: string;
  /** host:port Kafka clients bootstrap with, as the node registered it; null when it has no Kafka listener (or never registered). */
  readonly kafka: string | null;
  readonly healthy: boolean;
  /** active | fenced as the metadata has it; null when the node never registered. */
  readonly broker_status: 'active' | 'fenced' | null;
  readonly raft: { readonly term: number; readonly commit_index: number; readonly leader_id: number | null } | null;
  /** Why the node did not answer, when it did not. */
  readonly error: string | null;
}

export interface PartitionProblem {
  readonly topic: string;
  readonly partition: number;
  readonly leader: number | null;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

export interface ClusterStatus {
  readonly cluster_id: string;
  readonly controller_id: number | null;
  readonly nodes: NodeStatus[];
  readonly under_replicated_partitions: PartitionProblem[];
  readonly offline_partitions: PartitionProblem[];
}

const NODE_TIMEOUT_MS = 3000;

async function nodeStatus(ctx: CliContext, cid: string, url: string, broker: Broker | undefined): Promise<NodeStatus> {
  const kafka = broker?.kafka_port === undefined || broker.kafka_port === null ? null : `${broker.host}:${broker.kafka_port}`;
  try {
    const health = await ctx.client.at<{ node_id?: number }>(url, '/healthz', NODE_TIMEOUT_MS);
    const raft = await ctx.client.at<Raft>(url, `/v3/clusters/${encodeURIComponent(cid)}/raft`, NODE_TIMEOUT_MS).catch(() => undefined);
    const r = raft?.status === 200 ? raft.body : undefined;
    return {
      id: broker?.broker_id ?? health.body?.node_id ?? null,
      url,
      kafka,
      healthy: health.status === 200,
      broker_status: broker?.status ?? null,
      raft: r === undefined ? null : { term: r.term, commit_index: r.commit_index, leader_id: r.leader_id },
      error: health.status === 200 ? null : `healthz answered ${health.status}`,
    };
  } catch (err) {
    const why = err instanceof Error ? (networkCode(err) ?? err.message) : String(err);
    return { id: broker?.broker_id ?? null, url, kafka, healthy: false, broker_status: broker?.status ?? null, raft: null, error: why };
  }
}

export async function clusterStatus(ctx: CliContext): Promise<ClusterStatus> {
  const cluster = await ctx.client.cluster();
  const cid = cluster.cluster_id;
  const brokers = (await ctx.client.get<{ data: Broker[] }>(await ctx.client.v3('/brokers'))).data;
  // The nodes the metadata knows, plus any --brokers URL that is none of them (a node that never joined).
  const targets = new Map<string, Broker | undefined>(brokers.map((b) => [`http://${b.host}:${b.port}`, b]));
  for (const url of ctx.client.urls) if (!targets.has(url)) targets.set(url, undefined);
  const nodes = await Promise.all([...targets].map(([url, b]) => nodeStatus(ctx, cid, url, b)));
  // A node answering on a --brokers URL that differs in spelling from its broker entry: keep one row per id.
  const byId = new Map<string, NodeStatus>();
  for (const n of nodes) {
    const k = n.id === null ? n.url : String(n.id);
    const seen = byId.get(k);
    if (seen === undefined || (!seen.healthy && n.healthy)) byId.set(k, n);
  }
  const topics = (await ctx.client.get<{ data: TopicBody[] }>(await ctx.client.v3('/topics?include_internal=true'))).data;
  const under: PartitionProblem[] = [];
  const offline: PartitionProblem[] = [];
  const lists = await Promise.all(topics.map(async (t) => ({ t, partitions: await getPartitions(ctx, t.topic_name) })));
  for (const { t, partitions } of lists) {
    for (const p of partitions) {
      const row = { topic: t.topic_name, partition: p.partition_id, leader: p.leader_id, replicas: p.replicas, isr: p.isr };
      if (p.leader_id === null) offline.push(row);
      if (p.isr.length < p.replicas.length) under.push(row);
    }
  }
  const sorted = [...byId.values()].sort((a, b) => (a.id ?? Infinity) - (b.id ?? Infinity) || a.url.localeCompare(b.url));
  return { cluster_id: cid, controller_id: cluster.controller_id, nodes: sorted, under_replicated_partitions: under, offline_partitions: offline };
}

function problems(title: string, list: readonly PartitionProblem[]): string {
  if (list.length === 0) return `${title}: none\n`;
  return `${title}: ${list.length}\n${renderTable(['topic', 'partition', 'leader', 'replicas', 'isr'], list.map((p) => [p.topic, p.partition, p.leader, p.replicas, p.isr]))}`;
}

export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('the state of the cluster');
  addGlobalOptions(cluster.command('status').description("nodes (Kafka address, health, broker status, Raft term and commit index), the controller, under-replicated and offline partitions")).action(
    async (_o: unknown, cmd: Command) =>
      runWithContext(cmd, async (ctx) => {
        const s = await clusterStatus(ctx);
        if (ctx.json) return ctx.printJson(s);
        ctx.print(`cluster ${s.cluster_id}, controller ${s.controller_id ?? 'none (no Raft leader: is a majority of nodes up?)'}\n`);
        // The error column only when some node has one.
        const errors = s.nodes.some((n) => n.error !== null);
        const headers = ['node', 'url', 'kafka', 'healthy', 'broker', 'raft term', 'commit index', 'raft leader', ...(errors ? ['error'] : [])];
        ctx.print(renderTable(headers, s.nodes.map((n) => [n.id, n.url, n.kafka, n.healthy, n.broker_status, n.raft?.term, n.raft?.commit_index, n.raft?.leader_id, ...(errors ? [n.error] : [])])));
        ctx.print(`\n${problems('under-replicated partitions', s.under_replicated_partitions)}${problems('offline partitions', s.offline_partitions)}`);
      }),
  );
}
