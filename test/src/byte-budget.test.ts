import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../src/broker/byte-budget.ts';
import { RunnelError } from '../../src/errors.ts';

describe('produce backpressure (ByteBudget)', () => {
  it('admits up to the budget, refuses beyond it with 429, and admits again once bytes are released', () => {
    const b = new ByteBudget(1000);
    const r1 = b.acquire(600);
    const r2 = b.acquire(400);
    let refused: unknown;
    try {
      b.acquire(1);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(RunnelError);
    expect((refused as RunnelError).status).toBe(429);
    expect((refused as RunnelError).errorCode).toBe(42901);
    expect((refused as RunnelError).message).toContain('produce_inflight_bytes_max');
    r1();
    r1(); // releasing twice gives nothing back twice
    expect(b.inFlightBytes).toBe(400);
    const r3 = b.acquire(600);
    r2();
    r3();
    expect(b.inFlightBytes).toBe(0);
  });

  it('lets a lone request larger than the budget through', () => {
    const b = new ByteBudget(1000);
    const r = b.acquire(5000);
    expect(() => b.acquire(1)).toThrow(/in flight/);
    r();
    expect(b.inFlightBytes).toBe(0);
  });
});
