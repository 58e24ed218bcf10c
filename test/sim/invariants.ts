import type { Entry, NodeId } from '../../raft/types.ts';
import type { SimNode } from './sim-node.ts';

/** A safety property was broken: the simulation stops and reports the seed and trace. */
export class Violation extends Error {
  constructor(
    readonly property: string,
    detail: string,
  ) {
    super(`${property}: ${detail}`);
    this.name = 'Violation';
  }
}

/**
 * The Raft safety properties (Raft paper, Figure 3), checked against every node after every
 * simulator event. Most checks are incremental, so they stay cheap enough to run always:
 *
 * - Election Safety: at most one leader per term.
 * - Log Matching: if two logs hold an entry with the same index and term, the logs are
 *   identical up to it. Checked as "every (index, term) ever written anywhere has one data
 *   and one predecessor term", which implies it by induction, plus a pairwise term scan.
 * - Leader Completeness: an entry committed in term T is in the log of every leader of a
 *   term > T.
 * - State Machine Safety: all nodes apply the same entry at each index, in index order.
 */
export class InvariantChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** (index:term) -> the entry's data and the term of the entry before it. */
  private readonly written = new Map<string, { data: string; prevTerm: number }>();
  /** Highest index any leader has reported committed. */
  maxCommitted = 0;
  /** For each committed index: the entry's term and the leader term that committed it. */
  private readonly committed = new Map<number, { entryTerm: number; commitTerm: number }>();
  /** index -> data, as first applied by any node. */
  private readonly applied = new Map<number, string>();
  /** Per node: the term in which we last saw it as leader (to check new leaders at once). */
  private readonly seenLeaderTerm = new Map<NodeId, number>();

  /** Election Safety and commit bookkeeping; cheap, after every event. */
  afterEvent(nodes: readonly SimNode[]): void {
    for (const n of nodes) {
      const core = n.core;
      if (core === undefined) continue;
      const st = core.status();
      if (st.role !== 'leader') continue;
      const other = this.leaderOfTerm.get(st.term);
      if (other !== undefined && other !== n.id) {
        throw new Violation('Election Safety', `nodes ${other} and ${n.id} are both leaders of term ${st.term}`);
      }
      this.leaderOfTerm.set(st.term, n.id);
      if (this.seenLeaderTerm.get(n.id) !== st.term) {
        this.seenLeaderTerm.set(n.id, st.term);
        this.checkLeaderCompleteness(n);
      }
      for (let i = this.maxCommitted + 1; i <= st.commit; i++) {
        const entryTerm = core.logTermAt(i);
        if (entryTerm === undefined) throw new Violation('Leader Completeness', `leader ${n.id} committed ${i} it does not hold`);
        this.committed.set(i, { entryTerm, commitTerm: st.term });
      }
      if (st.commit > this.maxCommitted) this.maxCommitted = st.commit;
    }
  }

  /** Log Matching, incrementally: called with every batch of entries a node is about to persist. */
  onEntriesWritten(node: SimNode, entries: readonly Entry[]): void {
    const core = node.core;
    if (core === undefined) return;
    for (const e of entries) {
      const prevTerm = core.logTermAt(e.index - 1);
      if (prevTerm === undefined) throw new Violation('Log Matching', `node ${node.id} wrote ${e.index} with no entry before it`);
      const data = new TextDecoder().decode(e.data);
      const key = `${e.index}:${e.term}`;
      const first = this.written.get(key);
      if (first === undefined) {
        this.written.set(key, { data, prevTerm });
      } else if (first.data !== data || first.prevTerm !== prevTerm) {
        throw new Violation(
          'Log Matching',
          `node ${node.id} holds (${e.index}, term ${e.term}) = ${JSON.stringify(data)} after term ${prevTerm}; ` +
            `elsewhere it is ${JSON.stringify(first.data)} after term ${first.prevTerm}`,
        );
      }
    }
  }

  /** State Machine Safety: called for every entry a node applies, in order. */
  onApplied(node: SimNode, index: number, data: string): void {
    if (index !== node.sm.length + 1) {
      throw new Violation('State Machine Safety', `node ${node.id} applied ${index} after ${node.sm.length}`);
    }
    this.checkAppliedValue(node, index, data);
    node.sm.push(data);
  }

  /** A node's state machine was replaced by a snapshot: it must agree with what others applied. */
  onSnapshotApplied(node: SimNode, sm: readonly string[]): void {
    sm.forEach((data, k) => this.checkAppliedValue(node, k + 1, data));
  }

  private checkAppliedValue(node: SimNode, index: number, data: string): void {
    const first = this.applied.get(index);
    if (first === undefined) this.applied.set(index, data);
    else if (first !== data) {
      throw new Violation('State Machine Safety', `node ${node.id} applied ${JSON.stringify(data)} at ${index}, another node ${JSON.stringify(first)}`);
    }
  }

  /** The heavier scans; run once per tick. */
  afterTick(nodes: readonly SimNode[]): void {
    for (const n of nodes) if (n.core?.status().role === 'leader') this.checkLeaderCompleteness(n);
    this.checkLogMatchingPairwise(nodes);
  }

  private checkLeaderCompleteness(n: SimNode): void {
    const core = n.core;
    if (core === undefined) return;
    const term = core.status().term;
    for (let i = Math.max(1, core.logFirstIndex()); i <= this.maxCommitted; i++) {
      const c = this.committed.get(i);
      if (c === undefined || c.commitTerm >= term) continue;
      const t = core.logTermAt(i);
      if (t !== c.entryTerm) {
        throw new Violation(
          'Leader Completeness',
          `leader ${n.id} of term ${term} has ${t === undefined ? 'no entry' : `term ${t}`} at ${i}, committed with term ${c.entryTerm} in term ${c.commitTerm}`,
        );
      }
    }
  }

  private checkLogMatchingPairwise(nodes: readonly SimNode[]): void {
    const live = nodes.filter((n) => n.core !== undefined);
    for (let a = 0; a < live.length; a++) {
      for (let b = a + 1; b < live.length; b++) {
        const x = live[a]?.core;
        const y = live[b]?.core;
        if (x === undefined || y === undefined) continue;
        const lo = Math.max(x.logFirstIndex(), y.logFirstIndex());
        const hi = Math.min(x.status().lastIndex, y.status().lastIndex);
        let matchedAt = 0;
        for (let i = hi; i >= lo; i--) {
          if (x.logTermAt(i) === y.logTermAt(i)) {
            matchedAt = i;
            break;
          }
        }
        for (let i = lo; i < matchedAt; i++) {
          if (x.logTermAt(i) !== y.logTermAt(i)) {
            throw new Violation('Log Matching', `nodes ${x.id} and ${y.id} agree at ${matchedAt} but differ at ${i}`);
          }
        }
      }
    }
  }
}
