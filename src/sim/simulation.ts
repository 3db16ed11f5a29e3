import { AssertionError, assert } from "../raft/assert.ts";
import { describeEntry, describeMessage } from "../raft/describe.ts";
import { decodeMembershipChange, MembershipChangeKind, type MembershipChange } from "../raft/membership.ts";
import type { Message } from "../raft/message.ts";
import { SeededRandom } from "../raft/random.ts";
import type { Ready } from "../raft/ready.ts";
import { EntryType, Role, emptyMembership, type Entry } from "../raft/types.ts";
import { Checker, Violation } from "./checker.ts";
import { EventQueue } from "./event-queue.ts";
import { Network, type NetworkFaults } from "./network.ts";
import { SimNode } from "./sim-node.ts";

/** Simulated milliseconds per Raft tick. */
export const tickMs = 10;

export interface SimulationOptions {
  readonly seed: number;
  /** Voters at the start: 3 or 5. */
  readonly nodes: number;
  /** Record an event trace (slower; used to replay a failing seed). */
  readonly trace: boolean;
}

/** The per-seed fault profile, drawn from the seed so that every seed explores a different mix. */
interface FaultProfile {
  readonly network: NetworkFaults;
  /** Per-node upper bound on a write's latency: some servers have slow disks, some fast. */
  readonly diskDelayMaxMs: readonly number[];
  readonly faultPhaseMs: number;
  readonly actionGapMaxMs: number;
  /** Relative weights of: propose, partition, crash, membership, transfer, compact, campaign. */
  readonly actionWeights: readonly number[];
  /** Chance that a newly elected leader is crashed within moments. */
  readonly crashNewLeaderChance: number;
  /** Chance that a leader is crashed right after it commits while its own write is in flight. */
  readonly crashAtCommitChance: number;
  /** Chance per action slot that a calm spell starts. */
  readonly calmChance: number;
  /** Small messages make a leader replicate a long tail in several steps, acknowledged one by one. */
  readonly raftLimits: { messageBytesMax: number; inflightMessagesMax: number; inflightBytesMax: number };
}

export interface SimulationStats {
  events: number;
  crashes: number;
  leaderTerms: number;
  membershipChanges: number;
  committedIndex: number;
  simulatedMs: number;
}

export type SimulationResult =
  | { readonly ok: true; readonly stats: SimulationStats; readonly trace: readonly string[] }
  | { readonly ok: false; readonly error: string; readonly stats: SimulationStats; readonly trace: readonly string[] };

/** After healing, a leader must exist within this many ticks... */
const leaderBoundTicks = 100;
/** ...and each proposal made after healing must commit within this many ticks of its first attempt. */
const proposalBoundTicks = 300;
const livenessProposals = 3;
const encoder = new TextEncoder();

/**
 * One deterministic run of a Raft cluster under faults. Everything random comes from one generator
 * seeded with `seed`; time is simulated; the same seed replays the same run event for event.
 *
 * The run has a fault phase (partitions, drops, duplicates, delays, crashes that lose unsynced writes,
 * membership changes, leadership transfers, compaction, client proposals) and then a healed phase in
 * which liveness is checked. Safety checkers run after every event.
 */
export class Simulation {
  readonly random: SeededRandom;
  readonly queue = new EventQueue();
  readonly network: Network;
  readonly checker = new Checker();
  readonly nodes = new Map<number, SimNode>();
  private readonly profile: FaultProfile;
  private readonly trace: string[] = [];
  private readonly tracing: boolean;
  private readonly leaderTermsSeen = new Map<number, number>();
  private readonly stats: SimulationStats = {
    events: 0, crashes: 0, leaderTerms: 0, membershipChanges: 0, committedIndex: 0, simulatedMs: 0,
  };
  private nextNodeId: number;
  private valueCounter = 0;
  private faultsOn = true;
  private calmUntil = 0;
  private done = false;
  private healedAt = -1;
  private readonly appliedValues = new Map<string, number>();

