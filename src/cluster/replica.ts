// One node's Raft replica: drives the pure core (src/raft) with real time, the native log as the Raft
// log, the state file, and a message sender. It carries out each Ready in the order the core
// demands: entries, term and vote are durable (fsynced) before the messages that acknowledge them
// leave, and entries before they become visible to consumers. The commit index alone is written
// lazily (RaftStateFile.noteCommit): losing it in a crash is safe.
//
// A damaged record the core reads (DataLossError out of the log) stops this replica instead of the
// process: it takes no further part in Raft (no votes, no acknowledgements, no leadership: a leader
// steps down by going silent) and reports the damage to its owner, which repairs the log from the
// peers and starts a new replica over it.
import assert from "node:assert/strict";
import { ClusterUnavailableError, DataLossError, LogClosedError, NotLeaderError, ProposalRefusedError } from "../errors.ts";
import {
  defaultRaftLimits,
  EntryType,
  ProposeRejection,
  RawNode,
  Role,
  SeededRandom,
  type Entry,
  type Message,
  type MembershipChange,
  type ProposeResult,
  type RaftConfig,
  type Ready,
  type Status,
} from "../raft/index.ts";
import { silentLogger, type Logger } from "../logger.ts";
import { BATCH_MARK_TYPE, checkRecordBytes, decodeBatchMark, defaultProducerLimits, largestValueBytes, ProducerAppends, storedValuesIn, type AppendedBatch, type ProducerBatch, type ProducerTableOptions, type RecordLog } from "../storage/index.ts";
import { OffsetWaiters } from "../storage/offset-waiters.ts";
import { CommittedLog } from "./committed-log.ts";
import { sameRun } from "./entry-run.ts";
import { indexOfOffset, LogStorage, offsetOfIndex } from "./log-storage.ts";
import type { RaftStateFile } from "./raft-state-file.ts";
import { ProposalCoalescer, type ProposedRange } from "./proposal-coalescer.ts";
import { RecentEntries } from "./recent-entries.ts";
import type { Timers } from "./timers.ts";

export type RaftLimits = Omit<RaftConfig, "id" | "storage" | "random">;

export interface ReplicaOptions {
  readonly nodeId: number;
  /** The data log, opened with durability "fsync"; its lowest offset is the snapshot index. */
  readonly log: RecordLog;
  readonly stateFile: RaftStateFile;
  /** The node's clock (record creation times, proposal deadlines) and timers (Raft ticks). */
  readonly timers: Timers;
  /** Where role and leader changes are reported (default: nowhere). */
  readonly logger?: Logger;
  /** Sends a message to its `to` node; never blocks, may drop (Raft retries). */
  readonly send: (message: Message) => void;
  /** Real time per Raft tick. */
  readonly tickMs: number;
  /** Seed of the core's random source (election timeouts). */
  readonly seed: number;
  readonly limits?: Partial<RaftLimits>;
  /** Told the leader (0: none known) and the term whenever the leader this replica follows changes. */
  readonly onLeader?: (leader: number, term: number) => void;
  /** Sees every committed entry once it is applied here, in order (membership changes among them). */
  readonly onApply?: (entries: readonly Entry[]) => void;
  /** Bounds of the idempotent producers' table (default defaultProducerLimits). */
  readonly producers?: ProducerTableOptions;
  /** A proposal not decided within this time is failed (its outcome is then unknown). Default 30 s. */
  readonly proposalTimeoutMs?: number;
  /** Told once when the replica stopped because the core read a damaged record. Must not throw. */
  readonly onDamage: (error: DataLossError) => void;
  /**
   * Told once when the replica stopped because a write or sync failed (a full disk among them): it
   * can no longer keep its promises. The node starts a new replica over the log once the disk has
   * space again, or restarts the process over a reopened log after any other failure.
   */
  readonly onWriteFailure: (error: unknown) => void;
}

