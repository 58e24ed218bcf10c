import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../config/load-config.ts';
import { chooseLogFormat } from '../../log-format.ts';
import type { LogFormat } from '../../log-format.ts';

/** How long a node gets to close cleanly after SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;

/** `runnel start`: one child process per node of the file, output prefixed, all stopped on Ctrl-C. */
export async function runCluster(configPath: string, logFormat?: LogFormat): Promise<void> {
  const config = await loadConfig(configPath);
  // The nodes write into pipes: the format (and colors) follow this process's own stdout.
  const format = chooseLogFormat(logFormat, process.stdout.isTTY === true);
  const colors = format === 'pretty' && process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined ? { FORCE_COLOR: '1' } : {};
  const main = fileURLToPath(new URL('../main.ts', import.meta.url));
  const tsx = import.meta.resolve('tsx');
  const children = new Map<number, ChildProcess>();
  for (const n of config.nodes) {
    // detached: each node leads its own process group, so a stop reaches everything it started.
    // stdin is a pipe from this process: when this process dies, however it dies, the pipe
    // closes and the node stops (--stop-with-parent). Nodes never outlive `runnel start`.
    const child = spawn(process.execPath, ['--import', tsx, main, 'node', '--config', configPath, '--id', String(n.id), '--log-format', format, '--stop-with-parent'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...colors },
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
  // The terminal went away (window closed, ssh dropped): stop as on Ctrl-C.
  process.on('SIGHUP', stopAll);
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
