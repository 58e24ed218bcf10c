import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../support/node-process.ts';
import { ProcessCluster } from '../support/process-cluster.ts';

/** Starts node 1 of the one-node cluster with `args`, waits until it serves, stops it with SIGTERM. */
async function runOnce(c: ProcessCluster, args: readonly string[], track: (n: NodeProcess) => void, env: Record<string, string> = {}): Promise<NodeProcess> {
  const node = new NodeProcess(c.configPath, 1, args, env);
  track(node);
  await c.waitHealthy();
  expect(await node.stop('SIGTERM')).toBe(0);
  return node;
}

describe('what a started node prints', () => {
  let c: ProcessCluster;
  let last: NodeProcess | undefined;

  beforeAll(async () => {
    c = await ProcessCluster.create({ size: 1 });
  });

  afterAll(async () => {
    await last?.stop();
    await c.destroy();
  });

  it('with --log-format json: only JSON lines on stdout, each with nodeId, and nothing on stderr (no deprecation warning)', async () => {
    const node = await runOnce(c, ['--log-format', 'json'], (n) => (last = n));
    expect(node.stderr).not.toMatch(/DeprecationWarning|FSTDEP/);
    expect(node.stderr).toBe('');
    const lines = node.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ nodeId: 1 });
    expect(lines.some((l) => l.includes('"msg":"node started"'))).toBe(true);
  }, 30_000);

  it('with --log-format pretty, also into a pipe: one text line per event, naming the node', async () => {
    // NO_COLOR: plain text to match, whatever colors the test runner's environment asks for.
    const node = await runOnce(c, ['--log-format', 'pretty'], (n) => (last = n), { NO_COLOR: '1' });
    expect(node.stderr).toBe('');
    expect(node.stdout).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: node-1 node: node started \{"httpPort":\d+/m);
    expect(node.stdout).not.toMatch(/^\{/m);
  }, 30_000);
});
