import type { Message, NodeId } from '../../raft/types.ts';
import { silentLogger } from '../../raft/types.ts';
import { InvariantChecker } from './invariants.ts';
import { Prng } from './prng.ts';
import { SimNode, encodeText } from './sim-node.ts';

export interface ScriptedClusterOptions {
  readonly size: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly maxEntriesPerMsg?: number;
  readonly electionTicks?: number;
  readonly seed?: number;
}

/**
 * A cluster driven step by step by a test (etcd's raft_test.go "network"): every Ready is
 * synced at once, messages wait in one FIFO queue until the test delivers them, and links can
 * be cut. The same invariant checker as the simulator watches every step.
 */
export class ScriptedCluster {
  readonly nodes: SimNode[] = [];
  readonly checker = new InvariantChecker();
  private queue: Message[] = [];
  private readonly cuts = new Set<string>();
  readonly electionTicks: number;

  constructor(opts: ScriptedClusterOptions) {
    const rng = new Prng(opts.seed ?? 1);
    const voters = Array.from({ length: opts.size }, (_, i) => i + 1);
    this.electionTicks = opts.electionTicks ?? 10;
    for (const id of voters) {
      const node = new SimNode({
        id,
        voters,
        electionTicks: this.electionTicks,
        heartbeatTicks: 1,
        preVote: opts.preVote ?? true,
        checkQuorum: opts.checkQuorum ?? true,
        maxInflightMsgs: 16,
        maxEntriesPerMsg: opts.maxEntriesPerMsg ?? 64,
        rng: rng.fork(),
        logger: silentLogger,
      });
      node.boot();
      this.nodes.push(node);
    }
  }

  node(id: NodeId): SimNode {
    const n = this.nodes[id - 1];
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: NodeId): NonNullable<SimNode['core']> {
    const c = this.node(id).core;
    if (c === undefined) throw new Error(`node ${id} is down`);
    return c;
  }

  /** Cuts every link to and from `id`. */
  isolate(id: NodeId): void {
    for (const n of this.nodes) {
      if (n.id === id) continue;
      this.cuts.add(`${id}>${n.id}`);
      this.cuts.add(`${n.id}>${id}`);
    }
  }

  /** Restores every link to and from `id`. */
  reconnect(id: NodeId): void {
    for (const key of [...this.cuts]) {
      const [a, b] = key.split('>');
      if (Number(a) === id || Number(b) === id) this.cuts.delete(key);
    }
  }

  /** Crash and restart `id`: it comes back from its synced storage as a follower. */
  restart(id: NodeId): void {
    const n = this.node(id);
    n.crash();
    n.boot();
  }

  healAll(): void {
    this.cuts.clear();
  }

  campaign(id: NodeId): void {
    this.core(id).campaign();
    this.sync();
  }

  propose(id: NodeId, value: string): void {
    this.core(id).propose(encodeText(value));
    this.sync();
  }

  /** One tick on every live node. */
  tick(): void {
    for (const n of this.nodes) n.core?.tick();
    this.sync();
  }

  /** Delivers one queued message (dropped if its link is cut); false when none is left. */
  deliverOne(): boolean {
    const m = this.queue.shift();
    if (m === undefined) return false;
    const to = this.node(m.to);
    if (to.core !== undefined && !this.cuts.has(`${m.from}>${m.to}`)) to.core.step(m);
    this.sync();
    return true;
  }

  /** Delivers until the queue is empty, or until `stop` holds after a delivery. */
  stabilize(stop?: () => boolean): void {
    for (let i = 0; i < 100_000; i++) {
      if (!this.deliverOne() || stop?.() === true) return;
    }
    throw new Error('cluster did not stabilize');
  }

  /** Ticks (delivering everything after each tick) until `cond` holds; throws after `maxTicks`. */
  tickUntil(cond: () => boolean, maxTicks: number): number {
    for (let t = 1; t <= maxTicks; t++) {
      this.tick();
      this.stabilize();
      if (cond()) return t;
    }
    throw new Error(`condition not reached within ${maxTicks} ticks`);
  }

  /** The Ready contract, with an instant sync: persist, send, apply, advance. */
  private sync(): void {
    for (let progress = true; progress; ) {
      progress = false;
      for (const n of this.nodes) {
        const core = n.core;
        if (core === undefined || !core.hasReady()) continue;
        const rd = core.ready();
        this.checker.onEntriesWritten(n, rd.entries);
        this.queue.push(...rd.messages);
        n.completeReady(rd, this.checker);
        progress = true;
      }
      this.checker.afterEvent(this.nodes);
    }
  }
}
