// `runnel group list|describe|reset-offsets` over the v3 consumer-group views and the
// offsets reset route (POST /v3/clusters/{cid}/consumer-groups/{g}/offsets).

import type { Command } from 'commander';
import { intArg } from '../arg-parsers.ts';
import { addGlobalOptions, runWithContext } from '../context.ts';
import type { CliContext } from '../context.ts';
import { renderTable } from '../table.ts';
import { UsageError } from '../usage-error.ts';
import { partitionOffsets } from './consume-partitions.ts';
import { getTopic } from './topic.ts';

export interface GroupView {
  readonly consumer_group_id: string;
  readonly state: string;
  readonly generation?: number;
  readonly partition_assignor?: string | null;
  readonly coordinator_id?: number | null;
  readonly members: readonly { consumer_id: string; client_id?: string; host?: string; assignments: readonly { topic: string; partition: number }[] }[];
  readonly partitions: readonly {
    topic: string;
    partition: number;
    consumer_id: string | null;
    committed_offset: number | null;
    end_offset: number | null;
    lag: number | null;
  }[];
}

const enc = encodeURIComponent;

export async function describeGroup(ctx: CliContext, group: string): Promise<GroupView> {
  return ctx.client.get<GroupView>(await ctx.client.v3(`/consumer-groups/${enc(group)}`));
}

const totalLag = (g: GroupView): number | null => (g.partitions.some((p) => p.lag !== null) ? g.partitions.reduce((n, p) => n + (p.lag ?? 0), 0) : null);

function printGroup(ctx: CliContext, g: GroupView): void {
  ctx.print(`group ${g.consumer_group_id}: ${g.state}, generation ${g.generation ?? '-'}, assignor ${g.partition_assignor ?? '-'}, coordinator ${g.coordinator_id ?? '-'}\n`);
  if (g.members.length === 0) ctx.print('no active members\n');
  else ctx.print(`${renderTable(['member', 'client', 'host', 'partitions'], g.members.map((m) => [m.consumer_id, m.client_id, m.host, m.assignments.map((a) => `${a.topic}-${a.partition}`)]))}\n`);
  if (g.partitions.length === 0) ctx.print('no committed offsets');
  else ctx.print(renderTable(['topic', 'partition', 'member', 'committed', 'end', 'lag'], g.partitions.map((p) => [p.topic, p.partition, p.consumer_id, p.committed_offset, p.end_offset, p.lag])));
}

interface ResetOptions {
  readonly topic: string;
  readonly toEarliest?: boolean;
  readonly toLatest?: boolean;
  readonly toOffset?: number;
  readonly dryRun?: boolean;
}

export interface ResetPlanEntry {
  readonly topic: string;
  readonly partition: number;
  readonly previous: number | null;
  readonly offset: number;
}

async function resetOffsets(ctx: CliContext, group: string, o: ResetOptions): Promise<number> {
  const targets = [o.toEarliest === true, o.toLatest === true, o.toOffset !== undefined].filter(Boolean).length;
  if (targets !== 1) throw new UsageError('group reset-offsets: give exactly one of --to-earliest, --to-latest, --to-offset N');
  const [g, t] = await Promise.all([describeGroup(ctx, group), getTopic(ctx, o.topic)]);
  if (g.members.length > 0) {
    const who = g.members.map((m) => m.consumer_id).join(', ');
    throw new Error(`group ${group} has ${g.members.length} active member(s) (${who}); offsets can only be reset while the group is inactive (as in Kafka): stop its consumers, or wait for their session timeout, then retry`);
  }
  const bounds = await Promise.all(Array.from({ length: t.partitions_count }, (_, p) => partitionOffsets(ctx, o.topic, p)));
  const plan: ResetPlanEntry[] = bounds.map((b, partition) => {
    let offset = o.toEarliest === true ? b.beginning_offset : o.toLatest === true ? b.end_offset : (o.toOffset ?? 0);
    if (offset < b.beginning_offset || offset > b.end_offset) {
      // Kafka's tool does the same: an offset outside the log is moved to its nearest end.
      const clamped = Math.min(Math.max(offset, b.beginning_offset), b.end_offset);
      ctx.note(`partition ${partition}: offset ${offset} is outside ${b.beginning_offset}-${b.end_offset}; using ${clamped}`);
      offset = clamped;
    }
    const previous = g.partitions.find((p) => p.topic === o.topic && p.partition === partition)?.committed_offset ?? null;
    return { topic: o.topic, partition, previous, offset };
  });
  if (o.dryRun !== true) {
    await ctx.client.request({
      method: 'POST',
      path: await ctx.client.v3(`/consumer-groups/${enc(group)}/offsets`),
      body: { offsets: plan.map(({ topic, partition, offset }) => ({ topic, partition, offset })) },
      idempotent: true,
    });
  }
  if (ctx.json) ctx.printJson({ group, dry_run: o.dryRun === true, offsets: plan });
  else {
    ctx.print(renderTable(['topic', 'partition', 'previous', 'new offset'], plan.map((e) => [e.topic, e.partition, e.previous, e.offset])));
    ctx.note(o.dryRun === true ? 'dry run: nothing changed' : `group ${group}: committed offsets of ${o.topic} reset`);
  }
  return 0;
}

export function registerGroupCommands(program: Command): void {
  const group = program.command('group').description('list, describe consumer groups and reset their offsets');

  addGlobalOptions(group.command('list').description('consumer groups with their state, members and total lag')).action(async (_o: unknown, cmd: Command) =>
    runWithContext(cmd, async (ctx) => {
      const groups = (await ctx.client.get<{ data: GroupView[] }>(await ctx.client.v3('/consumer-groups'))).data;
      if (ctx.json) return ctx.printJson(groups);
      if (groups.length === 0) return ctx.note('no consumer groups');
      ctx.print(renderTable(['group', 'state', 'members', 'coordinator', 'lag'], groups.map((g) => [g.consumer_group_id, g.state, g.members.length, g.coordinator_id, totalLag(g)])));
    }),
  );

  addGlobalOptions(group.command('describe <group>').description('members, their partitions, and committed offset, end offset and lag per partition')).action(
    async (name: string, _o: unknown, cmd: Command) =>
      runWithContext(cmd, async (ctx) => {
        const g = await describeGroup(ctx, name);
        if (ctx.json) ctx.printJson(g);
        else printGroup(ctx, g);
      }),
  );

  addGlobalOptions(
    group
      .command('reset-offsets <group>')
      .description("set a group's committed offsets for a topic (only while the group has no active members)")
      .requiredOption('--topic <topic>', 'the topic whose partitions are reset (all of them)')
      .option('--to-earliest', 'to the oldest record still in the log')
      .option('--to-latest', 'to the end (skip everything there now)')
      .option('--to-offset <n>', 'to offset n on every partition (moved into the log\'s range if outside it)', intArg(0))
      .option('--dry-run', 'show the new offsets without changing anything'),
  ).action(async (name: string, o: ResetOptions, cmd: Command) => runWithContext(cmd, (ctx) => resetOffsets(ctx, name, o)));
}
