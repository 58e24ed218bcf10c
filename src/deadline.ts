// Deadlines shared by every caller that waits on another node or on raft: one retry loop,
// one "this promise or a timeout". Deadlines are epoch ms (Date.now()); bounds are STYLE.md's.

import { RunnelError } from './errors.ts';

/** Pause between two attempts of retryUntil (leadership moves take tens of ms to settle). */
export const RETRY_INTERVAL_MS = 50;

export interface RetryPolicy {
  /** Error names that pass once leadership or a coordinator settles; any other error is thrown at once. */
  readonly retriable: ReadonlySet<string>;
  /** Stops retrying before the deadline (the caller is closing). */
  readonly stop?: () => boolean;
}

/**
 * Runs `attempt` (given the ms left) until it succeeds or throws an error the policy does not
 * retry. Once the deadline leaves no room for another try after RETRY_INTERVAL_MS, or the
 * policy says stop, the last retriable error is thrown.
 */
export async function retryUntil<T>(deadline: number, policy: RetryPolicy, attempt: (leftMs: number) => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await attempt(Math.max(1, deadline - Date.now()));
    } catch (err) {
      if (!(err instanceof RunnelError) || !policy.retriable.has(err.errorName)) throw err;
      if (policy.stop?.() === true || Date.now() + RETRY_INTERVAL_MS >= deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, RETRY_INTERVAL_MS));
  }
}

/** `p`, or `expired()` thrown once `deadline` (epoch ms) passes. */
export function withDeadline<T>(p: Promise<T>, deadline: number, expired: () => Error): Promise<T> {
  return raceTimer(p, Math.max(0, deadline - Date.now()), (_resolve, reject) => reject(expired()));
}

/** Waits for `p` at most `timeoutMs`, then returns anyway (a bounded wait, not an error). */
export function waitAtMost(p: Promise<void>, timeoutMs: number): Promise<void> {
  return raceTimer(p, timeoutMs, (resolve) => resolve());
}

/** `p` raced against a timer that settles through `onTimeout`; the timer is cleared either way. */
async function raceTimer<T>(p: Promise<T>, ms: number, onTimeout: (resolve: (v: T) => void, reject: (err: Error) => void) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => onTimeout(resolve, reject), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
