// A node's data_dir belongs to one process at a time. What says which is LevelDB's LOCK file
// on the raft and metadata stores: an OS lock, freed when its process closes the store or
// exits. A node started while the previous process of its id is still stopping (a service
// manager restarting it) waits for the lock; one started twice gives up after the wait with
// one line that says so, instead of LevelDB's "Database failed to open".

import type { Logger } from '../logger.ts';

/** How often a node waiting for its data_dir tries the lock again. */
const LOCK_RETRY_MS = 100;

/** Exit code of `runnel node` when its data_dir stayed locked by another process (README). */
export const EXIT_DATA_DIR_LOCKED = 3;

/** The data_dir stayed locked by another process for the whole wait. */
export class DataDirLockedError extends Error {
  constructor(
    readonly nodeId: number,
    readonly dataDir: string,
    readonly waitedMs: number,
  ) {
    super(
      `node ${nodeId} cannot start: its data_dir ${dataDir} is locked by another running process ` +
        `(node ${nodeId} still stopping, or started twice); gave up after waiting ${waitedMs} ms`,
    );
    this.name = 'DataDirLockedError';
  }
}

/** classic-level reports a LOCK held elsewhere as LEVEL_DATABASE_NOT_OPEN caused by LEVEL_LOCKED. */
export function isLevelLocked(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === 'LEVEL_LOCKED') return true;
  }
  return false;
}

export interface DataDirLock {
  readonly nodeId: number;
  readonly dataDir: string;
  /** process.data_dir_lock_wait_ms */
  readonly waitMs: number;
  readonly log: Logger;
}

/**
 * Opens a LevelDB store of the data_dir with `open`, trying again while another process
 * holds its lock, for up to `lock.waitMs`; then DataDirLockedError. Other failures pass.
 */
export async function openUnlocked<T>(lock: DataDirLock, open: () => Promise<T>): Promise<T> {
  const started = Date.now();
  let warned = false;
  for (;;) {
    try {
      return await open();
    } catch (err) {
      if (!isLevelLocked(err)) throw err;
      const waitedMs = Date.now() - started;
      if (waitedMs >= lock.waitMs) throw new DataDirLockedError(lock.nodeId, lock.dataDir, waitedMs);
      if (!warned) {
        lock.log.warn({ dataDir: lock.dataDir, waitMs: lock.waitMs }, 'data_dir is locked by another process (a stop in progress?); waiting for it');
        warned = true;
      }
      await new Promise((r) => setTimeout(r, Math.min(LOCK_RETRY_MS, lock.waitMs - waitedMs)));
    }
  }
}
