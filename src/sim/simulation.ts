import { nextAdmissionStep } from "../cluster/admission.ts";
import type { RaftLimits } from "../cluster/replica.ts";
import { decodeMessage, encodeMessage } from "../cluster/message-codec.ts";
import { isSideMessage } from "../cluster/peer-message.ts";
import { ClusterUnavailableError } from "../errors.ts";
import { AssertionError, assert } from "../raft/assert.ts";
import { defaultRaftLimits } from "../raft/config.ts";
import { describeMessage } from "../raft/describe.ts";
import { decodeMembershipChange, MembershipChangeKind, type MembershipChange } from "../raft/membership.ts";
import type { Message } from "../raft/message.ts";
import { SeededRandom } from "../raft/random.ts";
import { EntryType, Role, emptyMembership, type Entry, type SnapshotPoint } from "../raft/types.ts";
import { Checker, Violation } from "./checker.ts";
import { SimClients } from "./sim-clients.ts";
import { EventQueue } from "./event-queue.ts";
import { History } from "./history.ts";
import { Network, type NetworkFaults } from "./network.ts";
import { addressOf, idOfAddress, SimServer, type ServerSetting } from "./sim-server.ts";
import type { DiskFaults, SimLog } from "./sim-log.ts";

/** Simulated milliseconds per Raft tick (each node's own clock). */
export const tickMs = 10;

export interface SimulationOptions {
  readonly seed: number;
  /** Voters at the start: 3 or 5. */
  readonly nodes: number;
  /** Record an event trace (slower; used to replay a failing seed). */
  readonly trace: boolean;
  /**
   * Also lose disks (default on): the server comes back empty with a new Raft id under its old name
   * and rejoins by name (src/cluster/admission.ts). (When it came back under its old id, replayed
   * configurations still counted it a voter and it could win an election without the committed
   * entries: seed 13254.)
   */
  readonly diskLoss?: boolean;
}

/** The per-seed fault profile, drawn from the seed so that every seed explores a different mix. */
interface FaultProfile {
  readonly network: NetworkFaults;
  readonly disk: DiskFaults;
  readonly faultPhaseMs: number;
  readonly actionGapMaxMs: number;
  /** Relative weights of: partition, crash, membership, pause, full disk, damage, disk loss, campaign. */
  readonly actionWeights: readonly number[];
  /** Chance that a newly elected leader is crashed or cut off within moments. */
  readonly crashNewLeaderChance: number;
  readonly calmChance: number;
  /** Largest clock skew (ms) and drift (fraction) per node. */
  readonly skewMaxMs: number;
  readonly driftMax: number;
  readonly raftLimits: Partial<RaftLimits>;
}

export interface SimulationStats {
  events: number;
  crashes: number;
  leaderTerms: number;
  membershipChanges: number;
  /** Servers that lost their disks and came back under their names with new Raft ids. */
  disksLost: number;
  acknowledgements: number;
  reads: number;
  committedIndex: number;
  simulatedMs: number;
}

export type SimulationResult =
  | { readonly ok: true; readonly stats: SimulationStats; readonly trace: readonly string[] }
  | { readonly ok: false; readonly error: string; readonly stats: SimulationStats; readonly trace: readonly string[] };

/** A server that joins starts from an empty start point; it learns the membership from the leader. */
const emptyStart: SnapshotPoint = { index: 0, term: 0, membership: emptyMembership };

/** Raft ids drawn by servers that replace one whose disk was lost start here (above every first id). */
const firstReplacementId = 100;

/** Servers are named by their first Raft id; a replacement keeps the name. */
function nameOf(id: number): string {
  return `s${id}`;
}

/** After healing, a leader must exist within this many ticks... */
const leaderBoundTicks = 150;
/** ...and the clients' values produced after healing must be acknowledged within this many. */
const livenessBoundTicks = 600;

/** Raft settings of simulated clusters: small messages, so a long tail goes in several steps. */
const simRaftLimits = {
  ...defaultRaftLimits,
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  applyBytesMax: 8192,
  proposalEntriesMax: 16,
  uncommittedEntriesMax: 64,
  learnerPromotionLagMax: 8,
};

