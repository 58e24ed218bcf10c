import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { PartitionLog } from '../../storage/partition-log/partition-log.ts';
import type { PartitionLogOptions } from '../../storage/partition-log/partition-log.ts';

/**
 * Real partition logs in temp dirs for one test file: every dir and log a test made is closed
 * and removed after it. `defaults` are the file's log options; a call may override them.
 */
export function tempLogs(prefix: string, defaults: Partial<PartitionLogOptions> = {}): {
  tempDir: () => Promise<string>;
  openLog: (dir: string, opts?: Partial<PartitionLogOptions>) => Promise<PartitionLog>;
} {
  const dirs: string[] = [];
  const logs: PartitionLog[] = [];
  afterEach(async () => {
    for (const log of logs.splice(0)) await log.close().catch(() => undefined);
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  return {
    tempDir: async () => {
      const d = await mkdtemp(join(tmpdir(), `${prefix}-`));
      dirs.push(d);
      return d;
    },
    openLog: async (dir, opts = {}) => {
      const log = await PartitionLog.open({ dir, segmentBytes: 1 << 20, flush: 'os', retentionMs: -1, retentionBytes: -1, ...defaults, ...opts });
      logs.push(log);
      return log;
    },
  };
}
