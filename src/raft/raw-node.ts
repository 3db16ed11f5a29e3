import { assert } from "./assert.ts";
import type { RaftConfig } from "./config.ts";
import type { MembershipChange } from "./membership.ts";
import type { Message } from "./message.ts";
import type { ProposeResult } from "./propose-result.ts";
import { Raft } from "./raft.ts";
import type { Ready, SoftState } from "./ready.ts";
import { EntryType, hardStateEqual, Role, type Entry, type HardState, type Membership } from "./types.ts";

/** A read-only summary of a node, for drivers, tests and the simulator's checkers. */
export interface Status {
  readonly id: number;
  readonly role: Role;
  readonly term: number;
  readonly vote: number;
  readonly lead: number;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly membership: Membership;
  readonly leadTransferee: number;
}

/**
 * The driver-facing API of one Raft node (the shape of etcd-io/raft's RawNode): feed it ticks,
 * messages and proposals; take a `Ready`, carry it out, and `advance`.
 */
export class RawNode {
  readonly raft: Raft;
  private previousHardState: HardState;
  private previousSoftState: SoftState;
  private outstanding: Ready | null = null;
  /** Messages a Ready addressed to this node itself; stepped once that Ready is durable. */
  private localMessages: Message[] = [];

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.previousHardState = config.storage.hardState();
    this.previousSoftState = this.softState();
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now, as if the election timeout had elapsed. */
  campaign(): void {
    this.raft.campaign(false);
  }

  step(m: Message): void {
    this.raft.step(m);
  }

  propose(items: readonly Uint8Array[], timestampMs?: number, mark?: Uint8Array, broadcast = true): ProposeResult {
    return this.raft.propose(items, timestampMs, mark, broadcast);
  }

  sendPendingAppends(): void {
    this.raft.sendPendingAppends();
  }

  proposeMembershipChange(change: MembershipChange): ProposeResult {
    return this.raft.proposeMembershipChange(change);
  }

  transferLeadership(to: number): ProposeResult {
    return this.raft.transferLeadership(to);
  }

  /**
   * The voters other than this node known to hold the leader's whole log (the ones a transfer hands
   * over to at once, without reading the log); empty unless this node leads.
   */
  caughtUpVoters(): number[] {
    const raft = this.raft;
    if (raft.role !== Role.Leader) return [];
    const last = raft.log.lastIndex();
    return raft.tracker.membership.voters.filter((id) => id !== raft.id && raft.tracker.progress.get(id)?.match === last);
  }

  /**
   * Takes the messages that need not wait for any write (appends, heartbeats, vote requests, ...),
   * even while a Ready is outstanding. A driver with a slow disk calls this after each input so that
   * a leader keeps heartbeating while its writes are in flight; `ready()` hands out the rest.
   */
  takeMessages(): Message[] {
    const messages = this.raft.messages;
    this.raft.messages = [];
    return messages;
  }

  /** Whether `ready()` has anything to hand out. False while a Ready is outstanding. */
  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    const raft = this.raft;
    const unstable = raft.log.unstable;
    if (raft.messages.length > 0 || raft.messagesAfterPersist.length > 0) return true;
    if (unstable.inProgressOffset < unstable.endIndex) return true;
    if (unstable.snapshot !== null && !unstable.snapshotInProgress) return true;
    if (raft.log.hasNextCommittedEntries()) return true;
    return !hardStateEqual(raft.hardState(), this.previousHardState);
  }

  /** Hands out the next Ready (see `Ready` for the driver's duties). Requires `hasReady()`. */
  ready(): Ready {
    assert(this.outstanding === null, "ready() called before the previous Ready was advanced");
    const raft = this.raft;
    const log = raft.log;
    const unstable = log.unstable;
    const entries = unstable.entriesToPersist();
    const snapshot = unstable.snapshot !== null && !unstable.snapshotInProgress ? unstable.snapshot : null;
    const hardState = raft.hardState();
    const hardStateChanged = !hardStateEqual(hardState, this.previousHardState);
    const voteChanged = hardState.term !== this.previousHardState.term || hardState.vote !== this.previousHardState.vote;
    const committedEntries = log.hasNextCommittedEntries() ? log.nextCommittedEntries(raft.config.applyBytesMax) : [];
    const softState = this.softState();
    const softStateChanged = softState.lead !== this.previousSoftState.lead || softState.role !== this.previousSoftState.role;
    const afterPersist: Message[] = [];
    for (const m of raft.messagesAfterPersist) {
      if (m.to === raft.id) this.localMessages.push(m);
      else afterPersist.push(m);
    }
    const ready: Ready = {
      softState: softStateChanged ? softState : null,
      hardState: hardStateChanged ? hardState : null,
      snapshot,
      entries,
      mustSync: entries.length > 0 || snapshot !== null || voteChanged,
      messages: raft.messages,
      messagesAfterPersist: afterPersist,
      committedEntries,
    };
    raft.messages = [];
    raft.messagesAfterPersist = [];
    unstable.acceptInProgress();
    if (committedEntries.length > 0) log.applyingTo((committedEntries[committedEntries.length - 1] as Entry).index);
    this.previousHardState = hardState;
    this.previousSoftState = softState;
    this.outstanding = ready;
    return ready;
  }

  /**
   * Acknowledges that `ready` was carried out: its writes are durable and its committed entries applied.
   * Membership changes among them take effect now.
   */
  advance(ready: Ready): void {
    assert(this.outstanding === ready, "advance() with a Ready that is not the outstanding one");
    const raft = this.raft;
    const log = raft.log;
    if (ready.snapshot !== null) {
      log.unstable.stableSnapshotTo(ready.snapshot.index);
      log.appliedTo(ready.snapshot.index);
    }
    if (ready.entries.length > 0) {
      const last = ready.entries[ready.entries.length - 1] as Entry;
      log.unstable.stableTo(last.index, last.term);
    }
    for (const entry of ready.committedEntries) {
      if (entry.type === EntryType.Membership) raft.applyMembershipEntry(entry);
    }
    if (ready.committedEntries.length > 0) {
      log.appliedTo((ready.committedEntries[ready.committedEntries.length - 1] as Entry).index);
    }
    this.outstanding = null;
    raft.acknowledgePersisted();
    const local = this.localMessages;
    this.localMessages = [];
    for (const m of local) raft.step(m);
  }

  status(): Status {
    const raft = this.raft;
    return {
      id: raft.id,
      role: raft.role,
      term: raft.term,
      vote: raft.vote,
      lead: raft.lead,
      commit: raft.log.committed,
      applied: raft.log.applied,
      firstIndex: raft.log.firstIndex(),
      lastIndex: raft.log.lastIndex(),
      membership: raft.tracker.membership,
      leadTransferee: raft.leadTransferee,
    };
  }

  private softState(): SoftState {
    return { lead: this.raft.lead, role: this.raft.role };
  }
}
