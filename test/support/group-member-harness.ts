// GroupMember against the real ClassicGroup, driven in process: the coordinator ticked on a timer
// as the node ticks it, and members whose rebalance callbacks are recorded.
import { pino } from 'pino';
import { expect } from 'vitest';
import type { TopicPartition } from '../../src/groups/assignor.ts';
import { ClassicGroup } from '../../src/groups/classic-group.ts';
import { GroupMember } from '../../src/groups/group-member.ts';
import type { GroupMemberConfig, GroupTransport } from '../../src/groups/group-member.ts';

export const log = pino({ level: 'silent' });
export const TIMING = { sessionTimeoutMs: 600, rebalanceTimeoutMs: 1500, heartbeatIntervalMs: 20, retryBackoffMs: 10, retryBackoffMaxMs: 50 };
export const fmt = (ps: readonly TopicPartition[]): string => ps.map((tp) => `${tp.topic}-${tp.partition}`).join(',');

const cleanups: (() => Promise<void> | void)[] = [];
/** Stops what the helpers below started, newest first: call it from afterEach. */
export async function runCleanups(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

export interface InProcess extends GroupTransport {
  readonly group: ClassicGroup;
  close(): void;
}

/** The real classic group, ticked on a timer as its coordinator ticks it, reached in process. */
export function coordinator(persist: () => Promise<void> = () => Promise.resolve()): InProcess {
  const group = new ClassicGroup('g', { minSessionTimeoutMs: 100, maxSessionTimeoutMs: 1_800_000, initialRebalanceDelayMs: 0, maxSize: 1000 }, persist);
  const ticker = setInterval(() => group.tick(Date.now()), 5);
  const close = (): void => clearInterval(ticker);
  cleanups.push(close);
  return {
    group,
    close,
    join: (c) => group.join(c, Date.now()),
    sync: (c) => group.sync(c, Date.now()),
    heartbeat: (c) => Promise.resolve(group.heartbeat(c, Date.now())),
    leave: (c) => Promise.resolve(group.leave(c, Date.now())),
  };
}

export interface Probe {
  readonly member: GroupMember;
  /** onRevoke / onAssign / onLost calls, in order. */
  readonly events: string[];
  readonly sub: { topics: string[] };
}

/** A rebalance callback as a probe's observer sees it, as it starts. */
export type ProbeObserver = (name: string, hook: 'revoke' | 'assign' | 'lost', partitions: readonly TopicPartition[]) => void;

export function probe(transport: GroupTransport, name: string, topics: string[], counts: Map<string, number>, extra: Partial<GroupMemberConfig> = {}, observe: ProbeObserver = () => undefined): Probe {
  const events: string[] = [];
  const sub = { topics };
  const record = (hook: 'revoke' | 'assign' | 'lost', ps: readonly TopicPartition[]): Promise<void> => {
    observe(name, hook, ps);
    events.push(`${hook} ${fmt(ps)}`);
    return Promise.resolve();
  };
  const member = new GroupMember(
    { group: 'g', name, clientId: 'rest-proxy', clientHost: '127.0.0.1', ...TIMING, ...extra },
    transport,
    {
      topics: () => sub.topics,
      partitionCounts: (ts) => new Map(ts.filter((t) => counts.has(t)).map((t) => [t, counts.get(t) ?? 0])),
      onRevoke: (ps) => record('revoke', ps),
      onAssign: (ps) => record('assign', ps),
      onLost: (ps) => record('lost', ps),
    },
    log,
  );
  cleanups.push(() => member.stop());
  return { member, events, sub };
}

/** A started member, once it is stable in its first generation. */
export async function stable(transport: GroupTransport, name: string, topics: string[], counts: Map<string, number>): Promise<Probe> {
  const p = probe(transport, name, topics, counts);
  p.member.start();
  expect(await p.member.waitStable(5000)).toBe(true);
  return p;
}

