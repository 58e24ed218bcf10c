import { describe, expect, it } from 'vitest';
import { placeReplicas } from '../../src/metadata/placement.ts';

const leaders = (a: number[][]): Map<number, number> => {
  const m = new Map<number, number>();
  for (const r of a) m.set(r[0] as number, (m.get(r[0] as number) ?? 0) + 1);
  return m;
};

describe('replica placement', () => {
  it('gives each of 3 brokers exactly 2 leaders for 6 partitions of RF 3', () => {
    const a = placeReplicas([1, 2, 3], 6, 3);
    expect([...leaders(a).values()]).toEqual([2, 2, 2]);
    for (const r of a) expect(new Set(r).size).toBe(3);
  });

  it('never puts two replicas of a partition on one broker', () => {
    for (const n of [1, 2, 3, 5, 7]) {
      for (let rf = 1; rf <= n; rf++) {
        for (const r of placeReplicas(Array.from({ length: n }, (_, i) => i + 1), 20, rf)) {
          expect(new Set(r).size).toBe(rf);
        }
      }
    }
  });

  it('spreads replicas evenly: every broker holds the same number', () => {
    const a = placeReplicas([1, 2, 3, 4], 8, 2);
    const held = new Map<number, number>();
    for (const r of a) for (const b of r) held.set(b, (held.get(b) ?? 0) + 1);
    expect([...held.values()]).toEqual([4, 4, 4, 4]);
  });

  it('starts with the least-loaded brokers so leadership stays even across topics', () => {
    const first = placeReplicas([1, 2, 3], 1, 3);
    const second = placeReplicas([1, 2, 3], 2, 3, leaders(first));
    const all = leaders([...first, ...second]);
    expect([...all.values()].sort()).toEqual([1, 1, 1]);
  });

  it('refuses a replication factor larger than the broker count', () => {
    expect(() => placeReplicas([1, 2], 3, 3)).toThrow(/replication factor 3/);
  });
});
