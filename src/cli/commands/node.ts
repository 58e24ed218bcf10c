import { loadConfig } from '../../config/load-config.ts';
import { chooseLogFormat } from '../../log-format.ts';
import type { LogFormat } from '../../log-format.ts';
import { createRootLogger } from '../../logger.ts';
import { RunnelNode } from '../../node/runnel-node.ts';

/**
 * `runnel node --config FILE --id N`: runs one node in this process until SIGTERM / SIGINT.
 * With `stopWithParent` (set by `runnel start`, whose pipe is this node's standard input) it
 * also stops when standard input closes: its supervisor is gone, even if it was SIGKILLed.
 */
export async function runNode(configPath: string, nodeId: number, logFormat?: LogFormat, stopWithParent = false): Promise<void> {
  const config = await loadConfig(configPath);
  const logger = createRootLogger({ nodeId, format: chooseLogFormat(logFormat, process.stdout.isTTY === true) });
  const node = new RunnelNode(config, nodeId, logger);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    // SIGTERM (rolling restarts, orchestrators): controlled shutdown first, so leadership moves
    // before this broker goes. SIGINT (Ctrl-C; `runnel start` stopping the whole cluster):
    // stop at once, there is nowhere to move leadership to. A second signal is ignored.
    (signal === 'SIGTERM' ? node.shutdown() : node.close()).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (stopWithParent) {
    // Nothing is ever sent on this pipe; its end is the news. The whole cluster is going (the
    // supervisor stops every node at once), so close as on SIGINT.
    process.stdin.on('end', () => stop('SIGINT (supervisor gone)'));
    process.stdin.on('error', () => stop('SIGINT (supervisor gone)'));
    process.stdin.resume();
  }
  await node.start();
}