interface PendingProposal {
  readonly term: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

assert.equal(EntryType.BatchMark, BATCH_MARK_TYPE, "a batch mark entry is stored as a batch mark record");

const APPEND_CHUNK_ENTRIES = 10_000;
/**
 * Size (as the core counts entries) of the latest entries kept in memory for its reads (applying, a
 * follower catching up). Entries are forgotten sooner once applied here and, on a leader, held by
 * every follower: kept for the whole bound, a replicated batch's per-record objects survived young
 * collections, which copied them (under 4 × 10,000-record ProduceBatch load a follower spent about
 * twice the GC time and 20-25% more CPU per record).
 */
const RECENT_ENTRIES_BYTES = 8 << 20;

export class Replica {
  /** Reads bounded by the commit index: what consumers on this node may see. */
  readonly committed: CommittedLog;
  private readonly node: RawNode;
  private readonly log: RecordLog;
  private readonly recent: RecentEntries;
  private readonly commitWaiters = new OffsetWaiters();
  private pending: PendingProposal[] = [];
  /**
   * The idempotent producers' table, built by applying the batch marks of committed entries (all of
   * them, from the log's start point, after a restart too), plus the batches this leader proposed
   * that are not applied yet.
   */
  private readonly producers: ProducerAppends;
  private readonly coalescer: ProposalCoalescer;
  /** Term of the last entry applied here (0: none yet). */
  private appliedTerm = 0;
  /** Idempotent appends waiting for this leader to apply an entry of its own term (see appendOnce). */
  private termStartWaiters: Array<{ readonly resolve: () => void; readonly reject: (error: unknown) => void }> = [];
  private commitEnd: number;
  private handling = false;
  /** The Ready being carried out, if any. */
  private carrying: Promise<void> = Promise.resolve();
  private stopped = false;
  private stopTicking: (() => void) | undefined;
  private readonly timers: Timers;
  private readonly logger: Logger;

  constructor(private readonly options: ReplicaOptions) {
    this.log = options.log;
    this.timers = options.timers;
    this.logger = options.logger ?? silentLogger;
    // A Ready applies as much as a leader may have in flight to this node (read back from the log a
    // few MiB at a time when not kept in memory: LogStorage): with less (4 MiB), a follower that got a
    // backlog in one go applied less per Ready than kept arriving, and stayed behind.
    const configured = { ...defaultRaftLimits, ...options.limits };
    const limits = { ...configured, applyBytesMax: options.limits?.applyBytesMax ?? configured.inflightBytesMax };
    // Entries not yet applied are kept past the first bound up to twice what a leader may have in
    // flight to this node: a follower that got that much in one go applies it from memory. The bound
    // counts entries as the core does (data + 24 bytes): with the default 64 MiB and 100-byte records,
    // about 540k entries, whose objects take the heap to two or three times that while it lasts.
    this.recent = new RecentEntries(RECENT_ENTRIES_BYTES, Math.max(RECENT_ENTRIES_BYTES, 2 * limits.inflightBytesMax));
    const storage = new LogStorage(options.log, options.stateFile, this.recent);
    this.node = new RawNode({
      ...limits,
      id: options.nodeId,
      storage,
      random: new SeededRandom(options.seed),
    });
    // Entries up to the persisted commit index were committed before a restart: visible at once.
    // The start point itself counts as committed (a new cluster's log begins at offset 1).
    this.commitEnd = Math.max(this.log.lowestOffset, Math.min(options.stateFile.state.hardState.commit, this.log.nextOffset));
    this.committed = new CommittedLog(this.log, () => this.commitEnd, this.commitWaiters);
    this.producers = new ProducerAppends(options.producers ?? defaultProducerLimits, storedValuesIn(this.committed));
    this.coalescer = new ProposalCoalescer(
      {
        proposeQuietly: (values, mark) => this.proposeToCore(values, mark, false),
        sendProposed: () => {
          if (!this.stopped) this.guard(() => this.node.sendPendingAppends());
          this.pump();
        },
      },
      (run) => this.timers.soon(run),
    );
  }

  start(): void {
    assert.ok(this.stopTicking === undefined, "started twice");
    this.stopTicking = this.timers.every(this.options.tickMs, () => this.tick());
  }

