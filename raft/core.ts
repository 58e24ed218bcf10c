// PLACEHOLDER: signature only, being written now.
import type { Message, ProposeResult, RaftConfig, RaftStatus, Ready } from './types.ts';

export class RaftCore {
  constructor(config: RaftConfig) { void config; throw new Error('not yet'); }
  /** Advance the logical clock by one tick (elections, heartbeats, check-quorum). */
  tick(): void {}
  /** Deliver a message from a peer. */
  step(msg: Message): void { void msg; }
  /** Propose data (non-empty). Appended on the leader; forwarded or refused elsewhere. */
  propose(data: Uint8Array): ProposeResult { void data; throw new Error('not yet'); }
  /** Start an election now (pre-vote first if enabled). */
  campaign(): void {}
  hasReady(): boolean { return false; }
  ready(): Ready { throw new Error('not yet'); }
  /** The driver finished handling `rd` (persisted, sent, applied). */
  advance(rd: Ready): void { void rd; }
  status(): RaftStatus { throw new Error('not yet'); }
}
