import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
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

/** Pids of the processes whose command line names `needle` (here: a test's own cluster file). */
async function pidsNaming(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

describe('runnel start', () => {
  let cluster: ProcessCluster | undefined;
  let launcher: ChildProcess | undefined;

  afterEach(async () => {
    const pid = launcher?.pid;
    if (pid !== undefined && alive(pid)) process.kill(-pid, 'SIGKILL');
    // Nodes it started lead their own process groups: take down any left.
    if (cluster !== undefined) {
      for (const p of await pidsNaming(cluster.configPath)) {
        try {
          process.kill(-p, 'SIGKILL');
        } catch {
          process.kill(p, 'SIGKILL');
        }
      }
    }
    await cluster?.destroy();
    cluster = undefined;
    launcher = undefined;
  });

  /** `runnel start` on a fresh cluster file, like a terminal: it leads its own process group. */
  async function startLauncher(): Promise<{ c: ProcessCluster; pid: number; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
    const c = (cluster = await ProcessCluster.create());
    const log = createWriteStream(join(c.dir, 'start.log'));
    const l = (launcher = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), MAIN, 'start', '--config', c.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    }));
    l.stdout.pipe(log);
    l.stderr.pipe(log);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => l.once('exit', (code, signal) => resolve({ code, signal })));
    await c.waitHealthy();
    if (l.pid === undefined) throw new Error('launcher has no pid');
    return { c, pid: l.pid, exited };
  }

  const noNodeAnswers = (c: ProcessCluster): Promise<boolean> =>
    pollUntil('every node to be gone', async () => {
      const answers = await Promise.all(c.ids.map((id) => c.http(id, 'GET', '/healthz').then(() => true, () => false)));
      return answers.every((a) => !a) && (await pidsNaming(c.configPath)).length === 0;
    }, 15_000, 50);

  it('starts every node of the file as its own process, and Ctrl-C stops them all', async () => {
    const { c, pid, exited } = await startLauncher();
    await c.agreedLeader();
    expect(await readFile(join(c.dir, 'start.log'), 'utf8')).toMatch(/\[node-1\] .*"nodeId":1/);
    process.kill(-pid, 'SIGINT');
    expect((await exited).code).toBe(0);
    expect(await noNodeAnswers(c)).toBe(true);
  }, 60_000);

  it('stops every node when its terminal hangs up (SIGHUP)', async () => {
    const { c, pid, exited } = await startLauncher();
    process.kill(pid, 'SIGHUP');
    expect((await exited).code).toBe(0);
    expect(await noNodeAnswers(c)).toBe(true);
  }, 60_000);

  it('leaves no node running when it is killed outright (SIGKILL): each node stops when its pipe from the launcher closes', async () => {
    const { c, pid, exited } = await startLauncher();
    process.kill(pid, 'SIGKILL');
    expect((await exited).signal).toBe('SIGKILL');
    expect(await noNodeAnswers(c)).toBe(true);
  }, 60_000);
});
