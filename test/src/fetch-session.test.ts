import { describe, expect, it } from 'vitest';
import { FetchSessionCache, FollowerFetchSession, FULL_FETCH_EPOCH } from '../../src/broker/fetch-session.ts';
import type { FetchPartitionRequest } from '../../src/broker/fetch-session.ts';

const p = (partition: number, fetchOffset: number, leaderEpoch = 0, lastFetchedEpoch = 0): FetchPartitionRequest => ({ topicId: 't', partition, leaderEpoch, fetchOffset, lastFetchedEpoch });

/** Why the leader refused the request, or undefined when it took it. */
function sessionError(f: () => ReturnType<FetchSessionCache<string>['resolve']>): string | undefined {
  const r = f();
  return 'refused' in r ? r.refused : undefined;
}

/** The session a request was taken into (throws if refused). */
function taken(r: ReturnType<FetchSessionCache<string>['resolve']>): Exclude<ReturnType<FetchSessionCache<string>['resolve']>, { refused: unknown }> {
  if ('refused' in r) throw new Error(`refused: ${r.refused}`);
  return r;
}

describe('incremental fetch sessions (KIP-227)', () => {
  it('lists every partition in the first request, then only what moved, and forgets what was dropped', () => {
    const f = new FollowerFetchSession();
    const leader = new FetchSessionCache<string>();

    const first = f.build([p(0, 0), p(1, 0), p(2, 0)]);
    expect(first).toMatchObject({ sessionId: 0, sessionEpoch: FULL_FETCH_EPOCH, forgotten: [] });
    expect(first.partitions.map((x) => x.partition)).toEqual([0, 1, 2]);
    const opened = taken(leader.resolve(2, first));
    expect(opened.full).toBe(true);
    expect([...opened.listed].sort()).toEqual(['t:0', 't:1', 't:2']);
    f.answered(opened.session.id);

    // Partition 1 advanced, partition 2 got a new leader epoch, 0 stayed put.
    const second = f.build([p(0, 0), p(1, 5), p(2, 0, 1)]);
    expect(second.sessionId).toBe(opened.session.id);
    expect(second.sessionEpoch).toBe(1);
    expect(second.partitions).toEqual([p(1, 5), p(2, 0, 1)]);
    const inc = taken(leader.resolve(2, second));
    expect(inc.full).toBe(false);
    expect([...inc.listed].sort()).toEqual(['t:1', 't:2']);
    expect(inc.session.partitions.get('t:1')?.fetchOffset).toBe(5);
    expect(inc.session.partitions.get('t:0')?.fetchOffset).toBe(0);
    f.answered(inc.session.id);

    // Nothing moved: an empty incremental request; then partition 0 is no longer followed.
    const idle = f.build([p(0, 0), p(1, 5), p(2, 0, 1)]);
    expect(idle.partitions).toEqual([]);
    f.answered(taken(leader.resolve(2, idle)).session.id);
    const dropped = f.build([p(1, 5), p(2, 0, 1)]);
    expect(dropped.forgotten).toEqual([{ topicId: 't', partition: 0 }]);
    const after = taken(leader.resolve(2, dropped));
    expect([...after.session.partitions.keys()].sort()).toEqual(['t:1', 't:2']);
  });

  it('refuses an unknown session or an epoch out of step, and the follower starts over with a full request', () => {
    const f = new FollowerFetchSession();
    const leader = new FetchSessionCache<string>();
    const opened = taken(leader.resolve(3, f.build([p(0, 0)])));
    f.answered(opened.session.id);

    // The leader restarted: it holds no session.
    const fresh = new FetchSessionCache<string>();
    expect(sessionError(() => fresh.resolve(3, f.build([p(0, 1)])))).toBe('FETCH_SESSION_ID_NOT_FOUND');
    f.reset();
    const full = f.build([p(0, 1)]);
    expect(full.sessionEpoch).toBe(FULL_FETCH_EPOCH);
    expect(full.partitions).toEqual([p(0, 1)]);

    // A request replayed with an old epoch kills the session.
    const req = { sessionId: opened.session.id, sessionEpoch: 1, partitions: [], forgotten: [] };
    leader.resolve(3, req);
    expect(sessionError(() => leader.resolve(3, req))).toBe('INVALID_FETCH_SESSION_EPOCH');
    expect(sessionError(() => leader.resolve(3, { ...req, sessionEpoch: 2 }))).toBe('FETCH_SESSION_ID_NOT_FOUND');
  });

  it('keeps one session per follower broker: a new full request replaces the old one', () => {
    const leader = new FetchSessionCache<string>();
    const a = taken(leader.resolve(2, { sessionId: 0, sessionEpoch: 0, partitions: [p(0, 0)], forgotten: [] }));
    const b = taken(leader.resolve(2, { sessionId: 0, sessionEpoch: 0, partitions: [p(1, 0)], forgotten: [] }));
    expect(b.session.id).not.toBe(a.session.id);
    expect(sessionError(() => leader.resolve(2, { sessionId: a.session.id, sessionEpoch: 1, partitions: [], forgotten: [] }))).toBe('FETCH_SESSION_ID_NOT_FOUND');
    expect([...taken(leader.resolve(2, { sessionId: b.session.id, sessionEpoch: 1, partitions: [], forgotten: [] })).session.partitions.keys()]).toEqual(['t:1']);
  });

  it('forgets what the leader was last sent when an answer is lost, so nothing is assumed', () => {
    const f = new FollowerFetchSession();
    f.build([p(0, 0)]);
    f.answered(7);
    f.build([p(0, 4)]);
    f.reset(); // the fetch failed: the leader may or may not have applied it
    const next = f.build([p(0, 4)]);
    expect(next).toMatchObject({ sessionId: 0, sessionEpoch: FULL_FETCH_EPOCH, partitions: [p(0, 4)] });
  });

  it('restates the leader\'s marks to a follower whose leader epoch changed', () => {
    const leader = new FetchSessionCache<string>();
    const s = taken(leader.resolve(2, { sessionId: 0, sessionEpoch: 0, partitions: [p(0, 3)], forgotten: [] })).session;
    const st = s.partitions.get('t:0');
    if (st === undefined) throw new Error('missing');
    st.sentHighWatermark = 3;
    leader.resolve(2, { sessionId: s.id, sessionEpoch: 1, partitions: [p(0, 3)], forgotten: [] });
    expect(s.partitions.get('t:0')?.sentHighWatermark).toBe(3);
    leader.resolve(2, { sessionId: s.id, sessionEpoch: 2, partitions: [p(0, 3, 1)], forgotten: [] });
    expect(s.partitions.get('t:0')?.sentHighWatermark).toBe(-1);
  });
});
