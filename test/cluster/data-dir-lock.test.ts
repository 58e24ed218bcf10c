import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeProcess } from '../support/node-process.ts';
import { pollUntil } from '../support/poll.ts';
import { ProcessCluster } from '../support/process-cluster.ts';

describe("a node's data_dir is one process's at a time", () => {
  let c: ProcessCluster | undefined;
  const started: NodeProcess[] = [];
  const startNode = (cluster: ProcessCluster): NodeProcess => {
    const n = new NodeProcess(cluster.configPath, 1, ['--log-format', 'json']);
    started.push(n);
    return n;
  };

  afterEach(async () => {
    await Promise.all(started.splice(0).map((n) => n.stop()));
    await c?.destroy();
    c = undefined;
  });

  it('a second start of a running node gives up after the wait with exit code 3 and one line naming the node and its data_dir', async () => {
    c = await ProcessCluster.create({ size: 1, extraYaml: 'process: {data_dir_lock_wait_ms: 1500}' });
    const first = startNode(c);
    await c.waitHealthy();
    const second = startNode(c);
    expect(await second.exited).toBe(3);
    const lines = second.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: node 1 cannot start: its data_dir .* is locked by another running process \(node 1 still stopping, or started twice\); gave up after waiting \d+ ms$/);
    expect(lines[0]).toContain(join(c.dir, 'node-1'));
    expect(second.stderr).not.toContain('Database failed to open');
    // The node that holds the dir goes on serving.
    expect(first.running()).toBe(true);
    await c.waitHealthy();
  }, 30_000);

  it('a start while the previous process of the node is still stopping waits for its data_dir, then starts', async () => {
    c = await ProcessCluster.create({ size: 1, extraYaml: 'process: {data_dir_lock_wait_ms: 20000}' });
    const cluster = c;
    const first = startNode(cluster);
    await cluster.waitHealthy();
    const second = startNode(cluster);
    await pollUntil('the second process to wait for the lock', () => second.stdout.includes('data_dir is locked by another process'), 15_000, 20);
    expect(await first.stop('SIGTERM')).toBe(0);
    await cluster.waitHealthy();
    expect(second.running()).toBe(true);
    expect(second.stdout).toContain('"msg":"node started"');
    expect(second.stderr).toBe('');
  }, 45_000);
});
