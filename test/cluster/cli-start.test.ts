import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.ts';
import { ProcessCluster } from '../support/process-cluster.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('runnel start', () => {
  let cluster: ProcessCluster | undefined;
  let groupPid: number | undefined;

  afterAll(async () => {
    if (groupPid !== undefined && alive(groupPid)) process.kill(-groupPid, 'SIGKILL');
    await cluster?.destroy();
  });

  it('starts every node of the file as its own process, and Ctrl-C stops them all', async () => {
    cluster = await ProcessCluster.create();
    const c = cluster;
    const log = createWriteStream(join(c.dir, 'start.log'));
    // Like a terminal: the launcher leads a process group, and Ctrl-C sends SIGINT to it.
    const launcher = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), MAIN, 'start', '--config', c.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    launcher.stdout.pipe(log);
    launcher.stderr.pipe(log);
    groupPid = launcher.pid;
    const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
    await c.waitHealthy();
    await c.agreedLeader();
    expect(await readFile(join(c.dir, 'start.log'), 'utf8')).toMatch(/\[node-1\] .*"nodeId":1/);
    process.kill(-(groupPid ?? 0), 'SIGINT');
    expect(await exited).toBe(0);
    // No node is left answering.
    await pollUntil('every node to be gone', async () => {
      const answers = await Promise.all(c.ids.map((id) => c.http(id, 'GET', '/healthz').then(() => true, () => false)));
      return answers.every((a) => !a);
    });
  }, 60_000);
});
