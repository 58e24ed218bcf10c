// `runnel topic create|list|describe|delete|alter-config` over the v3 admin API (API.md).

import type { Command } from 'commander';
import { intArg, keyValueArg } from '../arg-parsers.ts';
import { addGlobalOptions, runWithContext } from '../context.ts';
import type { CliContext } from '../context.ts';
import { renderTable } from '../table.ts';
import { UsageError } from '../usage-error.ts';

export interface TopicConfig {
  readonly name: string;
  readonly value: string | null;
  readonly is_default?: boolean;
}

export interface TopicBody {
  readonly topic_name: string;
  readonly partitions_count: number;
  readonly replication_factor: number;
  readonly is_internal?: boolean;
  readonly configs?: readonly TopicConfig[];
}

export interface PartitionBody {
  readonly partition_id: number;
  readonly leader_id: number | null;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly high_watermark: number | null;
  readonly log_start_offset: number | null;
}

const enc = encodeURIComponent;

export function getTopic(ctx: CliContext, name: string): Promise<TopicBody> {
  return ctx.client.v3(`/topics/${enc(name)}`).then((p) => ctx.client.get<TopicBody>(p));
}

export async function getPartitions(ctx: CliContext, name: string): Promise<PartitionBody[]> {
  return (await ctx.client.get<{ data: PartitionBody[] }>(await ctx.client.v3(`/topics/${enc(name)}/partitions`))).data;
}

export function registerTopicCommands(program: Command): void {
  const topic = program.command('topic').description('create, list, describe, alter and delete topics');

  addGlobalOptions(
    topic
      .command('create <name>')
      .description('create a topic')
      .option('--partitions <n>', 'number of partitions (default: topic_defaults of cluster.yaml)', intArg(1))
      .option('--replication-factor <r>', 'replicas per partition (default: topic_defaults of cluster.yaml)', intArg(1))
      .option('--config <name=value>', 'a topic config, repeatable (min.insync.replicas, retention.ms, retention.bytes, segment.bytes, cleanup.policy, max.message.bytes)', keyValueArg)
      .addHelpText('after', '\nHere --config sets topic configs; to take the brokers from another cluster file, put it first: runnel --config FILE topic create ...'),
    false,
  ).action(async (name: string, o: { partitions?: number; replicationFactor?: number; config?: [string, string][] }, cmd: Command) =>
    runWithContext(
      cmd,
      async (ctx) => {
        const body = {
          topic_name: name,
          ...(o.partitions === undefined ? {} : { partitions_count: o.partitions }),
          ...(o.replicationFactor === undefined ? {} : { replication_factor: o.replicationFactor }),
          configs: (o.config ?? []).map(([k, v]) => ({ name: k, value: v })),
        };
        const t = await ctx.client.request<TopicBody>({ method: 'POST', path: await ctx.client.v3('/topics'), body });
        if (ctx.json) ctx.printJson(t);
        else ctx.print(`created topic ${t.topic_name} (${t.partitions_count} partitions, replication factor ${t.replication_factor})`);
      },
      false,
    ),
  );

  addGlobalOptions(topic.command('list').description('list the topics').option('--internal', 'include internal topics (__consumer_offsets)')).action(
    async (o: { internal?: boolean }, cmd: Command) =>
      runWithContext(cmd, async (ctx) => {
        const path = await ctx.client.v3(`/topics${o.internal === true ? '?include_internal=true' : ''}`);
        const topics = (await ctx.client.get<{ data: TopicBody[] }>(path)).data;
        if (ctx.json) return ctx.printJson(topics);
        if (topics.length === 0) return ctx.note('no topics; create one with `runnel topic create NAME`');
        ctx.print(renderTable(['topic', 'partitions', 'replication'], topics.map((t) => [t.topic_name, t.partitions_count, t.replication_factor])));
      }),
  );

  addGlobalOptions(topic.command('describe <name>').description('partitions (leader, replicas, isr, high watermark, log start) and configs of a topic')).action(
    async (name: string, _o: unknown, cmd: Command) =>
      runWithContext(cmd, async (ctx) => {
        const [t, partitions] = await Promise.all([getTopic(ctx, name), getPartitions(ctx, name)]);
        if (ctx.json) return ctx.printJson({ ...t, partitions });
        ctx.print(`topic ${t.topic_name}: ${t.partitions_count} partitions, replication factor ${t.replication_factor}\n`);
        ctx.print(
          renderTable(
            ['partition', 'leader', 'replicas', 'isr', 'high watermark', 'log start'],
            partitions.map((p) => [p.partition_id, p.leader_id, p.replicas, p.isr, p.high_watermark, p.log_start_offset]),
          ),
        );
        const configs = t.configs ?? [];
        if (configs.length > 0) ctx.print(`\n${renderTable(['config', 'value', 'default'], configs.map((c) => [c.name, c.value, c.is_default]))}`);
      }),
  );

  addGlobalOptions(topic.command('delete <name>').description('delete a topic and its data on every replica')).action(async (name: string, _o: unknown, cmd: Command) =>
    runWithContext(cmd, async (ctx) => {
      await ctx.client.request({ method: 'DELETE', path: await ctx.client.v3(`/topics/${enc(name)}`), idempotent: true });
      if (ctx.json) ctx.printJson({ deleted: name });
      else ctx.print(`deleted topic ${name}`);
    }),
  );

  addGlobalOptions(
    topic
      .command('alter-config <name>')
      .description("set topic configs (PUT .../configs/{name}); a config's value may be empty")
      .option('--config <name=value>', 'a config to set, repeatable', keyValueArg),
    false,
  ).action(async (name: string, o: { config?: [string, string][] }, cmd: Command) =>
    runWithContext(
      cmd,
      async (ctx) => {
        const changes = o.config ?? [];
        if (changes.length === 0) throw new UsageError('topic alter-config: give at least one --config name=value');
        // One PUT per config (the API's shape); the controller validates each, so a bad one stops here with its message.
        for (const [k, v] of changes) {
          await ctx.client.request({ method: 'PUT', path: await ctx.client.v3(`/topics/${enc(name)}/configs/${enc(k)}`), body: { value: v }, idempotent: true });
        }
        if (ctx.json) ctx.printJson({ topic: name, configs: Object.fromEntries(changes) });
        else for (const [k, v] of changes) ctx.print(`set ${k}=${v} on topic ${name}`);
      },
      false,
    ),
  );
}
