import { assert } from "./assert.ts";
import { validateConfig, type RaftConfig } from "./config.ts";
import {
  applyMembershipChange,
  decodeMembershipChange,
  encodeMembershipChange,
  MembershipChangeKind,
  type MembershipChange,
} from "./membership.ts";
import { message, MessageType, voteResponseType, type Message } from "./message.ts";
import { ProgressState, type Progress } from "./progress.ts";
import { ProposeRejection, rejected, type ProposeResult } from "./propose-result.ts";
import { RaftLog } from "./raft-log.ts";
import { ProgressTracker, VoteResult } from "./tracker.ts";
import { entryBytes, EntryType, Role, type Entry, type HardState, type SnapshotPoint } from "./types.ts";

/**
 * The Raft protocol for one node as a synchronous, deterministic state machine. It never does I/O:
 * inputs are `tick`, `step` and the proposal methods; outputs accumulate in `messages`,
 * `messagesAfterPersist` and the log, and are drained by `RawNode.ready()`.
 *
 * Role transitions happen only in the `becomeX` methods; message handling is split by role into
 * `stepLeader`, `stepCandidate` and `stepFollower` (the shape of etcd-io/raft).
 */
export class Raft {
  readonly id: number;
  readonly config: RaftConfig;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  term: number;
  /** The node voted for in `term`, or 0. */
  vote: number;
  /** The leader of `term` as far as this node knows, or 0. */
  lead = 0;
  role: Role = Role.Follower;
  /** Messages that may be sent before this node's pending writes are durable. */
  messages: Message[] = [];
  /** Messages that must wait until the writes in the same Ready are durable (responses, own votes). */
  messagesAfterPersist: Message[] = [];
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** The node leadership is being handed to, or 0. */
  leadTransferee = 0;
  /** The index of the last membership change in the log; a new one waits until it is applied. */
  private pendingMembershipIndex = 0;
  /** As leader, the batches (a BatchMark and its span, [first, last]) of this term not yet committed, in log order. */
  private uncommittedBatches: Array<{ readonly first: number; readonly last: number }> = [];

