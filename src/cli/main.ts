import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.ts';
import { RunnelError } from '../errors.ts';
import { createRootLogger } from '../logger.ts';
import { RunnelNode } from '../node/runnel-node.ts';

const USAGE = `usage:
  runnel start [--config cluster.yaml]             start every node of the file, each as its own process (Ctrl-C stops them)
  runnel node --config cluster.yaml --id N         start one node (one per machine or container)`;

/** How long a node gets to close cleanly after SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;

function fail(message: string): never {
  console.error(`runnel: ${message}\n${USAGE}`);
  process.exit(2);
}

async function runNode(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, id: { type: 'string' } }, strict: true });
  if (values.config === undefined) fail('--config is required');
  if (values.id === undefined || !/^\d+$/.test(values.id)) fail('--id must be a node id from the config');
  const config = await loadConfig(values.config);
  const nodeId = Number(values.id);
  const logger = createRootLogger({ nodeId });
  const node = new RunnelNode(config, nodeId, logger);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    // SIGTERM (rolling restarts, orchestrators): controlled shutdown first, so leadership moves
    // before this broker goes. SIGINT (Ctrl-C; `runnel start` stopping the whole cluster):
    // stop at once, there is nowhere to move leadership to. A second signal is ignored.
    (signal === 'SIGTERM' ? node.shutdown() : node.close()).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await node.start();
}

/** Starts one child process per node, prefixes their output, and stops them all on Ctrl-C. */
async function runCluster(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', default: 'cluster.yaml' } }, strict: true });
  const configPath = values.config;
  const config = await loadConfig(configPath);
  const main = fileURLToPath(import.meta.url);
  const tsx = import.meta.resolve('tsx');
  const children = new Map<number, ChildProcess>();
  for (const n of config.nodes) {
    // detached: each node leads its own process group, so a stop reaches everything it started.
    const child = spawn(process.execPath, ['--import', tsx, main, 'node', '--config', configPath, '--id', String(n.id)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    children.set(n.id, child);
    const tag = `[node-${n.id}]`;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null) createInterface({ input: stream }).on('line', (line) => console.log(`${tag} ${line}`));
    }
    child.on('exit', (code, signal) => {
      children.delete(n.id);
      console.log(`${tag} exited (${signal ?? `code ${code ?? 0}`})`);
      if (children.size === 0) process.exit(0);
    });
    console.log(`${tag} started: http://${n.host}:${n.httpPort} (rpc ${n.rpcPort}, data ${n.dataDir})`);
  }
  let stopping = false;
  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    console.log('stopping all nodes...');
    // The whole cluster stops: no controlled shutdown (SIGINT), each node just closes cleanly.
    for (const c of children.values()) signalGroup(c, 'SIGINT');
    setTimeout(() => {
      for (const c of children.values()) signalGroup(c, 'SIGKILL');
    }, STOP_GRACE_MS).unref();
  };
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  // If this process dies anyway, take the nodes with it.
  process.on('exit', () => {
    for (const c of children.values()) signalGroup(c, 'SIGKILL');
  });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return runCluster(rest);
    case 'node':
      return runNode(rest);
    case undefined:
    case '--help':
    case 'help':
      console.log(USAGE);
      return;
    default:
      fail(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof RunnelError) fail(err.message);
  console.error(err);
  process.exit(1);
});
