import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { build as prettyStream } from 'pino-pretty';
import { invalid } from './errors.ts';
import type { LogFormat } from './log-format.ts';

export type { Logger } from 'pino';

export interface RootLoggerOptions {
  readonly nodeId: number;
  /** Defaults to $RUNNEL_LOG_LEVEL, else 'info'. */
  readonly level?: string;
  /** Defaults to 'json'. */
  readonly format?: LogFormat;
  /** Where the lines go; stdout by default. Tests pass a stream that captures them. */
  readonly destination?: DestinationStream;
  /** Colors in the pretty format; by default when stdout supports them (a TTY, or FORCE_COLOR). */
  readonly colorize?: boolean;
}

/**
 * The one root logger of a node process, every line carrying nodeId: plain pino JSON lines,
 * or pino-pretty's one-line text (`12:00:01.123 INFO: node-1 raft: became leader {"term":2}`).
 * Components log through `componentLogger(root, 'rpc')`.
 */
export function createRootLogger(opts: RootLoggerOptions): Logger {
  const level = opts.level ?? process.env['RUNNEL_LOG_LEVEL'] ?? 'info';
  if (!Object.hasOwn(pino.levels.values, level) && level !== 'silent') {
    throw invalid('RUNNEL_LOG_LEVEL', `unknown log level "${level}" (one of ${Object.keys(pino.levels.values).join(', ')}, silent)`);
  }
  const options = { level, base: { nodeId: opts.nodeId } };
  if (opts.format === 'pretty') {
    // In-process and synchronous (no transport thread): the last lines before process.exit
    // are written, as with the JSON destination.
    const pretty = prettyStream({
      destination: opts.destination ?? 1,
      sync: true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,nodeId,component',
      messageFormat: 'node-{nodeId} {if component}{component}: {end}{msg}',
      ...(opts.colorize === undefined ? {} : { colorize: opts.colorize }),
    });
    return pino(options, pretty);
  }
  return opts.destination === undefined ? pino(options) : pino(options, opts.destination);
}

/** A child logger whose lines carry `component` (and the root's nodeId). */
export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}
