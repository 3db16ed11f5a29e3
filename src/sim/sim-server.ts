// One simulated server: its disks (the data log's and the state file's), its clock (skewed and
// drifting), and while it runs a process holding the production Replica, built exactly as a cluster
// member builds it (state file, log aligned with the recorded start point, replica, restarted over
// the same log after its disk was full: replica-restarts.ts) but over the simulated disk, clock and
// network. A crash kills the process (its pending disk operations, timers and deliveries are
// dropped) and applies the disks' power-loss rules; a pause stops the process without killing it
// (everything it would have done waits until it resumes).
import { alignWithStartPoint } from "../cluster/log-storage.ts";
import { RaftStateFile } from "../cluster/raft-state-file.ts";
import { Replica, type RaftLimits } from "../cluster/replica.ts";
import { ReplicaRestarts } from "../cluster/replica-restarts.ts";
import { ReplicatedLog, type ForwardAppend, type ReplicatedLogMember } from "../cluster/replicated-log.ts";
import type { Timers } from "../cluster/timers.ts";
import { LogClosedError, NodeRemovedError, StorageFullError, StorageIoError, type DataLossError } from "../errors.ts";
import { silentLogger } from "../logger.ts";
import { assert } from "../raft/assert.ts";
import type { Message } from "../raft/message.ts";
import type { SeededRandom } from "../raft/random.ts";
import type { Entry, SnapshotPoint } from "../raft/types.ts";
import type { EventQueue } from "./event-queue.ts";
import { SimDisk } from "./sim-disk.ts";
import { SimLog, type DiskEnvironment, type DiskFaults } from "./sim-log.ts";
import { SimStateFileSystem } from "./sim-state-file-system.ts";

/** A node's clock: simulated time scaled by (1 + drift), shifted by skewMs, from a fixed epoch. */
export interface ClockError {
  readonly skewMs: number;
  readonly drift: number;
}

/** What every server of a run shares. */
export interface ServerSetting {
  readonly queue: EventQueue;
  readonly random: SeededRandom;
  readonly diskFaults: DiskFaults;
  readonly tickMs: number;
  readonly limits: Partial<RaftLimits>;
  readonly proposalTimeoutMs: number;
  /** Sends an encoded message from this server (the simulated network). */
  readonly send: (message: Message) => void;
  /** Forwards an append from server `from` to the leader at `address` (as the RPC layer does). */
  readonly forward: (from: number, address: string, values: readonly Uint8Array[]) => Promise<number>;
  /** A reader met a damaged record on server `id`. */
  readonly onDamageFound: (id: number) => void;
  /** Sees every committed entry a server applies. */
  readonly onApply: (id: number, entries: readonly Entry[]) => void;
  /** Told when a server builds a replica (at boot, or over the same log once its disk has room again): it applies from its start on. */
  readonly onReplicaStarting: (id: number) => void;
  /** Told when a server's process ends by itself (damage met, a write failed). */
  readonly onStopped: (id: number, why: string) => void;
  /** Told when a process failed to start, or a write failed for a reason no disk gives (a broken invariant). */
  readonly onBroken: (id: number, what: string, error: unknown) => void;
}

const EPOCH_MS = 1_700_000_000_000;

/** The address a simulated server is known by. */
export function addressOf(id: number): string {
  return `node-${id}`;
}

/** The id of the simulated server at `address`. */
export function idOfAddress(address: string): number {
  const id = Number(address.slice("node-".length));
  assert(address.startsWith("node-") && Number.isSafeInteger(id), `bad simulated address ${address}`);
  return id;
}
const STATE_PATH = "/data/raft-state.json";

/** One run of a server's program, from start to crash. */
class SimProcess {
  alive = true;
  paused = false;
  restarts: ReplicaRestarts | null = null;
  /** Aborted when the process dies: a restart under way ends there. */
  readonly closing = new AbortController();
  log: SimLog | null = null;
  /** What the server's RPC layer serves: the production ReplicatedLog over this process's replica. */
  served: ReplicatedLog | null = null;
  private deferred: Array<() => void> = [];