  /**
   * Stops ticking and fails waiting proposals and commit waits with `reason`; the log and state file
   * stay open (the owner closes them).
   */
  async stop(reason: Error = new LogClosedError("replica stopped")): Promise<void> {
    this.stopped = true;
    this.stopTicking?.();
    this.failPending(reason);
    this.commitWaiters.close(reason);
    this.leadershipLost(reason);
    await this.carrying.catch(() => undefined);
  }

  /** The core's status; a stopped replica takes no part in the cluster, so it follows no known leader. */
  status(): Status {
    const status = this.node.status();
    return this.stopped ? { ...status, role: Role.Follower, lead: 0 } : status;
  }

  get isLeader(): boolean {
    return this.status().role === Role.Leader;
  }

  /** On the leader, the last index `nodeId` is known to hold (its Raft progress); undefined elsewhere. */
  matchIndexOf(nodeId: number): number | undefined {
    if (!this.isLeader) return undefined;
    return nodeId === this.options.nodeId ? this.node.raft.log.lastIndex() : this.node.raft.tracker.progress.get(nodeId)?.match;
  }

  /** Delivers a message from a peer. */
  receive(message: Message): void {
    if (this.stopped) return;
    this.guard(() => this.node.step(message));
    this.pump();
  }

  /** Starts an election now (used to bootstrap a single-node cluster without waiting a timeout). */
  campaign(): void {
    this.guard(() => this.node.campaign());
    this.pump();
  }

  /**
   * Replicates `values` as consecutive records; resolves with the first offset once they are
   * committed (fsynced on a majority) and applied here. Rejects with NotLeaderError on a follower.
   */
  propose(values: readonly Uint8Array[]): Promise<number> {
    return this.proposeInTurn(values);
  }

