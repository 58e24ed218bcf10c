import { describe, expect, it } from 'vitest';
import { majority, quorumIndex, tallyVotes } from '../../raft/quorum.ts';

describe('quorum arithmetic', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
  ])('a majority of %i voters is %i', (n, m) => {
    expect(majority(n)).toBe(m);
  });

  it.each([
    [[5], 5],
    [[5, 3, 9], 5],
    [[0, 0, 7], 0],
    [[7, 7, 0], 7],
    [[1, 2, 3, 4, 5], 3],
    [[10, 2, 10, 2, 2], 2],
  ])('the index replicated on a majority of %j is %i', (matches, want) => {
    expect(quorumIndex(matches)).toBe(want);
  });

  it('wins with a majority of grants, loses with a majority of refusals, else waits', () => {
    const voters = [1, 2, 3, 4, 5];
    expect(tallyVotes(voters, new Map([[1, true], [2, true]]))).toBe('pending');
    expect(tallyVotes(voters, new Map([[1, true], [2, true], [3, true]]))).toBe('won');
    expect(tallyVotes(voters, new Map([[1, true], [2, false], [3, false]]))).toBe('pending');
    expect(tallyVotes(voters, new Map([[2, false], [3, false], [4, false]]))).toBe('lost');
    // Votes from outside the voter set never count.
    expect(tallyVotes([1, 2, 3], new Map([[1, true], [9, true]]))).toBe('pending');
  });
});
