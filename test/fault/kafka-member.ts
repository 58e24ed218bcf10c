import { Kafka, logLevel } from 'kafkajs';
import type { Consumer, LogEntry, Offsets } from 'kafkajs';
import type { Prng } from '../sim/prng.ts';
import { decodeValue } from './checker.ts';
import type { CommitAttempt, Delivery } from './consumer-workload.ts';

export interface KafkaMemberOptions {
  /** host:port of every node's Kafka listener (the bootstrap list). */
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly group: string;
  /** The member's number: its consumers are named k<index>-<incarnation>. */
  readonly index: number;
  /** Session and rebalance timeout of its JoinGroup (the HTTP members' consumer.session.timeout.ms). */
  readonly sessionTimeoutMs: number;
  readonly rng: Prng;
  /** Time origin shared with the nemesis log, the producers and the HTTP members. */
  readonly t0: number;
  /** The group's history, shared with the HTTP members: this member appends to both. */
  readonly deliveries: Delivery[];
  readonly commits: CommitAttempt[];
}

export interface KafkaMemberStats {
  /** Non-empty batches handed to eachBatch. */
  readonly batches: number;
  readonly delivered: number;
  /** GROUP_JOIN events: assignments received (first join and every rejoin). */
  readonly joins: number;
  /** Consumer crashes (kafkajs restarts a consumer after a retriable one by itself). */
  readonly crashes: number;
  /** Consumers given up (crashed for good or never connected) and replaced by a new one. */
  readonly recreations: number;
  /** Its commit attempts (one per partition of each OffsetCommit) by outcome. */
  readonly commits: { readonly ok: number; readonly failed: number; readonly unknown: number };
}

export interface KafkaMember {
  /** Name, state, assignment, what is pending and its last kafkajs warnings, for a liveness message. */
  describe(): string;
  stats(): KafkaMemberStats;
  /** Stops committing, commits what it still holds (as the HTTP members do), then disconnects (LeaveGroup). */
  stop(): Promise<void>;
}

