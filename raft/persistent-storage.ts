import type { StorageUpdate } from './memory-storage.ts';
import type { NodeId, RaftStorage } from './types.ts';

/**
 * Stable storage as the driver (raft/node.ts) uses it. The core reads it synchronously through
 * RaftStorage; the driver writes it while handling a Ready.
 *
 * Contract: persist() resolves only once the update is durable (fsync / LevelDB `sync: true`),
 * and from then on the RaftStorage reads reflect it. A crash before it resolves may lose the
 * update, wholly, never partly. Reopening gives back exactly what was persisted.
 */
export interface PersistentRaftStorage extends RaftStorage {
  persist(update: StorageUpdate): Promise<void>;
  /**
   * The state machine's image at `index` (already applied) is `data`: store it as the
   * snapshot and drop log entries up to and including `index`.
   */
  compact(index: number, data: Uint8Array, voters: readonly NodeId[]): Promise<void>;
  close(): Promise<void>;
}
