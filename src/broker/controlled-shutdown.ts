// Kafka's controlled shutdown, bounded. On SIGTERM a broker asks the active controller to
// fence it and move the partitions it leads to other in-sync replicas, then waits until its
// own image shows it leads nothing. Two bounds keep a stop short: the whole of it
// (broker.controlled_shutdown_timeout_ms), and the time without any controller to ask
// (broker.controlled_shutdown_no_controller_ms). The second is what a full stop meets: when
// every node gets SIGTERM at once the controller's process goes too, the quorum is left
// without a leader, and no answer will come, so there is nothing to wait for.

import { assertNever } from '../../raft/assert.ts';
import type { Logger } from '../logger.ts';

/** How often the wait re-checks the image and the controller's reachability. */
const POLL_MS = 20;

export interface ControlledShutdownDeps {
  /** The controlledShutdown call on the active controller (it retries while the controller moves). */
  readonly askController: (timeoutMs: number) => Promise<{ leaderships: number }>;
  /** Partitions this broker leads, in its own metadata image. */
  readonly leaderships: () => number;
  /** Unfenced brokers other than this one, in its own metadata image. */
  readonly otherLiveBrokers: () => number;
  /** Whether the metadata quorum has a leader this node can reach: itself, or a connected peer. */
  readonly controllerReachable: () => boolean;
  /** broker.controlled_shutdown_timeout_ms */
  readonly timeoutMs: number;
  /** broker.controlled_shutdown_no_controller_ms */
  readonly noControllerMs: number;
  readonly log: Logger;
}

type Outcome =
  | { readonly kind: 'answered'; readonly leaderships: number }
  | { readonly kind: 'failed'; readonly err: unknown }
  | { readonly kind: 'no-controller' };

/** Moves this broker's leaderships away, or gives up within the bounds; never throws. */
export async function controlledShutdown(d: ControlledShutdownDeps): Promise<void> {
  if (d.otherLiveBrokers() === 0) {
    // The last broker standing: there is nowhere to move leadership to (and maybe no quorum).
    d.log.info('controlled shutdown skipped: no other live broker');
    return;
  }
  const deadline = Date.now() + d.timeoutMs;
  const watch = { stopped: false };
  const asked: Promise<Outcome> = d.askController(d.timeoutMs).then(
    (r) => ({ kind: 'answered', leaderships: r.leaderships }),
    (err: unknown) => ({ kind: 'failed', err }),
  );
  const outcome = await Promise.race([asked, untilNoController(d, watch)]);
  watch.stopped = true;
  switch (outcome.kind) {
    case 'answered':
      if (outcome.leaderships > 0) {
        // The controller moved what it could; the rest has no other in-sync live replica.
        d.log.warn({ leaderships: outcome.leaderships }, 'controlled shutdown: no other in-sync live replica for some leaderships; stopping with them');
        return;
      }
      while (Date.now() < deadline && d.leaderships() > 0) await delay(POLL_MS);
      d.log.info({ leaderships: d.leaderships() }, 'controlled shutdown: leaderships moved');
      return;
    case 'failed':
      d.log.warn({ err: outcome.err }, 'controlled shutdown failed; stopping anyway');
      return;
    case 'no-controller':
      d.log.warn({ noControllerMs: d.noControllerMs }, 'controlled shutdown: no controller reachable (the whole cluster stopping?); stopping without moving leadership');
      return;
    default:
      assertNever(outcome);
  }
}

/** Resolves once no controller has been reachable for noControllerMs on end (or once stopped: the race is over). */
async function untilNoController(d: ControlledShutdownDeps, watch: { readonly stopped: boolean }): Promise<Outcome> {
  let unreachableSince: number | undefined;
  while (!watch.stopped) {
    const now = Date.now();
    if (d.controllerReachable()) unreachableSince = undefined;
    else unreachableSince ??= now;
    if (unreachableSince !== undefined && now - unreachableSince >= d.noControllerMs) break;
    await delay(POLL_MS);
  }
  return { kind: 'no-controller' };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
