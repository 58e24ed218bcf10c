import type { NodeId } from './types.ts';

/** Smallest number of voters that forms a majority. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The highest index replicated on a majority, given every voter's match index. */
export function quorumIndex(matches: readonly number[]): number {
  const sorted = [...matches].sort((a, b) => b - a);
  const k = majority(matches.length) - 1;
  return sorted[k] ?? 0;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Tally of a (pre-)election: won with a majority of grants, lost with a majority of refusals. */
export function tallyVotes(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    const g = votes.get(v);
    if (g === true) granted++;
    else if (g === false) rejected++;
  }
  const need = majority(voters.length);
  if (granted >= need) return 'won';
  if (rejected >= need) return 'lost';
  return 'pending';
}
