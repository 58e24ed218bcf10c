import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NotLeaderError, RaftNode } from '../../raft/node.ts';
import type { StateMachine } from '../../raft/node.ts';
import type { PersistentRaftStorage } from '../../raft/persistent-storage.ts';
import type { Entry, NodeId, Snapshot } from '../../raft/types.ts';
import { openRaftStore } from '../../storage/raft-store.ts';
import { MemoryNetwork } from '../support/memory-network.ts';
import { pollUntil } from '../support/poll.ts';

const VOTERS: readonly NodeId[] = [1, 2, 3];

/** Applies entries as strings, in order; snapshots are the whole list as JSON. */
class ListMachine implements StateMachine {
  items: string[] = [];
  apply(entry: Entry): void {
    this.items.push(Buffer.from(entry.data).toString());
  }
  restore(snapshot: Snapshot): void {
    this.items = snapshot.data.length === 0 ? [] : (JSON.parse(Buffer.from(snapshot.data).toString()) as string[]);
  }
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.items));
  }
}

interface Member {
  id: NodeId;
  dir: string;
  store: PersistentRaftStorage;
  node: RaftNode;
  machine: ListMachine;
}

/** Three RaftNodes in this process, each on its own LevelDB, over an in-memory network. */
class Cluster {
  readonly net = new MemoryNetwork();
  readonly members = new Map<NodeId, Member>();
  private readonly dirs = new Map<NodeId, string>();

  constructor(
    private readonly root: string,
    private readonly snapshotEntries: number,
  ) {}

  async startNode(id: NodeId): Promise<Member> {
    const dir = this.dirs.get(id) ?? join(this.root, `node-${id}`);
    this.dirs.set(id, dir);
    const store = await openRaftStore({ dir, voters: VOTERS });
    const machine = new ListMachine();
    const node = new RaftNode({
      id,
      voters: VOTERS,
      storage: store,
      transport: this.net.transport(),
      stateMachine: machine,
      tickMs: 10,
      electionTicks: 10,
      heartbeatTicks: 2,
      snapshotEntries: this.snapshotEntries,
    });
    this.net.attach(id, (m) => node.receive(m));
    await node.start();
    const member = { id, dir, store, node, machine };
    this.members.set(id, member);
    return member;
  }

  /** Take a node down: it stops receiving, finishes its in-flight Ready, closes its LevelDB. */
  async stopNode(id: NodeId): Promise<void> {
    const m = this.members.get(id);
    if (m === undefined) return;
    this.members.delete(id);
    this.net.detach(id);
    await m.node.close();
    await m.store.close();
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.members.keys()]) await this.stopNode(id);
  }

  leader(): Member | undefined {
    const leaders = [...this.members.values()].filter((m) => m.node.status().role === 'leader');
    if (leaders.length !== 1) return undefined;
    return leaders[0];
  }

  async waitForLeader(): Promise<Member> {
    return pollUntil('a single leader', () => this.leader());
  }

  /** Propose `count` payloads with at most `window` in flight, retrying through leader changes. */
  async proposeAll(prefix: string, count: number, window = 64): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const payload = Buffer.from(`${prefix}-${next++}`);
        for (;;) {
          const leader = await this.waitForLeader();
          try {
            await leader.node.propose(payload);
            break;
          } catch (err) {
            if (!(err instanceof NotLeaderError)) throw err;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: window }, worker));
  }

  async waitConverged(expected: number): Promise<void> {
    await pollUntil(`all nodes applied ${expected} entries identically`, () => {
      const lists = [...this.members.values()].map((m) => m.machine.items);
      if (lists.length === 0 || lists.some((l) => l.length !== expected)) return false;
      return lists.every((l) => JSON.stringify(l) === JSON.stringify(lists[0]));
    }, 20_000);
  }
}

describe('three raft nodes on LevelDB', () => {
  let root = '';
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.stopAll();
    cluster = undefined;
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  async function startCluster(snapshotEntries: number): Promise<Cluster> {
    root = await mkdtemp(join(tmpdir(), 'runnel-raft-'));
    cluster = new Cluster(root, snapshotEntries);
    for (const id of VOTERS) await cluster.startNode(id);
    return cluster;
  }

  it('elects a leader, commits 1,000 proposals with synced writes, and a reopened node catches up', async () => {
    const c = await startCluster(400);
    await c.waitForLeader();

    const started = performance.now();
    await c.proposeAll('a', 1000);
    const seconds = (performance.now() - started) / 1000;
    await c.waitConverged(1000);
    console.info(`3-node LevelDB raft: 1000 commits in ${seconds.toFixed(2)} s = ${Math.round(1000 / seconds)} commits/s (sync writes, 64 in flight)`);

    // Take a follower down, commit more while it is away (the leader compacts past it), reopen it.
    const leader = await c.waitForLeader();
    const follower = VOTERS.find((id) => id !== leader.id) ?? 0;
    await c.stopNode(follower);
    await c.proposeAll('b', 500);
    const reopened = await c.startNode(follower);
    await c.waitConverged(1500);
    // Every proposal exactly once, on the reopened node as on the others.
    expect(new Set(reopened.machine.items).size).toBe(1500);
    expect(reopened.store.firstIndex()).toBeGreaterThan(1); // it was brought back through a snapshot or compacted itself
  });

  it('survives losing the leader: the other two elect a new one and keep committing', async () => {
    const c = await startCluster(10_000);
    const first = await c.waitForLeader();
    await c.proposeAll('x', 100);
    await c.stopNode(first.id);
    const second = await c.waitForLeader();
    expect(second.id).not.toBe(first.id);
    await c.proposeAll('y', 100);
    await c.waitConverged(200);
    // The old leader comes back from its data dir and converges on the same history.
    await c.startNode(first.id);
    await c.waitConverged(200);
  });

  it('refuses a proposal on a follower with NotLeaderError naming the leader', async () => {
    const c = await startCluster(10_000);
    const leader = await c.waitForLeader();
    // A follower learns the leader from its first append.
    const follower = await pollUntil('a follower that knows the leader', () =>
      [...c.members.values()].find((m) => m.id !== leader.id && m.node.status().leaderId === leader.id),
    );
    const err: unknown = await follower.node.propose(Buffer.from('nope')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leaderId).toBe(leader.id);
  });
});
