import { silentLogger } from '../../raft/types.ts';
import type { Logger, Message, NodeId } from '../../raft/types.ts';
import { InvariantChecker, Violation } from './invariants.ts';
import { Prng } from './prng.ts';
import { SimNode, encodeText } from './sim-node.ts';

/**
 * Deliberate bugs the simulator must catch (it "bites"):
 * - 'send-before-sync': a Ready's messages leave before its hard state and entries are synced,
 *   so a crash can forget a vote or an acknowledged entry.
 * - 'vote-before-sync': only vote answers leave early, so a crash can forget a vote given.
 */
export type SimBug = 'send-before-sync' | 'vote-before-sync';

export interface SimOptions {
  readonly seed: number;
  /** Ticks with faults; then everything heals. */
  readonly faultTicks?: number;
  /** After healing, a fresh proposal must be applied on every node within this many ticks. */
  readonly livenessTicks?: number;
  readonly bug?: SimBug;
  /** Record an event trace (slower; used to replay a failing seed). */
  readonly trace?: boolean;
}

export interface SimStats {
  nodes: number;
  ticks: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  crashes: number;
  partitions: number;
  proposals: number;
  committed: number;
  maxTerm: number;
  snapshotsInstalled: number;
  compactions: number;
}

export interface SimResult {
  readonly seed: number;
  readonly violation?: string;
  readonly trace: readonly string[];
  readonly stats: SimStats;
}

type SimEvent =
  | { readonly at: number; readonly kind: 'deliver'; readonly msg: Message }
  | { readonly at: number; readonly kind: 'synced'; readonly node: NodeId; readonly incarnation: number };

const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;
/** Guards against a livelock inside one tick (messages answered with zero delay forever). */
const MAX_EVENTS_PER_TICK = 20_000;

/**
 * One seeded run of a Raft cluster under faults (in the spirit of TigerBeetle's VOPR and
 * Kafka's RaftEventSimulationTest). Everything random comes from one Prng: message loss,
 * delay (and so reordering), duplication, partitions (symmetric and one-way), crashes that
 * lose whatever was not yet synced, restarts, sync latency, client proposals and each node's
 * election timer. Invariants are checked after every event.
 */
export class Simulation {
  private readonly rng: Prng;
  private readonly nodes: SimNode[] = [];
  private readonly checker = new InvariantChecker();
  private now = 0;
  private due: SimEvent[] = [];
  private future: SimEvent[] = [];
  /** Directed links that drop everything: `${from}>${to}`. */
  private cuts = new Set<string>();
  private dropRate = 0;
  private dupRate = 0;
  private maxDelayTicks = 2;
  private maxSyncTicks = 2;
  private proposalSeq = 0;
  /** Commit index each node had after the previous event. */
  private readonly commitSeen = new Map<NodeId, number>();
  /** Term in which each node was last seen leading. */
  private readonly leaderSeen = new Map<NodeId, number>();
  /** True during the fault phase. */
  private faulty = true;
  private readonly compactEvery: number;
  private readonly swarm: Swarm;
  readonly trace: string[] = [];
  readonly stats: SimStats;

  constructor(private readonly opts: SimOptions) {
    this.rng = new Prng(opts.seed);
    const n = this.rng.chance(0.4) ? 3 : 5;
    const voters = Array.from({ length: n }, (_, i) => i + 1);
    const preVote = this.rng.chance(0.75);
    const checkQuorum = this.rng.chance(0.75);
    this.compactEvery = 10 + this.rng.int(40);
    this.swarm = pickSwarm(this.rng);
    for (const id of voters) {
      const logger = opts.trace ? this.traceLogger(id) : silentLogger;
      this.nodes.push(
        new SimNode({
          id,
          voters,
          electionTicks: ELECTION_TICKS,
          heartbeatTicks: HEARTBEAT_TICKS,
          preVote,
          checkQuorum,
          maxInflightMsgs: 1 + this.rng.int(8),
          maxEntriesPerMsg: this.rng.pick([1, 1, 2, 4, 8]),
          rng: this.rng.fork(),
          logger,
        }),
      );
    }
    this.stats = {
      nodes: n, ticks: 0, delivered: 0, dropped: 0, duplicated: 0, crashes: 0, partitions: 0,
      proposals: 0, committed: 0, maxTerm: 0, snapshotsInstalled: 0, compactions: 0,
    };
    this.log(`seed ${opts.seed}: ${n} nodes, preVote=${preVote} checkQuorum=${checkQuorum} compactEvery=${this.compactEvery} ${JSON.stringify(this.swarm)}`);
    for (const node of this.nodes) node.boot();
  }

