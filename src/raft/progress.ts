import { assert } from "./assert.ts";
import { Inflights } from "./inflights.ts";

/** How the leader replicates to one follower (thesis §3.5 and etcd's progress states). */
export const ProgressState = {
  /** Unsure where the follower's log matches: one append at a time, then wait for its answer. */
  Probe: "probe",
  /** The follower is known to match up to `match`: stream appends, bounded by the inflights. */
  Replicate: "replicate",
  /** The follower needs the snapshot point at `pendingSnapshot` before any entry can follow. */
  Snapshot: "snapshot",
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** The leader's view of one peer's log. Invariant: match < next. */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** In probe state, an append has been sent and no answer has arrived since. */
  probeSent = false;
  pendingSnapshot = 0;
  /** The peer was heard from during the current check-quorum period. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: number, inflightMessagesMax: number, inflightBytesMax: number) {
    assert(next >= 1, `next must be positive, got ${next}`);
    this.next = next;
    this.inflights = new Inflights(inflightMessagesMax, inflightBytesMax);
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.resetState(ProgressState.Probe);
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.resetState(ProgressState.Replicate);
  }

  becomeSnapshot(snapshotIndex: number): void {
    assert(snapshotIndex >= this.match, `snapshot ${snapshotIndex} below match ${this.match}`);
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  /** Whether the leader must hold further appends to this peer. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }

  /** Records an append carrying `count` entries (`bytes` in all) whose last index is `lastIndex`. */
  sentEntries(count: number, bytes: number, lastIndex: number): void {
    if (this.state === ProgressState.Replicate) {
      if (count > 0) {
        assert(lastIndex >= this.next, `sent up to ${lastIndex} below next ${this.next}`);
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else {
      assert(this.state === ProgressState.Probe, `append sent in state ${this.state}`);
      this.probeSent = true;
    }
  }

  /** An acknowledgement of `index`: returns whether it told the leader anything new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the append after `rejected`, with the follower's hint that it may match at
   * `matchHint`. Returns false when the rejection is stale (answers an older append).
   */
  maybeDecreaseTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    assert(this.next > this.match, "next must stay above match");
    return true;
  }
}
