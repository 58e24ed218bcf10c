import { LogError } from '../../storage/partition-log/partition-log.ts';
import { RunnelError } from '../errors.ts';

/** A partition log's typed failure as the broker's RunnelError (same Kafka name); others pass through. */
export function fromLogError(err: unknown): unknown {
  return err instanceof LogError ? new RunnelError(err.code, err.message) : err;
}

/** Runs `f`, turning a LogError it throws into a RunnelError. */
export async function mappingLogErrors<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw fromLogError(err);
  }
}
