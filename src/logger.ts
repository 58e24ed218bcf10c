import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { invalid } from './errors.ts';

export type { Logger } from 'pino';

export interface RootLoggerOptions {
  readonly nodeId: number;
  /** Defaults to $RUNNEL_LOG_LEVEL, else 'info'. */
  readonly level?: string;
  /** Where the JSON lines go; stdout by default. Tests pass a stream that captures them. */
  readonly destination?: DestinationStream;
}

/**
 * The one root logger of a node process: plain pino JSON lines, every line carrying nodeId.
 * Components log through `componentLogger(root, 'rpc')`.
 */
export function createRootLogger(opts: RootLoggerOptions): Logger {
  const level = opts.level ?? process.env['RUNNEL_LOG_LEVEL'] ?? 'info';
  if (!Object.hasOwn(pino.levels.values, level) && level !== 'silent') {
    throw invalid('RUNNEL_LOG_LEVEL', `unknown log level "${level}" (one of ${Object.keys(pino.levels.values).join(', ')}, silent)`);
  }
  const options = { level, base: { nodeId: opts.nodeId } };
  return opts.destination === undefined ? pino(options) : pino(options, opts.destination);
}

/** A child logger whose lines carry `component` (and the root's nodeId). */
export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}