  constructor(private readonly queue: EventQueue) {}

  /** Runs `run` after `ms` unless the process died; a paused process runs it when it resumes. */
  schedule(ms: number, run: () => void): void {
    this.queue.schedule(ms, () => this.run(run));
  }

  run(action: () => void): void {
    if (!this.alive) return;
    if (this.paused) this.deferred.push(action);
    else action();
  }

  resume(): void {
    this.paused = false;
    for (const action of this.deferred.splice(0)) this.run(action);
  }

  /** The replica now running (or stopped while its disk is full), once the process has opened its disks. */
  get replica(): Replica | null {
    return this.restarts?.replica ?? null;
  }
}

export class SimServer {
  readonly disk = new SimDisk();
  readonly stateDisk: SimStateFileSystem;
  process: SimProcess | null = null;
  /** Removed from the cluster, or its disk lost: stopped for good. */
  removed = false;
  /**
   * Whether the cluster has admitted this server. A server that replaces one whose disk was lost
   * ignores Raft traffic until the leader has added its new Raft id (as a cluster member does until
   * its join is accepted).
   */
  admitted: boolean;
  private incarnation = 0;

  constructor(
    /** The Raft id its data directory drew. */
    readonly id: number,
    /** Its name, kept by the server that replaces it after a disk loss. */
    readonly name: string,
    private readonly start: SnapshotPoint,
    readonly clock: ClockError,
    private readonly setting: ServerSetting,
    admitted: boolean,
  ) {
    this.admitted = admitted;
    this.stateDisk = new SimStateFileSystem(setting.diskFaults.latencyMaxMs);
  }

  get replica(): Replica | null {
    return this.process?.alive === true && !this.process.paused ? this.process.replica : null;
  }

  /** The log clients are served by the running process, unless it is paused. */
  get served(): ReplicatedLog | null {
    return this.replica === null ? null : this.process!.served;
  }

  /** The log of the running process (paused or not). */
  get log(): SimLog | null {
    return this.process?.log ?? null;
  }

  get isUp(): boolean {
    return this.process !== null;
  }

  /** Starts a process; it opens the disks and begins after their latencies. */
  boot(): void {
    assert(this.process === null && !this.removed, `server ${this.id} cannot boot`);
    const process = new SimProcess(this.setting.queue);
    this.process = process;
    this.incarnation++;
    this.open(process).catch((error: unknown) => {
      if (process.alive) this.setting.onBroken(this.id, "failed to start", error);
    });
  }

  private async open(process: SimProcess): Promise<void> {
    const { setting } = this;
    const environment = this.environment(process);
    const timers = this.timers(process);
    const stateFile = await RaftStateFile.open(STATE_PATH, { snapshot: this.start, addresses: {} }, { fileSystem: this.stateDisk.forProcess(environment), timers });
    const log = SimLog.open(this.disk, environment, setting.diskFaults);
    process.log = log;
    await alignWithStartPoint(log, stateFile);
    let replicas = 0;
    const newReplica = (): Replica => {
      // A replica started over the same log applies again from its start point on.
      setting.onReplicaStarting(this.id);
      return new Replica({
        nodeId: this.id,
        log,
        stateFile,
        timers,
        send: setting.send,
        tickMs: setting.tickMs,
        // The first replica of a process draws as it always has, so that recorded seeds replay their runs.
        seed: this.id * 1_000 + this.incarnation + 1_000_000 * replicas++,
        limits: setting.limits,
        proposalTimeoutMs: setting.proposalTimeoutMs,
        onApply: (entries) => setting.onApply(this.id, entries),
        onDamage: (error: DataLossError) => this.stopped(process, `damage: ${error.message}`),
        onWriteFailure: (error) => restarts.writeFailed(error),
      });
    };
    const restarts = new ReplicaRestarts({
      log,
      stateFile,
      newReplica,
      timers,
      logger: silentLogger,
      closing: process.closing.signal,
      removed: () => this.removed,
      setServing: () => undefined,
      stopProcess: (error) => {
        if (error instanceof StorageIoError || error instanceof StorageFullError) this.stopped(process, `write failed: ${error.name}`);
        else setting.onBroken(this.id, "failed a write", error);
      },
    });
    if (!stateFile.existed) await stateFile.update({});
    process.restarts = restarts;
    process.served = new ReplicatedLog(this.member(process), this.forwarder(process), timers);
    restarts.replica.start();
  }

