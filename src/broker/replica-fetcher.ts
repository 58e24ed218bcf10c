import { RunnelError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { FollowerFetchSession, partitionKey } from './fetch-session.ts';
import type { SessionRefusal, SessionRequest } from './fetch-session.ts';
import type { PartitionReplica } from './partition-replica.ts';

export interface FetchRequest extends SessionRequest {
  readonly replicaId: number;
  readonly maxWaitMs: number;
  readonly maxBytes: number;
}

export interface FetchPartitionResponse {
  readonly topicId: string;
  readonly partition: number;
  readonly error?: { readonly errorName: string; readonly message: string };
  readonly records?: Uint8Array;
  readonly highWatermark?: number;
  readonly logStartOffset?: number;
  readonly divergingEpoch?: { readonly epoch: number; readonly endOffset: number };
  readonly behindLogStart?: boolean;
}

export interface FetchResponse {
  /** Full answer: every partition of the request; incremental: only those with news. */
  readonly partitions: readonly FetchPartitionResponse[];
  /** The session the leader holds for this follower; 0 when it holds none. */
  readonly sessionId: number;
  /** Set when the session was refused: the follower starts over with a full fetch. */
  readonly sessionError?: SessionRefusal;
}

export type FetchRpc = (leaderId: number, req: FetchRequest, timeoutMs: number) => Promise<FetchResponse>;

const RETRY_BACKOFF_MS = 100;

/**
 * A follower's fetch session with one leader broker (Kafka's ReplicaFetcherThread): one
 * long-polling fetch at a time covering every partition this broker follows there. Each
 * answer is appended in order; a diverging-epoch answer truncates the log to the end of the
 * last epoch both sides share (KIP-101/KIP-595) before fetching again.
 */
export class ReplicaFetcher {
  private readonly partitions = new Map<string, PartitionReplica>();
  private running = false;
  private loop: Promise<void> | undefined;
  private backoff: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private readonly session = new FollowerFetchSession();

  constructor(
    readonly leaderId: number,
    private readonly selfId: number,
    private readonly fetch: FetchRpc,
    private readonly opts: { readonly maxWaitMs: number; readonly maxBytes: number; readonly requestTimeoutMs: number },
    private readonly logger: Logger,
  ) {}

  setPartitions(replicas: readonly PartitionReplica[]): void {
    this.partitions.clear();
    for (const r of replicas) this.partitions.set(partitionKey(r), r);
  }

  get size(): number {
    return this.partitions.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.running = false;
    if (this.backoff !== undefined) {
      clearTimeout(this.backoff.timer);
      this.backoff.resolve();
    }
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const sent = [...this.partitions.values()].filter((r) => r.role === 'follower' && r.leaderId === this.leaderId && !r.closed);
        if (sent.length === 0) {
          await this.pause(RETRY_BACKOFF_MS);
          continue;
        }
        const req: FetchRequest = {
          replicaId: this.selfId,
          maxWaitMs: this.opts.maxWaitMs,
          maxBytes: this.opts.maxBytes,
          ...this.session.build(
            sent.map((r) => ({
              topicId: r.topicId,
              partition: r.partition,
              leaderEpoch: r.leaderEpoch,
              fetchOffset: r.log.logEndOffset,
              lastFetchedEpoch: r.log.latestEpoch(),
            })),
          ),
        };
        let res: FetchResponse;
        try {
          res = await this.fetch(this.leaderId, req, this.opts.maxWaitMs + this.opts.requestTimeoutMs);
        } catch (err) {
          // The leader may or may not have applied this request: start the session over.
          this.session.reset();
          throw err;
        }
        if (res.sessionError !== undefined) {
          this.logger.debug({ leader: this.leaderId, sessionError: res.sessionError }, 'fetch session refused; sending a full fetch');
          this.session.reset();
          continue;
        }
        const asked = this.session.answered(res.sessionId);
        // Partitions are independent logs: append them in parallel, so their writes and fsyncs
        // (flush=batch) overlap instead of queueing one after another.
        const handled = await Promise.all(
          res.partitions.map(async (p) => {
            const k = partitionKey(p);
            const r = this.partitions.get(k);
            if (r === undefined || r.closed || r.role !== 'follower') return true;
            // An answer from a leader epoch that ended while the fetch was in flight is stale: drop it.
            if (r.leaderId !== this.leaderId || r.leaderEpoch !== asked.get(k)?.leaderEpoch) return true;
            return this.handle(r, p);
          }),
        );
        if (handled.includes(false)) await this.pause(RETRY_BACKOFF_MS);
      } catch (err) {
        if (!this.running) break;
        if (err instanceof RunnelError && err.status >= 500) this.logger.debug({ err, leader: this.leaderId }, 'fetch failed; retrying');
        else this.logger.warn({ err, leader: this.leaderId }, 'fetch failed; retrying');
        await this.pause(RETRY_BACKOFF_MS);
      }
    }
  }

  /** Applies one partition's answer; false if the partition should back off before the next fetch. */
  private async handle(r: PartitionReplica, p: FetchPartitionResponse): Promise<boolean> {
    if (p.error !== undefined) {
      this.logger.debug({ partition: r.name, error: p.error }, 'fetch refused for partition');
      return false;
    }
    if (p.divergingEpoch !== undefined) {
      // Truncate to the end of the largest epoch both logs hold (never below what we know).
      const mine = r.log.endOffsetForEpoch(p.divergingEpoch.epoch);
      const to = Math.min(mine.endOffset < 0 ? p.divergingEpoch.endOffset : mine.endOffset, p.divergingEpoch.endOffset, r.log.logEndOffset);
      this.logger.info({ partition: r.name, divergingEpoch: p.divergingEpoch, from: r.log.logEndOffset, to }, 'log diverged from the leader: truncating');
      await r.log.truncateTo(Math.max(0, to));
      return true;
    }
    if (p.behindLogStart === true && p.logStartOffset !== undefined) {
      this.logger.info({ partition: r.name, from: r.log.logEndOffset, to: p.logStartOffset }, 'behind the leader\'s log start: restarting the log there');
      await r.log.truncateFullyAndStartAt(p.logStartOffset);
      return true;
    }
    const records = p.records;
    if (records !== undefined && records.length > 0) {
      const buf = Buffer.from(records.buffer, records.byteOffset, records.byteLength);
      await r.log.appendAsFollower(buf);
    }
    if (p.highWatermark !== undefined) {
      const hw = Math.min(p.highWatermark, r.log.logEndOffset);
      if (hw > r.log.highWatermark) r.log.setHighWatermark(hw);
    }
    r.wakeProgress();
    return true;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.backoff = undefined;
        resolve();
      }, ms);
      this.backoff = { timer, resolve };
    });
  }
}