  constructor(private readonly options: SimulationOptions) {
    assert(options.nodes >= 1 && options.nodes <= 9, `nodes must be in [1, 9], got ${options.nodes}`);
    this.random = new SeededRandom(options.seed);
    this.tracing = options.trace;
    this.network = new Network(this.queue, this.random, (m) => this.deliver(m));
    this.profile = this.drawProfile();
    this.network.faults = this.profile.network;
    const voters = Array.from({ length: options.nodes }, (_, i) => i + 1);
    // A cluster starts from a bootstrap point at index 1, so a server that joins later, with an empty log,
    // learns the initial membership from the snapshot point the leader sends it.
    for (const id of voters) this.addNode(id, { index: 1, term: 1, membership: { voters, learners: [] } });
    this.nextNodeId = options.nodes + 1;
  }

  private drawProfile(): FaultProfile {
    const r = this.random;
    return {
      network: {
        dropRate: r.pick([0, 0.01, 0.05, 0.15, 0.3]),
        duplicateRate: r.pick([0, 0.02, 0.1]),
        latencyMinMs: r.pick([1, 2, 5]),
        latencyJitterMs: r.pick([1, 5, 10, 30]),
      },
      diskDelayMaxMs: Array.from({ length: 16 }, () => r.pick([0, 2, 10, 30, 80])),
      faultPhaseMs: 5000 + r.intBelow(10000),
      actionGapMaxMs: r.pick([10, 20, 40]),
      calmChance: r.pick([0.02, 0.05, 0.1]),
      crashNewLeaderChance: r.pick([0.3, 0.6, 0.9]),
      crashAtCommitChance: r.pick([0.05, 0.2, 0.5]),
      actionWeights: [40, r.pick([5, 10, 20]), r.pick([4, 8, 16]), 10, r.pick([5, 10, 20]), 7, r.pick([1, 3, 6])],
      raftLimits: {
        messageBytesMax: r.pick([64, 256, 4096]),
        inflightMessagesMax: r.pick([1, 4, 64]),
        inflightBytesMax: 1 << 16,
      },
    };
  }

  /** Runs to completion; never throws for a violation (it is returned with the trace). */
  run(): SimulationResult {
    this.log(`profile ${JSON.stringify(this.profile)}`);
    this.queue.schedule(0, () => this.faultLoop());
    this.queue.schedule(this.profile.faultPhaseMs, () => this.heal());
    const deadlineMs = this.profile.faultPhaseMs + (leaderBoundTicks + livenessProposals * proposalBoundTicks + 100) * tickMs;
    try {
      while (!this.done) {
        if (!this.queue.runNext()) throw new AssertionError("event queue ran dry");
        this.stats.events++;
        if (this.queue.now > deadlineMs) throw new Violation(`run did not finish by ${deadlineMs} ms`);
      }
    } catch (error) {
      if (!(error instanceof Violation) && !(error instanceof AssertionError)) throw error;
      this.log(`VIOLATION ${error.name}: ${error.message}`);
      this.stats.simulatedMs = this.queue.now;
      return { ok: false, error: `${error.name}: ${error.message}`, stats: this.stats, trace: this.trace };
    }
    this.stats.simulatedMs = this.queue.now;
    this.stats.committedIndex = this.checker.highestCommitted;
    return { ok: true, stats: this.stats, trace: this.trace };
  }

  private log(line: string): void {
    if (this.tracing) this.trace.push(`${String(this.queue.now).padStart(6)} ${line}`);
  }

  // ---------------------------------------------------------------- nodes

  private addNode(id: number, start: { index: number; term: number; membership: typeof emptyMembership }): SimNode {
    assert(!this.nodes.has(id), `node ${id} exists`);
    const node = new SimNode(id, start);
    this.nodes.set(id, node);
    node.start(this.random, this.profile.raftLimits);
    this.queue.schedule(1 + this.random.intBelow(tickMs), () => this.tickLoop(node));
    return node;
  }

