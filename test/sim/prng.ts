import type { Rng } from '../../raft/types.ts';

/**
 * A small seeded PRNG (mulberry32): the simulator's only source of randomness, so one seed
 * replays a run exactly. Not for cryptography.
 */
export class Prng implements Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const x = items[this.int(items.length)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }

  /** A child generator with its own stream, derived deterministically from this one. */
  fork(): Prng {
    return new Prng(this.int(0x100000000));
  }
}