  run(): SimResult {
    const faultTicks = this.opts.faultTicks ?? 300;
    const livenessTicks = this.opts.livenessTicks ?? 1000;
    try {
      for (let t = 0; t < faultTicks; t++) {
        this.injectFaults();
        this.maybePropose();
        this.tick();
      }
      this.healAll();
      this.checkLiveness(livenessTicks);
    } catch (err) {
      if (!(err instanceof Violation)) throw err;
      this.log(`VIOLATION ${err.message}`);
      this.finishStats();
      return { seed: this.opts.seed, violation: err.message, trace: this.trace, stats: this.stats };
    }
    this.finishStats();
    return { seed: this.opts.seed, trace: this.trace, stats: this.stats };
  }

  // ---- faults -------------------------------------------------------------------------

  private injectFaults(): void {
    const r = this.rng;
    if (r.chance(0.01)) {
      this.dropRate = r.pick([0, 0, 0.05, 0.2, 0.5]);
      this.dupRate = r.pick([0, 0.02, 0.1, 0.3]);
      this.maxDelayTicks = r.pick([0, 1, 2, 5, 8]);
      this.maxSyncTicks = r.pick([0, 1, 3]);
      this.log(`network drop=${this.dropRate} dup=${this.dupRate} delay<=${this.maxDelayTicks} sync<=${this.maxSyncTicks}`);
    }
    if (r.chance(this.swarm.crash)) this.crashOne();
    if (r.chance(this.swarm.restart)) {
      const down = this.nodes.filter((n) => !n.up);
      if (down.length > 0) this.restart(r.pick(down));
    }
    if (r.chance(this.swarm.partition)) this.partition();
    if (r.chance(0.03) && this.cuts.size > 0) {
      this.cuts.clear();
      this.log('heal partitions');
    }
  }

  private crashOne(target?: SimNode): void {
    const r = this.rng;
    const live = this.nodes.filter((n) => n.up);
    // Keep crashes bounded so that progress is possible most of the time.
    if (live.length <= Math.floor(this.nodes.length / 2)) return;
    // Leaders and nodes in the middle of a sync are the interesting victims: prefer them.
    const leaders = live.filter((n) => n.core?.status().role === 'leader');
    const syncing = live.filter((n) => n.pending !== undefined);
    const x = r.next();
    const victim = target ?? (leaders.length > 0 && x < 0.4 ? r.pick(leaders) : syncing.length > 0 && x < 0.8 ? r.pick(syncing) : r.pick(live));
    this.log(`crash ${victim.id}${victim.pending ? ' (losing an unsynced Ready)' : ''}`);
    victim.crash();
    this.stats.crashes++;
    // Half the time a supervisor restarts it at once (a process crash rather than a lost machine).
    if (r.chance(0.5)) this.restart(victim);
  }

  private partition(): void {
    const r = this.rng;
    this.cuts.clear();
    const ids = this.nodes.map((n) => n.id);
    if (r.chance(0.5)) {
      // Symmetric split into two sides.
      const side = new Set(ids.filter(() => r.chance(0.5)));
      for (const a of ids) for (const b of ids) if (a !== b && side.has(a) !== side.has(b)) this.cuts.add(`${a}>${b}`);
    } else {
      // Random one-way cuts: asymmetric partitions, bridges, isolated senders.
      for (const a of ids) for (const b of ids) if (a !== b && r.chance(0.3)) this.cuts.add(`${a}>${b}`);
    }
    this.stats.partitions++;
    this.log(`partition cut=[${[...this.cuts].join(' ')}]`);
  }

  private restart(node: SimNode): void {
    node.boot();
    this.log(`restart ${node.id} (term ${node.storage.initialState().hardState.term}, last ${node.storage.lastIndex()}, snapshot ${node.storage.snapshot().meta.index})`);
  }

  private healAll(): void {
    this.faulty = false;
    this.cuts.clear();
    this.dropRate = 0;
    this.dupRate = 0;
    this.maxDelayTicks = 1;
    for (const n of this.nodes) if (!n.up) this.restart(n);
    this.log('heal all faults');
  }

  // ---- client -------------------------------------------------------------------------

  private maybePropose(): void {
    if (!this.rng.chance(this.swarm.propose)) return;
    const live = this.nodes.filter((n) => n.up);
    if (live.length === 0) return;
    this.propose(this.rng.pick(live), `v${++this.proposalSeq}`);
  }

  private propose(node: SimNode, value: string): void {
    const core = node.core;
    if (core === undefined) return;
    const res = core.propose(encodeText(value));
    this.stats.proposals++;
    this.log(`propose ${value} at ${node.id}: ${res.kind}${res.kind === 'appended' ? ` @${res.index}` : ''}`);
    this.afterEvent();
  }

