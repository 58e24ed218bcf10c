import type { RaftNode } from '../../raft/node.ts';
import type { RaftStatus } from '../../raft/types.ts';
import { NONE } from '../../raft/types.ts';
import type { Logger } from '../logger.ts';
import type { PeerCaller, RpcMethod } from '../rpc/rpc-method.ts';
import { fields, int, intOrNull, listOf } from '../rpc/wire-shape.ts';
import type { MetadataImage } from './image.ts';

export interface VoterStatus {
  readonly nodeId: number;
  readonly matchIndex: number | null;
  readonly lastContactMs: number | null;
}

export interface QuorumStatus {
  readonly leaderId: number | null;
  readonly term: number;
  readonly commitIndex: number;
  readonly voters: readonly VoterStatus[];
}

/** The leader's view is asked for with this bound; past it a node answers with its own. */
const LEADER_STATUS_TIMEOUT_MS = 1000;

function parseQuorumStatus(payload: unknown): QuorumStatus {
  const o = fields(payload, 'quorum status');
  return {
    leaderId: intOrNull(o, 'leaderId'),
    term: int(o, 'term'),
    commitIndex: int(o, 'commitIndex'),
    voters: listOf(o, 'voters', (v, what) => {
      const e = fields(v, what);
      return { nodeId: int(e, 'nodeId'), matchIndex: intOrNull(e, 'matchIndex'), lastContactMs: intOrNull(e, 'lastContactMs') };
    }),
  };
}

/** rpc `quorum-status`: the answering node's view of the metadata quorum. */
export const QUORUM_STATUS_RPC: RpcMethod<null, QuorumStatus> = {
  name: 'quorum-status',
  parseRequest: () => null,
  parseResponse: parseQuorumStatus,
};

export interface QuorumViewDeps {
  readonly nodeId: number;
  /** This process's broker incarnation (joined() looks for its registration). */
  readonly incarnationId: string;
  readonly voters: readonly number[];
  readonly tickMs: number;
  readonly raft: Pick<RaftNode, 'status'>;
  readonly image: () => MetadataImage;
  readonly peers: PeerCaller;
  readonly logger: Logger;
}

/** The metadata quorum as this node knows it (etcd's raft.Status; Kafka's QuorumState view). */
export class QuorumView {
  constructor(private readonly deps: QuorumViewDeps) {}

  raftStatus(): RaftStatus {
    return this.deps.raft.status();
  }

  /** The raft leader, which is the active controller; null while none is known. */
  controllerId(): number | null {
    const leader = this.raftStatus().leaderId;
    return leader === NONE ? null : leader;
  }

  /**
   * The node has joined: it knows a raft leader, and the image it serves from holds this
   * process's broker registration, unfenced (the controller has heard its heartbeat).
   */
  joined(): boolean {
    if (this.raftStatus().leaderId === NONE) return false;
    const b = this.deps.image().broker(this.deps.nodeId);
    return b?.incarnationId === this.deps.incarnationId && !b.fenced;
  }

  /** This node's own view (per-voter progress only while it leads). */
  local(): QuorumStatus {
    const st = this.raftStatus();
    return {
      leaderId: st.leaderId === NONE ? null : st.leaderId,
      term: st.term,
      commitIndex: st.commit,
      voters: this.deps.voters.map((id) => {
        const pr = st.progress?.get(id);
        return { nodeId: id, matchIndex: pr?.match ?? null, lastContactMs: pr === undefined ? null : pr.ticksSinceContact * this.deps.tickMs };
      }),
    };
  }

  /** The quorum as the leader sees it (with per-voter progress), else as this node does. */
  async status(): Promise<QuorumStatus> {
    const leader = this.raftStatus().leaderId;
    if (leader !== NONE && leader !== this.deps.nodeId) {
      try {
        return await this.ofLeader(leader, LEADER_STATUS_TIMEOUT_MS);
      } catch (err) {
        this.deps.logger.debug({ err, leader }, 'quorum status from the leader failed; answering locally');
      }
    }
    return this.local();
  }

  /** The leader's own status (its commit index is what a read barrier waits for). */
  ofLeader(leader: number, timeoutMs: number): Promise<QuorumStatus> {
    return this.deps.peers.call(leader, QUORUM_STATUS_RPC, null, timeoutMs);
  }
}
