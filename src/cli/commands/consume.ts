// `runnel consume TOPIC`: prints records, one per line; directly from the partitions, or as a
// member of a consumer group with --group.

import type { Command } from 'commander';
import { intArg } from '../arg-parsers.ts';
import { addGlobalOptions, runWithContext } from '../context.ts';
import { compileFormat, FORMAT_HELP } from '../record-format.ts';
import { jsonLine, RecordSink } from '../record-sink.ts';
import { UsageError } from '../usage-error.ts';
import { consumeGroup } from './consume-group.ts';
import { consumePartitions } from './consume-partitions.ts';
import { getTopic } from './topic.ts';

interface ConsumeOptions {
  readonly fromBeginning?: boolean;
  readonly group?: string;
  readonly follow?: boolean;
  readonly count?: number;
  readonly format?: string;
  readonly partition?: number;
}

export function registerConsumeCommand(program: Command): void {
  addGlobalOptions(
    program
      .command('consume <topic>')
      .description('print the records of a topic, one per line (values by default)')
      .option('--from-beginning', 'start at the oldest record (with --group: when the group has no committed offset)')
      .option('--group <group>', 'read as a member of this consumer group: commits what it printed, leaves the group on exit')
      .option('--follow', 'keep waiting for new records (default: exit once caught up to the end offsets seen at the start)')
      .option('--count <n>', 'exit after n records', intArg(1))
      .option('--format <format>', 'how to print each record, see below (default: "%v")')
      .option('--partition <p>', 'read only this partition (not with --group)', intArg(0))
      .addHelpText('after', `\n${FORMAT_HELP}\n--json prints one JSON object per record: {topic, partition, offset, timestamp, key, value}.`),
  ).action(async (topic: string, o: ConsumeOptions, cmd: Command) =>
    runWithContext(cmd, async (ctx) => {
      if (ctx.json && o.format !== undefined) throw new UsageError('consume: give --format or --json, not both');
      if (o.group !== undefined && o.partition !== undefined) throw new UsageError('consume: --partition reads one partition directly; a --group member reads what the group assigns it');
      const render = ctx.json ? jsonLine : compileFormat(o.format ?? '%v');
      const t = await getTopic(ctx, topic);
      if (o.partition !== undefined && o.partition >= t.partitions_count) throw new Error(`topic ${topic} has partitions 0-${t.partitions_count - 1}, not ${o.partition}`);
      const abort = new AbortController();
      let interrupted = false;
      process.on('SIGINT', () => {
        // First Ctrl-C: stop and clean up (leave the group); a second one: give up at once.
        if (interrupted) process.exit(130);
        interrupted = true;
        abort.abort();
      });
      const sink = new RecordSink(render, o.count);
      const read = { fromBeginning: o.fromBeginning === true, follow: o.follow === true };
      try {
        if (o.group !== undefined) await consumeGroup(ctx, topic, t.partitions_count, o.group, read, sink, abort.signal);
        else await consumePartitions(ctx, topic, o.partition === undefined ? Array.from({ length: t.partitions_count }, (_, p) => p) : [o.partition], read, sink, abort.signal);
      } finally {
        sink.close();
      }
      const hint = sink.printed === 0 && o.group === undefined && !read.fromBeginning && !read.follow ? ' (reading from the end: add --from-beginning for what is there, or --follow to wait for new records)' : '';
      ctx.note(`consumed ${sink.printed} record${sink.printed === 1 ? '' : 's'}${hint}`);
    }),
  );
}