  private tickLoop(node: SimNode): void {
    if (node.removed) return;
    if (node.raw !== null) {
      node.raw.tick();
      this.afterEvent(node);
    }
    this.queue.schedule(tickMs, () => this.tickLoop(node));
  }

  private deliver(m: Message): void {
    const node = this.nodes.get(m.to);
    if (node === undefined || node.raw === null) return;
    if (this.tracing) this.log(`deliver ${describeMessage(m)}`);
    node.raw.step(m);
    this.afterEvent(node);
  }

  /** Checks the node's invariants, then hands its next Ready to the disk if it is idle. */
  private afterEvent(node: SimNode): void {
    const raw = node.raw;
    if (raw === null) return;
    const raft = raw.raft;
    if (raft.log.committed > node.checkedCommit) {
      this.checker.onCommitIndex(node.id, raft.log, node.checkedCommit + 1);
      node.checkedCommit = raft.log.committed;
      // A leader that has just committed while its own write is still in flight is at the moment
      // where durability mistakes show: crash it there now and then.
      if (this.faultsOn && raft.role === Role.Leader && node.pending !== null && this.random.chance(this.profile.crashAtCommitChance)) {
        this.crash(node, this.random.intBelow(30));
        return;
      }
    }
    if (raft.role === Role.Leader) {
      this.checker.onLeader(raft.term, node.id);
      if (this.leaderTermsSeen.get(node.id) !== raft.term) {
        this.leaderTermsSeen.set(node.id, raft.term);
        this.stats.leaderTerms++;
        this.log(`node ${node.id} is leader of term ${raft.term}`);
        this.checker.onNewLeader(node.id, raft.term, raft.log);
        // A new leader's first entry is not yet durable anywhere: the sharpest moment to crash it.
        if (this.faultsOn && this.random.chance(this.profile.crashNewLeaderChance)) {
          const isolate = this.random.chance(0.5);
          this.queue.schedule(this.random.intBelow(this.diskDelayMaxMs(node) + 20), () => {
            if (!node.isUp() || !this.faultsOn) return;
            if (isolate) {
              // Cut off, it keeps its new entries but cannot share them: a log that diverges later.
              this.network.partition([[node.id], [...this.nodes.keys()].filter((id) => id !== node.id)]);
              this.log(`isolate new leader ${node.id}`);
            } else {
              // A quick reboot: the crashed leader's vote decides who leads next.
              this.crash(node, this.random.intBelow(30));
            }
          });
        }
      }
    }
    if (node.pending !== null) {
      // The disk is busy, but messages that need no write go out now (heartbeats above all).
      for (const m of raw.takeMessages()) this.send(m);
      return;
    }
    if (!raw.hasReady()) return;
    const ready = raw.ready();
    node.pending = ready;
    for (const m of ready.messages) this.send(m);
    const delayMax = this.diskDelayMaxMs(node);
    const delay = delayMax > 0 ? this.random.intBelow(delayMax + 1) : 0;
    this.queue.schedule(delay, () => this.completeWrite(node, ready));
  }

  private diskDelayMaxMs(node: SimNode): number {
    const delays = this.profile.diskDelayMaxMs;
    return delays[node.id % delays.length] as number;
  }

  private send(m: Message): void {
    if (this.tracing) this.log(`send ${describeMessage(m)}`);
    this.network.send(m);
  }

  /** The disk finished the writes of `ready`: now send what waited for them, apply, and advance. */
  private completeWrite(node: SimNode, ready: Ready): void {
    if (node.pending !== ready || node.raw === null) return;
    node.persist(ready);
    if (ready.entries.length > 0) {
      const first = ready.entries[0] as Entry;
      const prevTerm = node.storage.term(first.index - 1);
      assert(prevTerm !== undefined, `no term before ${first.index}`);
      this.checker.onPersist(node.id, prevTerm, ready.entries);
      if (this.tracing) this.log(`node ${node.id} persisted ${first.index}..${first.index + ready.entries.length - 1}`);
    }
    for (const m of ready.messagesAfterPersist) this.send(m);
    const removals: number[] = [];
    for (const entry of ready.committedEntries) this.apply(node, entry, removals);
    node.raw.advance(ready);
    node.pending = null;
    for (const id of removals) this.stopRemoved(id);
    this.afterEvent(node);
  }