  private checkLiveness(bound: number): void {
    const marker = `live-${this.opts.seed}`;
    for (let t = 0; t < bound; t++) {
      if (t % ELECTION_TICKS === 0) this.propose(this.rng.pick(this.nodes), marker);
      this.tick();
      if (this.nodes.every((n) => n.sm.includes(marker))) {
        this.log(`liveness: ${marker} applied on every node after ${t + 1} ticks`);
        return;
      }
    }
    throw new Violation('Liveness', `after healing, ${marker} was not applied on every node within ${bound} ticks`);
  }

  // ---- time and events ----------------------------------------------------------------

  private tick(): void {
    this.now++;
    this.stats.ticks++;
    for (const n of this.nodes) n.core?.tick();
    this.afterEvent();
    const still: SimEvent[] = [];
    for (const e of this.future) (e.at <= this.now ? this.due : still).push(e);
    this.future = still;
    let events = 0;
    while (this.due.length > 0) {
      if (++events > MAX_EVENTS_PER_TICK) throw new Violation('Livelock', `more than ${MAX_EVENTS_PER_TICK} events in tick ${this.now}`);
      const k = this.rng.int(this.due.length);
      const e = this.due[k];
      if (e === undefined) break;
      this.due[k] = this.due[this.due.length - 1] as SimEvent;
      this.due.pop();
      this.handle(e);
      this.afterEvent();
      // Crashes also strike between deliveries, not only on tick boundaries.
      if (this.faulty && this.rng.chance(this.swarm.crashMidTick)) {
        this.crashOne();
        this.afterEvent();
      }
    }
    this.checker.afterTick(this.nodes);
  }

  private schedule(e: SimEvent): void {
    (e.at <= this.now ? this.due : this.future).push(e);
  }

  private handle(e: SimEvent): void {
    if (e.kind === 'synced') {
      this.completeSync(e.node, e.incarnation);
      return;
    }
    const m = e.msg;
    const to = this.node(m.to);
    if (to.core === undefined || this.cuts.has(`${m.from}>${m.to}`)) {
      this.stats.dropped++;
      return;
    }
    this.stats.delivered++;
    if (this.opts.trace) this.log(`deliver ${describe(m)}`);
    to.core.step(m);
  }

  /** Starts persisting the next Ready of every idle node, and runs the invariant checks. */
  private afterEvent(): void {
    for (const n of this.nodes) {
      const core = n.core;
      if (core === undefined || n.pending !== undefined || !core.hasReady()) continue;
      const rd = core.ready();
      this.checker.onEntriesWritten(n, rd.entries);
      n.pending = rd;
      // BUGGIFY (FoundationDB's name for it): power loss while a term or vote is being synced
      // is rare in life and decisive for safety, so the simulator makes it common.
      const stored = n.storage.initialState().hardState;
      const votes = rd.hardState !== undefined && (rd.hardState.term !== stored.term || rd.hardState.vote !== stored.vote);
      n.crashBeforeSync = this.faulty && votes && this.rng.chance(this.swarm.crashInVoteSync);
      if (this.opts.bug !== undefined) this.sendAll(rd.messages.filter((m) => this.sendsEarly(m)));
      const delay = this.rng.int(this.maxSyncTicks + 1);
      this.schedule({ at: this.now + delay, kind: 'synced', node: n.id, incarnation: n.incarnation });
    }
    this.checker.afterEvent(this.nodes);
    if (this.faulty) this.buggifyLeaderCrash();
  }

  /**
   * BUGGIFY: a leader dies just after it advanced its commit index, before telling anyone.
   * What it committed must survive on the majority that acknowledged it (Raft §5.4.2,
   * Figure 8), whoever is elected next.
   */
  private buggifyLeaderCrash(): void {
    for (const n of this.nodes) {
      const st = n.core?.status();
      if (st === undefined) continue;
      const before = this.commitSeen.get(n.id) ?? 0;
      this.commitSeen.set(n.id, st.commit);
      const wasLeader = this.leaderSeen.get(n.id) === st.term;
      if (st.role === 'leader') this.leaderSeen.set(n.id, st.term);
      if (st.role === 'leader' && !wasLeader && this.rng.chance(this.swarm.crashNewLeader)) {
        this.log(`crash ${n.id} right after it won term ${st.term}`);
        this.crashOne(n);
        return;
      }
      if (st.role === 'leader' && st.commit > before && this.rng.chance(this.swarm.crashAfterCommit)) {
        this.log(`crash leader ${n.id} right after it committed ${st.commit}`);
        this.crashOne(n);
        return;
      }
    }
  }

