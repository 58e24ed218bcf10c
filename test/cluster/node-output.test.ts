import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../support/node-process.ts';
import { ProcessCluster } from '../support/process-cluster.ts';

describe('what a started node prints', () => {
  let c: ProcessCluster;
  let node: NodeProcess | undefined;

  beforeAll(async () => {
    c = await ProcessCluster.create({ size: 1 });
    node = new NodeProcess(c.configPath, 1);
    await c.waitHealthy();
  }, 30_000);

  afterAll(async () => {
    await node?.stop();
    await c.destroy();
  });

  it('prints no deprecation warning on stderr, from start to a stop', async () => {
    expect(await node?.stop('SIGTERM')).toBe(0);
    expect(node?.stderr).not.toMatch(/DeprecationWarning|FSTDEP/);
    expect(node?.stderr).toBe('');
  });
});