  private apply(node: SimNode, entry: Entry, removals: number[]): void {
    if (entry.index !== node.appliedIndex + 1) {
      throw new Violation(`node ${node.id} applied ${entry.index} after ${node.appliedIndex}`);
    }
    this.checker.onApply(node.id, entry);
    node.appliedIndex = entry.index;
    if (this.tracing) this.log(`node ${node.id} applied ${describeEntry(entry)}`);
    if (entry.type === EntryType.Normal && this.healedAt >= 0) {
      const value = new TextDecoder().decode(entry.data);
      if (!this.appliedValues.has(value)) this.appliedValues.set(value, entry.index);
    }
    if (entry.type === EntryType.Membership) {
      const change = decodeMembershipChange(entry.data);
      if (change.kind === MembershipChangeKind.RemoveNode) removals.push(change.nodeId);
    }
  }

  /** A committed removal is final: the removed server is shut down for good. */
  private stopRemoved(id: number): void {
    const node = this.nodes.get(id);
    if (node === undefined || node.removed) return;
    this.log(`node ${id} removed and stopped`);
    node.crash();
    node.removed = true;
  }

  /** Crashes `node` and restarts it after `downMs` (a random pause when not given). */
  private crash(node: SimNode, downMs?: number): void {
    this.log(`crash ${node.id}${node.pending !== null ? " (write in flight lost)" : ""}`);
    this.stats.crashes++;
    node.crash();
    const delay = downMs ?? this.random.pick([1, 10, 50, 200]) + this.random.intBelow(100);
    this.queue.schedule(delay, () => this.restart(node));
  }

  private restart(node: SimNode): void {
    if (node.removed || node.isUp()) return;
    this.log(`restart ${node.id}`);
    node.start(this.random, this.profile.raftLimits);
    this.afterEvent(node);
  }

  private upNodes(): SimNode[] {
    const up: SimNode[] = [];
    for (const node of this.nodes.values()) if (node.raw !== null) up.push(node);
    return up;
  }

