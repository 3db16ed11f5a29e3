import { assert } from "./assert.ts";
import { quorumOf } from "./membership.ts";
import { Progress } from "./progress.ts";
import type { Membership } from "./types.ts";

export const VoteResult = { Pending: "pending", Won: "won", Lost: "lost" } as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

/**
 * The configuration in force (voters and learners), the leader's progress for every member, and the
 * votes of an ongoing election. Quorum is always a majority of voters; learners never count.
 */
export class ProgressTracker {
  membership: Membership;
  readonly progress = new Map<number, Progress>();
  private readonly votes = new Map<number, boolean>();
  private voterSet: Set<number>;

  constructor(
    membership: Membership,
    private readonly inflightMessagesMax: number,
    private readonly inflightBytesMax: number,
  ) {
    this.membership = membership;
    this.voterSet = new Set(membership.voters);
    this.setMembership(membership, 1);
  }

  isVoter(id: number): boolean {
    return this.voterSet.has(id);
  }

  isMember(id: number): boolean {
    return this.progress.has(id);
  }

  quorum(): number {
    return quorumOf(this.membership.voters.length);
  }

  /** Adopts `membership`, keeping progress of retained members; new members start probing at `next`. */
  setMembership(membership: Membership, next: number): void {
    this.membership = membership;
    this.voterSet = new Set(membership.voters);
    const members = [...membership.voters, ...membership.learners];
    for (const id of [...this.progress.keys()]) {
      if (!members.includes(id)) this.progress.delete(id);
    }
    for (const id of members) {
      if (!this.progress.has(id)) this.progress.set(id, this.newProgress(next));
    }
    for (const id of [...this.votes.keys()]) {
      if (!this.voterSet.has(id)) this.votes.delete(id);
    }
  }

  /** Fresh progress for every member (a new leader knows nothing about its followers). */
  resetProgress(next: number): void {
    for (const id of this.progress.keys()) this.progress.set(id, this.newProgress(next));
  }

  private newProgress(next: number): Progress {
    return new Progress(next, this.inflightMessagesMax, this.inflightBytesMax);
  }

  /** The highest index that a majority of voters have acknowledged (0 without voters). */
  committedIndex(): number {
    const voters = this.membership.voters;
    if (voters.length === 0) return 0;
    const matches: number[] = [];
    for (const id of voters) matches.push((this.progress.get(id) as Progress).match);
    matches.sort((a, b) => b - a);
    const index = matches[this.quorum() - 1] as number;
    assert(index >= 0, "negative commit index");
    return index;
  }

  /** Whether a majority of voters (counting `self`) were recently active. */
  quorumActive(self: number): boolean {
    let active = 0;
    for (const id of this.membership.voters) {
      if (id === self || (this.progress.get(id) as Progress).recentActive) active++;
    }
    return active >= this.quorum();
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records a voter's answer; only the first answer of each voter counts. */
  recordVote(id: number, granted: boolean): void {
    if (!this.voterSet.has(id)) return;
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** Whether `id` has granted its vote in the current election. */
  votedFor(id: number): boolean {
    return this.votes.get(id) === true;
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const vote of this.votes.values()) {
      if (vote) granted++;
      else rejected++;
    }
    const quorum = this.quorum();
    const missing = this.membership.voters.length - granted - rejected;
    assert(missing >= 0, "more votes than voters");
    let result: VoteResult = VoteResult.Pending;
    if (granted >= quorum) result = VoteResult.Won;
    else if (granted + missing < quorum) result = VoteResult.Lost;
    return { granted, rejected, result };
  }
}
