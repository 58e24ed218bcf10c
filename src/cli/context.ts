// What every cluster command gets from the global options: the broker list (--brokers, else
// RUNNEL_BROKERS, else the nodes of cluster.yaml / --config FILE), --json, and the output.

import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.ts';
import { BrokerClient, normalizeBrokerUrl } from './http-client.ts';
import { UsageError } from './usage-error.ts';

/** The global options as commander hands them over (each may also be given after the subcommand). */
export interface GlobalOptions {
  readonly brokers?: string;
  /** cluster.yaml to take the broker list from. */
  readonly config?: string;
  readonly json?: boolean;
}

export const BROKERS_ENV = 'RUNNEL_BROKERS';
const DEFAULT_CONFIG = 'cluster.yaml';

export interface CliContext {
  readonly client: BrokerClient;
  readonly json: boolean;
  /** Writes a line (or several) to stdout. */
  print(text: string): void;
  /** Writes the value as pretty JSON to stdout (--json). */
  printJson(value: unknown): void;
  /** A note for the user on stderr (never machine output). */
  note(text: string): void;
}

/** `--brokers a,b` parsed; a usage error names the bad entry. */
export function parseBrokerList(list: string, source: string): string[] {
  const urls = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (urls.length === 0) throw new UsageError(`${source}: no broker URL given (expected URL,URL, e.g. http://127.0.0.1:8081)`);
  return urls.map((u) => {
    try {
      return normalizeBrokerUrl(u);
    } catch {
      throw new UsageError(`${source}: "${u}" is not a broker URL (expected e.g. http://127.0.0.1:8081)`);
    }
  });
}

export async function resolveBrokers(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  if (opts.brokers !== undefined) return parseBrokerList(opts.brokers, '--brokers');
  const fromEnv = env[BROKERS_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseBrokerList(fromEnv, BROKERS_ENV);
  const file = opts.config ?? DEFAULT_CONFIG;
  let config;
  try {
    config = await loadConfig(file);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const hint = opts.config === undefined ? `no --brokers, no ${BROKERS_ENV}, and ./${DEFAULT_CONFIG} cannot be used` : `--config ${file} cannot be used`;
    throw new UsageError(`${hint} (${why}); name the brokers with --brokers http://HOST:PORT,...`);
  }
  return config.nodes.map((n) => `http://${n.host}:${n.httpPort}`);
}

export async function createContext(opts: GlobalOptions): Promise<CliContext> {
  const client = new BrokerClient(await resolveBrokers(opts));
  return {
    client,
    json: opts.json === true,
    print: (text) => {
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    printJson: (value) => {
      process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    note: (text) => {
      process.stderr.write(`${text}\n`);
    },
  };
}

/**
 * Adds --brokers, --json and (unless the command uses --config for something else, as topic
 * create does for topic configs) --config FILE to a subcommand, so they work after it too.
 */
export function addGlobalOptions(cmd: Command, clusterConfigOption = true): Command {
  cmd.option('--brokers <urls>', `broker URLs, comma-separated (default: $${BROKERS_ENV}, else the nodes of ./${DEFAULT_CONFIG})`);
  if (clusterConfigOption) cmd.option('--config <file>', `cluster.yaml to take the broker list from (default: ./${DEFAULT_CONFIG})`);
  cmd.option('--json', 'print machine-readable JSON instead of tables');
  return cmd;
}

/** The global options of a subcommand: its own, else the ones given before it (`runnel --json topic list`). */
export function globalsOf(cmd: Command, clusterConfigOption = true): GlobalOptions {
  let root = cmd;
  while (root.parent !== null) root = root.parent;
  const top = root.opts<{ brokers?: string; config?: string; json?: boolean }>();
  const own = cmd.opts<{ brokers?: string; config?: unknown; json?: boolean }>();
  const brokers = own.brokers ?? top.brokers;
  const config = (clusterConfigOption && typeof own.config === 'string' ? own.config : undefined) ?? top.config;
  return {
    ...(brokers === undefined ? {} : { brokers }),
    ...(config === undefined ? {} : { config }),
    json: own.json === true || top.json === true,
  };
}

/**
 * Runs a cluster command: builds its context, then exits with the code it returns (0 when
 * it returns nothing) once stdout is flushed. Errors propagate to main's handler.
 */
export async function runWithContext(cmd: Command, f: (ctx: CliContext) => Promise<number | void>, clusterConfigOption = true): Promise<void> {
  const ctx = await createContext(globalsOf(cmd, clusterConfigOption));
  const code = (await f(ctx)) ?? 0;
  await exitAfterFlush(code);
}

/** Exits once everything written to stdout and stderr has been handed to the OS. */
export async function exitAfterFlush(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => s.write('', () => resolve()))));
  process.exit(code);
}
