import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import { getOrUndefined, indexKey } from './raft-store.ts';

const CHECKPOINT_KEY = 'image';

/**
 * The applied metadata image, checkpointed in LevelDB with the raft index it covers, so a
 * restart replays only the log after it. One key, overwritten with `sync: true`: a checkpoint
 * is either wholly the old one or wholly the new one.
 */
export class MetadataStore {
  private constructor(private readonly db: Level<string, Uint8Array>) {}

  static async open(dir: string): Promise<MetadataStore> {
    await mkdir(dir, { recursive: true });
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    return new MetadataStore(db);
  }

  async load(): Promise<{ index: number; image: Uint8Array } | undefined> {
    const v = await getOrUndefined<string, Uint8Array>(this.db, CHECKPOINT_KEY);
    if (v === undefined) return undefined;
    // Layout: 8-byte big-endian raft index, then the encoded image.
    const index = Number(Buffer.from(v.buffer, v.byteOffset, 8).readBigUInt64BE(0));
    return { index, image: v.subarray(8) };
  }

  async save(index: number, image: Uint8Array): Promise<void> {
    await this.db.put(CHECKPOINT_KEY, Buffer.concat([indexKey(index), image]), { sync: true });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