  /** The up node that is leader in the highest term, if any. */
  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.nodes.values()) {
      const raft = node.raw?.raft;
      if (raft === undefined || raft.role !== Role.Leader) continue;
      if (best === undefined || raft.term > (best.raw?.raft.term ?? 0)) best = node;
    }
    return best;
  }

  // ---------------------------------------------------------------- faults

  /**
   * Storms of faults alternate with calm spells in which only clients act: a leader needs a quiet
   * moment to be elected, and leadership changes are where most rules are tested.
   */
  private faultLoop(): void {
    if (!this.faultsOn) return;
    if (this.queue.now < this.calmUntil) {
      if (this.random.chance(0.2)) this.proposeValues(this.upNodes());
    } else if (this.random.chance(this.profile.calmChance)) {
      this.calmUntil = this.queue.now + 100 + this.random.intBelow(300);
      this.log(`calm until ${this.calmUntil}`);
    } else {
      this.faultAction();
    }
    this.queue.schedule(1 + this.random.intBelow(this.profile.actionGapMaxMs), () => this.faultLoop());
  }

  private faultAction(): void {
    const r = this.random;
    const up = this.upNodes();
    const weights = this.profile.actionWeights;
    let roll = r.intBelow(weights.reduce((a, b) => a + b, 0));
    let action = 0;
    while (roll >= (weights[action] as number)) roll -= weights[action++] as number;
    switch (action) {
      case 0:
        return this.proposeValues(up);
      case 1:
        return this.partitionAction();
      case 2:
        return this.crashAction(up);
      case 3:
        return this.membershipAction();
      case 4:
        return this.transferAction();
      case 5:
        return this.compactAction(up);
      default:
        return this.campaignAction(up);
    }
  }

  private campaignAction(up: SimNode[]): void {
    if (up.length === 0) return;
    const node = this.random.pick(up);
    this.log(`campaign ${node.id}`);
    node.raw?.campaign();
    this.afterEvent(node);
  }

  private proposeValues(up: SimNode[]): void {
    if (up.length === 0) return;
    // Clients mostly find the leader, but sometimes ask a follower (which must refuse).
    const leader = this.leader();
    const node = leader !== undefined && this.random.chance(0.7) ? leader : this.random.pick(up);
    const count = 1 + this.random.intBelow(this.random.pick([1, 3, 10]));
    const items: Uint8Array[] = [];
    for (let i = 0; i < count; i++) items.push(encoder.encode(`v${++this.valueCounter}`));
    const result = node.raw?.propose(items);
    if (result?.ok === true) this.log(`node ${node.id} accepted ${count} values at ${result.firstIndex}`);
    this.afterEvent(node);
  }

  private partitionAction(): void {
    const r = this.random;
    const ids = [...this.nodes.values()].filter((n) => !n.removed).map((n) => n.id);
    const kind = r.intBelow(5);
    const leader = this.leader();
    if (kind === 0 || ids.length < 2) {
      this.network.heal();
      this.log("heal partitions");
    } else if (kind === 1) {
      const a = ids.filter(() => r.chance(0.5));
      const b = ids.filter((id) => !a.includes(id));
      if (a.length === 0 || b.length === 0) return;
      this.network.partition([a, b]);
      this.log(`partition (${a.join(",")}) (${b.join(",")})`);
    } else if (kind === 2 || kind === 3) {
      // Cutting off the leader forces a change of leadership, the moment most rules are about.
      const alone = kind === 3 && leader !== undefined ? leader.id : r.pick(ids);
      this.network.partition([[alone], ids.filter((id) => id !== alone)]);
      this.log(`isolate ${alone}`);
    } else {
      const from = r.pick(ids);
      const to = r.pick(ids);
      if (from === to) return;
      this.network.block(from, to);
      this.log(`block ${from}->${to}`);
    }
  }

  /** Crashes favour the dangerous moments: a node with a write in flight, or the leader. */
  private crashAction(up: SimNode[]): void {
    // Keep a majority of servers up most of the time, so that elections (and their mistakes) happen.
    const members = [...this.nodes.values()].filter((node) => !node.removed).length;
    if (up.length === 0) return;
    if (up.length <= Math.floor(members / 2) + 1 && this.random.chance(0.8)) return;
    const writing = up.filter((node) => node.pending !== null);
    const leader = this.leader();
    const roll = this.random.intBelow(3);
    if (roll === 0 && writing.length > 0) this.crash(this.random.pick(writing));
    else if (roll === 1 && leader !== undefined) this.crash(leader);
    else this.crash(this.random.pick(up));
  }

  private membershipAction(): void {
    const leader = this.leader();
    const raw = leader?.raw;
    if (leader === undefined || raw === undefined || raw === null) return;
    const membership = raw.raft.tracker.membership;
    const r = this.random;
    const kind = r.intBelow(3);
    let change: MembershipChange;
    if (kind === 0 && this.nextNodeId <= this.options.nodes + 4) {
      change = { kind: MembershipChangeKind.AddLearner, nodeId: this.nextNodeId };
    } else if (kind === 1 && membership.learners.length > 0) {
      change = { kind: MembershipChangeKind.PromoteLearner, nodeId: r.pick(membership.learners) };
    } else if (kind === 2 && membership.voters.length > 2) {
      const candidates = membership.voters.filter((id) => id !== leader.id);
      change = { kind: MembershipChangeKind.RemoveNode, nodeId: r.pick(candidates) };
    } else {
      return;
    }
    const result = raw.proposeMembershipChange(change);
    this.log(`node ${leader.id} propose membership ${JSON.stringify(change)}: ${result.ok ? "accepted" : result.reason}`);
    if (result.ok) {
      this.stats.membershipChanges++;
      if (change.kind === MembershipChangeKind.AddLearner) {
        this.nextNodeId++;
        this.addNode(change.nodeId, { index: 0, term: 0, membership: emptyMembership });
      }
    }
    this.afterEvent(leader);
  }

  private transferAction(): void {
    const leader = this.leader();
    const raw = leader?.raw;
    if (leader === undefined || raw === undefined || raw === null) return;
    const voters = raw.raft.tracker.membership.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const to = this.random.pick(voters);
    const result = raw.transferLeadership(to);
    this.log(`node ${leader.id} transfer leadership to ${to}: ${result.ok ? "started" : result.reason}`);
    this.afterEvent(leader);
  }

  private compactAction(up: SimNode[]): void {
    const idle = up.filter((n) => n.pending === null);
    if (idle.length === 0) return;
    const node = this.random.pick(idle);
    const raft = node.raw?.raft;
    if (raft === undefined) return;
    assert(raft.log.applied === node.appliedIndex, `node ${node.id} applied ${node.appliedIndex} but raft says ${raft.log.applied}`);
    const start = node.storage.firstIndex() - 1;
    // The membership recorded with the start point must be the one in force at that index, which is
    // what the node has applied: so compact exactly through the applied index.
    const index = node.appliedIndex;
    if (index <= start) return;
    node.storage.compact(index, raft.tracker.membership);
    this.log(`compact ${node.id} through ${index}`);
  }

  // ---------------------------------------------------------------- healing and liveness

  private heal(): void {
    this.faultsOn = false;
    this.healedAt = this.queue.now;
    this.network.heal();
    // Healed means no loss and round trips well below the election timeout (slow links are a fault too).
    this.network.faults = { dropRate: 0, duplicateRate: 0, latencyMinMs: 1, latencyJitterMs: 10 };
    this.log("heal everything; restart every stopped node");
    for (const node of this.nodes.values()) {
      if (!node.removed && !node.isUp()) this.restart(node);
    }
    this.livenessLoop({ value: "", index: 0, term: 0, firstTriedAt: -1, done: 0 });
  }

  private livenessLoop(state: { value: string; index: number; term: number; firstTriedAt: number; done: number }): void {
    const now = this.queue.now;
    const leader = this.leader();
    if (leader === undefined) {
      if (now - this.healedAt > leaderBoundTicks * tickMs) {
        throw new Violation(`liveness: no leader ${leaderBoundTicks} ticks after healing`);
      }
    } else {
      this.driveProposal(leader, state);
      if (state.done === livenessProposals) {
        this.log("liveness: every post-heal proposal committed");
        this.done = true;
        return;
      }
    }
    if (state.firstTriedAt >= 0 && now - state.firstTriedAt > proposalBoundTicks * tickMs) {
      throw new Violation(`liveness: proposal ${state.value} not committed ${proposalBoundTicks} ticks after it was made`);
    }
    this.queue.schedule(tickMs, () => this.livenessLoop(state));
  }

  private driveProposal(
    leader: SimNode,
    state: { value: string; index: number; term: number; firstTriedAt: number; done: number },
  ): void {
    if (state.value !== "" && this.appliedValues.has(state.value)) {
      state.index = this.appliedValues.get(state.value) as number;
      state.done++;
      this.log(`liveness: ${state.value} committed at ${state.index}`);
      if (state.done === livenessProposals) return;
      state.value = "";
    }
    const raw = leader.raw;
    if (raw === null) return;
    if (state.value === "") {
      state.value = `after-heal-${state.done + 1}`;
      state.firstTriedAt = this.queue.now;
      state.term = 0;
    }
    // A client retries with whichever node leads now if the leader it used is gone.
    if (state.term !== raw.raft.term) {
      const result = raw.propose([encoder.encode(state.value)]);
      if (result.ok) state.term = result.term;
      this.afterEvent(leader);
    }
  }
}