  /**
   * Proposes `values` (after `mark` if given) and waits for their commit: at once when nothing else
   * is under way, else with the other proposals of this turn (proposal-coalescer.ts). `refused` is
   * called when the proposal is refused before it reached the core's log (nothing was written).
   */
  private proposeInTurn(values: readonly Uint8Array[], mark?: Uint8Array, refused?: () => void): Promise<number> {
    const committedAt = (range: ProposedRange): Promise<number> => this.awaitCommit(range).then(() => offsetOfIndex(range.firstIndex));
    let range: ProposedRange;
    try {
      // A record the log would refuse must never be proposed: refused only as the leader wrote it,
      // it would stop this replica (a failed write), and then every replica the leader sends it to.
      checkRecordBytes(largestValueBytes(values), this.log.recordBytesMax);
      if (this.pending.length > 0 || this.coalescer.holding) {
        return this.coalescer.add(values, mark).then(committedAt, (error: unknown) => {
          refused?.();
          throw error;
        });
      }
      range = this.proposeToCore(values, mark, true);
    } catch (error) {
      refused?.();
      return Promise.reject(error);
    }
    // In the core's log from here: a failure while waiting is no refusal.
    try {
      return committedAt(range);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Hands `values` (after `mark` if given) to the core, sending them now or later; returns where they went, or throws the refusal. */
  private proposeToCore(values: readonly Uint8Array[], mark: Uint8Array | undefined, broadcast: boolean): ProposedRange {
    if (this.stopped) throw new LogClosedError("replica stopped");
    const result = this.guard(() => this.node.propose(values, this.timers.now(), mark, broadcast));
    if (result === undefined) throw repairing();
    if (!result.ok) throw proposeError(result);
    return result;
  }

  /**
   * Replicates `values` as `batch` of an idempotent producer unless that batch was appended already
   * (leader only); resolves with where its records are once committed, the original's place for a
   * retry. Before it decides, a new leader applies an entry of its own term: everything an earlier
   * leader committed is then applied here, so every batch an earlier leader acknowledged is known.
   */
  async appendOnce(values: readonly Uint8Array[], batch: ProducerBatch): Promise<AppendedBatch> {
    if (!this.isLeader) throw notLeaderError(this.status().lead);
    if (this.appliedTerm !== this.node.raft.term) {
      await new Promise<void>((resolve, reject) => this.termStartWaiters.push({ resolve, reject }));
    }
    // A proposal the core refuses (a leadership transfer under way, say) left nothing: a retry
    // writes the batch itself. Before, the retry waited for that proposal's outcome, which never came.
    return this.producers.appendOnce(values, batch, (batchValues, mark) => this.proposeInTurn(batchValues, mark, () => this.producers.forget(batch)));
  }

  /**
   * This node stopped leading (or stopped): it will not learn the outcome of what it proposed, so
   * idempotent retries waiting on it fail (retryable: the new leader knows once it has applied).
   */
  private leadershipLost(error: unknown): void {
    this.producers.abandon(error);
    for (const waiter of this.termStartWaiters.splice(0)) waiter.reject(error);
  }

  /** Asks the core to hand leadership to voter `to` (leader only); the hand-over proceeds as its messages flow. */
  transferLeadership(to: number): void {
    if (this.stopped) throw new LogClosedError("replica stopped");
    const result = this.guard(() => this.node.transferLeadership(to));
    if (result === undefined) throw repairing();
    if (!result.ok) throw proposeError(result);
    this.pump();
  }

  /** Proposes a single-server membership change (leader only); resolves once it is committed here. */
  changeMembership(change: MembershipChange): Promise<void> {
    if (this.stopped) return Promise.reject(new LogClosedError("replica stopped"));
    const result = this.guard(() => this.node.proposeMembershipChange(change));
    if (result === undefined) return Promise.reject(repairing());
    if (!result.ok) return Promise.reject(proposeError(result));
    return this.awaitCommit(result);
  }

  private awaitCommit(result: ProposedRange): Promise<void> {
    const committed = new Promise<void>((resolve, reject) => {
      const deadline = this.timers.now() + (this.options.proposalTimeoutMs ?? 30_000);
      this.pending.push({ term: result.term, firstIndex: result.firstIndex, lastIndex: result.lastIndex, deadline, resolve, reject });
    });
    this.pump();
    return committed;
  }

  private tick(): void {
    if (this.stopped) return;
    this.guard(() => this.node.tick());
    this.pump();
    this.expireProposals();
  }

  /** Fails proposals past their deadline: without a quorum they could wait forever. */
  private expireProposals(): void {
    const now = this.timers.now();
    if (this.pending.length === 0 || this.pending[0]!.deadline > now) return;
    const expired = this.pending.filter((proposal) => proposal.deadline <= now);
    this.pending = this.pending.filter((proposal) => proposal.deadline > now);
    for (const proposal of expired) {
      proposal.reject(new ClusterUnavailableError("records not committed in time (no quorum?); they may still be committed later"));
    }
  }

  /**
   * Runs a call into the core (which may read the log); a damaged record it meets stops this replica
   * (see the top of the file) and the call returns undefined. The core is left as the throw found it,
   * which is safe because it is never used again.
   */
  private guard<T>(call: () => T): T | undefined {
    try {
      return call();
    } catch (error) {
      if (!(error instanceof DataLossError)) throw error;
      this.damaged(error);
      return undefined;
    }
  }

  private damaged(error: DataLossError): void {
    if (this.stopped) return;
    // A leader hands over to a voter holding its whole log (a transfer that reads nothing), so that
    // the others need not wait an election timeout; otherwise its silence makes them elect one.
    const [successor] = this.node.caughtUpVoters();
    if (successor !== undefined && this.node.transferLeadership(successor).ok) {
      for (const message of this.node.takeMessages()) this.options.send(message);
    }
    void this.stop(repairing());
    this.options.onDamage(error);
  }

  /** Sends what can go now and starts on the next Ready unless one is being carried out. */
  private pump(): void {
    if (this.stopped) return;
    for (const message of this.node.takeMessages()) this.options.send(message);
    if (this.handling || !this.node.hasReady()) return;
    const ready = this.guard(() => this.node.ready());
    if (ready === undefined) return;
    this.handling = true;
    this.carrying = this.carryOut(ready);
    this.carrying.then(
      () => {
        this.handling = false;
        this.pump();
      },
      (error: unknown) => {
        this.handling = false;
        if (error instanceof DataLossError) return this.damaged(error);
        // A write or sync failed: this replica can no longer keep its promises. Proposals under way
        // may still be committed by the others.
        void this.stop(new ClusterUnavailableError("this member's log failed a write; retry (another member leads meanwhile)", { cause: error }));
        this.options.onWriteFailure(error);
      },
    );
  }

  private async carryOut(ready: Ready): Promise<void> {
    if (ready.softState !== null) {
      this.logger.info("raft role changed", { nodeId: this.options.nodeId, role: ready.softState.role, leader: ready.softState.lead });
      this.options.onLeader?.(ready.softState.lead, this.node.raft.term);
      if (ready.softState.role !== Role.Leader) this.leadershipLost(new ClusterUnavailableError("leadership changed before the batch was known to be committed; retry"));
    }
    for (const message of ready.messages) this.options.send(message);
    await this.persist(ready);
    for (const message of ready.messagesAfterPersist) this.options.send(message);
    this.apply(ready.committedEntries);
    // Stopped meanwhile (damage met, or closing): the core is not fed any more.
    if (!this.stopped) this.node.advance(ready);
  }

  /**
   * Step 2 of the Ready contract. Everything the core marks mustSync is durable when this resolves:
   * the log syncs entries (and a reset) itself; the state file is written durably for a new start
   * point or a new term or vote. A Ready without mustSync moved the commit index alone, which is
   * noted lazily (losing it in a crash is safe) unless a membership change is about to be applied:
   * then the commit index is written durably first, so that a restart never takes the node back to
   * a configuration older than one it applied (it could win an election with the votes of the old
   * configuration, not a majority of the new; found by the simulator).
   */
  private async persist(ready: Ready): Promise<void> {
    const state = this.options.stateFile.state;
    const hardState = ready.hardState ?? state.hardState;
    const voteChanged = hardState.term !== state.hardState.term || hardState.vote !== state.hardState.vote;
    const membershipApplied = ready.committedEntries.some((entry) => entry.type === EntryType.Membership);
    if (!ready.mustSync) {
      assert.ok(ready.snapshot === null && ready.entries.length === 0 && !voteChanged, "a Ready that needs no sync writes nothing but the commit index");
      if (membershipApplied) await this.options.stateFile.update({ hardState });
      else if (ready.hardState !== null) this.options.stateFile.noteCommit(hardState.commit);
      return;
    }
    if (ready.snapshot !== null) {
      this.recent.clear();
      await this.log.resetTo(ready.snapshot.index);
    }
    if (ready.entries.length > 0) await this.appendEntries(ready.entries);
    if (ready.snapshot !== null || voteChanged || membershipApplied) {
      await this.options.stateFile.update({ hardState, snapshot: ready.snapshot ?? state.snapshot });
    } else if (ready.hardState !== null) {
      // Entries and the commit index only: the entries are fsynced by the log itself.
      this.options.stateFile.noteCommit(hardState.commit);
    }
  }

  /**
   * Writes entries at their offsets, first dropping any stored entries they replace (conflict
   * truncation). Each run is stored with its creation time raised to at least the last stored one,
   * and an entry the leader sent without a time (a no-op, a membership change) takes the last stored
   * time: a rule of the log's contents alone, so every replica stores the same times. (One gap: a
   * node that installed a start point has no stored time to start from until its first timed entry.)
   */
  private async appendEntries(entries: readonly Entry[]): Promise<void> {
    const firstOffset = offsetOfIndex(entries[0]!.index);
    if (firstOffset < this.log.nextOffset) {
      this.recent.truncateFrom(indexOfOffset(firstOffset));
      await this.log.truncateAfter(firstOffset - 1);
    }
    assert.equal(this.log.nextOffset, firstOffset, "entries continue the log");
    const appends: Promise<number>[] = [];
    const stored: Array<readonly Entry[]> = [];
    let timestampMs = Math.max(1, this.log.latestTimestampMs);
    for (let start = 0; start < entries.length; ) {
      const first = entries[start]!;
      let end = start + 1;
      while (end < entries.length && end - start < APPEND_CHUNK_ENTRIES && sameRun(first, entries[end]!)) end++;
      // A Ready that is one run (a batch without a producer's mark, which is a run of its own) is stored as it came, not copied.
      const run = start === 0 && end === entries.length ? entries : entries.slice(start, end);
      timestampMs = Math.max(timestampMs, first.timestampMs ?? 0);
      appends.push(this.log.append(run.map((entry) => entry.data), { term: first.term, type: first.type, timestampMs }));
      stored.push(first.timestampMs === timestampMs ? run : run.map((entry) => ({ ...entry, timestampMs })));
      start = end;
    }
    const offsets = await Promise.all(appends);
    assert.equal(offsets[0], firstOffset, "entries landed at their offsets");
    for (const run of stored) this.recent.add(run);
  }

  /** Makes committed entries visible and settles the proposals they decide. */
  private apply(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const last = entries[entries.length - 1]!.index;
    this.commitEnd = Math.max(this.commitEnd, offsetOfIndex(last) + 1);
    this.applyBatchMarks(entries);
    const decided = this.pending.filter((proposal) => proposal.lastIndex <= last);
    this.pending = this.pending.filter((proposal) => proposal.lastIndex > last);
    for (const proposal of decided) {
      if (this.termOf(proposal.lastIndex, entries) === proposal.term) {
        proposal.resolve();
      } else if (this.termOf(proposal.firstIndex, entries) === proposal.term) {
        // A plain proposal of many entries may be committed in part across a leader change (an
        // idempotent batch commits whole: see the core's BatchMark).
        proposal.reject(new ClusterUnavailableError("leadership changed while the records were being committed: a first part of them was written, the rest was not"));
      } else {
        proposal.reject(new ClusterUnavailableError("leadership changed before the records were committed; they were not written"));
      }
    }
    this.commitWaiters.release(this.commitEnd);
    this.options.onApply?.(entries);
    this.recent.noteApplied(last);
    this.recent.forgetThrough(this.node.raft.role === Role.Leader ? Math.min(last, this.lowestFollowerMatch()) : last);
  }

  /** On the leader, the lowest index every other member (voter or learner) is known to hold. */
  private lowestFollowerMatch(): number {
    let lowest = Number.MAX_SAFE_INTEGER;
    for (const [id, progress] of this.node.raft.tracker.progress) if (id !== this.options.nodeId) lowest = Math.min(lowest, progress.match);
    return lowest;
  }

  /** The term of the entry at `index`, from the entries just applied (`applied`) or the log. */
  private termOf(index: number, applied: readonly Entry[]): number {
    const entry = applied[index - applied[0]!.index];
    return entry?.term ?? this.log.termAt(offsetOfIndex(index));
  }

  /** Remembers the batch marks among `entries` and notes their term; a leader that applied its own term's entry decides idempotent appends from then on. */
  private applyBatchMarks(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.type === EntryType.BatchMark) this.producers.applied(decodeBatchMark(entry.data), offsetOfIndex(entry.index));
    }
    this.appliedTerm = entries[entries.length - 1]!.term;
    if (this.appliedTerm === this.node.raft.term && this.isLeader) for (const waiter of this.termStartWaiters.splice(0)) waiter.resolve();
  }

  private failPending(error: unknown): void {
    for (const proposal of this.pending.splice(0)) proposal.reject(error);
  }
}

/** What a stopped replica's callers are told while its node repairs damaged records. */
function repairing(): ClusterUnavailableError {
  return new ClusterUnavailableError("this node found damaged records in its log and is repairing them from its peers; retry shortly");
}

function notLeaderError(leaderId: number): NotLeaderError {
  return new NotLeaderError(`not the leader${leaderId === 0 ? " (no leader known)" : `; leader is node ${leaderId}`}`, leaderId);
}

function proposeError(result: Extract<ProposeResult, { ok: false }>): Error {
  if (result.reason === ProposeRejection.NotLeader) return notLeaderError(result.leaderId);
  return new ProposalRefusedError(`proposal refused: ${result.reason} ${result.detail}`, result.reason, result.detail);
}