  /** The cluster member a ReplicatedLog serves through: this process's replica, addressed as `node-<id>`. */
  private member(process: SimProcess): ReplicatedLogMember {
    const server = this;
    return {
      get replica() {
        return process.replica!;
      },
      address: addressOf(this.id),
      get leaderAddress() {
        const lead = process.replica!.status().lead;
        return lead === 0 ? undefined : addressOf(lead);
      },
      assertMember() {
        if (server.removed) throw new NodeRemovedError(`node ${server.id} was removed from the cluster`);
      },
      damageFound: () => this.setting.onDamageFound(this.id),
    };
  }

  /** Forwards through the simulated network; the answer reaches the caller only while this process lives. */
  private forwarder(process: SimProcess): ForwardAppend {
    return (address, values) =>
      new Promise((resolve, reject) => {
        this.setting.forward(this.id, address, values).then(
          (offset) => process.schedule(0, () => resolve(offset)),
          (error: unknown) => process.schedule(0, () => reject(error)),
        );
      });
  }

  /** The process ended by itself; it is gone, as after a crash (the simulator restarts it). */
  private stopped(process: SimProcess, why: string): void {
    if (!process.alive) return;
    this.crash();
    this.setting.onStopped(this.id, why);
  }

  /** Kills the process and applies the power-loss rules to the disks. */
  crash(): void {
    if (this.process === null) return;
    this.process.alive = false;
    this.process.closing.abort(new LogClosedError("the simulated process died"));
    this.process = null;
    this.disk.crash(this.setting.random);
    this.stateDisk.crash(this.setting.random);
  }

  pause(): void {
    if (this.process !== null) this.process.paused = true;
  }

  resume(): void {
    this.process?.resume();
  }

  /** Delivers a message to the running process (a paused one gets it when it resumes). */
  deliver(message: Message): void {
    if (this.admitted) this.process?.run(() => this.process?.replica?.receive(message));
  }

  /** This node's clock reading at the simulator's `ms`. */
  clockMs(ms: number): number {
    return EPOCH_MS + this.clock.skewMs + Math.floor(ms * (1 + this.clock.drift));
  }

  private environment(process: SimProcess): DiskEnvironment {
    const queue = this.setting.queue;
    return {
      schedule: (ms, run) => process.schedule(ms, run),
      random: this.setting.random,
      simulatedMs: () => queue.now,
      now: () => this.clockMs(queue.now),
    };
  }

  /** Timers that run on this node's drifting clock: `ms` of its time is ms / (1 + drift) of the simulator's. */
  private timers(process: SimProcess): Timers {
    const queue = this.setting.queue;
    const simulated = (ms: number): number => Math.max(1, Math.round(ms / (1 + this.clock.drift)));
    return {
      now: () => this.clockMs(queue.now),
      every: (ms, run) => {
        let cancelled = false;
        const again = (): void => {
          if (cancelled) return;
          run();
          process.schedule(simulated(ms), again);
        };
        process.schedule(simulated(ms), again);
        return () => {
          cancelled = true;
        };
      },
      after: (ms, run) => {
        let cancelled = false;
        process.schedule(simulated(ms), () => {
          if (!cancelled) run();
        });
        return () => {
          cancelled = true;
        };
      },
      soon: (run) => process.schedule(0, run),
    };
  }
}
