// The `runnel` command line (bin: src/cli/bin.js). `start` and `node` run the cluster; the
// other commands talk to it over the HTTP API (API.md). Exit codes: 0 ok, 1 the operation
// failed, 2 the command line is wrong, 3 (`node`) the data_dir is locked by another process.

import { Command, CommanderError, Option } from 'commander';
import { RunnelError } from '../errors.ts';
import { LOG_FORMATS } from '../log-format.ts';
import { DataDirLockedError, EXIT_DATA_DIR_LOCKED } from '../node/data-dir-lock.ts';
import type { LogFormat } from '../log-format.ts';
import { intArg } from './arg-parsers.ts';
import { registerClusterCommands } from './commands/cluster-status.ts';
import { registerConsumeCommand } from './commands/consume.ts';
import { registerGroupCommands } from './commands/group.ts';
import { registerProduceCommand } from './commands/produce.ts';
import { registerTopicCommands } from './commands/topic.ts';
import { addGlobalOptions, BROKERS_ENV, exitAfterFlush } from './context.ts';
import { HttpError, UnreachableError } from './http-client.ts';
import { UsageError } from './usage-error.ts';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** A next step for the server errors a user is likely to meet, by error_code. */
const HINTS: Record<number, string> = {
  40401: 'list the topics with `runnel topic list`',
  40402: 'see the partitions with `runnel topic describe TOPIC`',
  40901: 'see it with `runnel topic describe TOPIC`',
  40905: 'see its members with `runnel group describe GROUP`',
};

function configOf(cmd: Command): string | undefined {
  return cmd.opts<{ config?: string }>().config ?? cmd.parent?.opts<{ config?: string }>().config;
}

/** --log-format of `start` and `node`; without it, pretty on a terminal and JSON lines elsewhere. */
function logFormatOption(): Option {
  return new Option('--log-format <format>', 'log lines as JSON (one object a line) or pretty (colored text); default: pretty on a terminal, else json').choices(LOG_FORMATS);
}

function buildProgram(): Command {
  const program = new Command('runnel')
    .description('runnel: a Kafka-style distributed commit log. Run a cluster, and manage and use it over its HTTP API.')
    // Options before a subcommand are the program's, after it the subcommand's: `topic create
    // --config k=v` sets a topic config, `runnel --config FILE topic create` picks the cluster file.
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  addGlobalOptions(program);
  program.addHelpText('after', `\nBrokers: --brokers URL,URL, else $${BROKERS_ENV}, else the nodes of ./cluster.yaml (or --config FILE); the next broker is tried when one is unreachable.\nExit codes: 0 ok, 1 the operation failed, 2 bad command line, 3 (node) its data_dir is locked by another process.`);

  program
    .command('start')
    .description('start every node of the cluster file, each as its own process (Ctrl-C stops them)')
    .option('--config <file>', 'the cluster file (default: cluster.yaml)')
    .addOption(logFormatOption())
    .action(async (o: { logFormat?: LogFormat }, cmd: Command) => {
      const { runCluster } = await import('./commands/start.ts');
      await runCluster(configOf(cmd) ?? 'cluster.yaml', o.logFormat);
    });

  program
    .command('node')
    .description('start one node of the cluster file in this process (one per machine or container)')
    .option('--config <file>', 'the cluster file')
    .option('--id <n>', 'the id of this node in the file', intArg(0))
    .addOption(logFormatOption())
    // Set by `runnel start` for the nodes it supervises: they must never outlive it.
    .addOption(new Option('--stop-with-parent', 'stop (as on SIGINT) when standard input closes: the process that started this node is gone').hideHelp())
    .action(async (o: { id?: number; logFormat?: LogFormat; stopWithParent?: boolean }, cmd: Command) => {
      const config = configOf(cmd);
      if (config === undefined) throw new UsageError('node: --config is required');
      if (o.id === undefined) throw new UsageError('node: --id must be a node id from the config');
      const { runNode } = await import('./commands/node.ts');
      await runNode(config, o.id, o.logFormat, o.stopWithParent === true);
    });

  registerClusterCommands(program);
  registerTopicCommands(program);
  registerProduceCommand(program);
  registerConsumeCommand(program);
  registerGroupCommands(program);
  return program;
}

/** Prints what went wrong and says what to do; returns the exit code. */
function reportError(err: unknown): number {
  // commander printed its own message (and help) already.
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
  if (err instanceof UsageError) {
    console.error(`error: ${err.message}\n(add --help for usage)`);
    return EXIT_USAGE;
  }
  // node: another process (this node still stopping, or started twice) holds the data_dir.
  if (err instanceof DataDirLockedError) {
    console.error(`error: ${err.message}`);
    return EXIT_DATA_DIR_LOCKED;
  }
  // start / node: a bad cluster file is a usage error, as before.
  if (err instanceof RunnelError) {
    console.error(`error: ${err.message}`);
    return EXIT_USAGE;
  }
  if (err instanceof HttpError) {
    const hint = HINTS[err.errorCode];
    console.error(`error: ${err.message}${hint === undefined ? '' : `\n(${hint})`}`);
    return EXIT_FAILED;
  }
  if (err instanceof UnreachableError) {
    console.error(`error: ${err.message}`);
    return EXIT_FAILED;
  }
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env['RUNNEL_DEBUG'] === '1' && err instanceof Error) console.error(err.stack);
  return EXIT_FAILED;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  await exitAfterFlush(reportError(err));
}
