import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryRaftStorage } from '../../raft/memory-storage.ts';
import { RaftLog } from '../../raft/raft-log.ts';
import type { Entry } from '../../raft/types.ts';

const entry = (index: number, term: number): Entry => ({ index, term, data: Buffer.from(`${index}@${term}`) });
const terms = (log: RaftLog): number[] => {
  const out: number[] = [];
  for (let i = log.firstIndex(); i <= log.lastIndex(); i++) out.push(log.term(i) ?? -1);
  return out;
};

describe('RaftLog', () => {
  it('accepts entries only after a matching (prevIndex, prevTerm) and truncates a conflicting suffix', () => {
    const log = new RaftLog(new MemoryRaftStorage([1]));
    expect(log.maybeAppend(0, 0, 0, [entry(1, 1), entry(2, 1), entry(3, 2)])).toBe(3);
    expect(log.maybeAppend(3, 1, 0, [entry(4, 3)])).toBeUndefined(); // wrong prevTerm
    expect(log.maybeAppend(5, 2, 0, [])).toBeUndefined(); // beyond the end
    expect(log.maybeAppend(1, 1, 2, [entry(2, 1), entry(3, 3)])).toBe(3);
    expect(terms(log)).toEqual([1, 1, 3]);
    expect(log.committed).toBe(2);
  });

  it('ignores already-present entries instead of truncating what follows them', () => {
    const log = new RaftLog(new MemoryRaftStorage([1]));
    log.maybeAppend(0, 0, 0, [entry(1, 1), entry(2, 1), entry(3, 1)]);
    // A delayed, duplicated append of entry 2 must not cut entry 3.
    expect(log.maybeAppend(1, 1, 0, [entry(2, 1)])).toBe(2);
    expect(log.lastIndex()).toBe(3);
  });

  it('refuses to overwrite a committed entry', () => {
    const log = new RaftLog(new MemoryRaftStorage([1]));
    log.maybeAppend(0, 0, 2, [entry(1, 1), entry(2, 1)]);
    expect(() => log.maybeAppend(0, 0, 2, [entry(1, 2)])).toThrow(/committed/);
  });

  it('compares last term first, then index, for vote up-to-dateness (Raft §5.4.1)', () => {
    const log = new RaftLog(new MemoryRaftStorage([1]));
    log.maybeAppend(0, 0, 0, [entry(1, 1), entry(2, 2)]);
    expect(log.isUpToDate(2, 2)).toBe(true);
    expect(log.isUpToDate(1, 2)).toBe(false);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it('finds the last index whose term is at most the given term (fast backtracking)', () => {
    const log = new RaftLog(new MemoryRaftStorage([1]));
    log.maybeAppend(0, 0, 0, [entry(1, 1), entry(2, 1), entry(3, 4), entry(4, 4), entry(5, 5)]);
    expect(log.findConflictByTerm(5, 3)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(5, 5)).toEqual({ index: 5, term: 5 });
    expect(log.findConflictByTerm(4, 4)).toEqual({ index: 4, term: 4 });
    expect(log.findConflictByTerm(5, 0)).toEqual({ index: 0, term: 0 });
  });

  it('reads across the stable/unstable boundary and marks entries stable only if unchanged', () => {
    const storage = new MemoryRaftStorage([1]);
    const log = new RaftLog(storage);
    log.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    const handedOut = [...log.unstableEntries()];
    // While that Ready is being persisted, a new leader rewrites entry 3.
    log.append([entry(3, 2)]);
    storage.apply({ entries: handedOut });
    log.stableTo(3, 1); // stale: 3 is now term 2, so it stays unstable
    expect(log.unstableEntries().map((e) => e.term)).toEqual([1, 1, 2]);
    storage.apply({ entries: log.unstableEntries() });
    log.stableTo(3, 2);
    expect(log.unstableEntries()).toEqual([]);
    expect(terms(log)).toEqual([1, 1, 2]);
    expect(log.slice(1, 4, 10, 1e9)?.map((e) => e.index)).toEqual([1, 2, 3]);
  });

  it('matches a model array under random appends, truncations and persistence', () => {
    // Model: the log is an array of terms; append(at, terms) truncates at `at` then appends.
    const op = fc.record({
      at: fc.nat(30),
      terms: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }),
      persist: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const storage = new MemoryRaftStorage([1]);
        const log = new RaftLog(storage);
        let model: number[] = [];
        for (const o of ops) {
          const at = Math.min(o.at, model.length) + 1;
          const es = o.terms.map((t, k) => entry(at + k, t));
          log.append(es);
          model = [...model.slice(0, at - 1), ...o.terms];
          if (o.persist) {
            const unstable = [...log.unstableEntries()];
            storage.apply({ entries: unstable });
            const last = unstable[unstable.length - 1];
            if (last !== undefined) log.stableTo(last.index, last.term);
          }
          expect(log.lastIndex()).toBe(model.length);
          expect(terms(log)).toEqual(model);
        }
      }),
      { numRuns: 300 },
    );
  });
});
