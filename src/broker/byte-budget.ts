import { RunnelError } from '../errors.ts';

/**
 * Backpressure for produce requests: a node admits record bytes up to `maxBytes` in flight and
 * refuses the rest with 429 (THROTTLING_QUOTA_EXCEEDED) rather than buffering without limit.
 * A request that finds nothing in flight is always admitted, so one larger than the budget
 * still goes through on its own.
 */
export class ByteBudget {
  private inflight = 0;

  constructor(private readonly maxBytes: number) {}

  get inFlightBytes(): number {
    return this.inflight;
  }

  /** Admits `bytes` or throws; the returned function gives them back (call it exactly once). */
  acquire(bytes: number): () => void {
    if (this.inflight > 0 && this.inflight + bytes > this.maxBytes) {
      throw new RunnelError(
        'THROTTLING_QUOTA_EXCEEDED',
        `produce: ${this.inflight} bytes already in flight on this node and broker.produce_inflight_bytes_max is ${this.maxBytes}; retry shortly`,
      );
    }
    this.inflight += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inflight -= bytes;
    };
  }
}