/**
 * Lets every promise continuation the last event set off run before the next event: Node runs the
 * next-tick queue only once the microtask queue is empty, so this resolves after all of them ran
 * (without a turn of the event loop, which would cost more than most events).
 */
function settle(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/**
 * One deterministic run of a Loghouse cluster under faults: the production Replica (with its
 * LogStorage, RaftStateFile and the transport's message codec) on every server, over a simulated
 * clock, network and disk. Everything random comes from one generator seeded with `seed`; time is
 * simulated; the same seed replays the same run event for event.
 *
 * The run has a fault phase (partitions, drops, duplicates, delays, crashes that lose unsynced
 * writes and undo unsynced directory changes, pauses, full disks (a server whose append meets one
 * stops Raft and starts a new replica over its log once there is room, as a member does), failed
 * syncs, damaged records, membership changes) while clients produce and consume, then a healed
 * phase in which liveness and the clients' whole history are checked. Safety checkers run after
 * every event.
 */
export class Simulation {
  readonly random: SeededRandom;
  readonly queue = new EventQueue();
  readonly network: Network;
  readonly checker = new Checker();
  readonly history = new History(this.checker);
  readonly servers = new Map<number, SimServer>();
  private readonly clients: SimClients;
  private readonly profile: FaultProfile;
  /** The disks' faults now (sync failures stop once healed). */
  private readonly diskFaults: { latencyMaxMs: number; syncFailureRate: number };
  private readonly setting: ServerSetting;
  private readonly trace: string[] = [];
  private readonly tracing: boolean;
  private readonly leaderTermsSeen = new Map<number, number>();
  /** The last index each server's current process applied. */
  private readonly applied = new Map<number, number>();
  private readonly stats: SimulationStats = {
    events: 0, crashes: 0, leaderTerms: 0, membershipChanges: 0, disksLost: 0, acknowledgements: 0, reads: 0, committedIndex: 0, simulatedMs: 0,
  };
  /** Servers waiting for records their disk lost to damage (their node runs and answers peers). */
  private readonly repairing = new Set<number>();
  private nextNodeId: number;
  private faultsOn = true;
  private calmUntil = 0;
  private healedAt = -1;
  /** When the cluster was last seen without a leader after healing (undefined while it has one). */
  private leaderlessSince: number | undefined;
  private done = false;
  /** A violation found inside a callback, thrown from the run loop. */
  private failure: Error | undefined;

  constructor(private readonly options: SimulationOptions) {
    assert(options.nodes >= 1 && options.nodes <= 9, `nodes must be in [1, 9], got ${options.nodes}`);
    this.random = new SeededRandom(options.seed);
    this.tracing = options.trace;
    this.network = new Network(this.queue, this.random, (to, bytes) => this.deliver(to, bytes));
    this.profile = this.drawProfile();
    this.network.faults = this.profile.network;
    this.diskFaults = { ...this.profile.disk };
    this.setting = {
      queue: this.queue,
      random: this.random,
      diskFaults: this.diskFaults,
      tickMs,
      limits: this.profile.raftLimits,
      proposalTimeoutMs: 3_000,
      send: (message) => this.send(message),
      forward: (from, address, values) => this.forward(from, idOfAddress(address), values),
      onDamageFound: (id) => this.damageFound(this.servers.get(id)!),
      onApply: (id, entries) => this.guard(() => this.onApply(id, entries)),
      onReplicaStarting: (id) => this.applied.set(id, -1),
      onStopped: (id, why) => this.guard(() => this.onStopped(id, why)),
      onBroken: (id, what, error) => this.fail(new Violation(`node ${id} ${what}: ${String(error)}`)),
    };
    this.clients = new SimClients({
      queue: this.queue,
      random: this.random,
      history: this.history,
      servers: this.servers,
      leader: () => this.leader(),
      log: (line) => this.log(line),
      fail: (error) => this.fail(error),
    });
    const voters = Array.from({ length: options.nodes }, (_, i) => i + 1);
    // A cluster starts from a start point at index 1, as a bootstrapped one does; a server that joins
    // later, with an empty log, learns the membership from the start point the leader sends it.
    for (const id of voters) this.addServer(id, nameOf(id), { index: 1, term: 1, membership: { voters, learners: [] } });
    this.nextNodeId = options.nodes + 1;
  }

  private drawProfile(): FaultProfile {
    const r = this.random;
    return {
      network: {
        dropRate: r.pick([0, 0.01, 0.05, 0.15]),
        duplicateRate: r.pick([0, 0.02, 0.1]),
        latencyMinMs: r.pick([1, 2, 5]),
        latencyJitterMs: r.pick([1, 5, 10, 30]),
      },
      disk: { latencyMaxMs: r.pick([0, 2, 10, 30]), syncFailureRate: r.pick([0, 0, 0.001, 0.01]) },
      faultPhaseMs: 4000 + r.intBelow(6000),
      actionGapMaxMs: r.pick([10, 20, 40]),
      calmChance: r.pick([0.02, 0.05, 0.1]),
      crashNewLeaderChance: r.pick([0.2, 0.5, 0.8]),
      actionWeights: [r.pick([5, 10, 20]), r.pick([4, 8, 16]), 10, r.pick([0, 2, 5]), r.pick([0, 1, 3]), r.pick([0, 1, 3]), (this.options.diskLoss === false ? 0 : 1) * r.pick([0, 1, 2]), r.pick([1, 3])],
      skewMaxMs: r.pick([0, 100, 5000]),
      driftMax: r.pick([0, 0.01, 0.05]),
      raftLimits: {
        ...simRaftLimits,
        messageBytesMax: r.pick([64, 256, 4096]),
        inflightMessagesMax: r.pick([1, 4, 64]),
        inflightBytesMax: 1 << 16,
      },
    };
  }

  /** Runs to completion; never throws for a violation (it is returned with the trace). */
  async run(): Promise<SimulationResult> {
    this.log(`profile ${JSON.stringify(this.profile)}`);
    this.queue.schedule(0, () => this.faultLoop());
    this.queue.schedule(this.profile.faultPhaseMs, () => this.heal());
    this.clients.start();
    const deadlineMs = this.profile.faultPhaseMs + (leaderBoundTicks + livenessBoundTicks + 100) * tickMs;
    try {
      while (!this.done) {
        if (!this.queue.runNext()) throw new AssertionError("event queue ran dry");
        await settle();
        this.stats.events++;
        if (this.failure !== undefined) throw this.failure;
        this.observe();
        if (this.queue.now > deadlineMs) throw new Violation(`run did not finish by ${deadlineMs} ms`);
      }
      this.finalCheck();
    } catch (error) {
      if (!(error instanceof Violation) && !(error instanceof AssertionError) && !(error instanceof Error && error.name === "AssertionError")) throw error;
      this.log(`VIOLATION ${error.name}: ${error.message}`);
      return { ok: false, error: `${error.name}: ${error.message}`, stats: this.finishStats(), trace: this.trace };
    } finally {
      this.clients.stop();
    }
    return { ok: true, stats: this.finishStats(), trace: this.trace };
  }

  private finishStats(): SimulationStats {
    this.stats.simulatedMs = this.queue.now;
    this.stats.committedIndex = this.checker.highestCommitted;
    this.stats.acknowledgements = this.history.acknowledgements;
    this.stats.reads = this.history.reads;
    return this.stats;
  }

  log(line: string): void {
    if (this.tracing) this.trace.push(`${String(this.queue.now).padStart(6)} ${line}`);
  }

  /** Runs a callback from production code, keeping a violation it finds for the run loop. */
  private guard(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    this.failure ??= error instanceof Error ? error : new Violation(String(error));
  }

  // ---------------------------------------------------------------- servers

  /** A server with a new data directory: it must join (be admitted by the leader) unless it is one of the first voters. */
  private addServer(id: number, name: string, start: SnapshotPoint, admitted = true): SimServer {
    assert(!this.servers.has(id), `server ${id} exists`);
    const r = this.random;
    const skewMs = this.profile.skewMaxMs === 0 ? 0 : r.intBelow(2 * this.profile.skewMaxMs + 1) - this.profile.skewMaxMs;
    const drift = this.profile.driftMax === 0 ? 0 : (r.intBelow(2001) / 1000 - 1) * this.profile.driftMax;
    const server = new SimServer(id, name, start, { skewMs, drift }, this.setting, admitted);
    this.servers.set(id, server);
    this.boot(server);
    return server;
  }

  private boot(server: SimServer): void {
    this.log(`boot ${server.id}`);
    this.applied.set(server.id, -1);
    server.boot();
  }

  private send(message: Message): void {
    if (this.tracing) this.log(`send ${describeMessage(message)}`);
    this.network.send(message.from, message.to, encodeMessage(message));
  }

  /**
   * An append a follower forwards to the leader (over the RPC layer in production): it crosses the
   * simulated network both ways, and a blocked link or a stopped leader fails it, as a broken
   * connection would (its outcome then unknown to the caller).
   */
  private forward(from: number, to: number, values: readonly Uint8Array[]): Promise<number> {
    const latency = (): number => this.network.faults.latencyMinMs + this.random.intBelow(this.network.faults.latencyJitterMs + 1);
    const broken = (): ClusterUnavailableError => new ClusterUnavailableError(`forwarding from node ${from} to node ${to} failed`);
    return new Promise((resolve, reject) => {
      this.queue.schedule(latency(), () => {
        const target = this.servers.get(to)?.served ?? null;
        if (target === null || this.network.isBlocked(from, to)) return reject(broken());
        target.append(values).then(
          (offset) => this.queue.schedule(latency(), () => (this.network.isBlocked(to, from) ? reject(broken()) : resolve(offset))),
          (error: unknown) => this.queue.schedule(latency(), () => reject(error)),
        );
      });
    });
  }

  /** Messages cross the network encoded; the receiver decodes them with the production codec. */
  private deliver(to: number, bytes: Uint8Array): void {
    const server = this.servers.get(to);
    if (server === undefined || server.removed) return;
    const message = decodeMessage(bytes);
    assert(!isSideMessage(message), "only Raft messages cross the simulated network");
    if (this.tracing) this.log(`deliver ${describeMessage(message)}`);
    server.deliver(message);
  }

  private onApply(id: number, entries: readonly Entry[]): void {
    const server = this.servers.get(id)!;
    // A process applies from its start point (or its persisted commit) on; the first batch tells where.
    const after = this.applied.get(id)!;
    this.checker.onApply(id, after === -1 ? entries[0]!.index - 1 : after, entries);
    this.applied.set(id, entries[entries.length - 1]!.index);
    for (const entry of entries) {
      if (entry.type === EntryType.Normal && entry.data.length > 0) this.history.onCommitted(Buffer.from(entry.data).toString(), entry.index - 1);
      if (entry.type !== EntryType.Membership) continue;
      const change = decodeMembershipChange(entry.data);
      if (change.kind === MembershipChangeKind.RemoveNode) this.queue.schedule(0, () => this.stopRemoved(change.nodeId));
    }
    if (this.tracing) this.log(`node ${server.id} applied ${entries[0]!.index}..${entries[entries.length - 1]!.index}`);
  }

  private onStopped(id: number, why: string): void {
    this.log(`node ${id} stopped: ${why}`);
    const server = this.servers.get(id)!;
    this.scheduleRestart(server);
  }

  /**
   * A committed removal is final: the removed server is shut down for good, once the leader confirms
   * it is no longer a member (a server applying history may meet its removal after being added back).
   */
  private stopRemoved(id: number): void {
    const server = this.servers.get(id);
    if (server === undefined || server.removed || !server.admitted) return;
    const membership = this.leader()?.replica?.status().membership;
    if (membership === undefined || membership.voters.includes(id) || membership.learners.includes(id)) return;
    this.log(`node ${id} removed and stopped`);
    server.crash();
    server.removed = true;
  }

  private crash(server: SimServer, downMs?: number): void {
    if (!server.isUp) return;
    this.log(`crash ${server.id}`);
    this.stats.crashes++;
    server.crash();
    this.scheduleRestart(server, downMs);
  }

  private scheduleRestart(server: SimServer, downMs?: number): void {
    const delay = downMs ?? this.random.pick([1, 10, 50, 200]) + this.random.intBelow(100);
    this.queue.schedule(delay, () => this.repairThenBoot(server));
  }

  /**
   * Before a server whose disk holds damaged records starts again, each is fetched from a peer that
   * holds the same record intact (same offset and term), as the cluster's range repair does; while
   * some cannot be fetched (the peers are down or damaged too) the server waits and tries again.
   */
  private repairThenBoot(server: SimServer, retry = false): void {
    if (server.removed || server.isUp || (this.repairing.has(server.id) && !retry)) return;
    const damaged = server.disk.damagedOffsets();
    const unrepaired = damaged.filter((offset) => !this.repairRecord(server, offset));
    if (damaged.length > 0) this.log(`repair ${server.id}: ${damaged.length - unrepaired.length} of ${damaged.length} damaged records fetched from peers`);
    if (unrepaired.length > 0) {
      this.repairing.add(server.id);
      this.queue.schedule(100, () => this.repairThenBoot(server, true));
      return;
    }
    this.repairing.delete(server.id);
    this.boot(server);
  }

  /** Copies the record at `offset` from a peer that can answer: one running, or one repairing (its node runs). */
  private repairRecord(server: SimServer, offset: number): boolean {
    for (const peer of this.servers.values()) {
      if (peer === server || peer.removed || (!peer.isUp && !this.repairing.has(peer.id))) continue;
      const record = peer.disk.intactRecord(offset);
      if (record !== undefined && server.disk.restore(offset, record)) return true;
    }
    return false;
  }

  /** A reader met a damaged record: the node stops taking part and repairs its log from its peers. */
  private damageFound(server: SimServer): void {
    if (!server.isUp) return;
    this.log(`node ${server.id}: a reader met a damaged record`);
    server.crash();
    this.scheduleRestart(server, 1);
  }

  /** After every event: election safety, and leader completeness for each new leader. */
  private observe(): void {
    for (const server of this.servers.values()) {
      const replica = server.replica;
      if (replica === null) continue;
      const status = replica.status();
      if (status.role !== Role.Leader) continue;
      this.checker.onLeader(status.term, server.id);
      if (this.leaderTermsSeen.get(server.id) === status.term) continue;
      this.leaderTermsSeen.set(server.id, status.term);
      this.stats.leaderTerms++;
      this.log(`node ${server.id} is leader of term ${status.term}`);
      this.checker.onNewLeader(server.id, status.term, server.log!);
      if (this.faultsOn && this.random.chance(this.profile.crashNewLeaderChance)) this.upsetNewLeader(server);
    }
  }

  /** A new leader's first entry is not yet durable anywhere: the sharpest moment to crash or isolate it. */
  private upsetNewLeader(server: SimServer): void {
    const isolate = this.random.chance(0.5);
    this.queue.schedule(this.random.intBelow(this.profile.disk.latencyMaxMs + 20), () => {
      if (!server.isUp || !this.faultsOn) return;
      if (isolate) {
        this.network.partition([[server.id], this.memberIds().filter((id) => id !== server.id)]);
        this.log(`isolate new leader ${server.id}`);
      } else {
        this.crash(server, this.random.intBelow(30));
      }
    });
  }

  private memberIds(): number[] {
    return [...this.servers.values()].filter((server) => !server.removed).map((server) => server.id);
  }

  private upServers(): SimServer[] {
    return [...this.servers.values()].filter((server) => server.replica !== null);
  }

  /** The running server that leads in the highest term, if any. */
  private leader(): SimServer | undefined {
    let best: SimServer | undefined;
    let bestTerm = -1;
    for (const server of this.servers.values()) {
      const status = server.replica?.status();
      if (status === undefined || status.role !== Role.Leader || status.term <= bestTerm) continue;
      best = server;
      bestTerm = status.term;
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
    if (this.queue.now >= this.calmUntil) {
      if (this.random.chance(this.profile.calmChance)) {
        this.calmUntil = this.queue.now + 100 + this.random.intBelow(300);
        this.log(`calm until ${this.calmUntil}`);
      } else {
        this.faultAction();
      }
    }
    this.queue.schedule(1 + this.random.intBelow(this.profile.actionGapMaxMs), () => this.faultLoop());
  }

  private faultAction(): void {
    const weights = this.profile.actionWeights;
    let roll = this.random.intBelow(weights.reduce((a, b) => a + b, 0));
    let action = 0;
    while (roll >= weights[action]!) roll -= weights[action++]!;
    switch (action) {
      case 0:
        return this.partitionAction();
      case 1:
        return this.crashAction();
      case 2:
        return this.membershipAction();
      case 3:
        return this.pauseAction();
      case 4:
        return this.fullDiskAction();
      case 5:
        return this.damageAction();
      case 6:
        return this.diskLossAction();
      default:
        return this.campaignAction();
    }
  }

  private campaignAction(): void {
    const up = this.upServers();
    if (up.length === 0) return;
    const server = this.random.pick(up);
    this.log(`campaign ${server.id}`);
    server.replica?.campaign();
  }

  private partitionAction(): void {
    const r = this.random;
    const ids = this.memberIds();
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

  /** Crashes favour the leader; a majority stays up most of the time, so that elections happen. */
  private crashAction(): void {
    const up = [...this.servers.values()].filter((server) => server.isUp);
    const members = this.memberIds().length;
    if (up.length === 0) return;
    if (up.length <= Math.floor(members / 2) + 1 && this.random.chance(0.8)) return;
    const leader = this.leader();
    this.crash(leader !== undefined && this.random.chance(0.4) ? leader : this.random.pick(up));
  }

  /**
   * A bit flip or a lost write in one committed record of one server's disk, only while a majority
   * of the voters besides it hold the record intact: the fault model keeps every committed record
   * intact on a majority.
   * (Damage to a record of an uncommitted tail that no peer holds cannot be repaired from the peers:
   * range repair would ask for it forever.)
   */
  private damageAction(): void {
    const server = this.random.pick([...this.servers.values()]);
    const { disk } = server;
    const end = Math.min(disk.syncedEnd, this.checker.highestCommitted);
    if (server.removed || end <= disk.start) return;
    const offset = disk.start + this.random.intBelow(end - disk.start);
    const committed = this.checker.committedAt(offset + 1);
    if (committed === undefined || disk.intactRecord(offset)?.term !== committed.term) return;
    const others = [...this.servers.values()].filter((other) => other !== server && !other.removed);
    if (others.some((other) => !other.admitted)) return;
    const copies = others.filter((other) => other.disk.intactRecord(offset)?.term === committed.term).length;
    const voters = this.leader()?.replica?.status().membership.voters.length ?? Infinity;
    if (copies < Math.floor(voters / 2) + 1) return;
    const lost = this.random.chance(0.3);
    this.log(`${lost ? "lost write" : "bit flip"} at offset ${offset} on ${server.id}`);
    disk.damage(offset, this.random, lost);
  }

  /**
   * A server loses its disks and comes back empty: a new data directory, which draws a new Raft id,
   * under the old name; it rejoins by name and the leader replaces the old id (src/cluster/admission.ts).
   * One server at a time, so that a majority keeps its disks.
   */
  private diskLossAction(): void {
    const candidates = [...this.servers.values()].filter((server) => !server.removed);
    const voters = this.leader()?.replica?.status().membership.voters ?? [];
    if (voters.length < 3 || candidates.some((server) => !server.admitted || server.disk.damagedOffsets().length > 0)) return;
    // Only while every voter has applied the leader's configuration, and only in runs without
    // operator removals: a voter still counting removed members (applied before a restart, its
    // commit index lagging) cannot be elected, nor (holding the longest log) let another be, and a
    // server that lost its disk cannot rejoin without a leader. A liveness limit of configurations
    // that take effect when applied; safety is unaffected.
    const current = voters.join(",");
    for (const id of voters) {
      const status = this.servers.get(id)?.replica?.status();
      if (status === undefined || status.membership.voters.join(",") !== current) return;
    }
    const lost = this.random.pick(candidates);
    let id = lost.id;
    while (this.servers.has(id)) id = firstReplacementId + this.random.intBelow(1_000_000);
    this.log(`disk of ${lost.id} lost: ${lost.name} comes back as Raft id ${id}`);
    this.stats.disksLost++;
    if (lost.isUp) this.crash(lost, 0);
    lost.removed = true;
    const replacement = this.addServer(id, lost.name, emptyStart, false);
    this.queue.schedule(1, () => this.rejoin(replacement));
  }

  /**
   * The joining server's side and the leader's side of a join by name, as the admin protocol and the
   * leader's promoter run them: the leader takes the steps admission.ts decides (remove the old Raft
   * id bound to the name, add the new one as a learner), after which the server is admitted; then
   * it is promoted once caught up. Polled, so that a proposal lost with its leader is made again.
   */
  private rejoin(server: SimServer, state = { proposedAt: -Infinity }): void {
    if (server.removed) return;
    const leader = this.leader();
    const replica = leader?.replica ?? null;
    const membership = replica?.status().membership;
    if (membership?.voters.includes(server.id) === true) return this.log(`rejoin ${server.id}: a voter`);
    this.queue.schedule(100, () => this.rejoin(server, state));
    if (leader === undefined || replica === null || membership === undefined || !server.isUp) return;
    // A server's old Raft id is never alive here: it took a new one when its disk was lost.
    const step = nextAdmissionStep(membership, (id) => this.servers.get(id)?.name, leader.id, { name: server.name, nodeId: server.id, address: addressOf(server.id) }, () => false);
    assert(step.kind !== "refused", `admission refused: ${step.reason}`);
    if (step.kind === "admitted" && !server.admitted) {
      this.log(`rejoin ${server.id}: admitted`);
      server.admitted = true;
    }
    if (this.queue.now - state.proposedAt < 1_000) return;
    const change: MembershipChange = step.kind === "propose" ? step.change : { kind: MembershipChangeKind.PromoteLearner, nodeId: server.id };
    this.log(`rejoin ${server.id}: ${step.kind === "propose" ? step.reason : "promote"}`);
    state.proposedAt = this.queue.now;
    replica.changeMembership(change).then(
      () => undefined,
      () => {
        state.proposedAt = -Infinity;
      },
    );
  }

  /** A stopped process (a long GC pause, a frozen VM): it resumes later and carries on as if nothing happened. */
  private pauseAction(): void {
    const up = this.upServers();
    if (up.length === 0) return;
    const server = this.random.pick(up);
    const pauseMs = this.random.pick([50, 300, 1500]);
    this.log(`pause ${server.id} for ${pauseMs} ms`);
    server.pause();
    this.queue.schedule(pauseMs, () => {
      this.log(`resume ${server.id}`);
      server.resume();
    });
  }

  private fullDiskAction(): void {
    const server = this.random.pick([...this.servers.values()]);
    if (server.removed || server.disk.full) return;
    const fullMs = this.random.pick([20, 200, 1000]);
    this.log(`disk of ${server.id} full for ${fullMs} ms`);
    server.disk.full = true;
    this.queue.schedule(fullMs, () => {
      server.disk.full = false;
    });
  }

  private membershipAction(): void {
    const leader = this.leader();
    const replica = leader?.replica;
    if (leader === undefined || replica === null || replica === undefined) return;
    const membership = replica.status().membership;
    const r = this.random;
    const kind = r.intBelow(3);
    let change: MembershipChange;
    if (kind === 0 && this.nextNodeId <= this.options.nodes + 3) {
      change = { kind: MembershipChangeKind.AddLearner, nodeId: this.nextNodeId };
    } else if (kind === 1 && membership.learners.length > 0) {
      change = { kind: MembershipChangeKind.PromoteLearner, nodeId: r.pick(membership.learners) };
    } else if (kind === 2 && membership.voters.length > 3 && this.profile.actionWeights[6] === 0) {
      change = { kind: MembershipChangeKind.RemoveNode, nodeId: r.pick(membership.voters.filter((id) => id !== leader.id)) };
    } else {
      return;
    }
    this.log(`node ${leader.id} proposes membership ${JSON.stringify(change)}`);
    replica.changeMembership(change).then(
      () => this.log(`membership ${JSON.stringify(change)} committed`),
      (error: unknown) => this.log(`membership ${JSON.stringify(change)} failed: ${(error as Error).name}`),
    );
    this.stats.membershipChanges++;
    if (change.kind === MembershipChangeKind.AddLearner) {
      // The new server starts empty; it learns the start point and membership from the leader.
      const id = this.nextNodeId++;
      this.addServer(id, nameOf(id), emptyStart);
    }
  }

  // ---------------------------------------------------------------- healing, liveness, the end

  private heal(): void {
    this.faultsOn = false;
    this.healedAt = this.queue.now;
    this.network.heal();
    // Healed means no loss and round trips well below the election timeout.
    this.network.faults = { dropRate: 0, duplicateRate: 0, latencyMinMs: 1, latencyJitterMs: 10 };
    this.diskFaults.syncFailureRate = 0;
    this.log("heal everything; resume and restart every stopped server");
    for (const server of this.servers.values()) {
      server.disk.full = false;
      server.resume();
      // The background scrub finds what damage remains; the node repairs it from its peers.
      if (server.isUp && server.disk.damagedOffsets().length > 0) this.damageFound(server);
      else if (!server.removed && !server.isUp) this.repairThenBoot(server);
    }
    this.clients.healed();
    this.queue.schedule(tickMs, () => this.livenessLoop());
  }

  private livenessLoop(): void {
    const sinceHealMs = this.queue.now - this.healedAt;
    // Leaderless since the healing, or since the last leader stepped down: a leader that applies its
    // own removal does (seed 516552, its clients' values acknowledged the moment it applied it), and
    // the voters left must elect the next within the same bound.
    if (this.leader() === undefined) {
      this.leaderlessSince ??= this.queue.now;
      if (this.queue.now - this.leaderlessSince > leaderBoundTicks * tickMs) throw new Violation(`liveness: no leader for ${leaderBoundTicks} ticks after healing`);
    } else {
      this.leaderlessSince = undefined;
    }
    const acknowledged = this.clients.allAcknowledgedAfterHeal();
    if (acknowledged && this.leaderlessSince === undefined) {
      this.log("liveness: every client's value produced after healing was acknowledged");
      this.done = true;
      return;
    }
    if (!acknowledged && sinceHealMs > livenessBoundTicks * tickMs) throw new Violation(`liveness: values produced after healing not acknowledged within ${livenessBoundTicks} ticks`);
    this.queue.schedule(tickMs, () => this.livenessLoop());
  }

  /** The history checked against every replica's disk once the cluster is healed and has made progress. */
  private finalCheck(): void {
    const leader = this.leader();
    assert(leader !== undefined, "a leader acknowledged the last values");
    const replicas = new Map<number, { log: SimLog; commitEnd: number }>();
    for (const server of this.servers.values()) {
      const replica = server.replica;
      if (replica === null || server.log === null) continue;
      replicas.set(server.id, { log: server.log, commitEnd: replica.committed.nextOffset });
    }
    this.history.checkEnd(replicas, leader.replica!.committed.nextOffset);
  }
}