  constructor(config: RaftConfig) {
    validateConfig(config);
    this.id = config.id;
    this.config = config;
    this.log = new RaftLog(config.storage);
    const hardState = config.storage.hardState();
    const snapshot = config.storage.snapshot();
    this.tracker = new ProgressTracker(snapshot.membership, config.inflightMessagesMax, config.inflightBytesMax);
    this.term = hardState.term;
    this.vote = hardState.vote;
    assert(hardState.commit <= this.log.lastIndex(), "hard state commit beyond the log");
    this.becomeFollower(this.term, 0);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** Whether this node may campaign: it is a voter in the configuration it has applied. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id);
  }

  // ---------------------------------------------------------------- transitions

  private reset(term: number): void {
    if (term !== this.term) {
      assert(term > this.term, `term went back from ${this.term} to ${term}`);
      this.term = term;
      this.vote = 0;
    }
    this.lead = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.config.electionTimeoutTicks + this.config.random.intBelow(this.config.electionTimeoutTicks);
    this.leadTransferee = 0;
    this.pendingMembershipIndex = 0;
    this.uncommittedBatches = [];
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.log.lastIndex() + 1);
  }

  becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
  }

  private becomePreCandidate(): void {
    assert(this.role !== Role.Leader, "a leader cannot become a pre-candidate");
    // A pre-candidate changes neither its term nor its vote (thesis §9.6).
    this.tracker.resetVotes();
    this.lead = 0;
    this.role = Role.PreCandidate;
  }

  private becomeCandidate(): void {
    assert(this.role !== Role.Leader, "a leader cannot become a candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    assert(this.role === Role.Candidate, `only a candidate becomes leader, not a ${this.role}`);
    assert(this.vote === this.id, "a leader must have voted for itself");
    this.reset(this.term);
    // A batch whose end this log lacks was never committed (see maybeCommit): the no-op replaces it.
    const noOpIndex = this.cutBatchStart() ?? this.log.lastIndex() + 1;
    assert(noOpIndex > this.log.committed, `a leader's no-op at ${noOpIndex} would replace committed entries`);
    this.tracker.resetProgress(noOpIndex);
    this.lead = this.id;
    this.role = Role.Leader;
    const self = this.tracker.progress.get(this.id) as Progress;
    self.becomeReplicate();
    self.recentActive = true;
    // Entries of earlier terms may not be committed by counting (§5.4.2), so a new leader appends an
    // entry of its own term at once; committing it commits everything before it.
    this.pendingMembershipIndex = noOpIndex - 1;
    this.appendEntries(EntryType.NoOp, [new Uint8Array(0)], undefined, noOpIndex);
    this.acknowledgePersisted();
    this.broadcastAppend();
  }

  // ---------------------------------------------------------------- local inputs

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.tracker.quorumActive(this.id)) {
        this.becomeFollower(this.term, 0);
        return;
      }
      for (const [id, progress] of this.tracker.progress) progress.recentActive = id === this.id;
      // A transfer that did not finish within an election timeout is abandoned (thesis §3.10).
      this.leadTransferee = 0;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /**
   * Starts an election (with a pre-vote round when configured). `transfer` marks a campaign asked for
   * by the leader through TimeoutNow: it skips pre-vote and overrides the voters' leases.
   */
  campaign(transfer: boolean): void {
    if (this.role === Role.Leader || !this.promotable()) return;
    // A node that has not applied every committed membership change may be counting the wrong quorum.
    if (this.hasUnappliedMembershipChange()) return;
    if (this.config.preVote && !transfer) this.startElection(MessageType.PreVote, false);
    else this.startElection(MessageType.Vote, transfer);
  }

  private startElection(type: MessageType, transfer: boolean): void {
    let voteTerm: number;
    if (type === MessageType.PreVote) {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
      this.tracker.recordVote(this.id, true);
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
      // The node's own vote counts only once its vote is durable, like any other voter's.
      this.send(message({ type: MessageType.VoteResponse, from: this.id, to: this.id, term: this.term }));
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of this.tracker.membership.voters) {
      if (id === this.id) continue;
      this.send(message({ type, from: this.id, to: id, term: voteTerm, index, logTerm, transfer }));
    }
    if (type === MessageType.PreVote) this.checkVotes();
  }

  private hasUnappliedMembershipChange(): boolean {
    const low = Math.max(this.log.applied + 1, this.log.firstIndex());
    const high = this.log.committed + 1;
    if (low >= high) return false;
    return this.log.allEntries(low, high).some((entry) => entry.type === EntryType.Membership);
  }

  /**
   * Appends normal entries carrying `items` (leader only), stamped with the driver's `timestampMs` if
   * given, after a BatchMark entry carrying `mark` if given. A batch (a mark and its span) commits
   * whole: a leader never commits up to an index inside one, and a new leader whose log ends inside
   * one (its end never reached this node) drops it, so a committed mark's span is all in the log.
   * (Plain proposals of many entries may be committed in part.) With `broadcast` false the followers
   * are not sent the new entries until `sendPendingAppends` (several proposals, one message each).
   */
  propose(items: readonly Uint8Array[], timestampMs?: number, mark?: Uint8Array, broadcast = true): ProposeResult {
    const refusal = this.refuseProposal();
    if (refusal !== null) return refusal;
    const count = items.length + (mark === undefined ? 0 : 1);
    if (items.length === 0 || count > this.config.proposalEntriesMax) {
      return rejected(ProposeRejection.InvalidProposal, this.lead, `${count} entries`);
    }
    const uncommitted = this.log.lastIndex() - this.log.committed;
    if (uncommitted + count > this.config.uncommittedEntriesMax) {
      return rejected(ProposeRejection.TooManyUncommitted, this.lead, `${uncommitted} entries uncommitted`);
    }
    if (mark !== undefined) {
      assert(batchSpan(mark) === items.length, "a batch mark spans the entries proposed with it");
      this.appendEntries(EntryType.BatchMark, [mark], timestampMs);
      this.uncommittedBatches.push({ first: this.log.lastIndex(), last: this.log.lastIndex() + items.length });
    }
    const first = this.log.lastIndex() + 1;
    this.appendEntries(EntryType.Normal, items, timestampMs);
    if (broadcast) this.broadcastAppend();
    return { ok: true, term: this.term, firstIndex: first, lastIndex: this.log.lastIndex() };
  }

  /** Leader only: sends each follower the entries it lacks and is not already being sent (see `propose`). */
  sendPendingAppends(): void {
    if (this.role === Role.Leader) this.broadcastAppend(false);
  }

  /** Appends a single-server membership change (leader only, one at a time, §4.1). */
  proposeMembershipChange(change: MembershipChange): ProposeResult {
    const refusal = this.refuseProposal();
    if (refusal !== null) return refusal;
    if (this.pendingMembershipIndex > this.log.applied) {
      return rejected(ProposeRejection.MembershipChangePending, this.lead, `pending at ${this.pendingMembershipIndex}`);
    }
    const next = applyMembershipChange(this.tracker.membership, change);
    if (typeof next === "string") return rejected(ProposeRejection.InvalidMembershipChange, this.lead, next);
    if (change.kind === MembershipChangeKind.RemoveNode && change.nodeId === this.id) {
      return rejected(ProposeRejection.InvalidMembershipChange, this.lead, "transfer leadership before removing the leader");
    }
    if (change.kind === MembershipChangeKind.PromoteLearner) {
      const behind = this.learnerNotCaughtUp(change.nodeId);
      if (behind !== null) return rejected(ProposeRejection.LearnerNotCaughtUp, this.lead, behind);
    }
    const index = this.log.lastIndex() + 1;
    this.appendEntries(EntryType.Membership, [encodeMembershipChange(change)]);
    this.pendingMembershipIndex = index;
    this.broadcastAppend();
    return { ok: true, term: this.term, firstIndex: index, lastIndex: index };
  }

  /**
   * Why learner `id` may not be promoted yet, or null once it may (thesis §4.2.1). It must have
   * acknowledged an append of this leader (replicate state: `match` is then its own word, never the
   * zero a silent node starts from), been heard from in this check-quorum period, and hold the
   * leader's log up to `learnerPromotionLagMax` entries from its end.
   */
  private learnerNotCaughtUp(id: number): string | null {
    const progress = this.tracker.progress.get(id) as Progress;
    if (progress.state !== ProgressState.Replicate) return `node ${id} has acknowledged no append of this leader (${progress.state})`;
    assert(progress.match > 0, "a peer in replicate state has acknowledged an entry");
    if (!progress.recentActive) return `node ${id} has not answered this election timeout`;
    const lastIndex = this.log.lastIndex();
    if (progress.match + this.config.learnerPromotionLagMax < lastIndex) {
      return `match ${progress.match} is more than ${this.config.learnerPromotionLagMax} behind last index ${lastIndex}`;
    }
    return null;
  }

  private refuseProposal(): ProposeResult | null {
    if (this.role !== Role.Leader) return rejected(ProposeRejection.NotLeader, this.lead, `node ${this.id} is a ${this.role}`);
    if (this.leadTransferee !== 0) {
      return rejected(ProposeRejection.TransferInProgress, this.lead, `transferring to ${this.leadTransferee}`);
    }
    return null;
  }

  /** Hands leadership to voter `to` once its log is up to date (thesis §3.10). */
  transferLeadership(to: number): ProposeResult {
    if (this.role !== Role.Leader) return rejected(ProposeRejection.NotLeader, this.lead, `node ${this.id} is a ${this.role}`);
    if (to === this.id || !this.tracker.isVoter(to)) {
      return rejected(ProposeRejection.InvalidTransferTarget, this.lead, `node ${to} cannot take over`);
    }
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const progress = this.tracker.progress.get(to) as Progress;
    if (progress.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
    return { ok: true, term: this.term, firstIndex: 0, lastIndex: 0 };
  }

  /** Appends entries at `first` (the end of the log, or before it on a new leader that drops a cut batch). */
  private appendEntries(type: EntryType, items: readonly Uint8Array[], timestampMs?: number, first = this.log.lastIndex() + 1): void {
    const entries: Entry[] = new Array(items.length);
    // One object shape for every entry (timestampMs present even when undefined) keeps property
    // access monomorphic on the hot paths that walk entries.
    for (let i = 0; i < items.length; i++) entries[i] = { index: first + i, term: this.term, type, data: items[i] as Uint8Array, timestampMs };
    const last = this.log.append(entries);
    assert(last === first + items.length - 1, "append did not land at the end of the log");
  }


  // ---------------------------------------------------------------- persistence feedback

  /**
   * Called once the driver has made the log durable up to `log.persistedLastIndex()`: the leader counts
   * its own copy toward commitment only from then on.
   */
  acknowledgePersisted(): void {
    if (this.role !== Role.Leader) return;
    const self = this.tracker.progress.get(this.id);
    if (self === undefined) return;
    if (self.maybeUpdate(this.log.persistedLastIndex()) && this.maybeCommit()) this.broadcastAppend();
  }

  /** Applies a committed membership entry; called when the application applies it. */
  applyMembershipEntry(entry: Entry): void {
    assert(entry.type === EntryType.Membership, `entry ${entry.index} is not a membership change`);
    const next = applyMembershipChange(this.tracker.membership, decodeMembershipChange(entry.data));
    assert(typeof next !== "string", `committed membership change at ${entry.index} does not apply: ${next}`);
    this.tracker.setMembership(next, this.log.lastIndex() + 1);
    if (this.role !== Role.Leader) return;
    if (!this.tracker.isVoter(this.id)) {
      this.becomeFollower(this.term, 0);
      return;
    }
    if (this.leadTransferee !== 0 && !this.tracker.isVoter(this.leadTransferee)) this.leadTransferee = 0;
    // The quorum may have shrunk (commit moves) or grown (a new member needs probing).
    this.maybeCommit();
    this.broadcastAppend();
  }

  // ---------------------------------------------------------------- messages in

  /** Handles a message from a peer. Messages from unknown or stale senders are dropped, never fatal. */
  step(m: Message): void {
    assert(m.to === this.id, `message for ${m.to} stepped into ${this.id}`);
    assert(m.term >= 0, `negative term in ${m.type}`);
    if (m.term > this.term) {
      if (!this.acceptHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.answerStaleTerm(m);
      return;
    }
    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        return;
      case Role.Candidate:
      case Role.PreCandidate:
        this.stepCandidate(m);
        return;
      case Role.Follower:
        this.stepFollower(m);
        return;
    }
  }

  /** Adopts the higher term of `m` when appropriate; returns false when `m` must be ignored. */
  private acceptHigherTerm(m: Message): boolean {
    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      // Within a lease a node that hears from its leader ignores campaigns: a partitioned node
      // rejoining must not depose a healthy leader (thesis §4.2.3), unless the leader asked for it.
      const inLease = this.config.checkQuorum && this.lead !== 0 && this.electionElapsed < this.config.electionTimeoutTicks;
      if (inLease && !m.transfer) return false;
    }
    if (m.type === MessageType.PreVote) return true;
    if (m.type === MessageType.PreVoteResponse && !m.reject) return true;
    const fromLeader = m.type === MessageType.Append || m.type === MessageType.Heartbeat || m.type === MessageType.Snapshot;
    this.becomeFollower(m.term, fromLeader ? m.from : 0);
    return true;
  }

  private answerStaleTerm(m: Message): void {
    if ((this.config.checkQuorum || this.config.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.Append)) {
      // A stale leader learns the new term from this answer and steps down; without it, a leader cut
      // off by a partition could keep nodes that pre-vote from ever being elected.
      this.send(message({ type: MessageType.AppendResponse, from: this.id, to: m.from, term: this.term }));
    } else if (m.type === MessageType.PreVote) {
      this.send(message({ type: MessageType.PreVoteResponse, from: this.id, to: m.from, term: this.term, reject: true }));
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === 0 && this.lead === 0) ||
      (m.type === MessageType.PreVote && m.term > this.term);
    // §5.4.1: vote only for a candidate whose log is at least as up to date as ours.
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send(message({ type: voteResponseType(m.type), from: this.id, to: m.from, term: m.term }));
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(message({ type: voteResponseType(m.type), from: this.id, to: m.from, term: this.term, reject: true }));
    }
  }

  private stepLeader(m: Message): void {
    const progress = this.tracker.progress.get(m.from);
    if (progress === undefined) return;
    if (m.type === MessageType.AppendResponse) {
      progress.recentActive = true;
      if (m.reject) this.handleAppendRejection(m, progress);
      else this.handleAppendAcceptance(m, progress);
    } else if (m.type === MessageType.HeartbeatResponse) {
      progress.recentActive = true;
      progress.probeSent = false;
      // A snapshot point may have been lost on the way: probe again, which resends it if still needed.
      if (progress.state === ProgressState.Snapshot) progress.becomeProbe();
      // Appends may have been lost with the window full; the follower is alive, so let one more go
      // (a gap makes it reject, which sends the leader back to probing).
      if (progress.state === ProgressState.Replicate && progress.inflights.full()) progress.inflights.freeFirst();
      if (progress.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    }
  }

  private handleAppendRejection(m: Message, progress: Progress): void {
    let hint = m.rejectHint;
    if (m.logTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
    if (progress.maybeDecreaseTo(m.index, hint)) {
      if (progress.state === ProgressState.Replicate) progress.becomeProbe();
      this.sendAppend(m.from, true);
    }
  }

  private handleAppendAcceptance(m: Message, progress: Progress): void {
    assert(m.index <= this.log.lastIndex(), `follower ${m.from} acknowledged ${m.index} beyond the leader's log`);
    progress.probeSent = false;
    if (progress.maybeUpdate(m.index)) {
      if (progress.state === ProgressState.Probe) {
        progress.becomeReplicate();
      } else if (progress.state === ProgressState.Snapshot && progress.match >= progress.pendingSnapshot) {
        progress.becomeProbe();
        progress.becomeReplicate();
      } else if (progress.state === ProgressState.Replicate) {
        progress.inflights.freeLE(m.index);
      }
      if (this.maybeCommit()) this.broadcastAppend();
      if (m.from === this.leadTransferee && progress.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
    }
    while (this.sendAppend(m.from, false)) {
      // Keep the pipeline full until the in-flight limits or the end of the log stop it.
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.Append:
      case MessageType.Heartbeat:
      case MessageType.Snapshot:
        // A leader of our term exists (§5.2): return to follower and handle its message.
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case MessageType.VoteResponse:
      case MessageType.PreVoteResponse: {
        const expected = this.role === Role.PreCandidate ? MessageType.PreVoteResponse : MessageType.VoteResponse;
        if (m.type !== expected) return;
        this.tracker.recordVote(m.from, !m.reject);
        this.checkVotes();
        return;
      }
      default:
        return;
    }
  }

  private checkVotes(): void {
    const { result } = this.tracker.tallyVotes();
    if (result === VoteResult.Won) {
      if (this.role === Role.PreCandidate) this.startElection(MessageType.Vote, false);
      // A candidate leads only once its own vote (so its term) is durable, even if others already
      // make a majority: a leader that forgot its term after a crash could lead the same term twice.
      else if (this.tracker.votedFor(this.id)) this.becomeLeader();
    } else if (result === VoteResult.Lost) {
      this.becomeFollower(this.term, 0);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Append:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.log.commitTo(m.commit);
        this.send(message({ type: MessageType.HeartbeatResponse, from: this.id, to: m.from, term: this.term }));
        return;
      case MessageType.Snapshot:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TimeoutNow:
        this.campaign(true);
        return;
      default:
        return;
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.respondAppend(m.from, this.log.committed);
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      this.respondAppend(m.from, lastNew);
      return;
    }
    // Tell the leader where our log could match, skipping whole terms at once (thesis §5.3 note).
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(
      message({
        type: MessageType.AppendResponse,
        from: this.id,
        to: m.from,
        term: this.term,
        index: m.index,
        reject: true,
        rejectHint: hint.index,
        logTerm: hint.term,
      }),
    );
  }

  private respondAppend(to: number, index: number): void {
    this.send(message({ type: MessageType.AppendResponse, from: this.id, to, term: this.term, index }));
  }

  private handleSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    assert(snapshot !== null, "snapshot message without a snapshot point");
    if (this.restore(snapshot)) this.respondAppend(m.from, this.log.lastIndex());
    else this.respondAppend(m.from, this.log.committed);
  }

  /** Restarts the log at `snapshot` unless this node already holds or has committed it. */
  private restore(snapshot: SnapshotPoint): boolean {
    if (snapshot.index <= this.log.committed) return false;
    if (this.log.applying > this.log.applied) {
      // Entries handed to the application are being applied against the current membership; a
      // restore now would change it under them. Ignore the point, as if lost: the leader resends it.
      return false;
    }
    if (this.log.matchTerm(snapshot.index, snapshot.term)) {
      // The log already contains the point: everything up to it is committed; keep the rest.
      this.log.commitTo(snapshot.index);
      return false;
    }
    this.log.restore(snapshot);
    this.tracker.setMembership(snapshot.membership, this.log.lastIndex() + 1);
    return true;
  }

  // ---------------------------------------------------------------- messages out

  /** Routes responses (and a candidate's own vote) behind the pending writes; the rest goes now. */
  private send(m: Message): void {
    assert(m.from === this.id, "sending a message from another node");
    assert(m.type === MessageType.PreVote || m.type === MessageType.PreVoteResponse || m.term === this.term || m.reject,
      `${m.type} carries term ${m.term}, node is at ${this.term}`);
    if (m.type === MessageType.AppendResponse || m.type === MessageType.VoteResponse || m.type === MessageType.PreVoteResponse) {
      this.messagesAfterPersist.push(m);
    } else {
      this.messages.push(m);
    }
  }

  /** Sends the next entries (or the snapshot point) to `to`; returns whether a message was sent. */
  private sendAppend(to: number, sendIfEmpty: boolean): boolean {
    const progress = this.tracker.progress.get(to);
    if (progress === undefined || to === this.id || progress.isPaused()) return false;
    const prevIndex = progress.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, progress);
    const lastIndex = this.log.lastIndex();
    const entries = progress.next <= lastIndex ? this.log.slice(progress.next, lastIndex + 1, this.config.messageBytesMax) : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const entry of entries) bytes += entryBytes(entry);
    this.send(
      message({ type: MessageType.Append, from: this.id, to, term: this.term, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed }),
    );
    progress.sentEntries(entries.length, bytes, prevIndex + entries.length);
    return true;
  }

  private sendSnapshot(to: number, progress: Progress): boolean {
    if (!progress.recentActive) return false;
    const snapshot = this.log.storage.snapshot();
    assert(snapshot.index >= progress.next - 1 || progress.next - 1 < this.log.firstIndex() - 1, "snapshot not needed");
    this.send(message({ type: MessageType.Snapshot, from: this.id, to, term: this.term, snapshot }));
    progress.becomeSnapshot(snapshot.index);
    return true;
  }

  private sendTimeoutNow(to: number): void {
    this.send(message({ type: MessageType.TimeoutNow, from: this.id, to, term: this.term }));
  }

  /** Sends each follower what it lacks; with `sendIfEmpty`, an empty append (carrying the commit index) to one that lacks nothing. */
  private broadcastAppend(sendIfEmpty = true): void {
    for (const id of this.tracker.progress.keys()) {
      if (id !== this.id) this.sendAppend(id, sendIfEmpty);
    }
  }

  private broadcastHeartbeat(): void {
    for (const [id, progress] of this.tracker.progress) {
      if (id === this.id) continue;
      // Never tell a follower a commit index beyond what it is known to hold.
      const commit = Math.min(progress.match, this.log.committed);
      this.send(message({ type: MessageType.Heartbeat, from: this.id, to: id, term: this.term, commit }));
    }
  }

  /**
   * Commits the highest index held by a quorum, if it is of the current term (§5.4.2, Figure 8), and
   * not inside a batch: then only up to the entry before the batch.
   */
  private maybeCommit(): boolean {
    let index = this.tracker.committedIndex();
    for (const batch of this.uncommittedBatches) {
      if (batch.first <= index && index < batch.last) index = batch.first - 1;
    }
    if (index <= this.log.committed) return false;
    if (this.log.term(index) !== this.term) return false;
    this.log.commitTo(index);
    this.uncommittedBatches = this.uncommittedBatches.filter((batch) => batch.last > index);
    return true;
  }

  /**
   * The index of the BatchMark whose span runs past the end of this log, if any. Only the last mark
   * after the commit index can: a span's entries follow their mark in one proposal.
   */
  private cutBatchStart(): number | undefined {
    const last = this.log.lastIndex();
    if (last <= this.log.committed) return undefined;
    const entries = this.log.allEntries(this.log.committed + 1, last + 1);
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i] as Entry;
      if (entry.type !== EntryType.BatchMark) continue;
      return entry.index + batchSpan(entry.data) > last ? entry.index : undefined;
    }
    return undefined;
  }
}

/** The number of normal entries a BatchMark's data says follow it (0 for data too short to say). */
export function batchSpan(data: Uint8Array): number {
  return data.length < 4 ? 0 : new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
}
