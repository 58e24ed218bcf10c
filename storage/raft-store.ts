import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import { Packr } from 'msgpackr';
import { MemoryRaftStorage } from '../raft/memory-storage.ts';
import type { StorageUpdate } from '../raft/memory-storage.ts';
import type { PersistentRaftStorage } from '../raft/persistent-storage.ts';
import type { Entry, HardState, NodeId, Snapshot } from '../raft/types.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

type Db = Level<Uint8Array, Uint8Array>;

/** Log keys: 8-byte big-endian index, so LevelDB's byte order is index order. */
export function indexKey(index: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(index));
  return b;
}

const HARD_STATE_KEY = Buffer.from('hs');
const SNAPSHOT_KEY = Buffer.from('snap');

export interface RaftStoreOptions {
  readonly dir: string;
  readonly voters: readonly NodeId[];
}

/**
 * RaftStorage on LevelDB. Three sublevels: `hard` (term/vote/commit), `log` (entries by
 * index) and `snap` (the latest snapshot). Every write is one batch with `sync: true`, so
 * persist() resolving means the update is on disk.
 *
 * The whole (compacted) log is mirrored in a MemoryRaftStorage so the synchronous core reads
 * from memory: the metadata log is small and snapshots keep it short.
 */
export class LevelRaftStore implements PersistentRaftStorage {
  private writing = false;

  private constructor(
    private readonly db: Db,
    private readonly mem: MemoryRaftStorage,
  ) {}

  static async open(opts: RaftStoreOptions): Promise<LevelRaftStore> {
    await mkdir(opts.dir, { recursive: true });
    const db: Db = new Level<Uint8Array, Uint8Array>(opts.dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const mem = new MemoryRaftStorage(opts.voters);
    const hard = db.sublevel<Uint8Array, Uint8Array>('hard', { keyEncoding: 'view', valueEncoding: 'view' });
    const snap = db.sublevel<Uint8Array, Uint8Array>('snap', { keyEncoding: 'view', valueEncoding: 'view' });
    const log = db.sublevel<Uint8Array, Uint8Array>('log', { keyEncoding: 'view', valueEncoding: 'view' });
    const snapBytes = await getOrUndefined<Uint8Array, Uint8Array>(snap, SNAPSHOT_KEY);
    if (snapBytes !== undefined) mem.applySnapshot(packr.unpack(snapBytes) as Snapshot);
    const entries: Entry[] = [];
    let expect = mem.firstIndex();
    for await (const value of log.values()) {
      const e = packr.unpack(value) as Entry;
      if (e.index !== expect) {
        await db.close();
        throw new Error(`raft store ${opts.dir} is corrupt: expected entry ${expect}, found ${e.index}`);
      }
      entries.push({ index: e.index, term: e.term, data: new Uint8Array(e.data) });
      expect++;
    }
    const hsBytes = await getOrUndefined<Uint8Array, Uint8Array>(hard, HARD_STATE_KEY);
    const update: { hardState?: HardState; entries: Entry[] } = { entries };
    if (hsBytes !== undefined) update.hardState = packr.unpack(hsBytes) as HardState;
    mem.apply(update);
    return new LevelRaftStore(db, mem);
  }

  initialState(): { hardState: HardState } {
    return this.mem.initialState();
  }
  entries(lo: number, hi: number): Entry[] {
    return this.mem.entries(lo, hi);
  }
  term(i: number): number {
    return this.mem.term(i);
  }
  firstIndex(): number {
    return this.mem.firstIndex();
  }
  lastIndex(): number {
    return this.mem.lastIndex();
  }
  snapshot(): Snapshot {
    return this.mem.snapshot();
  }

  async persist(update: StorageUpdate): Promise<void> {
    this.beginWrite();
    try {
      const batch = this.db.batch();
      const log = this.sub('log');
      let storedLast = this.mem.lastIndex();
      if (update.snapshot !== undefined) {
        // A snapshot from the leader replaces the whole log.
        for (let i = this.mem.firstIndex(); i <= storedLast; i++) batch.del(indexKey(i), { sublevel: log });
        batch.put(SNAPSHOT_KEY, packr.pack(update.snapshot), { sublevel: this.sub('snap') });
        storedLast = update.snapshot.meta.index;
      }
      if (update.hardState !== undefined) batch.put(HARD_STATE_KEY, packr.pack(update.hardState), { sublevel: this.sub('hard') });
      // Entries at or below the snapshot are covered by it and not stored again.
      const snapIndex = update.snapshot?.meta.index ?? this.mem.firstIndex() - 1;
      const fresh = update.entries.filter((e) => e.index > snapIndex);
      const first = fresh[0];
      if (first !== undefined) {
        const newLast = first.index + fresh.length - 1;
        // Entries overwrite the stored suffix: drop stale ones beyond the new end.
        for (let i = newLast + 1; i <= storedLast; i++) batch.del(indexKey(i), { sublevel: log });
        for (const e of fresh) batch.put(indexKey(e.index), packr.pack(e), { sublevel: log });
      }
      await batch.write({ sync: true });
      this.mem.apply(update);
    } finally {
      this.writing = false;
    }
  }

  async compact(index: number, data: Uint8Array, voters: readonly NodeId[]): Promise<void> {
    this.beginWrite();
    try {
      const first = this.mem.firstIndex();
      const snapshot: Snapshot = { meta: { index, term: this.mem.term(index), voters: [...voters] }, data };
      const batch = this.db.batch();
      const log = this.sub('log');
      batch.put(SNAPSHOT_KEY, packr.pack(snapshot), { sublevel: this.sub('snap') });
      for (let i = first; i <= index; i++) batch.del(indexKey(i), { sublevel: log });
      await batch.write({ sync: true });
      this.mem.compact(index, data, voters);
    } finally {
      this.writing = false;
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private beginWrite(): void {
    // The driver handles one Ready at a time; overlapping writes would be a driver bug.
    if (this.writing) throw new Error('raft store: concurrent writes');
    this.writing = true;
  }

  private sub(name: 'hard' | 'snap' | 'log') {
    return this.db.sublevel<Uint8Array, Uint8Array>(name, { keyEncoding: 'view', valueEncoding: 'view' });
  }
}

export function openRaftStore(opts: RaftStoreOptions): Promise<LevelRaftStore> {
  return LevelRaftStore.open(opts);
}

/**
 * `level`'s typings disagree across versions on whether get() of a missing key can yield
 * undefined (abstract-level 2+ returns undefined, older typings say V). Funnel every read
 * through this so callers always handle the missing case.
 */
export async function getOrUndefined<K, V>(db: { get(key: K): Promise<V | undefined> }, key: K): Promise<V | undefined> {
  const v = await db.get(key);
  return v ?? undefined;
}