/** Client-level retries: long enough to ride out a killed, paused or cut-off node (~10 s), short steps. */
const CLIENT_RETRY = { initialRetryTime: 100, maxRetryTime: 1000, retries: 10 } as const;
/** A paused node must not hold a request longer than a session: the member would miss its heartbeats. */
const REQUEST_TIMEOUT_MS = 2500;
const CONNECTION_TIMEOUT_MS = 1000;
/** The fetch's server-side wait (the HTTP members long-poll 500 ms). */
const MAX_WAIT_MS = 250;
/** Explicit commits every COMMIT_MIN_MS + [0, COMMIT_SPREAD_MS) of what was delivered since. */
const COMMIT_MIN_MS = 200;
const COMMIT_SPREAD_MS = 400;
/** How long stop() waits for disconnect (fetchers end, LeaveGroup) before it gives up on the consumer. */
const DISCONNECT_TIMEOUT_MS = 10_000;
/** Kafka's answers to a commit checked and refused before anything is written (ClassicGroup.validateOffsetCommit). */
const REFUSED_CODES = new Set([22, 25, 27, 82]); // ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID
const MAX_LOG_LINES = 8;
/** Pause before a crashed consumer's replacement joins (a refused join is retried this often). */
const RECREATE_MIN_MS = 400;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One Kafka-protocol member of the fault suite's consumer group: a kafkajs consumer
 * (consumer.run, eachBatch, autoCommit off, earliest) bootstrapped with every node, in the same
 * group and on the same topic as the HTTP members, its history in the same ConsumerHistory.
 *
 * Every record eachBatch is given is recorded as a delivery. Its pollStartMs is when the
 * member's current assignment began (GROUP_JOIN): kafkajs sets a partition's position from the
 * committed offset it reads after that, then only moves it forward, so what the group had
 * committed by then is what bounds a re-delivery (the checker's rule 2); pollEndMs is when the
 * batch was handed over. Commits are explicit, of the last record delivered per partition
 * (recorded as offset = that record, committed offset + 1 sent), one OffsetCommit each, sent
 * through the running consumer's own commit (eachBatch's commitOffsetsIfNecessary, which carries
 * the generation and member id of the moment it is called): every few hundred ms, and once more
 * when kafkajs starts a rebalance (before it rejoins, as Kafka's eager consumers commit on
 * revocation). Outcome: ok when answered without error; failed when refused by the coordinator's
 * generation check (nothing written); unknown otherwise (timeouts, lost connections,
 * NOT_COORDINATOR: the append may have happened).
 *
 * What it delivered in one assignment is committed only under that assignment: a rejoin drops
 * whatever is pending (the partition may have gone to another member, and a commit under the
 * new generation would be accepted whoever owns the partition now). A consumer that crashes for
 * good (a non-retriable error) or never connects is replaced by a new one (new name, new member).
 * One such error is expected: INCONSISTENT_GROUP_PROTOCOL. kafkajs offers RoundRobinAssigner
 * alone; a coordinator that loads the group from its record knows each member's chosen protocol
 * only (as Kafka's does), so after a failover of a group whose last generation chose "range"
 * (HTTP members alone), a new kafkajs member is refused until the others rejoin.
 */
export function startKafkaMember(opts: KafkaMemberOptions): KafkaMember {
  const now = (): number => performance.now() - opts.t0;
  const log: string[] = [];
  let running = true;
  let incarnation = 0;
  let name = `k${opts.index}-0`;
  let consumer: Consumer | undefined;
  // Invariant: `pending` holds only records delivered in assignment `epoch`; each GROUP_JOIN,
  // rebalance start or crash starts a new epoch and empties it.
  let epoch = 0;
  let joined = false;
  let assignedAtMs = 0;
  let assignment: number[] = [];
  const pending = new Map<number, number>();
  /** The running consumer's commit and the epoch it was captured in (a restarted consumer has a new one). */
  let commitVia: { fn: (offsets: Offsets) => Promise<void>; epoch: number } | undefined;
  let refusedInEpoch = -1;
  let committing: Promise<void> | undefined;
  let batches = 0;
  let delivered = 0;
  let joins = 0;
  let crashes = 0;
  let recreations = 0;
  const commitCounts = { ok: 0, failed: 0, unknown: 0 };

  const note = (line: string): void => {
    log.push(`${(now() / 1000).toFixed(1)}s ${line}`);
    if (log.length > MAX_LOG_LINES) log.shift();
  };
  const newEpoch = (): void => {
    epoch++;
    pending.clear();
  };

  /**
   * Commits what is pending in the current assignment. The commit is sent synchronously from
   * here (before the first await): it carries the generation of this very moment.
   */
  const commitPending = (why: string): Promise<void> => {
    const via = commitVia;
    if (committing !== undefined || !joined || via === undefined || via.epoch !== epoch || refusedInEpoch === epoch || pending.size === 0) return Promise.resolve();
    const at = epoch;
    const parts = [...pending];
    const member = name;
    const startMs = now();
    const sent = via.fn({ topics: [{ topic: opts.topic, partitions: parts.map(([partition, offset]) => ({ partition, offset: String(offset + 1) })) }] });
    committing = (async () => {
      let outcome: CommitAttempt['outcome'] = 'ok';
      let detail = why;
      try {
        await sent;
      } catch (err) {
        const e = err as Error & { type?: string; code?: number };
        outcome = e.name === 'KafkaJSProtocolError' && e.code !== undefined && REFUSED_CODES.has(e.code) ? 'failed' : 'unknown';
        detail = `${why}: ${e.name} ${e.type ?? ''} ${e.message}`.slice(0, 200);
        if (outcome === 'failed') refusedInEpoch = at;
      }
      const endMs = now();
      for (const [partition, offset] of parts) {
        opts.commits.push({ member, partition, offset, startMs, endMs, outcome, detail });
        commitCounts[outcome]++;
        if (outcome === 'ok' && epoch === at && pending.get(partition) === offset) pending.delete(partition);
      }
    })().finally(() => {
      committing = undefined;
    });
    return committing;
  };

  let stopped: () => void = () => undefined;
  const stopping = new Promise<void>((resolve) => (stopped = resolve));

  const create = async (): Promise<'crashed' | 'stopped'> => {
    name = `k${opts.index}-${incarnation++}`;
    const member = name;
    let dead: () => void = () => undefined;
    const crashedForGood = new Promise<void>((resolve) => (dead = resolve));
    const kafka = new Kafka({
      clientId: member,
      brokers: [...opts.brokers],
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      retry: CLIENT_RETRY,
      logLevel: logLevel.WARN,
      logCreator: () => (e: LogEntry) => note(`${member} ${e.namespace} ${e.log.message} ${String(e.log['error'] ?? '')}`.slice(0, 200)),
    });
    const c = kafka.consumer({
      groupId: opts.group,
      sessionTimeout: opts.sessionTimeoutMs,
      // As the HTTP members' rebalance timeout: a rebalance waits no longer for this one.
      rebalanceTimeout: opts.sessionTimeoutMs,
      heartbeatInterval: Math.floor(opts.sessionTimeoutMs / 10),
      maxWaitTimeInMs: MAX_WAIT_MS,
      retry: { ...CLIENT_RETRY, restartOnFailure: () => Promise.resolve(running) },
    });
    consumer = c;
    c.on(c.events.GROUP_JOIN, (e) => {
      newEpoch();
      joined = true;
      joins++;
      assignedAtMs = now();
      assignment = (e.payload.memberAssignment[opts.topic] ?? []).slice().sort((a, b) => a - b);
      note(`${member} joined: [${assignment.join(',')}]`);
    });
    c.on(c.events.REBALANCING, () => {
      // Commit on revocation, under the generation that is ending, then forget it.
      void commitPending('before rejoining');
      joined = false;
      newEpoch();
    });
    c.on(c.events.CRASH, (e) => {
      joined = false;
      newEpoch();
      crashes++;
      note(`${member} crashed (restart=${e.payload.restart}): ${e.payload.error.name} ${e.payload.error.message}`);
      if (!e.payload.restart) dead();
    });
    try {
      await c.connect();
      await c.subscribe({ topic: opts.topic, fromBeginning: true });
      await c.run({
        autoCommit: false,
        eachBatch: (payload) => {
          const { batch } = payload;
          const pollEndMs = now();
          commitVia = { fn: (offsets) => payload.commitOffsetsIfNecessary(offsets), epoch };
          batches++;
          for (const m of batch.messages) {
            const offset = Number(m.offset);
            opts.deliveries.push({ partition: batch.partition, offset, value: decodeValue(m.value === null ? null : m.value.toString('utf8')), member, pollStartMs: assignedAtMs, pollEndMs });
            delivered++;
            pending.set(batch.partition, offset);
          }
          return Promise.resolve();
        },
      });
    } catch (err) {
      note(`${member} could not start: ${(err as Error).message}`);
      dead();
    }
    await Promise.race([crashedForGood, stopping]);
    return running ? 'crashed' : 'stopped';
  };

  const disconnect = async (c: Consumer): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(() => {
      note(`${name} did not disconnect within ${DISCONNECT_TIMEOUT_MS} ms`);
      resolve();
    }, DISCONNECT_TIMEOUT_MS)));
    await Promise.race([c.disconnect().catch((err: unknown) => note(`${name} disconnect: ${(err as Error).message}`)), gaveUp]);
    clearTimeout(timer);
  };

  const lifecycle = (async () => {
    while (running) {
      const how = await create();
      const c = consumer;
      if (how === 'stopped' || c === undefined) return;
      // Crashed for good: this consumer is done; a new one (a new group member) replaces it.
      recreations++;
      joined = false;
      newEpoch();
      await disconnect(c);
      await sleep(RECREATE_MIN_MS + opts.rng.int(RECREATE_MIN_MS));
    }
  })();

  const committer = (async () => {
    while (running) {
      await sleep(COMMIT_MIN_MS + opts.rng.int(COMMIT_SPREAD_MS));
      if (running) await commitPending('periodic');
    }
  })();

  return {
    describe() {
      return `${name} ${joined ? `joined [${assignment.join(',')}] since ${(assignedAtMs / 1000).toFixed(1)}s` : 'not joined'}, pending {${[...pending].map(([p, o]) => `p${p}=${o}`).join(' ')}}, log: ${log.join(' | ') || 'none'}`;
    },
    stats() {
      return { batches, delivered, joins, crashes, recreations, commits: { ...commitCounts } };
    },
    async stop() {
      running = false;
      await committer;
      await committing;
      await commitPending('stopping');
      stopped();
      await lifecycle;
      if (consumer !== undefined) await disconnect(consumer);
    },
  };
}
