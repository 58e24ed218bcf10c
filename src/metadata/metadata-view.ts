import type { RaftNode } from '../../raft/node.ts';
import { NONE } from '../../raft/types.ts';
import { waitAtMost } from '../deadline.ts';
import { RunnelError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { PeerCaller, RpcMethod } from '../rpc/rpc-method.ts';
import { fields, int } from '../rpc/wire-shape.ts';
import type { MetadataImage, TopicState } from './image.ts';
import type { QuorumView } from './quorum-status.ts';
import { topicConfigValue } from './topic-configs.ts';

/** Bound on the read barrier of findTopic. */
const METADATA_BARRIER_TIMEOUT_MS = 2000;
/** The longest a peer waits in `metadata-applied`, whatever the caller asks. */
const APPLIED_WAIT_MAX_MS = 30_000;

/** rpc `metadata-applied`: the answering node waits (bounded) until it has applied `index`, and answers how far it has. */
export const METADATA_APPLIED_RPC: RpcMethod<{ index: number; timeoutMs: number }, { applied: number }> = {
  name: 'metadata-applied',
  parseRequest: (p) => {
    const o = fields(p, 'request');
    return { index: int(o, 'index'), timeoutMs: int(o, 'timeoutMs') };
  },
  parseResponse: (p) => ({ applied: int(fields(p, 'response'), 'applied') }),
};

export interface MetadataViewDeps {
  readonly nodeId: number;
  /** The image as applied on this node. */
  readonly image: () => MetadataImage;
  readonly raft: Pick<RaftNode, 'status' | 'whenApplied'>;
  readonly quorum: QuorumView;
  /** The other nodes (appliedOnLiveBrokers asks them). */
  readonly peers: PeerCaller;
  /** cluster.yaml's topic config values (topicConfigDefaults). */
  readonly topicDefaults: Readonly<Record<string, string>>;
  readonly logger: Logger;
}

/**
 * What the front doors and services read of the metadata (Kafka's MetadataCache): the image
 * this node has applied, topic lookups with a read barrier on a miss, and topic configs with
 * their cluster defaults.
 */
export class MetadataView {
  constructor(private readonly deps: MetadataViewDeps) {}

  image(): MetadataImage {
    return this.deps.image();
  }

  /** A topic config: set on the topic, else cluster.yaml's default (API.md). */
  topicConfig(t: TopicState, name: string): string {
    return topicConfigValue(t, name, this.deps.topicDefaults);
  }

  /** Whether a config is left at its default (not set on the topic itself). */
  topicConfigIsDefault(t: TopicState, name: string): boolean {
    return t.configs[name] === undefined;
  }

  /**
   * The topic, looked up again after catching up with the raft leader's commit index when it
   * is not in this node's image: a topic just created through another node is found here too
   * (a read barrier, paid only on a miss).
   */
  async findTopic(name: string): Promise<TopicState | undefined> {
    const t = this.image().topic(name);
    if (t !== undefined) return t;
    await this.catchUpWithLeader(METADATA_BARRIER_TIMEOUT_MS);
    return this.image().topic(name);
  }

  /** findTopic, or UNKNOWN_TOPIC_OR_PARTITION (404) naming it. */
  async requireTopic(name: string): Promise<TopicState> {
    const t = await this.findTopic(name);
    if (t === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${name}" not found`);
    return t;
  }

  /**
   * Whether every live (unfenced) broker has applied the metadata this node has, within
   * `timeoutMs`: after a change made here (a created topic), every broker's image shows it.
   */
  async appliedOnLiveBrokers(timeoutMs: number): Promise<boolean> {
    const index = this.deps.raft.status().applied;
    const others = this.image()
      .allBrokers()
      .filter((b) => !b.fenced && b.id !== this.deps.nodeId);
    const caughtUp = await Promise.all(
      others.map((b) =>
        this.deps.peers.call(b.id, METADATA_APPLIED_RPC, { index, timeoutMs }, timeoutMs + 1000).then(
          (r) => r.applied >= index,
          (err: unknown) => {
            this.deps.logger.debug({ err, broker: b.id }, 'metadata-applied failed');
            return false;
          },
        ),
      ),
    );
    return caughtUp.every(Boolean);
  }

  /** rpc `metadata-applied`: how far this node has applied, once it reaches `index` or the wait ends. */
  async answerApplied(req: { index: number; timeoutMs: number }): Promise<{ applied: number }> {
    await waitAtMost(this.deps.raft.whenApplied(req.index), Math.min(Math.max(0, req.timeoutMs), APPLIED_WAIT_MAX_MS));
    return { applied: this.deps.raft.status().applied };
  }

  /** Waits (bounded) until this node has applied everything the raft leader has committed. */
  private async catchUpWithLeader(timeoutMs: number): Promise<void> {
    const leader = this.deps.raft.status().leaderId;
    if (leader === NONE || leader === this.deps.nodeId) return;
    try {
      const q = await this.deps.quorum.ofLeader(leader, timeoutMs);
      await waitAtMost(this.deps.raft.whenApplied(q.commitIndex), timeoutMs);
    } catch (err) {
      this.deps.logger.debug({ err, leader }, 'metadata barrier failed; answering from the local image');
    }
  }
}
