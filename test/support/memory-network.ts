import type { Transport } from '../../raft/node.ts';
import type { Message, NodeId } from '../../raft/types.ts';

/**
 * An in-process network for RaftNodes: each message is delivered on a later macrotask (like
 * a socket would), to whichever receiver is currently attached for its destination. A node
 * that is detached (down) loses the messages sent to it.
 */
export class MemoryNetwork {
  private readonly receivers = new Map<NodeId, (m: Message) => void>();
  delivered = 0;

  transport(): Transport {
    return {
      send: (m) => {
        setImmediate(() => {
          const r = this.receivers.get(m.to);
          if (r === undefined) return;
          this.delivered++;
          r(m);
        });
      },
    };
  }

  attach(id: NodeId, receive: (m: Message) => void): void {
    this.receivers.set(id, receive);
  }

  detach(id: NodeId): void {
    this.receivers.delete(id);
  }
}