  /** The Ready contract's steps 1-4, at the moment the node's sync completes. */
  private completeSync(id: NodeId, incarnation: number): void {
    const n = this.node(id);
    const rd = n.pending;
    const core = n.core;
    if (n.incarnation !== incarnation || rd === undefined || core === undefined) return;
    if (n.crashBeforeSync && this.faulty) {
      this.log(`crash ${id} before its term/vote sync completes`);
      n.crash();
      this.stats.crashes++;
      if (this.rng.chance(0.5)) this.restart(n);
      return;
    }
    n.pending = undefined;
    const installed = n.completeReady(rd, this.checker);
    this.sendAll(rd.messages.filter((m) => !this.sendsEarly(m)));
    if (installed !== undefined) {
      this.stats.snapshotsInstalled++;
      this.log(`node ${id} installed snapshot at ${installed}`);
    }
    if (n.maybeCompact(this.compactEvery)) this.stats.compactions++;
  }

  /** Under a deliberate bug, the messages that leave before the sync that must precede them. */
  private sendsEarly(m: Message): boolean {
    if (this.opts.bug === 'send-before-sync') return true;
    if (this.opts.bug === 'vote-before-sync') return m.type === 'vote-resp' || m.type === 'pre-vote-resp';
    return false;
  }

  private sendAll(messages: readonly Message[]): void {
    for (const m of messages) {
      if (this.rng.chance(this.dropRate)) {
        this.stats.dropped++;
        continue;
      }
      this.schedule({ at: this.now + this.rng.int(this.maxDelayTicks + 1), kind: 'deliver', msg: m });
      if (this.rng.chance(this.dupRate)) {
        this.stats.duplicated++;
        this.schedule({ at: this.now + this.rng.int(this.maxDelayTicks + 1), kind: 'deliver', msg: m });
      }
    }
  }

  // ---- bookkeeping --------------------------------------------------------------------

  private node(id: NodeId): SimNode {
    const n = this.nodes[id - 1];
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  private finishStats(): void {
    this.stats.committed = this.checker.maxCommitted;
    for (const n of this.nodes) {
      const term = n.core?.status().term ?? n.storage.initialState().hardState.term;
      if (term > this.stats.maxTerm) this.stats.maxTerm = term;
    }
  }

  private log(line: string): void {
    if (this.opts.trace) this.trace.push(`t=${this.now} ${line}`);
  }

  private traceLogger(id: NodeId): Logger {
    const line = (level: string) => (obj: object, msg: string) => this.log(`  [${id} ${level}] ${msg} ${JSON.stringify(obj)}`);
    return { debug: line('debug'), info: line('info'), warn: line('warn') };
  }
}

/**
 * Per-seed fault mix. Swarm testing (Groce et al., ISSTA 2012): rather than one blend of every
 * fault at fixed rates, each seed turns faults on or off and picks their rates, which reaches
 * deep interleavings (e.g. Raft's Figure 8) far more often than a uniform blend does.
 * Probabilities are per tick unless named otherwise.
 */
interface Swarm {
  readonly crash: number;
  readonly restart: number;
  readonly partition: number;
  readonly propose: number;
  /** Per event: a crash between two deliveries. */
  readonly crashMidTick: number;
  /** BUGGIFY, per Ready that changes term or vote: power loss before it is synced. */
  readonly crashInVoteSync: number;
  /** BUGGIFY, per election won: the new leader dies at once, its no-op unreplicated. */
  readonly crashNewLeader: number;
  /** BUGGIFY, per commit advance: the leader dies before telling anyone. */
  readonly crashAfterCommit: number;
}

function pickSwarm(r: Prng): Swarm {
  return {
    crash: r.pick([0, 0.01, 0.03]),
    restart: r.pick([0.02, 0.05, 0.2]),
    partition: r.pick([0, 0.02, 0.05]),
    propose: r.pick([0.1, 0.3, 1]),
    crashMidTick: r.pick([0, 0.003]),
    crashInVoteSync: r.pick([0, 0.1, 0.3]),
    crashNewLeader: r.pick([0, 0.1, 0.3]),
    crashAfterCommit: r.pick([0, 0.05, 0.2]),
  };
}

function describe(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'pre-vote':
    case 'vote':
      return `${head} last=(${m.lastLogIndex},${m.lastLogTerm})`;
    case 'pre-vote-resp':
    case 'vote-resp':
      return `${head} reject=${m.reject}`;
    case 'append':
      return `${head} prev=(${m.prevIndex},${m.prevTerm}) n=${m.entries.length} commit=${m.commit}`;
    case 'append-resp':
      return `${head} reject=${m.reject} index=${m.index} hint=(${m.hintIndex},${m.hintTerm})`;
    case 'heartbeat':
      return `${head} commit=${m.commit}`;
    case 'heartbeat-resp':
      return head;
    case 'snapshot':
      return `${head} snap=(${m.snapshot.meta.index},${m.snapshot.meta.term})`;
    case 'propose':
      return `${head} n=${m.data.length}`;
  }
}

export function runSimulation(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}
