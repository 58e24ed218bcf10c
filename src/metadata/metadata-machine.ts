import type { StateMachine } from '../../raft/node.ts';
import type { Entry, Snapshot } from '../../raft/types.ts';
import { MetadataImage } from './image.ts';
import type { MetadataRecord } from './records.ts';
import { decodeRecords } from './records.ts';

/** Where the applied image is checkpointed so a restart replays only the log's tail. */
export interface ImageCheckpointStore {
  load(): Promise<{ index: number; image: Uint8Array } | undefined>;
  save(index: number, image: Uint8Array): Promise<void>;
}

export type ImageListener = (image: MetadataImage, records: readonly MetadataRecord[], index: number) => void;

/**
 * The raft state machine of the metadata quorum: every committed entry is a batch of metadata
 * records replayed into the image. The image is checkpointed every `checkpointEntries`
 * applied entries (and on close).
 */
export class MetadataMachine implements StateMachine {
  private current = new MetadataImage();
  private appliedIndex = 0;
  private checkpointedIndex = 0;
  private readonly listeners = new Set<ImageListener>();

  constructor(
    private readonly checkpoints: ImageCheckpointStore,
    private readonly checkpointEntries = 100,
  ) {}

  /** Load the last checkpoint; returns the raft index it covers (the driver's `applied`). */
  async open(): Promise<number> {
    const cp = await this.checkpoints.load();
    if (cp !== undefined) {
      this.current = MetadataImage.decode(cp.image);
      this.appliedIndex = cp.index;
      this.checkpointedIndex = cp.index;
    }
    return this.appliedIndex;
  }

  image(): MetadataImage {
    return this.current;
  }

  applied(): number {
    return this.appliedIndex;
  }

  onChange(listener: ImageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async apply(entry: Entry): Promise<void> {
    const records = decodeRecords(entry.data);
    for (const r of records) this.current.replay(r);
    this.appliedIndex = entry.index;
    this.notify(records);
    if (this.appliedIndex - this.checkpointedIndex >= this.checkpointEntries) await this.checkpoint();
  }

  restore(snapshot: Snapshot): Promise<void> {
    this.current = MetadataImage.decode(snapshot.data);
    this.appliedIndex = snapshot.meta.index;
    this.notify([]);
    return this.checkpoint();
  }

  snapshot(): Uint8Array {
    return this.current.encode();
  }

  async checkpoint(): Promise<void> {
    if (this.checkpointedIndex === this.appliedIndex) return;
    const index = this.appliedIndex;
    await this.checkpoints.save(index, this.current.encode());
    this.checkpointedIndex = index;
  }

  private notify(records: readonly MetadataRecord[]): void {
    for (const l of this.listeners) l(this.current, records, this.appliedIndex);
  }
}
