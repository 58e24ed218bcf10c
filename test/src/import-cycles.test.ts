import { describe, expect, it } from 'vitest';
import { importCycles, importGraph } from '../support/import-graph.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

describe('import graph', () => {
  it('has no import cycle in src/, raft/ or storage/ (type-only imports count)', () => {
    const cycles = importCycles(importGraph(ROOT, ['src', 'raft', 'storage']));
    expect(cycles.map((c) => c.join(' <-> '))).toEqual([]);
  });

  it('finds a cycle through a type-only import, and one of a file importing itself', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['d.ts']],
      ['e.ts', ['a.ts']],
    ]);
    expect(importCycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['d.ts']]);
  });

  it('reads `import type` and `export ... from` as imports', () => {
    const graph = importGraph(ROOT, ['src']);
    // src/http/consumers/consumer-instance.ts imports GroupClient only as a type.
    expect(graph.get('src/http/consumers/consumer-instance.ts')).toContain('src/groups/group-client.ts');
    // src/rpc/rpc-node.ts re-exports peer-link's PeerAddress type.
    expect(graph.get('src/rpc/rpc-node.ts')).toContain('src/rpc/peer-link.ts');
  });
});
